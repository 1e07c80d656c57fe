"""Who reaches what: every host's stand-in listeners tried from every other host and from here."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from reachability import (
    POLICY,
    expected_matrix,
    exporter_ports,
    failures,
    host_addresses,
    hosts,
    role_default,
    summary,
)

GROUPS = {
    "hiload-mol-fw-lb": {"lb", "monitoring"},
    "hiload-mol-fw-app": {"app"},
    "hiload-mol-fw-db": {"db", "cache"},
}
# converge.yml makes the db host the administrators' address and opens 7000 to the app host.
ADMINS = {"hiload-mol-fw-db"}
EXTRA_PORT = 7000
POLICY_WITH_EXTRA = {**POLICY, "extra": ("all", frozenset({"app"}))}
PORTS = {
    "ssh": [22],
    "http": [role_default("nginx", "nginx_listen_port"), 443],
    "app": [8001, 8002],
    "postgresql": [role_default("postgresql", "postgresql_port")],
    "redis": [role_default("redis", "redis_port")],
    "prometheus": [role_default("monitoring", "monitoring_port")],
    "alertmanager": [role_default("alertmanager", "alertmanager_port")],
    "exporters": exporter_ports(),
    "extra": [EXTRA_PORT],
}
# Every host listens on every port (converge.yml), so every port is tried on every host.
LISTENING = sorted({port for ports in PORTS.values() for port in ports})


def test_listeners_cover_every_port() -> None:
    for name, host in hosts(GROUPS).items():
        if host is None:
            continue
        listening = host.check_output("ss -ltnH")
        missing = [port for port in LISTENING if f"0.0.0.0:{port} " not in listening]
        assert not missing, f"{name} does not listen on {missing}: the matrix would prove nothing"


def test_reachability_matrix() -> None:
    found = hosts(GROUPS)
    addresses = host_addresses(found)
    expectations = expected_matrix(
        groups=GROUPS,
        ports=PORTS,
        admins=ADMINS,
        probes={name: LISTENING for name in GROUPS},
        sources=found,
        policy=POLICY_WITH_EXTRA,
    )
    # Both outcomes are asserted from every source, so neither an open nor a closed network passes.
    for source in found:
        outcomes = {e.open for e in expectations if e.source == source}
        assert outcomes == {True, False}, f"{source} is not tested both ways"
    wrong = failures(expectations, found, addresses)
    assert not wrong, "\n".join(wrong) + "\n\nThe policy:\n" + summary(expectations)
