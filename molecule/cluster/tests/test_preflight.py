"""Bad inventories of a clustered database tier stop site.yml in its preflight, before any host
is touched.

molecule/default's table (tests/resilience/test_bad_inventory.py, whose cases and runner this
reuses) for the cluster's rules: each case is one thing wrong, or several rules of one check
broken at once; the run must fail, name what is wrong in the preflight's one refusal, change
nothing anywhere and never reach the first play that changes hosts. The cases share runs (RUNS),
three runs at a time.
"""

from __future__ import annotations

import pytest
from playbooks import PlaybookRun
from test_bad_inventory import Case, assert_stopped_in_preflight, run_cases

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
    # The connection budget's two parts: the app's pools into each PgBouncer, and every
    # PgBouncer's server pools into the max_connections the leader holds alone.
    "PgBouncer's server pools over max_connections": Case(
        {"pgbouncer_default_pool_size": 30},
        ("130 server connections", "postgresql_max_connections (100)"),
    ),
    # Each app host's pair, all three rules broken at once: one refusal names every one. 2 pools
    # x (50 + 2) + 1 connections through HAProxy.
    "an app host's pools over its PgBouncer and HAProxy": Case(
        {
            "pgbouncer_max_client_conn": 10,
            "haproxy_maxconn": 100,
            "pgbouncer_default_pool_size": 50,
            "haproxy_idle_timeout": 60,
        },
        (
            "more than pgbouncer_max_client_conn (10)",
            "105 connections through HAProxy",
            "haproxy_maxconn (100)",
            "haproxy_idle_timeout (60s)",
        ),
    ),
    # The rules between the tiers, all broken at once: a read lag bound over the failover bound,
    # TLS the app cannot get from PgBouncer on 127.0.0.1, a statement_timeout only the app sends
    # (PgBouncer drops it), and an app that gives up on a query before a switchover's pause ends
    # (HAProxy moves its write pool in (3 + 2) x 1 s here).
    "the tiers' settings at odds": Case(
        {
            "haproxy_read_max_lag_bytes": 2097152,
            "hiload_app_database_sslmode": "verify-full",
            "postgresql_app_user_settings": {},
            "hiload_app_statement_timeout": 8,
        },
        (
            "haproxy_read_max_lag_bytes (2097152",
            "patroni_maximum_lag_on_failover (1048576",
            "hiload_app_database_sslmode is verify-full",
            "which serves no TLS",
            "HILOAD_DB_STATEMENT_TIMEOUT",
            "hiload_app_statement_timeout (8.0s",
            "haproxy_check_fall + haproxy_check_rise) (5s",
        ),
    ),
    # The app hosts run Debian 12 and 13: as db hosts they mix releases whatever the db image.
    "db hosts on two releases": Case(
        names=("The db hosts run Debian", "Put every db host on the same release"),
        groups={"db": (*DB_HOSTS, *APP_HOSTS)},
    ),
    # A repository on Debian 13 beside Debian 12 db hosts, and a clustered tier, which the backup
    # role does not cover yet: both refused at once.
    "backup host on another release, beside a cluster": Case(
        names=("run different Debian releases", "are both set"),
        groups={"backup": (APP_HOSTS[1],)},
    ),
}


# As in default's table: at most one case per check, one regrouping per group, and the rules
# across roles and hosts in runs of their own.
RUNS = (
    (
        "etcd group of 2",
        "lone db host",
        "backup host on another release, beside a cluster",
        "leader lock shorter than a loop and two retries",
        "etcd election within five heartbeats",
    ),
    ("etcd group of 4", "a setting Patroni keeps equal on every member"),
    ("db hosts on two releases",),
    ("PgBouncer's server pools over max_connections", "the tiers' settings at odds"),
    ("an app host's pools over its PgBouncer and HAProxy",),
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, PlaybookRun]:
    return run_cases(CASES, RUNS, tmp_path_factory)


@pytest.mark.parametrize("name", CASES)
def test_bad_cluster_stops_in_preflight_naming_it(runs: dict[str, PlaybookRun], name: str) -> None:
    assert_stopped_in_preflight(runs[name], CASES[name])
