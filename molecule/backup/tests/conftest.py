"""The backup scenario's two hosts, reached as Ansible reaches them; pgBackRest and psql on them."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from testinfra.host import Host

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from inventory import scenario_host

DB = "hiload-mol-backup-db"
REPOSITORY = "hiload-mol-backup-repo"
STANZA = "hiload"
# Seconds a switched-out WAL segment may take to reach the repository.
ARCHIVE_WAIT = 60.0


@pytest.fixture(scope="module")
def db() -> Host:
    return scenario_host(DB)


@pytest.fixture(scope="module")
def repository() -> Host:
    return scenario_host(REPOSITORY)


def pgbackrest(host: Host, *arguments: str, env: str = "") -> Any:
    """pgBackRest as postgres on HOST with ARGUMENTS (ENV: assignments before it); the result."""
    command = f"{env} runuser -u postgres -- pgbackrest --stanza={STANZA} {' '.join(arguments)}"
    return host.run(command)


def info(host: Host) -> dict[str, Any]:
    """The stanza's entry of `pgbackrest info --output=json`."""
    result = pgbackrest(host, "--output=json", "info")
    assert result.rc == 0, result.stderr
    entries: list[dict[str, Any]] = json.loads(result.stdout)
    return entries[0]


def sql(host: Host, query: str) -> str:
    """QUERY as postgres on the db host, its unaligned output."""
    return host.check_output("runuser -u postgres -- psql -XAtq -d hiload -c %s", query).strip()


def archive_now(db: Host) -> str:
    """Switch WAL on the db host and wait until that segment is in the repository; its name."""
    segment = sql(db, "SELECT pg_walfile_name(pg_switch_wal())")
    deadline = time.monotonic() + ARCHIVE_WAIT
    while sql(db, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver") < segment:
        assert time.monotonic() < deadline, f"{segment} not archived in {ARCHIVE_WAIT:.0f} s"
        time.sleep(0.5)
    return segment
