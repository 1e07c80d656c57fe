from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from hiload_api.db import _migrations
from tests.servers import Postgres, free_port
from tests.test_config import VENV_BIN, clean_env

CONCURRENT_MIGRATIONS = 4


async def hiload_api(*args: str, **env: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        str(VENV_BIN / "hiload-api"),
        *args,
        env=clean_env(**env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_static_dir_prints_the_swagger_ui_assets() -> None:
    code, out, _ = await hiload_api("static-dir")
    assert code == 0
    directory = Path(out.strip())
    assert directory.is_absolute()
    assert (directory / "swagger-ui-bundle.js").is_file()
    assert (directory / "swagger-ui.css").is_file()


@pytest.fixture
def empty_database(postgres: Postgres) -> str:
    name = f"migrate_{os.getpid()}_{free_port()}"
    postgres.psql(f"CREATE DATABASE {name}")
    return name


async def test_concurrent_migrations_apply_each_version_once(
    postgres: Postgres, empty_database: str
) -> None:
    dsn = postgres.dsn(empty_database)
    results = await asyncio.gather(
        *[
            hiload_api("migrate", HILOAD_DATABASE_URL=dsn, HILOAD_LOG_LEVEL="info")
            for _ in range(CONCURRENT_MIGRATIONS)
        ]
    )
    assert [code for code, _, _ in results] == [0] * CONCURRENT_MIGRATIONS, results
    applied_by = [err for _, _, err in results if "Applied migration 0001_create_items" in err]
    assert len(applied_by) == 1
    versions = postgres.psql("SELECT version FROM schema_migrations ORDER BY 1", empty_database)
    assert versions.split() == [str(version) for version, _, _ in _migrations()]
    assert postgres.psql("SELECT count(*) FROM items", empty_database) == "0"


async def test_migrate_again_is_a_no_op(postgres: Postgres, empty_database: str) -> None:
    dsn = postgres.dsn(empty_database)
    first = await hiload_api("migrate", HILOAD_DATABASE_URL=dsn, HILOAD_LOG_LEVEL="info")
    second = await hiload_api("migrate", HILOAD_DATABASE_URL=dsn, HILOAD_LOG_LEVEL="info")
    assert first[0] == second[0] == 0
    assert "nothing to apply" in second[2]


async def test_migrate_without_a_database_fails_with_one_line() -> None:
    code, _, err = await hiload_api(
        "migrate", HILOAD_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/x"
    )
    assert code == 1
    assert err.count("\n") == 1
    assert err.startswith("hiload-api: PostgreSQL unreachable: ")
