"""Fixtures of the fault tests: the converged five-node Molecule stack (molecule/default),
reached from the controller, and a ledger of every item the tests tried to create."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "molecule" / "resources"))

from inventory import inventory_groups
from loadgen import Outcome
from stack import Stack, inventory_file, start_container


@pytest.fixture(scope="session")
def stack() -> Stack:
    inventory = inventory_file()
    return Stack(inventory, inventory_groups(inventory))


@pytest.fixture(scope="session")
def item_ids(stack: Stack) -> list[int]:
    """Items the steady GETs read: created once, through nginx."""
    return stack.seed_items(20)


@pytest.fixture(scope="session")
def ledger() -> list[Outcome]:
    """Every POST /items any fault test sent, whatever it got back."""
    return []


@pytest.fixture
def restore_container(stack: Stack) -> Iterator[list[str]]:
    """Names appended here are started again after the test, whatever happened."""
    stopped: list[str] = []
    yield stopped
    for name in stopped:
        start_container(name)
