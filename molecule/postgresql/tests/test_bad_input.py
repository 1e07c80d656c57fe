"""A wrong variable stops the role before any change, naming the variable."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from playbooks import assert_refused, run_playbook, write_playbook

PLAYBOOK = "- hosts: db\n  roles: [postgresql]\n"


@pytest.mark.parametrize(
    ("variable", "extra"),
    [
        ("postgresql_max_connections", {"postgresql_max_connections": "many"}),
        ("postgresql_max_connections", {"postgresql_max_connections": 2}),
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
