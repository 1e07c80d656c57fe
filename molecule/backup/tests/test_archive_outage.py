"""The failing-archive drill: with the repository's pgBackRest server stopped, PostgreSQL keeps
taking writes and switching segments, and its archiver counts the failed attempts that the
monitoring role's WalArchiveFailing alert watches (pg_stat_archiver, through the postgres
exporter). When the server is back, the archiver catches up by itself: every segment switched
out during the outage is in the repository and pgbackrest check passes."""

from __future__ import annotations

import time

from conftest import ARCHIVE_WAIT, STANZA, info, pgbackrest, sql
from testinfra.host import Host

# Seconds the outage may take to show as failed attempts; the archiver retries at once on a new
# segment, else after a minute.
FAILURE_WAIT = 120.0


def archiver(db: Host) -> tuple[int, int, str]:
    """pg_stat_archiver's archived and failed counts, and its last archived segment."""
    query = "SELECT archived_count, failed_count, coalesce(last_archived_wal, '')"
    archived, failed, last = sql(db, f"{query} FROM pg_stat_archiver").split("|")
    return int(archived), int(failed), last


def switch(db: Host) -> str:
    """Write a little and switch WAL; the segment switched out."""
    sql(db, "INSERT INTO outage_probe SELECT generate_series(1, 1000)")
    return sql(db, "SELECT pg_walfile_name(pg_switch_wal())")


def in_repository(repository: Host, segments: list[str]) -> list[str]:
    """Those of SEGMENTS the repository's archive holds (of the current archive id)."""
    archive_id = info(repository)["archive"][-1]["id"]
    held = []
    for directory in sorted({segment[:16] for segment in segments}):
        listing = pgbackrest(repository, "repo-ls", f"archive/{STANZA}/{archive_id}/{directory}")
        assert listing.rc == 0, listing.stderr
        held += [name.split("-")[0] for name in listing.stdout.split()]
    return [segment for segment in segments if segment in held]


def test_writes_go_on_while_the_repository_is_away_and_no_segment_is_lost(
    db: Host, repository: Host
) -> None:
    sql(db, "CREATE TABLE IF NOT EXISTS outage_probe (n int)")
    segments: list[str] = []
    repository.check_output("systemctl stop pgbackrest.service")
    try:
        archived_before, failed_before, _ = archiver(db)
        deadline = time.monotonic() + FAILURE_WAIT
        while archiver(db)[1] == failed_before:
            assert time.monotonic() < deadline, f"no failed archive attempt in {FAILURE_WAIT:.0f} s"
            segments.append(switch(db))
            time.sleep(2)
        segments.append(switch(db))
        archived_during, _, _ = archiver(db)
        rows = int(sql(db, "SELECT count(*) FROM outage_probe"))
    finally:
        repository.check_output("systemctl start pgbackrest.service")
    assert rows >= 1000 * len(segments), "writes stopped while the repository was away"
    # The alert's condition held: attempts failed, and none of the outage's segments was archived.
    assert archived_during == archived_before, (archived_before, archived_during)

    # Back: a new segment wakes the archiver, which pushes the backlog in order.
    last = switch(db)
    segments.append(last)
    deadline = time.monotonic() + ARCHIVE_WAIT * 2
    while archiver(db)[2] < last:
        assert time.monotonic() < deadline, f"{last} not archived after the repository came back"
        time.sleep(1)
    missing = sorted(set(segments) - set(in_repository(repository, segments)))
    assert not missing, f"segments missing from the repository: {missing}"
    check = pgbackrest(db, "check")
    assert check.rc == 0, check.stderr
