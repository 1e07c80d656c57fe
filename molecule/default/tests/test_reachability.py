"""The five-node stack's reachability matrix: every port a host listens on, from every other host
and from the controller, is open exactly when the firewall policy (resources/reachability.py) says.

Without firewall_admin_cidrs in this scenario the controller is no administrator: it reaches
nginx on lb1 and nothing else. Closed means dropped (a timeout), not refused.
"""

import os
import sys
from pathlib import Path

import testinfra
from testinfra.host import Host

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from reachability import (
    CONTROLLER,
    expected_matrix,
    exporter_ports,
    failures,
    role_default,
    summary,
)

GROUPS = {
    "hiload-mol-lb1": {"lb", "monitoring"},
    "hiload-mol-app1": {"app"},
    "hiload-mol-app2": {"app"},
    "hiload-mol-app3": {"app"},
    "hiload-mol-db1": {"db", "cache"},
}
SSH_PORT = 22
HTTPS_PORT = role_default("nginx", "nginx_tls_port")


def hosts() -> dict[str, Host | None]:
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    found: dict[str, Host | None] = {
        name: testinfra.get_host(f"ansible://{name}?ansible_inventory={inventory}")
        for name in GROUPS
    }
    found[CONTROLLER] = None
    return found


def reachable_listeners(host: Host) -> set[int]:
    """TCP ports the host listens on at an address other hosts can reach (not loopback)."""
    ports = set()
    for line in host.check_output("ss -ltnH").splitlines():
        address, _, port = line.split()[3].rpartition(":")
        if not address.strip("[]").startswith(("127.", "::1")):
            ports.add(int(port))
    return ports


def app_ports(lb: Host) -> set[int]:
    """The instance ports nginx balances over: what the app hosts must open to lb."""
    config = lb.check_output("nginx -T 2>/dev/null")
    return {
        int(line.split()[1].rstrip(";").rsplit(":", 1)[1])
        for line in config.splitlines()
        if line.strip().startswith("server ") and ":" in line.split()[1]
    }


def test_reachability_matrix() -> None:
    found = hosts()
    machines = {name: host for name, host in found.items() if host is not None}
    addresses = {
        name: host.check_output("hostname -I").split()[0] for name, host in machines.items()
    }
    ports = {
        "ssh": [SSH_PORT],
        "http": [role_default("nginx", "nginx_listen_port"), HTTPS_PORT],
        "app": sorted(app_ports(machines["hiload-mol-lb1"])),
        "postgresql": [role_default("postgresql", "postgresql_port")],
        "redis": [role_default("redis", "redis_port")],
        "prometheus": [role_default("monitoring", "monitoring_port")],
        "exporters": exporter_ports(),
    }
    # Every real listener, plus SSH, whose drop (not refusal) proves the policy even with no sshd.
    probes = {name: reachable_listeners(host) | {SSH_PORT} for name, host in machines.items()}
    assert ports["app"], "nginx balances over no instance"
    assert set(ports["app"]) <= probes["hiload-mol-app1"], probes
    assert role_default("postgresql", "postgresql_port") in probes["hiload-mol-db1"], probes
    assert role_default("redis", "redis_port") in probes["hiload-mol-db1"], probes

    expectations = expected_matrix(
        groups=GROUPS, ports=ports, admins=set(), probes=probes, sources=found
    )
    wrong = failures(expectations, found, addresses)
    assert not wrong, "\n".join(wrong) + "\n\nThe policy:\n" + summary(expectations)


def test_matrix_covers_the_issue_cases() -> None:
    """The cases issue 8 names are among the expectations, each the right way round."""
    groups = GROUPS
    ports = {"app": [8001], "postgresql": [5432], "http": [80]}
    probes = {"hiload-mol-app1": [8001], "hiload-mol-db1": [5432], "hiload-mol-lb1": [80, 5432]}
    expectations = {
        (e.source, e.target, e.port): e.open
        for e in expected_matrix(
            groups=groups, ports=ports, admins=set(), probes=probes, sources=[*groups, CONTROLLER]
        )
    }
    assert expectations[("hiload-mol-lb1", "hiload-mol-app1", 8001)] is True
    assert expectations[("hiload-mol-lb1", "hiload-mol-db1", 5432)] is False
    assert expectations[("hiload-mol-app1", "hiload-mol-db1", 5432)] is True
    assert expectations[("hiload-mol-db1", "hiload-mol-app1", 8001)] is False
    assert expectations[("hiload-mol-app2", "hiload-mol-app1", 8001)] is False
    assert expectations[(CONTROLLER, "hiload-mol-lb1", 80)] is True
    assert expectations[(CONTROLLER, "hiload-mol-db1", 5432)] is False
    assert expectations[(CONTROLLER, "hiload-mol-app1", 8001)] is False
