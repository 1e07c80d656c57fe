"""Shared by the hiload_app scenario's tests: the instances converge.yml deploys, and one
round trip per host to read about all of them (each testinfra command is a full Ansible call)."""

import json
import shlex
from functools import cache

from testinfra.host import Host

INSTANCES = (1, 2)  # hiload_app_instances in molecule.yml
BASE_PORT = 8000


@cache
def run_probe(host: Host, script: str) -> dict[str, dict[str, object]]:
    """Run `script` on `host` with INSTANCES and BASE_PORT defined; it prints JSON by instance."""
    program = f"INSTANCES = {INSTANCES!r}\nBASE_PORT = {BASE_PORT}\n{script}"
    result: dict[str, dict[str, object]] = json.loads(
        host.check_output(f"python3 -c {shlex.quote(program)}")
    )
    return result
