"""A real alert reaches someone: a stub app instance stopped on each host fires TargetDown in its
Prometheus, whose Alertmanager delivers it to the scenario's webhook receiver (converge.yml);
started again, the alert resolves and the receiver is told so. Both hosts' instances are stopped
together, so the `for` of TargetDown (one minute here, molecule.yml) is waited out once."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import testinfra

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from prometheus_checks import api

testinfra_hosts = ["hiload-mol-monitoring-12", "hiload-mol-monitoring-13"]
# Each host's second stub instance (Debian 13's come from hiload_app_base_port 8100).
STOPPED = {"hiload-mol-monitoring-12": 8002, "hiload-mol-monitoring-13": 8102}
NOTIFICATIONS = "/var/lib/hiload-test-webhook/notifications.jsonl"
# TargetDown's `for` (1m here), a scrape and an evaluation (5 s each here), group_wait, and slack.
FIRE_TIMEOUT = 240
RESOLVE_TIMEOUT = 90


def notifications(host: Any) -> list[dict[str, Any]]:
    text = host.run(f"cat {NOTIFICATIONS} 2>/dev/null").stdout
    return [json.loads(line) for line in text.splitlines() if line]


def target_down(host: Any, port: int, status: str) -> list[dict[str, Any]]:
    """The notifications with TargetDown for the stub on PORT in STATUS (firing, resolved)."""
    return [
        alert
        for notification in notifications(host)
        for alert in notification["alerts"]
        if alert["labels"].get("alertname") == "TargetDown"
        and alert["labels"].get("instance", "").endswith(f":{port}")
        and alert["status"] == status
    ]


def wait_for(hosts: dict[str, Any], status: str, timeout: float) -> dict[str, list[dict[str, Any]]]:
    deadline = time.monotonic() + timeout
    while True:
        found = {name: target_down(host, STOPPED[name], status) for name, host in hosts.items()}
        if all(found.values()) or time.monotonic() > deadline:
            return found
        time.sleep(5)


@pytest.fixture(scope="module")
def delivered() -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Per host, the TargetDown notifications the receiver got: firing after the stop, resolved
    after the start."""
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    hosts = {
        name: testinfra.get_host(f"ansible://{name}?ansible_inventory={inventory}")
        for name in STOPPED
    }
    for name, host in hosts.items():
        assert not target_down(host, STOPPED[name], "firing"), "fired before the stop"
        host.check_output(f"systemctl stop hiload-stub@{STOPPED[name]}.service")
    try:
        firing = wait_for(hosts, "firing", FIRE_TIMEOUT)
    finally:
        for name, host in hosts.items():
            host.check_output(f"systemctl start hiload-stub@{STOPPED[name]}.service")
    resolved = wait_for(hosts, "resolved", RESOLVE_TIMEOUT)
    return {name: {"firing": firing[name], "resolved": resolved[name]} for name in hosts}


@pytest.mark.parametrize("name", STOPPED)
def test_a_stopped_instance_is_delivered_firing_then_resolved(
    delivered: dict[str, dict[str, list[dict[str, Any]]]], name: str
) -> None:
    firing, resolved = delivered[name]["firing"], delivered[name]["resolved"]
    assert firing, f"no TargetDown reached {name}'s webhook receiver"
    assert firing[0]["labels"]["job"] == "hiload_app"
    assert firing[0]["labels"]["host"] == name
    assert firing[0]["labels"]["severity"] == "critical"
    assert resolved, f"TargetDown never resolved at {name}'s webhook receiver"


def test_prometheus_sends_to_the_alertmanager_beside_it(host: Any) -> None:
    active = api(host, "alertmanagers")["activeAlertmanagers"]
    address = host.check_output("ss -ltnH 'sport = :9093'").split()[3]
    assert [manager["url"] for manager in active] == [f"http://{address}/api/v2/alerts"]


def test_alertmanager_is_hardened_and_its_config_private(host: Any) -> None:
    show = host.check_output("systemctl show prometheus-alertmanager -p ProtectSystem -p User")
    assert "ProtectSystem=strict" in show
    assert "User=prometheus" in show
    config = host.file("/etc/prometheus/alertmanager.yml")
    assert (config.user, config.group, config.mode) == ("root", "prometheus", 0o640)
    host.run_expect([0], "amtool check-config /etc/prometheus/alertmanager.yml")
