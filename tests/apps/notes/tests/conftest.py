"""One real PostgreSQL for the run, the schema migrated by Alembic, the app under uvicorn.

The app's database role may open only POOL_SIZE connections, as a tight budget would allow:
a process that opened one more would get errors, which the tests would see.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import (
    PASSWORD,
    POOL_SIZE,
    AppProcess,
    Postgres,
    alembic,
    app_env,
    asyncpg_url,
)

_databases = itertools.count()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    server = Postgres().init()
    server.start()
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def database_url(postgres: Any) -> str:
    """The app's own database and login role, as the bundle's postgresql role creates them."""
    postgres.psql(f"CREATE ROLE notes LOGIN PASSWORD '{PASSWORD}' CONNECTION LIMIT {POOL_SIZE}")
    postgres.psql("CREATE DATABASE notes OWNER notes")
    url = asyncpg_url(postgres, "notes", user="notes", password=PASSWORD)
    migrated = alembic(url, "upgrade", "head")
    assert migrated.returncode == 0, migrated.stderr
    return url


@pytest.fixture
def empty_database(postgres: Any) -> str:
    """A new database with nothing in it, for the migrations to start from."""
    name = f"empty_{next(_databases)}"
    postgres.psql(f"CREATE DATABASE {name}")
    return name


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    log = tmp_path_factory.mktemp("app") / "uvicorn.log"
    process = AppProcess(env=app_env(database_url), log=log)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def client(app: AppProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=app.url, timeout=10) as http:
        yield http


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], AppProcess]]:
    """Start another app with the given environment; it is stopped when the test ends."""
    processes: list[AppProcess] = []

    def start(env: dict[str, str]) -> AppProcess:
        process = AppProcess(env=env, log=tmp_path / f"uvicorn-{len(processes)}.log")
        processes.append(process)
        process.start()
        return process

    yield start
    for process in processes:
        process.stop()
