"""A wrong variable stops the role before any change, naming the variable."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

RECAP = re.compile(r"^\S+\s*:\s*ok=\d+\s+changed=(?P<changed>\d+)", re.M)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("redis_maxmemory_mb", "lots"), ("redis_maxmemory_mb", 1), ("redis_maxmemory_policy", "lru")],
)
def test_wrong_variable_fails_before_any_change(
    tmp_path: Path, variable: str, value: object
) -> None:
    playbook = tmp_path / "bad_input.yml"
    playbook.write_text("- hosts: cache\n  roles: [redis]\n")
    command = [str(Path(sys.executable).with_name("ansible-playbook"))]
    command += ["-i", os.environ["MOLECULE_INVENTORY_FILE"], str(playbook)]
    command += ["-e", json.dumps({variable: value})]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert variable in output, output[-3000:]
    changed = [int(m["changed"]) for m in RECAP.finditer(result.stdout)]
    assert changed, output[-3000:]
    assert not any(changed), output[-3000:]
