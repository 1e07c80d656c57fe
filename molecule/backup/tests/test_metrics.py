"""Every run of a backup unit leaves its outcome and the newest backup's completion time in the
node exporter's textfile directory on the repository host, for the monitoring role's alerts: a
failed run is reported as failed and keeps the completion time of the backup before it."""

from __future__ import annotations

import re

from conftest import STANZA, info
from testinfra.host import Host

DIRECTORY = "/var/lib/prometheus/node-exporter"
POSTGRESQL = "postgresql@15-main.service"
SAMPLE = re.compile(
    r'^(?P<name>\w+)\{stanza="(?P<stanza>[^"]+)",type="(?P<type>\w+)"\} (?P<value>\d+)$'
)


def textfile(repository: Host, kind: str) -> dict[str, int]:
    """{metric: value} of KIND's textfile; every sample is labelled with the stanza and KIND."""
    content = repository.file(f"{DIRECTORY}/hiload_backup_{kind}.prom").content_string
    samples = [line for line in content.splitlines() if not line.startswith("#")]
    parsed = [SAMPLE.match(line) for line in samples]
    assert all(parsed), content
    assert {(m["stanza"], m["type"]) for m in parsed if m} == {(STANZA, kind)}, content
    return {m["name"]: int(m["value"]) for m in parsed if m}


def newest_stop(repository: Host, kind: str) -> int:
    return max(b["timestamp"]["stop"] for b in info(repository)["backup"] if b["type"] == kind)


def test_the_first_full_backup_left_its_metrics(repository: Host) -> None:
    metrics = textfile(repository, "full")
    completed = newest_stop(repository, "full")
    assert metrics["hiload_backup_last_run_success"] == 1
    assert metrics["hiload_backup_last_success_timestamp_seconds"] == completed
    assert metrics["hiload_backup_last_run_timestamp_seconds"] >= completed


def test_a_failed_backup_is_reported_and_keeps_the_last_success(db: Host, repository: Host) -> None:
    repository.check_output("systemctl start hiload-backup@diff.service")
    before = textfile(repository, "diff")
    # An online backup of a stopped server fails at once (its TLS server would time out first).
    db.check_output("systemctl stop %s", POSTGRESQL)
    try:
        run = repository.run("systemctl start hiload-backup@diff.service")
        failed = textfile(repository, "diff")
    finally:
        db.check_output("systemctl start %s", POSTGRESQL)
        db.check_output("runuser -u postgres -- pg_isready -q -t 60")
    assert run.rc != 0, "the backup succeeded with PostgreSQL stopped"
    assert failed["hiload_backup_last_run_success"] == 0
    assert (
        failed["hiload_backup_last_run_timestamp_seconds"]
        >= before["hiload_backup_last_run_timestamp_seconds"]
    )
    assert (
        failed["hiload_backup_last_success_timestamp_seconds"]
        == before["hiload_backup_last_success_timestamp_seconds"]
    )

    repository.check_output("systemctl start hiload-backup@diff.service")
    recovered = textfile(repository, "diff")
    assert recovered["hiload_backup_last_run_success"] == 1
    assert recovered["hiload_backup_last_success_timestamp_seconds"] == newest_stop(
        repository, "diff"
    )
    assert (
        recovered["hiload_backup_last_success_timestamp_seconds"]
        > before["hiload_backup_last_success_timestamp_seconds"]
    )
