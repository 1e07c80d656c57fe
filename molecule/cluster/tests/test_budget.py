"""The connection budget in two parts: the app's client connections end at each host's
PgBouncer, more of them than PostgreSQL's max_connections, while the server connections
PgBouncer opens stay within the bound the preflight counted (molecule.yml sizes the pools so)."""

from __future__ import annotations

from typing import Any

from conftest import leaders, pgbouncer_rows, psql
from stack import Stack


def test_more_clients_than_max_connections_through_fewer_server_connections(
    stack: Stack, hostvars: dict[str, dict[str, Any]]
) -> None:
    (leader,) = leaders(stack)
    max_connections = int(psql(stack, leader, "SHOW max_connections"))
    user = hostvars[stack.groups["app"][0]].get("hiload_app_database_user", "hiload")
    clients = {
        app: sum(row["user"] == user for row in pgbouncer_rows(stack, app, "CLIENTS"))
        for app in stack.groups["app"]
    }
    bounds = {
        app: sum(
            int(row["max_connections"])
            for row in pgbouncer_rows(stack, app, "DATABASES")
            if row["name"] != "pgbouncer"
        )
        for app in stack.groups["app"]
    }
    servers = int(
        psql(stack, leader, f"SELECT count(*) FROM pg_stat_activity WHERE usename = '{user}'")
    )
    assert sum(clients.values()) > max_connections, (clients, max_connections)
    assert servers <= sum(bounds.values()) < max_connections, (servers, bounds)
    stack.record(
        budget={
            "client_connections": clients,
            "server_connections_on_leader": servers,
            "pgbouncer_server_bound": bounds,
            "max_connections": max_connections,
        }
    )
