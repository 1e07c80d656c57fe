"""`alembic upgrade head`, as the bundle's migrate step runs it from a release directory."""

from __future__ import annotations

import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.support import PG_BIN, PROJECT, alembic, asyncpg_url, free_port

HEAD = "0002"


def schema(postgres: Any, database: str) -> str:
    dump = subprocess.run(
        [str(PG_BIN / "pg_dump"), "--schema-only", "-d", postgres.dsn(database)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # Recent pg_dump fences its output with a random key on every run.
    return "\n".join(
        line for line in dump.splitlines() if not line.startswith(("\\restrict", "\\unrestrict"))
    )


def version(postgres: Any, database: str) -> str:
    result: str = postgres.psql("SELECT version_num FROM alembic_version", database)
    return result


def test_upgrade_from_empty_reaches_head(postgres: Any, empty_database: str) -> None:
    upgraded = alembic(asyncpg_url(postgres, empty_database), "upgrade", "head")

    assert upgraded.returncode == 0, upgraded.stderr
    assert "Running upgrade  -> 0001" in upgraded.stderr
    assert f"Running upgrade 0001 -> {HEAD}" in upgraded.stderr
    assert version(postgres, empty_database) == HEAD
    columns = postgres.psql(
        "SELECT column_name, data_type, is_nullable, is_identity, column_default"
        " FROM information_schema.columns WHERE table_name = 'notes' ORDER BY column_name",
        empty_database,
    ).splitlines()
    assert columns == [
        "body|text|NO|NO|''::text",
        "created_at|timestamp with time zone|NO|NO|now()",
        "id|bigint|NO|YES|",
        "pinned|boolean|NO|NO|false",
        "title|character varying|NO|NO|",
    ]


def test_second_upgrade_changes_nothing(postgres: Any, empty_database: str) -> None:
    url = asyncpg_url(postgres, empty_database)
    assert alembic(url, "upgrade", "head").returncode == 0
    before = schema(postgres, empty_database)

    again = alembic(url, "upgrade", "head")

    assert again.returncode == 0, again.stderr
    assert "Running upgrade" not in again.stderr
    assert schema(postgres, empty_database) == before


def test_second_release_migration_keeps_existing_notes(postgres: Any, empty_database: str) -> None:
    url = asyncpg_url(postgres, empty_database)
    assert alembic(url, "upgrade", "0001").returncode == 0
    postgres.psql("INSERT INTO notes (title) VALUES ('written by release one')", empty_database)

    upgraded = alembic(url, "upgrade", "head")

    assert upgraded.returncode == 0, upgraded.stderr
    assert postgres.psql("SELECT title, pinned FROM notes", empty_database) == (
        "written by release one|f"
    )


def test_release_files_alone_migrate(postgres: Any, empty_database: str, tmp_path: Path) -> None:
    """alembic.ini and migrations/ are all a release needs beside the installed packages."""
    for name in ("alembic.ini", "migrations"):
        source = PROJECT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)

    upgraded = alembic(asyncpg_url(postgres, empty_database), "upgrade", "head", cwd=tmp_path)

    assert upgraded.returncode == 0, upgraded.stderr
    assert version(postgres, empty_database) == HEAD


def test_hosts_migrating_at_once_all_succeed(postgres: Any, empty_database: str) -> None:
    url = asyncpg_url(postgres, empty_database)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: alembic(url, "upgrade", "head"), range(4)))

    assert [result.returncode for result in results] == [0, 0, 0, 0], [r.stderr for r in results]
    assert sum("Running upgrade  -> 0001" in result.stderr for result in results) == 1
    assert version(postgres, empty_database) == HEAD


def test_downgrade_to_base_and_back(postgres: Any, empty_database: str) -> None:
    url = asyncpg_url(postgres, empty_database)
    assert alembic(url, "upgrade", "head").returncode == 0
    before = schema(postgres, empty_database)

    assert alembic(url, "downgrade", "base").returncode == 0
    assert postgres.psql("SELECT to_regclass('notes') IS NULL", empty_database) == "t"
    assert alembic(url, "upgrade", "head").returncode == 0
    assert schema(postgres, empty_database) == before


def test_without_database_url_names_it() -> None:
    result = alembic(None, "upgrade", "head")

    assert result.returncode != 0
    assert "DATABASE_URL is required but not set" in result.stderr


def test_unreachable_database_fails_without_showing_the_password() -> None:
    result = alembic(
        f"postgresql+asyncpg://notes:secret-in-url@127.0.0.1:{free_port()}/notes",
        "upgrade",
        "head",
    )

    assert result.returncode != 0
    assert "secret-in-url" not in result.stdout + result.stderr
