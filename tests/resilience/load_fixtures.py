"""Fixtures every scenario's load tests share, around the `stack` fixture its conftest.py
defines: the items steady GETs read, a ledger of every POST, and containers to start again.
Each conftest.py imports them, which is how pytest finds them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from loadgen import Outcome
from stack import Stack, start_container


@pytest.fixture(scope="session")
def item_ids(stack: Stack) -> list[int]:
    """Items the steady GETs read: created once, through nginx."""
    return stack.seed_items(20)


@pytest.fixture(scope="session")
def ledger() -> list[Outcome]:
    """Every POST /items any test of the scenario sent, whatever it got back."""
    return []


@pytest.fixture
def restore_container(stack: Stack) -> Iterator[list[str]]:
    """Names appended here are started again after the test, whatever happened."""
    stopped: list[str] = []
    yield stopped
    for name in stopped:
        start_container(name)
