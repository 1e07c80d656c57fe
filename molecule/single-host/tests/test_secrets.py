"""Secrets never leak: not into the playbook's most verbose output, not into a file anyone but
their service can read."""

import json
import os
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path

from testinfra.host import Host

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from playbooks import check_mode_run

testinfra_hosts = ["hiload-mol-single"]

HOST = "hiload-mol-single"
# The inventory's secrets, by name: the test reads their values from the inventory itself.
SECRET_NAMES = {
    "postgresql_app_password",
    "hiload_app_database_password",
    "exporters_postgres_password",
}
# Files that must hold a secret (so the search below is known to find what it looks for).
EXPECTED_HOLDERS = {"/etc/hiload/hiload.env", "/etc/default/prometheus-postgres-exporter"}
SEARCHED = ("/etc", "/opt", "/srv", "/usr/local", "/var", "/root", "/home", "/tmp", "/run")


@cache
def secrets() -> dict[str, str]:
    """Every *_password of the host's inventory variables, by name."""
    inventory = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-inventory")),
            "-i",
            os.environ["MOLECULE_INVENTORY_FILE"],
            "--host",
            HOST,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    variables = json.loads(inventory.stdout)
    found = {name: str(value) for name, value in variables.items() if name.endswith("_password")}
    assert set(found) == SECRET_NAMES, sorted(found)
    return found


def test_verbose_playbook_output_shows_no_secret() -> None:
    # The shared check-mode run, made -vvv by HILOAD_CHECK_MODE_ARGS in molecule.yml.
    run = check_mode_run()
    assert "ESTABLISH" in run.output, "the check-mode run is not -vvv: see molecule.yml"
    assert run.recap(), run.tail
    leaked = {name for name, value in secrets().items() if value in run.output}
    assert not leaked, f"ansible-playbook -vvv printed the value of {sorted(leaked)}"


def test_files_holding_a_secret_are_private(host: Host) -> None:
    patterns = " ".join(f"-e {shlex.quote(value)}" for value in set(secrets().values()))
    # Binary files too (the journal); -s: files that vanish while searched are not errors.
    listing = host.run(f"grep -rlsF {patterns} {' '.join(SEARCHED)}")
    assert listing.rc in (0, 1), listing.stderr
    holders = set(listing.stdout.split())
    assert holders >= EXPECTED_HOLDERS, sorted(holders)
    exposed = {}
    for path in sorted(holders):
        found = host.file(path)
        # 0640 or stricter: no write for the group, nothing for others; owned by root.
        if found.mode & 0o037 or found.user != "root":
            exposed[path] = (found.user, found.group, oct(found.mode))
    assert not exposed, f"secrets in files others may read or the service may change: {exposed}"
