"""An inventory as the tests see it: read by Ansible itself, never parsed by hand.

Shared by the fault tests (tests/resilience), the single-host and own_app scenarios' tests and
the lab's newcomer checks (tests/lab)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import testinfra
from testinfra.host import Host


def inventory_listing(inventory: str) -> dict[str, Any]:
    """`ansible-inventory --list` of INVENTORY: its groups, and every host's variables (_meta)."""
    listing = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-inventory")), "-i", inventory, "--list"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    data: dict[str, Any] = json.loads(listing.stdout)
    return data


def inventory_groups(inventory: str) -> dict[str, list[str]]:
    """{group: [host, ...]} as Ansible itself reads INVENTORY."""
    data = inventory_listing(inventory)
    return {
        name: sorted(group.get("hosts", []))
        for name, group in data.items()
        if name != "_meta" and isinstance(group, dict)
    }


def scenario_groups() -> dict[str, list[str]]:
    """{group: [host, ...]} of the running Molecule scenario."""
    return inventory_groups(os.environ["MOLECULE_INVENTORY_FILE"])


def scenario_host(name: str) -> Host:
    """Host NAME of the running Molecule scenario, reached as Ansible reaches it."""
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={inventory}")
