"""A wrong variable stops the role before any change, naming the variable; right ones given as
strings, as `-e key=value` gives them, are accepted and render the same configuration."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from playbooks import assert_clean, assert_refused, run_playbook, scenario_playbook, write_playbook

PLAYBOOK = """\
- hosts: lb
  gather_facts: false
  vars:
    nginx_upstream_servers: [{address: 127.0.0.1, port: 8001}]
  roles: [nginx]
"""


# nginx_listen_backlog against host_tuning_somaxconn spans two roles: the preflight checks it
# (tests/resilience/test_bad_inventory.py), not this role.
@pytest.mark.parametrize(
    ("variable", "extra"),
    [
        ("nginx_upstream_keepalive", {"nginx_upstream_keepalive": "many"}),
        ("nginx_upstream_keepalive", {"nginx_upstream_keepalive": 8}),
        ("nginx_upstream_servers", {"nginx_upstream_servers": []}),
        ("nginx_tls_port", {"nginx_tls_port": 80}),
        ("nginx_tls_certificate_key", {"nginx_tls_certificate_key": "/etc/ssl/hiload/none.key"}),
        # More than the container's engine lets PID 1 grant (about 20,000).
        ("nginx_worker_rlimit_nofile", {"nginx_worker_rlimit_nofile": 65535}),
    ],
)
def test_wrong_variable_fails_before_any_change(
    tmp_path: Path, variable: str, extra: dict[str, object]
) -> None:
    run = run_playbook(write_playbook(tmp_path, PLAYBOOK), extra_vars=extra, timeout=300)
    assert_refused(run, variable)


def test_numbers_and_booleans_given_as_strings_change_nothing() -> None:
    # The converged values (the role's defaults and molecule.yml's), as -e key=value gives
    # them: the argument spec accepts the strings, the checks and the template convert them.
    run = run_playbook(
        scenario_playbook(),
        *("--check", "--tags", "nginx"),
        extra_vars={
            "nginx_upstream_keepalive": "64",
            "nginx_listen_backlog": "1024",
            "nginx_tls_enabled": "true",
            "nginx_tls_hsts_max_age": "31536000",
        },
    )
    assert_clean(run, changes_allowed=False)
