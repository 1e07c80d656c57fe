"""Bad inventories of a clustered database tier stop site.yml in its preflight, before any host
is touched.

molecule/default's table (tests/resilience/test_bad_inventory.py, whose cases and runner this
reuses) for the cluster's rules: each case runs the whole site.yml against the converged cluster
with one thing wrong; the run must fail, name what is wrong, change nothing anywhere and never
reach the first play that changes hosts. The cases run three at a time.

Each name holds in either result format: none spans a place where the yaml one wraps a message
(80 columns) or doubles an apostrophe.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from playbooks import PlaybookRun, assert_refused
from test_bad_inventory import FIRST_CHANGING_PLAY, Case, run_case

LB = "hiload-mol-cl-lb1"
APP_HOSTS = ("hiload-mol-cl-app1", "hiload-mol-cl-app2")
DB_HOSTS = ("hiload-mol-cl-db1", "hiload-mol-cl-db2", "hiload-mol-cl-db3")

CASES = {
    "etcd group of 2": Case(
        names=("has 2 hosts", "odd number, at least 3"), groups={"etcd": DB_HOSTS[:2]}
    ),
    # Even: a fourth member adds no failure the cluster survives.
    "etcd group of 4": Case(
        names=("has 4 hosts", "odd number, at least 3"), groups={"etcd": (*DB_HOSTS, LB)}
    ),
    "lone db host": Case(
        names=("makes the database tier a cluster", "1 host; add at least one more"),
        groups={"db": DB_HOSTS[:1]},
    ),
    # Patroni's rule: loop_wait + 2 x retry_timeout <= ttl.
    "leader lock shorter than a loop and two retries": Case(
        {"patroni_ttl": 25, "patroni_loop_wait": 10, "patroni_retry_timeout": 10},
        ("patroni_loop_wait + 2 x patroni_retry_timeout (10 + 2 x 10 = 30)", "patroni_ttl (25)"),
    ),
    "etcd election within five heartbeats": Case(
        {"etcd_heartbeat_interval_ms": 100, "etcd_election_timeout_ms": 400},
        ("etcd_election_timeout_ms (400)", "5 x etcd_heartbeat_interval_ms"),
    ),
    "a setting Patroni keeps equal on every member": Case(
        {"patroni_parameters": {"max_connections": 500}},
        ("patroni_parameters sets max_connections",),
    ),
    "read lag bound over the failover bound": Case(
        {"haproxy_read_max_lag_bytes": 2097152},
        ("haproxy_read_max_lag_bytes (2097152", "patroni_maximum_lag_on_failover (1048576"),
    ),
    # The connection budget's two parts: the app's pools into each PgBouncer, and every
    # PgBouncer's server pools into the max_connections the leader holds alone.
    "app pools over PgBouncer's clients": Case(
        {"pgbouncer_max_client_conn": 10},
        ("pgbouncer_max_client_conn", "hiload_app_db_connections_per_process"),
    ),
    "PgBouncer's server pools over max_connections": Case(
        {"pgbouncer_default_pool_size": 30},
        ("130 server connections", "postgresql_max_connections (100)"),
    ),
    "PgBouncer's server pools over HAProxy's maxconn": Case(
        {"haproxy_maxconn": 100, "pgbouncer_default_pool_size": 50},
        ("105 connections through HAProxy", "haproxy_maxconn (100)"),
    ),
    "HAProxy closes idle connections before PgBouncer": Case(
        {"haproxy_idle_timeout": 60},
        ("haproxy_idle_timeout (60s)", "pgbouncer_server_idle_timeout"),
    ),
    # The app connects to PgBouncer on 127.0.0.1.
    "TLS the app cannot get": Case(
        {"hiload_app_database_sslmode": "verify-full"},
        ("hiload_app_database_sslmode is verify-full", "which serves no TLS"),
    ),
    # PgBouncer drops the statement_timeout the app sends: the role must carry it.
    "statement timeout only the app sends": Case(
        {"postgresql_app_user_settings": {}},
        ("HILOAD_DB_STATEMENT_TIMEOUT", "postgresql_app_user_settings"),
    ),
    # The app hosts run Debian 12 and 13: as db hosts they mix releases whatever the db image.
    "db hosts on two releases": Case(
        names=("The db hosts run Debian", "Put every db host on the same release"),
        groups={"db": (*DB_HOSTS, *APP_HOSTS)},
    ),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, PlaybookRun]:
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {
            name: pool.submit(run_case, case, tmp_path_factory.mktemp("case"))
            for name, case in CASES.items()
        }
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("name", CASES)
def test_bad_cluster_stops_in_preflight_naming_it(runs: dict[str, PlaybookRun], name: str) -> None:
    run = runs[name]
    assert_refused(run, *CASES[name].names)
    assert FIRST_CHANGING_PLAY not in run.stdout, f"went past the preflight:\n{run.tail}"
