"""Fixtures of the lab's newcomer checks, run by scripts/test-lab.sh (make test-lab) after
`make demo`, from the fresh clone it deployed: the lab's groups, its containers as testinfra hosts
(through `docker exec`), and a TLS context trusting only the lab's CA."""

from __future__ import annotations

import ssl
import sys
from pathlib import Path
from typing import Any

import pytest
import testinfra

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "molecule" / "resources"))

from inventory import inventory_groups

from lab import LAB


@pytest.fixture(scope="session")
def groups() -> dict[str, list[str]]:
    return inventory_groups(str(LAB))


@pytest.fixture(scope="session")
def lab_hosts(groups: dict[str, list[str]]) -> dict[str, Any]:
    names = sorted({name for group in groups.values() for name in group})
    return {name: testinfra.get_host(f"docker://{name}") for name in names}


@pytest.fixture(scope="session")
def lab_ca() -> ssl.SSLContext:
    """Trusts the lab's own CA only, and checks the certificate's name."""
    return ssl.create_default_context(cafile=str(LAB / "secrets" / "pki" / "ca.crt"))
