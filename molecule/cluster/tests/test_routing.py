"""Each app host's own way to the cluster: HAProxy sends writes to the leader and reads to a
replica within the lag bound, PgBouncer pools in transaction mode in front of both, the
migrations go past PgBouncer, and the service reads its own writes through nginx."""

from __future__ import annotations

import json
import time
from typing import Any

from conftest import leaders, pgbouncer_rows, psql, psql_through, request_on
from stack import Stack

WRITE_PORT, READ_PORT, PGBOUNCER_PORT = 5000, 5001, 6432
ENVIRONMENT_FILE = "/etc/hiload/hiload.env"
MIGRATE_FILE = "/etc/hiload/migrate.env"


def environment(stack: Stack, name: str, path: str) -> dict[str, str]:
    text = stack.host(name).file(path).content_string
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line and line[0] != "#")
    return {name: value.strip('"') for name, value in pairs}


def test_writes_reach_the_leader_and_reads_a_replica(
    stack: Stack, hostvars: dict[str, dict[str, Any]]
) -> None:
    (leader,) = leaders(stack)
    leader_address = stack.address(leader)
    for app in stack.groups["app"]:
        write = psql_through(
            stack, app, WRITE_PORT, "SELECT pg_is_in_recovery(), inet_server_addr()", hostvars
        )
        assert write.split("|") == ["f", leader_address], (app, write)
        read = psql_through(stack, app, READ_PORT, "SELECT pg_is_in_recovery()", hostvars)
        assert read == "t", (app, read)
        # And the same through PgBouncer's two databases.
        pooled = psql_through(stack, app, PGBOUNCER_PORT, "SELECT pg_is_in_recovery()", hostvars)
        assert pooled == "f", (app, pooled)


def test_pgbouncer_pools_both_ways_in_transaction_mode(stack: Stack) -> None:
    for app in stack.groups["app"]:
        databases = {row["name"] for row in pgbouncer_rows(stack, app, "DATABASES")}
        assert {"hiload", "hiload_read"} <= databases, (app, databases)
        config = {row["key"]: row["value"] for row in pgbouncer_rows(stack, app, "CONFIG")}
        assert config["pool_mode"] == "transaction", app
        release = int(stack.host(app).system_info.release.split(".")[0])
        # Debian 13's PgBouncer carries asyncpg's prepared statements; Debian 12's cannot, and
        # the service turns its statement cache off there.
        cache = environment(stack, app, ENVIRONMENT_FILE)["HILOAD_DB_STATEMENT_CACHE_SIZE"]
        if release >= 13:
            assert int(config["max_prepared_statements"]) > 0, app
            assert cache == "100", app
        else:
            assert "max_prepared_statements" not in config, app
            assert cache == "0", app


def test_the_service_reads_from_the_read_pool_and_migrates_past_pgbouncer(stack: Stack) -> None:
    for app in stack.groups["app"]:
        served = environment(stack, app, ENVIRONMENT_FILE)
        assert ":6432/hiload_read" in served["HILOAD_DATABASE_READ_URL"], app
        assert ":6432/hiload" in served["HILOAD_DATABASE_URL"], app
        migrations = environment(stack, app, MIGRATE_FILE)
        assert "@127.0.0.1:5000/hiload" in migrations["HILOAD_DATABASE_URL"], app
        _, metrics = request_on(stack, app, f"http://{stack.address(app)}:8001/metrics")
        assert 'hiload_db_pool_size{pool="read"}' in metrics, app
    # Every migration ran once, and no session advisory lock outlived its run.
    (leader,) = leaders(stack)
    assert psql(stack, leader, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == "0"


def test_statement_timeout_is_set_on_the_role_since_pgbouncer_drops_it(stack: Stack) -> None:
    (leader,) = leaders(stack)
    settings = psql(
        stack,
        leader,
        "SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting s"
        " JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = 'hiload'",
    )
    assert "statement_timeout=5s" in settings, settings


def test_a_client_reads_its_own_write_through_every_app_host(stack: Stack) -> None:
    for app in stack.groups["app"]:
        # Straight to an instance of this host, so both PgBouncer releases are exercised.
        base = f"http://{stack.address(app)}:8001"
        body = json.dumps({"name": f"own-write-{app}-{time.time_ns()}", "price": "3.00"})
        status, created = request_on(stack, app, base + "/items", "POST", body)
        assert status == 201, (app, status, created)
        item = json.loads(created)
        status, again = request_on(stack, app, f"{base}/items/{item['id']}")
        assert status == 200, (app, again)
        assert json.loads(again) == item, (app, again)
        for path in ("/readyz", "/items?limit=5", "/items/stats", "/items/export"):
            assert request_on(stack, app, base + path)[0] == 200, (app, path)
