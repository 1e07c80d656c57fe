"""A wrong variable stops the role before any change, naming the variable."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from playbooks import assert_refused, run_playbook, write_playbook

PLAYBOOK = """\
- hosts: lb
  gather_facts: false
  vars:
    nginx_upstream_servers: [{address: 127.0.0.1, port: 8001}]
  roles: [nginx]
"""


@pytest.mark.parametrize(
    ("variable", "extra"),
    [
        ("nginx_upstream_keepalive", {"nginx_upstream_keepalive": "many"}),
        ("nginx_upstream_keepalive", {"nginx_upstream_keepalive": 8}),
        ("nginx_upstream_servers", {"nginx_upstream_servers": []}),
        ("nginx_listen_backlog", {"nginx_listen_backlog": 8192, "host_tuning_somaxconn": 4096}),
        ("nginx_tls_port", {"nginx_tls_port": 80}),
        ("nginx_tls_certificate_key", {"nginx_tls_certificate_key": "/etc/ssl/hiload/none.key"}),
    ],
)
def test_wrong_variable_fails_before_any_change(
    tmp_path: Path, variable: str, extra: dict[str, object]
) -> None:
    run = run_playbook(write_playbook(tmp_path, PLAYBOOK), extra_vars=extra, timeout=300)
    assert_refused(run, variable)
