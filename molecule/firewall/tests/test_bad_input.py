"""Wrong addresses stop the role before any change, naming the variable to fix."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from playbooks import assert_refused, run_playbook, scenario_playbook


@pytest.mark.parametrize(
    ("extra_vars", "named"),
    [
        ({"firewall_admin_cidrs": ["10.0.0.300"]}, ["firewall_admin_cidrs", "10.0.0.300"]),
        (
            {"firewall_extra_rules": [{"name": "x", "port": 7000, "sources": ["10.1.2.3/8"]}]},
            ["firewall_extra_rules", "10.1.2.3/8"],
        ),
        (
            {"firewall_extra_rules": [{"name": "x", "port": 70000, "sources": ["10.1.0.0/16"]}]},
            ["firewall_extra_rules", "70000"],
        ),
    ],
    ids=["bad-admin-address", "host-bits-in-extra-source", "port-out-of-range"],
)
def test_bad_input_is_refused(extra_vars: dict[str, object], named: list[str]) -> None:
    # One host is enough to be refused; the others' facts are not gathered, so the converge's
    # variables that name them are replaced.
    valid = {"firewall_admin_cidrs": ["192.0.2.1"], "firewall_extra_rules": []}
    run = run_playbook(
        scenario_playbook(),
        *("--tags", "firewall_validate", "--limit", "hiload-mol-fw-lb"),
        extra_vars={**valid, **extra_vars},
    )
    assert_refused(run, *named)
