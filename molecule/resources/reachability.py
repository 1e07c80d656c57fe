"""The firewall role's cross-host reachability matrix, shared by molecule/firewall, redis, default
and cluster.

POLICY (CLUSTER_POLICY with an etcd group) states who may open a connection to each service; a
scenario says which hosts are in which groups, which ports each service uses (stack_ports() for a
whole site.yml), which sources are administrators, and which (target, port) pairs to try
(reachable_listeners() for every real one). expected_matrix() turns that into one expectation per
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
from inventory import scenario_host
from nginx_upstream import upstream_servers
from testinfra.host import Host

CONTROLLER = "controller"
ANYONE = "anyone"
ADMIN = "admin"
# A dropped SYN is a timeout: long enough for a loaded machine's bridge, short enough for a matrix.
CONNECT_TIMEOUT = 1.5
# Tried on every host even without sshd: its drop (not refusal) proves the policy.
SSH_PORT = 22

# service: (group of the hosts it runs on, who may connect: groups, ANYONE and/or ADMIN).
POLICY: dict[str, tuple[str, frozenset[str]]] = {
    "ssh": ("all", frozenset({ADMIN})),
    "http": ("lb", frozenset({ANYONE})),
    # Prometheus scrapes every instance's /metrics.
    "app": ("app", frozenset({"lb", "monitoring"})),
    "postgresql": ("db", frozenset({"app"})),
    "redis": ("cache", frozenset({"app"})),
    "prometheus": ("monitoring", frozenset({"monitoring", ADMIN})),
    "alertmanager": ("monitoring", frozenset({"monitoring", ADMIN})),
    "exporters": ("all", frozenset({"monitoring"})),
    # pgBackRest's TLS servers: the db hosts push WAL to the repository and restore from it; the
    # repository host reads the db hosts' data during a backup.
    "pgbackrest-repository": ("backup", frozenset({"db"})),
    "pgbackrest": ("db", frozenset({"backup"})),
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


def exporter_ports(*, cluster: bool = False) -> list[int]:
    """The exporters' ports the firewall opens to monitoring: PgBouncer's too with an etcd group."""
    names = ["node", "nginx", "postgres", "redis", *(["pgbouncer"] if cluster else [])]
    return [role_default("exporters", f"exporters_{name}_port") for name in names]


def stack_ports(app: Iterable[int], *, cluster: bool = False) -> dict[str, list[int]]:
    """Each service's ports in a site.yml stack whose instances listen on APP (app_ports()), for
    POLICY, or CLUSTER_POLICY with CLUSTER: the roles' defaults, as the firewall role opens them."""
    http = [role_default("nginx", name) for name in ("nginx_listen_port", "nginx_tls_port")]
    ports = {
        "ssh": [SSH_PORT],
        "http": http,
        "app": sorted(app),
        "postgresql": [role_default("postgresql", "postgresql_port")],
        "redis": [role_default("redis", "redis_port")],
        "prometheus": [role_default("monitoring", "monitoring_port")],
        "alertmanager": [role_default("alertmanager", "alertmanager_port")],
        "exporters": exporter_ports(cluster=cluster),
    }
    if cluster:
        ports |= {
            "patroni": [role_default("patroni", "patroni_restapi_port")],
            "etcd-client": [role_default("etcd", "etcd_client_port")],
            "etcd-peer": [role_default("etcd", "etcd_peer_port")],
            "haproxy-metrics": [role_default("haproxy", "haproxy_metrics_port")],
        }
    return ports


def app_ports(lb: Host) -> set[int]:
    """The instance ports nginx balances over: what the app hosts must open to lb."""
    return {int(server.rsplit(":", 1)[1]) for server in upstream_servers(lb)}


def hosts(names: Iterable[str]) -> dict[str, Host | None]:
    """The sources of a matrix: each host NAME of the running scenario, and CONTROLLER (None)."""
    found: dict[str, Host | None] = {name: scenario_host(name) for name in names}
    found[CONTROLLER] = None
    return found


def host_addresses(found: Mapping[str, Host | None]) -> dict[str, str]:
    """Each host's first address (hostname -I): where the others try it."""
    return {
        name: host.check_output("hostname -I").split()[0]
        for name, host in found.items()
        if host is not None
    }


def is_loopback(address: str) -> bool:
    """Whether ADDRESS (as ss prints it, without brackets) is reachable from this host only."""
    return address.startswith(("127.", "::1"))


def listeners(host: Host) -> dict[int, set[str]]:
    """{port: addresses} of every TCP socket HOST listens on (IPv6 without brackets)."""
    found: dict[int, set[str]] = {}
    for line in host.check_output("ss -ltnH").splitlines():
        address, _, port = line.split()[3].rpartition(":")
        found.setdefault(int(port), set()).add(address.strip("[]"))
    return found


def reachable_listeners(host: Host) -> set[int]:
    """TCP ports the host listens on at an address other hosts can reach (not loopback)."""
    return {
        port
        for port, bound in listeners(host).items()
        if not all(is_loopback(address) for address in bound)
    }


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
