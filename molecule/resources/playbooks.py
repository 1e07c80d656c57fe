"""Run ansible-playbook from a testinfra test against the scenario's inventory, and judge it.

Shared by the scenarios' bad-input, check-mode, rollout and secrets tests: put
molecule/resources on sys.path (see prometheus_checks.py) and call run_playbook(), then
assert_refused() or assert_clean(); logged_runs() reads the runs an ANSIBLE_LOG_PATH file kept.
"""

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

RECAP_LINE = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=\d+\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)",
    re.M,
)
# What Ansible's log file puts before each line it logs (continuation lines have none).
LOG_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ p=\d+ u=\S* n=\S+ \w+\| ", re.M)
# The first line a run logs about its playbook, at -vv or more: "PLAYBOOK: converge.yml ****".
PLAYBOOK_LINE = re.compile(r"^PLAYBOOK: (?P<name>\S+) \*", re.M)


def recap(output: str) -> dict[str, dict[str, int]]:
    """{host: {changed, unreachable, failed}} from OUTPUT's play recap (empty when none ran)."""
    return {
        m["host"]: {key: int(m[key]) for key in ("changed", "unreachable", "failed")}
        for m in RECAP_LINE.finditer(output)
    }


@dataclass(frozen=True)
class PlaybookRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def tail(self) -> str:
        return self.stdout[-6000:] + self.stderr[-2000:]

    def recap(self) -> dict[str, dict[str, int]]:
        """{host: {changed, unreachable, failed}} from the play recap (empty when none ran)."""
        return recap(self.stdout)


@dataclass(frozen=True)
class LoggedRun:
    """One ansible-playbook run as Ansible's log file (ANSIBLE_LOG_PATH) kept it."""

    playbook: str
    output: str


def logged_runs(log: str) -> list[LoggedRun]:
    """Every run of LOG, oldest first, each with its playbook's file name and its output as the
    screen showed it (the log's date and process prefixes removed). The runs must be -vv or
    more: below that, a run does not log the name of its playbook."""
    output = LOG_PREFIX.sub("", log)
    starts = list(PLAYBOOK_LINE.finditer(output))
    ends = [start.start() for start in starts[1:]] + [len(output)]
    return [
        LoggedRun(start["name"], output[start.start() : end])
        for start, end in zip(starts, ends, strict=True)
    ]


def scenario_playbook(name: str = "converge.yml") -> Path:
    """A playbook of the running scenario (converge.yml by default)."""
    return Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"]) / name


def run_playbook(
    playbook: Path | str,
    *args: str,
    extra_vars: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
    inventory: str | None = None,
    timeout: int = 1200,
) -> PlaybookRun:
    """ansible-playbook PLAYBOOK ARGS... with the scenario's inventory (or INVENTORY); never
    raises on failure."""
    command = [str(Path(sys.executable).with_name("ansible-playbook"))]
    command += ["-i", inventory or os.environ["MOLECULE_INVENTORY_FILE"], str(playbook), *args]
    if extra_vars is not None:
        command += ["-e", json.dumps(extra_vars)]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    return PlaybookRun(result.returncode, result.stdout, result.stderr)


@cache
def check_mode_run() -> PlaybookRun:
    """converge.yml with --check --diff on the converged hosts, run once per test session."""
    return run_playbook(scenario_playbook(), "--check", "--diff")


def write_playbook(directory: Path, text: str, name: str = "playbook.yml") -> Path:
    """A throwaway playbook (e.g. "- hosts: db\\n  roles: [postgresql]\\n") in DIRECTORY."""
    path = directory / name
    path.write_text(text)
    return path


def assert_refused(run: PlaybookRun, *names: str) -> None:
    """The run failed, its output names every one of NAMES, and no host changed anything."""
    assert run.returncode != 0, f"the run did not fail:\n{run.tail}"
    for name in names:
        assert name in run.output, f"the failure does not name {name!r}:\n{run.tail}"
    recap = run.recap()
    # Without a recap (the run died before any play) "no host changed" would hold vacuously.
    assert recap, f"no play recap:\n{run.tail}"
    changed = {host: counts for host, counts in recap.items() if counts["changed"]}
    assert not changed, f"refused, but hosts changed {changed}:\n{run.tail}"


def assert_clean(run: PlaybookRun, *, changes_allowed: bool = True) -> None:
    """The run succeeded on every host (and, unless CHANGES_ALLOWED, changed nothing)."""
    assert run.returncode == 0, f"the run failed:\n{run.tail}"
    recap = run.recap()
    assert recap, f"no play recap:\n{run.tail}"
    bad = {
        host: counts
        for host, counts in recap.items()
        if counts["failed"] or counts["unreachable"] or (counts["changed"] and not changes_allowed)
    }
    assert not bad, f"hosts failed or changed {bad}:\n{run.tail}"
