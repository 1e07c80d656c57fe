"""Helpers shared by the nginx scenario's tests: the stub host and the HTTP probe."""

import json
import os
import shlex
from typing import Any

import pytest
import testinfra
from testinfra.host import Host

STUB_HOST = "hiload-mol-nginx-upstream"
STUB_PORTS = (8001, 8002)
# The pki role's CA on every lb host; clients verify the lb's certificate against it.
CA = "/etc/ssl/hiload/ca.crt"


@pytest.fixture(scope="module")
def stub() -> Host:
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    return testinfra.get_host(f"ansible://{STUB_HOST}?ansible_inventory={inventory}")


@pytest.fixture(scope="module")
def lbs() -> list[Host]:
    """Every lb host, for a test that runs a playbook once and then checks each of them."""
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    hosts: list[Host] = testinfra.get_hosts([f"ansible://lb?ansible_inventory={inventory}"])
    return hosts


def probe_command(url: str, *options: str) -> str:
    """The shell command running the HTTP probe installed by converge, for `url`."""
    return " ".join(
        shlex.quote(part) for part in ("python3", "/usr/local/bin/http_probe.py", url, *options)
    )


def probe(host: Host, url: str, *options: str) -> dict[str, Any]:
    """Run the HTTP probe on `host` and return its JSON result."""
    return json.loads(host.check_output(probe_command(url, *options)))


def stub_stats(host: Host) -> dict[int, dict[str, int]]:
    """Connections accepted and requests served by each stub instance, read from `host`."""
    address = stub_address(host)
    return {
        port: json.loads(probe(host, f"http://{address}:{port}/__stats", "--once")["body"])
        for port in STUB_PORTS
    }


def stub_address(host: Host) -> str:
    return host.check_output(f"getent hosts {STUB_HOST}").split()[0]


def worker_pids(host: Host) -> list[str]:
    return host.check_output("pgrep -f '^nginx: worker process'").split()
