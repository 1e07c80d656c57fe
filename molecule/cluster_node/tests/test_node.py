"""Debian 13's packages of the clustered tier, each converged by its role on one host: etcd
healthy, Patroni 4 leading its PostgreSQL, HAProxy's write port on that leader, and PgBouncer
1.24 pooling to it with prepared statements on."""

from __future__ import annotations

import json

from testinfra.host import Host

testinfra_hosts = ["all"]


def address(host: Host) -> str:
    """The host's private IPv4 address, where etcd and Patroni's REST API listen."""
    return next(a for a in host.interface.default().addresses if ":" not in a)


def app_psql(host: Host, port: int, sql: str) -> str:
    """SQL as the app's login role through the host's HAProxy or PgBouncer on PORT."""
    variables = host.ansible.get_variables()
    return host.check_output(
        "PGPASSWORD=%s psql -XAtq -h 127.0.0.1 -p %s -U hiload -d hiload -c %s",
        variables["hiload_app_database_password"],
        str(port),
        sql,
    )


def test_etcd_3_5_is_healthy(host: Host) -> None:
    assert host.check_output("etcd --version").splitlines()[0].startswith("etcd Version: 3.5.")
    # etcdctl reports health on stderr.
    health = host.run("etcdctl --endpoints=http://%s:2379 endpoint health", address(host))
    assert health.rc == 0, health.stderr
    assert "is healthy" in health.stdout + health.stderr


def test_patroni_4_leads_its_postgresql(host: Host) -> None:
    status = json.loads(
        host.check_output(
            "python3 -c %s",
            "import sys, urllib.request; "
            f"sys.stdout.write(urllib.request.urlopen('http://{address(host)}:8008/patroni').read().decode())",
        )
    )
    assert status["patroni"]["version"].startswith("4."), status
    assert (status["role"], status["state"]) == ("primary", "running"), status
    version = host.check_output("ls /etc/postgresql").split()[0]
    assert host.service(f"patroni@{version}-main").is_running


def test_haproxy_3_0_sends_writes_to_the_leader(host: Host) -> None:
    assert "version 3.0." in host.check_output("haproxy -v")
    assert app_psql(host, 5000, "SELECT pg_is_in_recovery()") == "f"


def test_pgbouncer_1_24_pools_with_prepared_statements(host: Host) -> None:
    assert host.check_output("pgbouncer --version").splitlines()[0].startswith("PgBouncer 1.24.")
    settings = host.file("/etc/pgbouncer/pgbouncer.ini").content_string
    assert "max_prepared_statements" in settings
    # Through the write pool, to the leader.
    assert app_psql(host, 6432, "SELECT pg_is_in_recovery()") == "f"
