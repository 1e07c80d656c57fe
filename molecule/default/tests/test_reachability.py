"""The five-node stack's reachability matrix: every port a host listens on, from every other host
and from the controller, is open exactly when the firewall policy (resources/reachability.py) says.

Without firewall_admin_cidrs in this scenario the controller is no administrator: it reaches
nginx on lb1 and nothing else. Closed means dropped (a timeout), not refused.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from reachability import (
    CONTROLLER,
    SSH_PORT,
    app_ports,
    expected_matrix,
    failures,
    host_addresses,
    hosts,
    reachable_listeners,
    role_default,
    stack_ports,
    summary,
)

GROUPS = {
    "hiload-mol-lb1": {"lb", "monitoring"},
    "hiload-mol-app1": {"app"},
    "hiload-mol-app2": {"app"},
    "hiload-mol-app3": {"app"},
    "hiload-mol-db1": {"db", "cache"},
}


def test_reachability_matrix() -> None:
    found = hosts(GROUPS)
    machines = {name: host for name, host in found.items() if host is not None}
    addresses = host_addresses(found)
    ports = stack_ports(app_ports(machines["hiload-mol-lb1"]))
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
