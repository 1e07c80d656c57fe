"""A wrong variable stops the role before any change, naming the variable."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

RECAP = re.compile(r"^\S+\s*:\s*ok=\d+\s+changed=(?P<changed>\d+)", re.M)
PLAYBOOK = """\
- hosts: lb
  gather_facts: false
  vars:
    nginx_upstream_servers: [{address: 127.0.0.1, port: 8001}]
  roles: [nginx]
"""


def run_role(tmp_path: Path, extra_vars: dict[str, object]) -> subprocess.CompletedProcess[str]:
    playbook = tmp_path / "bad_input.yml"
    playbook.write_text(PLAYBOOK)
    command = [str(Path(sys.executable).with_name("ansible-playbook"))]
    command += ["-i", os.environ["MOLECULE_INVENTORY_FILE"], str(playbook)]
    command += ["-e", json.dumps(extra_vars)]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("nginx_upstream_keepalive", "many"),
        ("nginx_upstream_keepalive", 8),
        ("nginx_upstream_servers", []),
        ("nginx_listen_backlog", 8192),
    ],
)
def test_wrong_variable_fails_before_any_change(
    tmp_path: Path, variable: str, value: object
) -> None:
    extra: dict[str, object] = {variable: value}
    if variable == "nginx_listen_backlog":
        extra["host_tuning_somaxconn"] = 4096
    result = run_role(tmp_path, extra)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert variable in output, output[-3000:]
    changed = [int(m["changed"]) for m in RECAP.finditer(result.stdout)]
    assert changed, output[-3000:]
    assert not any(changed), output[-3000:]
