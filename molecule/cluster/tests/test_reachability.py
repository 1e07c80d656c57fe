"""The clustered stack's reachability matrix: every port a host listens on, from every other host
and from the controller, is open exactly when CLUSTER_POLICY (resources/reachability.py) says:
etcd's client port from the db and etcd hosts, its peer port from the etcd hosts, Patroni's REST
API from the db, app and monitoring hosts, PostgreSQL from the app and db hosts, HAProxy's
metrics and stats and the PgBouncer exporter from the monitoring host alone.

HAProxy's write and read frontends and PgBouncer serve their own app host only: they listen on
loopback, and the firewall drops them from every other host too. Closed means dropped (a
timeout), not refused.
"""

import sys
from pathlib import Path

from testinfra.host import Host

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from reachability import (
    CLUSTER_POLICY,
    CONTROLLER,
    SSH_PORT,
    app_ports,
    expected_matrix,
    failures,
    host_addresses,
    hosts,
    is_loopback,
    listeners,
    reachable_listeners,
    role_default,
    stack_ports,
    summary,
)

LB = "hiload-mol-cl-lb1"
APP1 = "hiload-mol-cl-app1"
APP2 = "hiload-mol-cl-app2"
DB1 = "hiload-mol-cl-db1"
DB2 = "hiload-mol-cl-db2"
GROUPS = {
    LB: {"lb", "monitoring"},
    APP1: {"app"},
    APP2: {"app"},
    DB1: {"db", "etcd"},
    DB2: {"db", "etcd"},
    "hiload-mol-cl-db3": {"db", "etcd"},
}
APP_HOSTS = sorted(name for name, groups in GROUPS.items() if "app" in groups)
testinfra_hosts = APP_HOSTS

POSTGRESQL_PORT = role_default("postgresql", "postgresql_port")
PATRONI_PORT = role_default("patroni", "patroni_restapi_port")
ETCD_CLIENT_PORT = role_default("etcd", "etcd_client_port")
ETCD_PEER_PORT = role_default("etcd", "etcd_peer_port")
HAPROXY_METRICS_PORT = role_default("haproxy", "haproxy_metrics_port")
PGBOUNCER_EXPORTER_PORT = role_default("exporters", "exporters_pgbouncer_port")
# What an app host serves itself alone: HAProxy's write and read frontends (its PgBouncer, the
# migrations) and PgBouncer (the app's pools).
HAPROXY_WRITE_PORT = role_default("haproxy", "haproxy_write_port")
HAPROXY_READ_PORT = role_default("haproxy", "haproxy_read_port")
PGBOUNCER_PORT = role_default("pgbouncer", "pgbouncer_port")
LOOPBACK_PORTS = {HAPROXY_WRITE_PORT, HAPROXY_READ_PORT, PGBOUNCER_PORT}


def test_reachability_matrix() -> None:
    found = hosts(GROUPS)
    machines = {name: host for name, host in found.items() if host is not None}
    addresses = host_addresses(found)
    ports = stack_ports(app_ports(machines[LB]), cluster=True)
    # Every real listener, plus SSH, whose drop (not refusal) proves the policy even with no sshd.
    probes = {name: reachable_listeners(host) | {SSH_PORT} for name, host in machines.items()}
    # And the app hosts' loopback-only ports: the firewall drops them too.
    for name in APP_HOSTS:
        probes[name] |= LOOPBACK_PORTS
    assert ports["app"], "nginx balances over no instance"
    # A service that listens on loopback only would not be tried at all: each must be there.
    served = {
        "db": {POSTGRESQL_PORT, PATRONI_PORT},
        "etcd": {ETCD_CLIENT_PORT, ETCD_PEER_PORT},
        "app": {*ports["app"], HAPROXY_METRICS_PORT},
    }
    # Debian 12's PgBouncer exporter cannot read its PgBouncer: the exporters role runs it on the
    # Debian 13 app host only.
    own = {APP2: {PGBOUNCER_EXPORTER_PORT}}
    unreachable = {
        name: sorted(
            set().union(own.get(name, set()), *(served.get(group, set()) for group in groups))
            - probes[name]
        )
        for name, groups in GROUPS.items()
    }
    assert not any(unreachable.values()), f"not listening for other hosts: {unreachable}"

    expectations = expected_matrix(
        groups=GROUPS,
        ports=ports,
        admins=set(),
        probes=probes,
        sources=found,
        policy=CLUSTER_POLICY,
    )
    wrong = failures(expectations, found, addresses)
    assert not wrong, "\n".join(wrong) + "\n\nThe policy:\n" + summary(expectations)


def test_matrix_covers_the_cluster_cases() -> None:
    """The cases the scenario's README names are among the expectations, each the right way round.
    A db host outside the etcd group, which this scenario lacks, tells etcd's client port (db and
    etcd hosts) from its peer port (etcd hosts)."""
    db_only = "db-outside-etcd"
    groups = {**GROUPS, db_only: {"db"}}
    targets = [DB1, db_only, APP1, APP2]
    ports = stack_ports([], cluster=True)
    tried = sorted({port for service in ports.values() for port in service} | LOOPBACK_PORTS)
    expectations = {
        (e.source, e.target, e.port): e.open
        for e in expected_matrix(
            groups=groups,
            ports=ports,
            admins=set(),
            probes={target: tried for target in targets},
            sources=[*groups, CONTROLLER],
            policy=CLUSTER_POLICY,
        )
    }
    cases = {
        (DB2, DB1, ETCD_CLIENT_PORT): True,
        (db_only, DB1, ETCD_CLIENT_PORT): True,
        (APP1, DB1, ETCD_CLIENT_PORT): False,
        (LB, DB1, ETCD_CLIENT_PORT): False,
        (DB1, db_only, ETCD_CLIENT_PORT): False,
        (DB2, DB1, ETCD_PEER_PORT): True,
        (db_only, DB1, ETCD_PEER_PORT): False,
        (APP1, DB1, ETCD_PEER_PORT): False,
        (DB2, DB1, PATRONI_PORT): True,
        (APP1, DB1, PATRONI_PORT): True,
        (LB, DB1, PATRONI_PORT): True,
        (CONTROLLER, DB1, PATRONI_PORT): False,
        (APP1, DB1, POSTGRESQL_PORT): True,
        (DB2, DB1, POSTGRESQL_PORT): True,
        (LB, DB1, POSTGRESQL_PORT): False,
        (LB, APP1, HAPROXY_METRICS_PORT): True,
        (APP2, APP1, HAPROXY_METRICS_PORT): False,
        (DB1, APP1, HAPROXY_METRICS_PORT): False,
        (LB, APP2, PGBOUNCER_EXPORTER_PORT): True,
        (APP1, APP2, PGBOUNCER_EXPORTER_PORT): False,
        (DB1, APP2, PGBOUNCER_EXPORTER_PORT): False,
        (LB, APP1, HAPROXY_WRITE_PORT): False,
        (APP2, APP1, HAPROXY_READ_PORT): False,
        (DB1, APP1, PGBOUNCER_PORT): False,
    }
    assert {case: expectations[case] for case in cases} == cases


def test_routing_listens_on_loopback_only(host: Host) -> None:
    """HAProxy's write and read frontends and PgBouncer listen on this app host, and on loopback
    alone: no other host reaches them, whatever the firewall does."""
    bound = listeners(host)
    wrong = {
        port: sorted(bound.get(port, set()))
        for port in sorted(LOOPBACK_PORTS)
        if not bound.get(port) or not all(is_loopback(address) for address in bound[port])
    }
    assert not wrong, f"port: addresses not on loopback alone (none: not listening): {wrong}"
