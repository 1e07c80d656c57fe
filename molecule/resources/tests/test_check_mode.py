"""Shared by every scenario: on converged hosts, a check-mode run fails nothing and changes nothing.

Molecule's own `check` action only proves that check mode does not fail; a role that
would still change something on a converged host must fail here.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

RECAP_LINE = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=\d+\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)",
    re.M,
)


def test_check_mode_changes_nothing() -> None:
    scenario = Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])
    playbook = Path(sys.executable).with_name("ansible-playbook")
    result = subprocess.run(
        [
            str(playbook),
            "--check",
            "--diff",
            "-i",
            os.environ["MOLECULE_INVENTORY_FILE"],
            str(scenario / "converge.yml"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=1200,
    )
    tail = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, f"check mode failed:\n{tail}"
    recap = list(RECAP_LINE.finditer(result.stdout))
    assert recap, f"no play recap in the check-mode run:\n{tail}"
    changed = {m["host"]: int(m["changed"]) for m in recap if int(m["changed"]) or int(m["failed"])}
    assert not changed, f"check mode on a converged host reports changes {changed}:\n{tail}"
