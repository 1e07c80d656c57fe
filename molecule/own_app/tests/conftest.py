"""Shared by the own_app scenario's tests: the notes app (tests/apps/notes) as the inventory
describes it, requests to it through nginx on the lb host, and its database on the db host."""

from __future__ import annotations

import json
import re
import sys
import uuid
from functools import cache
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(PROJECT / "tests" / "resilience"))
sys.path.insert(0, str(PROJECT / "molecule" / "resources"))

from inventory import inventory_listing, scenario_groups, scenario_host  # noqa: E402
from loadgen import ItemApi  # noqa: E402
from stack import http, inventory_file  # noqa: E402
from testinfra.host import Host  # noqa: E402

GROUPS = scenario_groups()
LB = GROUPS["lb"][0]
DB = GROUPS["db"][0]
APP_HOSTS = GROUPS["app"]
# The environment file every instance and the migrations read (hiload_app's, whatever the app).
ENVIRONMENT_FILE = "/etc/hiload/hiload.env"
# One revision per file of migrations/versions: what a release's `alembic upgrade head` reaches.
REVISION = re.compile(r'^revision: str = "(?P<id>[^"]+)"', re.M)
DOWN_REVISION = re.compile(r'^down_revision: .* = "(?P<id>[^"]+)"', re.M)


@cache
def hostvars() -> dict[str, dict[str, Any]]:
    return dict(inventory_listing(inventory_file())["_meta"]["hostvars"])


def setting(name: str, host: str = LB) -> Any:
    """A variable of the inventory as written, as HOST has it (by default the lb host, which is
    in every group but cache: group_vars all holds the app's description)."""
    return hostvars()[host][name]


def notes_project() -> Path:
    """The app's project on the controller, as the inventory points at it."""
    return Path(setting("hiload_app_project_dir"))


def head_revision(project: Path) -> str:
    """The one revision of PROJECT's migrations no other revises."""
    revisions, revised = set(), set()
    for script in (project / "migrations" / "versions").glob("*.py"):
        text = script.read_text()
        revision = REVISION.search(text)
        assert revision, f"{script} names no revision"
        revisions.add(revision["id"])
        down = DOWN_REVISION.search(text)
        if down:
            revised.add(down["id"])
    heads = revisions - revised
    assert len(heads) == 1, f"the migrations have heads {sorted(heads)}"
    return heads.pop()


@cache
def address(name: str) -> str:
    """NAME's private address, where nginx, PostgreSQL and the instances listen."""
    return scenario_host(name).check_output("hostname -I").split()[0]


def lb_url() -> str:
    return f"http://{address(LB)}"


def bearer() -> dict[str, str]:
    """The header that lets a client write: the token the inventory gave the app."""
    return {
        "Authorization": f"Bearer {setting('hiload_app_secret_environment')['NOTES_API_TOKEN']}"
    }


def ask(
    path: str, method: str = "GET", payload: object = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request to the app through nginx on the lb host."""
    body = None if payload is None else json.dumps(payload).encode()
    sent = {**({"Content-Type": "application/json"} if body else {}), **(headers or {})}
    return http(lb_url() + path, method, body, sent)


def note_body(prefix: str) -> tuple[str, bytes]:
    """A new note's title and its JSON, for the steady load's POSTs."""
    title = f"{prefix}-{uuid.uuid4().hex[:16]}"
    return title, json.dumps({"title": title, "body": "written under a rolling deploy"}).encode()


def add_note(title: str) -> dict[str, Any]:
    """Create a note through nginx with the token; the note as the app answered it."""
    status, _, body = ask("/notes", "POST", {"title": title, "body": "from the tests"}, bearer())
    assert status == 201, (status, body)
    note: dict[str, Any] = json.loads(body)
    return note


def notes_api() -> ItemApi:
    """The notes API as the steady load uses it: reads of notes, writes with the token."""
    return ItemApi("/notes/{}", "/notes", note_body, bearer())


def psql(sql: str, database: str = "postgres") -> str:
    """SQL run as PostgreSQL's superuser on the db host; its rows, one a line, fields by |."""
    db: Host = scenario_host(DB)
    return db.check_output("runuser -u postgres -- psql -XAtq -d %s -c %s", database, sql)
