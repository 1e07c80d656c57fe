"""pgBackRest keeps an encrypted repository on its own host: WAL arrives continuously, a full
backup exists from the first converge, the timers schedule the rest, and without the passphrase
nothing in the repository can be read or restored."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import REPOSITORY, archive_now, info, pgbackrest, sql
from testinfra.host import Host

# A value no page of PostgreSQL holds unless the test wrote it.
NEEDLE = "hiload-backup-needle-7f3c1e"


def test_both_sides_check_the_archive_path(db: Host, repository: Host) -> None:
    # check switches WAL and waits for that segment in the repository: archive_command, the spool,
    # both TLS servers and the encryption all work, seen from either side.
    for host in (db, repository):
        result = pgbackrest(host, "check")
        assert result.rc == 0, result.stderr


def test_the_first_converge_left_a_full_backup(repository: Host) -> None:
    stanza = info(repository)
    assert stanza["status"]["code"] == 0, stanza["status"]
    assert stanza["cipher"] == "aes-256-cbc"
    assert [backup["type"] for backup in stanza["backup"]][:1] == ["full"]


def test_timers_schedule_full_and_differential_backups(repository: Host) -> None:
    for kind in ("full", "diff"):
        timer = repository.service(f"hiload-backup-{kind}.timer")
        assert timer.is_enabled, kind
        assert timer.is_running, kind
        unit = repository.check_output("systemctl show -P Unit hiload-backup-%s.timer", kind)
        assert unit == f"hiload-backup@{kind}.service"


def test_a_differential_backup_runs_from_its_unit(repository: Host) -> None:
    before = len(info(repository)["backup"])
    repository.check_output("systemctl start hiload-backup@diff.service")
    backups = info(repository)["backup"]
    assert len(backups) == before + 1
    assert backups[-1]["type"] == "diff"


def test_units_are_hardened(db: Host, repository: Host) -> None:
    for host, unit in (
        (db, "pgbackrest.service"),
        (repository, "pgbackrest.service"),
        (repository, "hiload-backup@full.service"),
    ):
        exposure = host.check_output("systemd-analyze security %s --no-pager | tail -1", unit)
        assert float(exposure.split()[-3]) <= 2.0, (host.backend.host, exposure)


def test_new_wal_reaches_the_repository_encrypted(db: Host, repository: Host) -> None:
    sql(db, "CREATE TABLE IF NOT EXISTS backup_probe (note text)")
    sql(db, f"INSERT INTO backup_probe VALUES ('{NEEDLE}')")
    segment = archive_now(db)
    # The needle is in the clear on the database host, in the WAL segment that was pushed...
    assert db.run("grep -rlaF %s /var/lib/postgresql/15/main/pg_wal", NEEDLE).rc == 0
    # ...and nowhere in the repository, whose every file is OpenSSL-encrypted (compression alone
    # would hide the needle too: the header shows the encryption).
    assert repository.run("grep -rlaF %s /var/lib/pgbackrest", NEEDLE).rc == 1
    files = repository.check_output("find /var/lib/pgbackrest -type f -size +0").split()
    pushed = [name for name in files if f"/{segment}-" in name]
    assert pushed, f"{segment} is not in the repository"
    clear = repository.check_output(
        "find /var/lib/pgbackrest -type f -size +0 -exec sh -c %s - {} +",
        'for f; do [ "$(head -c 8 "$f")" = Salted__ ] || echo "$f"; done',
    )
    assert clear == "", f"files in the clear: {clear}"


def test_the_passphrase_stays_on_the_backup_host(db: Host, repository: Host) -> None:
    passphrase = repository.ansible.get_variables()["backup_repository_passphrase"]
    assert repository.run("grep -rlF %s /etc/pgbackrest.conf", passphrase).rc == 0
    held = db.run("grep -rlF %s /etc /var /root /tmp /run", passphrase)
    assert held.rc == 1, f"the db host holds the passphrase: {held.stdout}"
    conf = repository.file("/etc/pgbackrest.conf")
    assert (conf.user, conf.group, conf.mode) == ("root", "postgres", 0o640)


def test_no_run_of_the_scenario_showed_the_passphrase(repository: Host) -> None:
    # Create, converge, idempotence: every run Molecule made logged there, at -vvv.
    log = Path(os.environ["HILOAD_PLAYBOOK_LOG"]).read_text()
    assert f"<{REPOSITORY}> ESTABLISH" in log, "the converge did not log at -vvv: see molecule.yml"
    assert "Write pgBackRest's configuration" in log
    passphrase = repository.ansible.get_variables()["backup_repository_passphrase"]
    assert passphrase not in log


def test_a_restore_needs_the_passphrase(repository: Host) -> None:
    # Restored locally on the repository host into a scratch directory: with the passphrase the
    # latest backup comes back whole; with another one pgBackRest refuses to read the repository.
    target = "/var/tmp/hiload-restore-probe"
    repository.check_output("rm -rf %s && install -d -o postgres -m 0700 %s", target, target)
    try:
        local = ("--reset-pg1-host", f"--pg1-path={target}", "restore")
        wrong_key = "PGBACKREST_REPO1_CIPHER_PASS=not-the-passphrase-0000"
        wrong = pgbackrest(repository, *local, env=wrong_key)
        # Its message quotes the garbage the wrong key decrypted: not text.
        refusal = wrong.stderr_bytes.decode(errors="replace")
        assert wrong.rc != 0
        assert "unable to load info file" in refusal, refusal
        assert "no backup set found" in refusal, refusal
        assert repository.check_output("ls -A %s", target) == ""
        right = pgbackrest(repository, *local)
        assert right.rc == 0, right.stderr
        assert repository.file(f"{target}/PG_VERSION").content_string.strip() == "15"
    finally:
        repository.run("rm -rf %s", target)
