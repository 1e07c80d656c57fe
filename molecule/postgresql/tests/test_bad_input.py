"""A wrong variable stops the role before any change, naming the variable."""

import os
import re
import subprocess
import sys
from pathlib import Path

RECAP = re.compile(r"^\S+\s*:\s*ok=\d+\s+changed=(?P<changed>\d+)", re.M)


def run_role(tmp_path: Path, *extra_vars: str) -> subprocess.CompletedProcess[str]:
    playbook = tmp_path / "bad_input.yml"
    playbook.write_text("- hosts: db\n  roles: [postgresql]\n")
    command = [str(Path(sys.executable).with_name("ansible-playbook"))]
    command += ["-i", os.environ["MOLECULE_INVENTORY_FILE"], str(playbook)]
    for extra in extra_vars:
        command += ["-e", extra]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)


def assert_refused(result: subprocess.CompletedProcess[str], variable: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert variable in output, output[-3000:]
    changed = [int(m["changed"]) for m in RECAP.finditer(result.stdout)]
    assert changed, output[-3000:]
    assert not any(changed), output[-3000:]


def test_wrong_type_fails_naming_the_variable(tmp_path: Path) -> None:
    assert_refused(
        run_role(tmp_path, "postgresql_max_connections=many"), "postgresql_max_connections"
    )


def test_out_of_range_fails_naming_the_variable(tmp_path: Path) -> None:
    assert_refused(run_role(tmp_path, "postgresql_max_connections=2"), "postgresql_max_connections")
