"""Fixtures of the fault tests: the converged five-node Molecule stack (molecule/default),
reached from the controller, and a ledger of every item the tests tried to create."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "molecule" / "resources"))

from inventory import inventory_groups
from load_fixtures import item_ids, ledger, restore_container  # noqa: F401 (pytest finds them here)
from stack import Stack, inventory_file


@pytest.fixture(scope="session")
def stack() -> Stack:
    inventory = inventory_file()
    return Stack(inventory, inventory_groups(inventory))
