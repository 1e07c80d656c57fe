"""Real PostgreSQL and Redis for the whole run, and the app served by a real uvicorn.

The server runs on the test's own event loop, so tests can inspect the loop it uses and
stop or start PostgreSQL and Redis underneath it. That loop is uvloop, as in production:
two plain asyncio loops talking over loopback in one process also wait out ~40 ms per
request here, which would drown everything the tests measure.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
import uvicorn
import uvloop
from fastapi import FastAPI
from redis.asyncio import Redis

from hiload_api.config import Settings
from hiload_api.db import migrate
from hiload_api.main import create_app
from tests.servers import Postgres, RedisServer


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    return {"uvloop": uvloop.new_event_loop}


# The DSN the settings tests start from (nothing listens there: settings are only parsed).
DSN = "postgresql://hiload:secret@127.0.0.1:1/hiload"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The process environment without any HILOAD_* variable but the DSN."""
    for name in os.environ:
        if name.startswith("HILOAD_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HILOAD_DATABASE_URL", DSN)
    return monkeypatch


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    server = Postgres().init()
    server.start()
    server.psql("CREATE DATABASE hiload")
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def settings(postgres: Postgres, redis_server: RedisServer) -> Settings:
    return Settings(
        database_url=postgres.dsn("hiload"),
        redis_url=redis_server.url,
        db_pool_min=1,
        db_pool_max=8,
        db_statement_timeout=5,
        db_connect_timeout=2,
        cache_ttl=60,
        max_body_bytes=64 * 1024,
        log_level="warning",
    )


@dataclass
class Served:
    app: FastAPI
    client: httpx.AsyncClient
    url: str


@asynccontextmanager
async def serve(
    settings: Settings, app: FastAPI | None = None, limit_concurrency: int | None = None
) -> AsyncIterator[Served]:
    """Run create_app(settings), or app, under uvicorn with httptools, as the app role does."""
    app = app or create_app(settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(
        app,
        http="httptools",
        log_level="warning",
        lifespan="on",
        limit_concurrency=limit_concurrency,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            yield Served(app, client, url)
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture(scope="session")
async def served(settings: Settings) -> AsyncIterator[Served]:
    await migrate(settings)
    async with serve(settings) as running:
        yield running


@pytest.fixture
def client(served: Served) -> httpx.AsyncClient:
    return served.client


@pytest.fixture
async def sql(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection, to check what the API wrote and to set up data quickly."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    """A client of the tests' Redis, to see and change what the cache holds."""
    client = Redis.from_url(redis_server.url)
    try:
        yield client
    finally:
        await client.aclose()
