"""The restore drill, through playbooks/restore.yml: N rows written, a time T1, M more, a time T2,
then the table dropped. Restored to T1: exactly the N rows, byte for byte (a digest of every row
rendered in order); restored to T2, just before the drop: the N + M. A db host that holds data
is refused without backup_restore_overwrite, and after each restore WAL reaches the repository
again."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import archive_now, pgbackrest, sql
from playbooks import PlaybookRun, assert_clean, assert_refused, run_playbook
from testinfra.host import Host

RESTORE = Path(__file__).resolve().parents[3] / "playbooks" / "restore.yml"
FIRST, MORE = 200, 100
DIGEST = (
    "SELECT count(*) || ' ' || md5(coalesce(string_agg(id || ':' || body, ',' ORDER BY id), ''))"
    " FROM drill"
)
# A time with its UTC offset, as backup_restore_target_time takes it.
NOW = "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'"


@dataclass(frozen=True)
class Drill:
    t1: str
    t2: str
    digest_first: str
    digest_all: str


def write(db: Host, first: int, count: int) -> None:
    sql(
        db,
        "INSERT INTO drill SELECT g, md5(g::text) || repeat('x', g % 50)"
        f" FROM generate_series({first}, {first + count - 1}) AS g",
    )


def stamp(db: Host) -> str:
    """A time strictly between the commits before and after it."""
    time.sleep(1)
    moment = sql(db, NOW)
    time.sleep(1)
    return moment


@pytest.fixture(scope="module")
def drill(db: Host) -> Drill:
    sql(db, "DROP TABLE IF EXISTS drill")
    sql(db, "CREATE TABLE drill (id integer PRIMARY KEY, body text NOT NULL)")
    write(db, 1, FIRST)
    digest_first = sql(db, DIGEST)
    t1 = stamp(db)
    write(db, FIRST + 1, MORE)
    digest_all = sql(db, DIGEST)
    t2 = stamp(db)
    sql(db, "DROP TABLE drill")
    archive_now(db)
    return Drill(t1, t2, digest_first, digest_all)


def restore(**extra_vars: object) -> PlaybookRun:
    return run_playbook(RESTORE, extra_vars=extra_vars, timeout=900)


def test_a_host_with_data_is_refused_without_overwrite(db: Host, drill: Drill) -> None:
    run = restore(backup_restore_target_time=drill.t1)
    assert_refused(run, "backup_restore_overwrite", "already has a PostgreSQL data directory")
    assert db.run("test -e /var/lib/postgresql/15/main/PG_VERSION").rc == 0
    assert sql(db, "SELECT to_regclass('drill') IS NULL") == "t"


def test_a_malformed_target_time_is_refused(drill: Drill) -> None:
    run = restore(backup_restore_target_time="yesterday", backup_restore_overwrite=True)
    assert_refused(run, "backup_restore_target_time must be a time with its UTC offset")


def test_restored_to_t1_holds_exactly_the_first_rows(db: Host, drill: Drill) -> None:
    run = restore(backup_restore_target_time=drill.t1, backup_restore_overwrite=True)
    assert_clean(run)
    assert sql(db, DIGEST) == drill.digest_first
    assert drill.digest_first.startswith(f"{FIRST} ")
    # The replaced data directory is kept beside the restored one.
    assert db.check_output("ls -d /var/lib/postgresql/15/main.before-restore-*")


def test_restored_to_t2_holds_every_row_before_the_drop(db: Host, drill: Drill) -> None:
    run = restore(backup_restore_target_time=drill.t2, backup_restore_overwrite=True)
    assert_clean(run)
    assert sql(db, DIGEST) == drill.digest_all
    assert drill.digest_all.startswith(f"{FIRST + MORE} ")


def test_the_restored_server_archives_again(db: Host, repository: Host) -> None:
    for host in (db, repository):
        result = pgbackrest(host, "check")
        assert result.rc == 0, result.stderr
