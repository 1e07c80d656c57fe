"""hiload_app: a bad variable stops the play, naming it, before anything changes."""

import json
import os
import subprocess
import sys
from pathlib import Path


def test_zero_instances_fails_naming_the_variable_before_any_change() -> None:
    scenario = Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "-i",
            os.environ["MOLECULE_INVENTORY_FILE"],
            # The role's own play; the postgresql play is tested by its own scenario.
            "--tags",
            "hiload_app",
            "-e",
            json.dumps({"hiload_app_instances": 0}),
            str(scenario / "converge.yml"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    # The callback may wrap the message and send it to stderr: search both, whitespace collapsed.
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, output[-3000:]
    assert "hiload_app_instances must be 1..256 (got 0)" in output
    recap = [line for line in result.stdout.splitlines() if "unreachable=" in line]
    assert recap, output[-3000:]
    assert all(" changed=0 " in f" {line} " for line in recap), recap
