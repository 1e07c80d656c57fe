"""The firewall role's cross-host reachability matrix, shared by molecule/firewall and default.

POLICY states who may open a connection to each service; a scenario says which hosts are in
which groups, which ports each service uses, which sources are administrators, and which
(target, port) pairs to try. expected_matrix() turns that into one expectation per
(source, target, port), probe() tries them all — from inside each source container and from the
test process itself (CONTROLLER) — concurrently with a short connect timeout, and failures()
lists every pair whose outcome differs.

Outcomes: "open" (connected), "dropped" (timed out: the firewall ate the SYN), "refused" (RST:
the packet got through but nothing listens), "error". A pair expected closed must be
"dropped", not merely "refused": a refused port proves nothing about the firewall.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CONTROLLER = "controller"
ANYONE = "anyone"
ADMIN = "admin"
# A dropped SYN is a timeout: long enough for a loaded machine's bridge, short enough for a matrix.
CONNECT_TIMEOUT = 1.5

# service: (group of the hosts it runs on, who may connect: groups, ANYONE and/or ADMIN).
POLICY: dict[str, tuple[str, frozenset[str]]] = {
    "ssh": ("all", frozenset({ADMIN})),
    "http": ("lb", frozenset({ANYONE})),
    # Prometheus scrapes every instance's /metrics.
    "app": ("app", frozenset({"lb", "monitoring"})),
    "postgresql": ("db", frozenset({"app"})),
    "redis": ("cache", frozenset({"app"})),
    "prometheus": ("monitoring", frozenset({"monitoring", ADMIN})),
    "exporters": ("all", frozenset({"monitoring"})),
}

# A clustered database tier (an inventory with an etcd group) adds its own services; the
# members stream from each other, so the db hosts reach PostgreSQL too.
CLUSTER_POLICY: dict[str, tuple[str, frozenset[str]]] = {
    **POLICY,
    "postgresql": ("db", frozenset({"app", "db"})),
    # Patroni's REST API: the other members (leader race), HAProxy on the app hosts, Prometheus.
    "patroni": ("db", frozenset({"db", "app", "monitoring"})),
    "etcd-client": ("etcd", frozenset({"db", "etcd"})),
    "etcd-peer": ("etcd", frozenset({"etcd"})),
    "haproxy-metrics": ("app", frozenset({"monitoring"})),
}

PROBE = r"""
import concurrent.futures, json, socket, sys

def probe(target):
    address, port = target
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(float(sys.argv[2]))
        try:
            sock.connect((address, port))
        except ConnectionRefusedError:
            return "refused"
        except TimeoutError:
            return "dropped"
        except OSError as error:
            return "error: %s" % error
        return "open"

targets = json.loads(sys.argv[1])
with concurrent.futures.ThreadPoolExecutor(max(1, len(targets))) as pool:
    print(json.dumps(list(pool.map(probe, targets))))
"""

ROLES = Path(__file__).resolve().parents[2] / "roles"


def role_default(role: str, name: str) -> Any:
    """A variable's value in roles/<role>/defaults/main.yml: ports are read, never re-typed."""
    defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())
    return defaults[name]


def exporter_ports() -> list[int]:
    return [
        role_default("exporters", f"exporters_{name}_port")
        for name in ("node", "nginx", "postgres", "redis")
    ]


@dataclass(frozen=True)
class Expectation:
    source: str
    target: str
    port: int
    open: bool


def allowed(
    source: str,
    target: str,
    port: int,
    *,
    groups: Mapping[str, set[str]],
    ports: Mapping[str, Iterable[int]],
    admins: set[str],
    policy: Mapping[str, tuple[str, frozenset[str]]] = POLICY,
) -> bool:
    """Whether POLICY lets SOURCE reach TARGET:PORT (groups: host -> its groups)."""
    for service, (runs_on, sources) in policy.items():
        if port not in set(ports.get(service, ())):
            continue
        if runs_on != "all" and runs_on not in groups[target]:
            continue
        if ANYONE in sources or (ADMIN in sources and source in admins):
            return True
        if sources & groups.get(source, set()):
            return True
    return False


def expected_matrix(
    *,
    groups: Mapping[str, set[str]],
    ports: Mapping[str, Iterable[int]],
    admins: set[str],
    probes: Mapping[str, Iterable[int]],
    sources: Iterable[str],
    policy: Mapping[str, tuple[str, frozenset[str]]] = POLICY,
) -> list[Expectation]:
    """One expectation per source x (target, port) of PROBES, skipping a host probing itself."""
    return [
        Expectation(
            source,
            target,
            port,
            allowed(source, target, port, groups=groups, ports=ports, admins=admins, policy=policy),
        )
        for source in sources
        for target, target_ports in probes.items()
        if target != source
        for port in sorted(set(target_ports))
    ]


def probe(source_host: Any, targets: list[tuple[str, int]]) -> list[str]:
    """Outcome of each (address, port), tried from SOURCE_HOST (testinfra host; None: here)."""
    if not targets:
        return []
    arguments = [json.dumps(targets), str(CONNECT_TIMEOUT)]
    if source_host is None:
        command = [sys.executable, "-c", PROBE, *arguments]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    else:
        output = source_host.check_output("python3 -c %s %s %s", PROBE, *arguments)
    return list(json.loads(output))


def failures(
    expectations: list[Expectation], hosts: Mapping[str, Any], addresses: Mapping[str, str]
) -> list[str]:
    """Every expectation the network disagrees with, as readable lines (empty: all hold).

    hosts: source name -> testinfra host (CONTROLLER -> None); addresses: target -> address.
    """
    wrong = []
    for source in sorted({e.source for e in expectations}):
        mine = [e for e in expectations if e.source == source]
        outcomes = probe(hosts[source], [(addresses[e.target], e.port) for e in mine])
        for expectation, outcome in zip(mine, outcomes, strict=True):
            wanted = "open" if expectation.open else "dropped"
            if outcome != wanted:
                wrong.append(
                    f"{source} -> {expectation.target}:{expectation.port} "
                    f"expected {wanted}, got {outcome}"
                )
    return wrong


def summary(expectations: list[Expectation]) -> str:
    """The open pairs, one line per source: what the matrix asserts, for a failure message."""
    lines = []
    for source in sorted({e.source for e in expectations}):
        opened = [f"{e.target}:{e.port}" for e in expectations if e.source == source and e.open]
        lines.append(f"{source} may reach: {', '.join(opened) or 'nothing'}")
    return "\n".join(lines)
