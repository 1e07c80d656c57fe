"""A wrong variable stops the role before any change, naming the variable and only the rule it
breaks; a right one given as a string, as `-e key=value` gives it, is accepted."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from playbooks import assert_clean, assert_refused, run_playbook, write_playbook

PLAYBOOK = "- hosts: db\n  roles: [postgresql]\n"
# What the other range rules of tasks/validate.yml say when they fail.
OTHER_RULES = (
    "postgresql_port must",
    "postgresql_listen_addresses is",
    "postgresql_shared_buffers_mb must",
    "postgresql_app_user must",
    "postgresql_tls_certificate must",
    "postgresql_tls_certificate_key must",
)


@pytest.mark.parametrize(
    ("variable", "extra"),
    [
        ("postgresql_max_connections", {"postgresql_max_connections": "many"}),
        (
            "postgresql_tls_certificate_key",
            {"postgresql_tls_enabled": True, "postgresql_tls_certificate_key": "host.key"},
        ),
    ],
)
def test_wrong_variable_fails_before_any_change(
    tmp_path: Path, variable: str, extra: dict[str, object]
) -> None:
    run = run_playbook(write_playbook(tmp_path, PLAYBOOK), extra_vars=extra, timeout=300)
    assert_refused(run, variable)


def test_a_refusal_states_only_the_rule_that_failed(tmp_path: Path) -> None:
    run = run_playbook(
        write_playbook(tmp_path, PLAYBOOK),
        extra_vars={"postgresql_max_connections": 5},
        timeout=300,
    )
    assert_refused(run, "postgresql_max_connections")
    # The callback may wrap the message: compare with whitespace collapsed.
    output = " ".join(run.output.split())
    assert "postgresql_max_connections must be 10-10000 (is 5)" in output, run.tail
    stated = [rule for rule in OTHER_RULES if rule in output]
    assert not stated, f"the refusal states rules that hold too, {stated}:\n{run.tail}"


def test_a_number_given_as_a_string_is_accepted(tmp_path: Path) -> None:
    # -e postgresql_max_connections=20 gives the string "20", which the argument spec accepts
    # as an int; check mode, so the converged servers keep their settings.
    run = run_playbook(
        write_playbook(tmp_path, PLAYBOOK),
        "--check",
        "--diff",
        extra_vars={"postgresql_max_connections": "20"},
        timeout=300,
    )
    assert_clean(run)
    assert "max_connections = 20" in run.stdout, f"20 did not reach the settings:\n{run.tail}"
