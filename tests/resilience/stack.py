"""The converged Molecule stack as the fault tests see it from the controller: its groups and
hosts, requests through its first lb, figures to report, and small waiting helpers.

Used by tests/resilience (molecule/default) and by the single-host and own_app scenarios'
tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import testinfra
from testinfra.host import Host

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parents[1]
sys.path.insert(0, str(PROJECT / "molecule" / "resources"))

FIGURES = PROJECT / "reports" / "resilience.json"


def http(
    url: str,
    method: str = "GET",
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, dict[str, str], bytes]:
    """One request to URL, never raising on an HTTP error status: (status, headers, body)."""
    request = urllib.request.Request(url, data=body, headers=dict(headers or {}), method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def inventory_file() -> str:
    try:
        return os.environ["MOLECULE_INVENTORY_FILE"]
    except KeyError:
        pytest.skip("the fault tests run inside `molecule verify -s default`")


@dataclass
class Stack:
    """The converged stack: its groups, hosts and the URL of the first lb's nginx."""

    inventory: str
    groups: dict[str, list[str]]
    figures_file: Path = FIGURES
    figures: dict[str, object] = field(default_factory=dict)

    def host(self, name: str) -> Host:
        return testinfra.get_host(f"ansible://{name}?ansible_inventory={self.inventory}")

    def address(self, name: str) -> str:
        return self.host(name).check_output("hostname -I").split()[0]

    @property
    def lb_url(self) -> str:
        return f"http://{self.address(self.groups['lb'][0])}"

    def get(self, path: str, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
        """One request through the first lb, never raising on an HTTP error status."""
        return http(self.lb_url + path, timeout=timeout)

    def seed_items(self, count: int) -> list[int]:
        """Create COUNT items through the first lb and return their ids."""
        ids = []
        for index in range(count):
            name = f"resilience-seed-{index}-{time.time_ns()}"
            request = urllib.request.Request(
                self.lb_url + "/items",
                data=json.dumps({"name": name, "price": "1.00"}).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 201
                ids.append(json.loads(response.read())["id"])
        return ids

    def record(self, **figures: object) -> None:
        """Keep measured figures; written to reports/resilience.json for the README."""
        self.figures.update(figures)
        self.figures_file.parent.mkdir(exist_ok=True)
        self.figures_file.write_text(json.dumps(self.figures, indent=2, sort_keys=True) + "\n")


def start_container(name: str) -> None:
    """docker start NAME and wait until it booted. Nothing is re-applied by hand: the image
    applies the tuned net.* sysctls at boot, as a real host applies /etc/sysctl.d."""
    docker("start", name)

    def booted() -> bool:
        """systemd finished starting the container's units (the app instances among them)"""
        state = subprocess.run(
            ["docker", "exec", name, "systemctl", "is-system-running"],
            capture_output=True,
            text=True,
            check=False,
        )
        return state.stdout.strip() in ("running", "degraded")

    wait_until(booted, timeout=120, interval=1)


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.2) -> float:
    """Seconds until CHECK held; fails the test after TIMEOUT."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"not true within {timeout}s: {check.__doc__}"
        time.sleep(interval)
    return time.monotonic() - started


def docker(*args: str, stdin: str | None = None, timeout: int = 120) -> str:
    return subprocess.run(
        ["docker", *args], input=stdin, capture_output=True, text=True, check=True, timeout=timeout
    ).stdout.strip()
