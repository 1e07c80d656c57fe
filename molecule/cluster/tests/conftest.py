"""Shared by the cluster scenario's tests: the stack through nginx, the Patroni members as each
one's REST API reports itself, and SQL on any host of the tier."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import pytest

PROJECT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(PROJECT / "tests" / "resilience"))
sys.path.insert(0, str(PROJECT / "molecule" / "resources"))

from inventory import inventory_groups, inventory_listing  # noqa: E402
from load_fixtures import item_ids, ledger, restore_container  # noqa: E402, F401 (pytest finds them here)
from stack import Stack, inventory_file  # noqa: E402

FIGURES = PROJECT / "reports" / "resilience-cluster.json"
# Debian's template unit and configuration, one per postgresql-common cluster.
PATRONI_CONFIG = "/etc/patroni/{version}-main.yml"
# A request made on a host of the stack (its instances and metrics listen for the other hosts,
# not the controller): URL [METHOD [JSON BODY]]; prints the body, or {"status": ..., "body": ...}
# with --status.
FETCH = (
    "import json, sys, urllib.request, urllib.error\n"
    "url, method, body = (sys.argv[1:] + ['GET', ''])[:3]\n"
    "request = urllib.request.Request(url, body.encode() or None, method=method,\n"
    "                                 headers={'Content-Type': 'application/json'})\n"
    "try:\n"
    "    answer = urllib.request.urlopen(request, timeout=5)\n"
    "except urllib.error.HTTPError as error:\n"
    "    answer = error\n"
    "text = answer.read().decode()\n"
    "status = {'status': answer.status, 'body': text}\n"
    "print(json.dumps(status) if '--status' in sys.argv else text)\n"
)


# The faults come last: every other test reads the cluster as site.yml left it.
LAST = "test_failover.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name == LAST)


@pytest.fixture(scope="session")
def stack() -> Stack:
    inventory = inventory_file()
    return Stack(inventory, inventory_groups(inventory), figures_file=FIGURES)


@pytest.fixture(scope="session")
def hostvars(stack: Stack) -> dict[str, dict[str, Any]]:
    return dict(inventory_listing(stack.inventory)["_meta"]["hostvars"])


def request_on(
    stack: Stack, name: str, url: str, method: str = "GET", body: str = ""
) -> tuple[int, str]:
    """One request made on host NAME: (status, body)."""
    answer = json.loads(
        stack.host(name).check_output("python3 -c %s %s %s %s --status", FETCH, url, method, body)
    )
    return int(answer["status"]), str(answer["body"])


def member(stack: Stack, name: str) -> dict[str, Any]:
    """Patroni's own view of member NAME (GET /patroni on it): role, state, timeline; the role
    is "primary" whatever the release calls it (Patroni 3.0 says "master"). A member whose
    container or Patroni is down is {"role": "unreachable"}."""
    host = stack.host(name)
    try:
        answer = host.run("python3 -c %s http://%s:8008/patroni", FETCH, stack.address(name))
    except Exception:  # a stopped container: Ansible cannot even reach it
        return {"role": "unreachable"}
    if answer.rc != 0:
        return {"role": "unreachable"}
    status: dict[str, Any] = json.loads(answer.stdout)
    if status.get("role") == "master":
        status["role"] = "primary"
    return status


def members(stack: Stack, names: list[str] | None = None) -> dict[str, dict[str, Any]]:
    return {name: member(stack, name) for name in names or stack.groups["db"]}


def leaders(stack: Stack, names: list[str] | None = None) -> list[str]:
    """The members that run as primary, by their own account."""
    return [
        name
        for name, status in members(stack, names).items()
        if status.get("role") == "primary" and status.get("state") == "running"
    ]


def patronictl_list(stack: Stack, name: str) -> list[dict[str, Any]]:
    """`patronictl list` as member NAME sees the cluster (through etcd)."""
    version = stack.host(name).check_output("ls /etc/postgresql").split()[0]
    listing = stack.host(name).check_output(
        "patronictl -c %s list -f json", PATRONI_CONFIG.format(version=version)
    )
    rows: list[dict[str, Any]] = json.loads(listing)
    return rows


def psql(stack: Stack, name: str, sql: str, database: str = "hiload") -> str:
    """SQL as PostgreSQL's superuser over host NAME's Unix socket; rows one a line, fields by |."""
    return stack.host(name).check_output(
        "runuser -u postgres -- psql -XAtq -d %s -c %s", database, sql
    )


def pgbouncer_rows(stack: Stack, app: str, command: str) -> list[dict[str, str]]:
    """SHOW <COMMAND> on APP's PgBouncer admin console, each row by column name."""
    output = stack.host(app).check_output(
        "runuser -u postgres -- psql -XAq --csv -h /var/run/postgresql -p 6432 -d pgbouncer -c %s",
        f"SHOW {command}",
    )
    return list(csv.DictReader(output.splitlines()))


def psql_through(
    stack: Stack, app_host: str, port: int, sql: str, hostvars: dict[str, dict[str, Any]]
) -> str:
    """SQL as the app's login role through APP_HOST's local HAProxy or PgBouncer on PORT."""
    variables = hostvars[app_host]
    return stack.host(app_host).check_output(
        "PGPASSWORD=%s psql -XAtq -h 127.0.0.1 -p %s -U %s -d %s -c %s",
        variables["hiload_app_database_password"],
        str(port),
        variables.get("hiload_app_database_user", "hiload"),
        "hiload",
        sql,
    )
