"""The error contract under failure: PostgreSQL stopping, slow queries, unexpected bugs."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest

from hiload_api.config import Settings
from tests.api.test_items import create, unique
from tests.conftest import Served, serve
from tests.servers import Postgres

# Attempts, not seconds: how many readiness probes PostgreSQL gets to come back.
READY_ATTEMPTS = 200


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"].isdigit()
    assert response.json() == {"detail": "Database temporarily unavailable"}


async def wait_ready(client: httpx.AsyncClient) -> None:
    for _ in range(READY_ATTEMPTS):
        if (await client.get("/readyz")).status_code == 200:
            return
        await asyncio.sleep(0.05)
    pytest.fail("/readyz never answered 200 after PostgreSQL came back")


async def test_postgres_restart_is_503_then_recovers_without_restarting_the_app(
    served: Served, settings: Settings, postgres: Postgres
) -> None:
    client = served.client
    item = await create(client)
    # Fill the pool with connections that the restart will break.
    await asyncio.gather(*[client.get("/items", params={"limit": 1}) for _ in range(8)])
    lost_name = unique("lost")
    await asyncio.to_thread(postgres.stop, "fast")
    try:
        assert (await client.get("/healthz")).status_code == 200
        assert_unavailable(await client.get("/readyz"))
        assert_unavailable(await client.get("/items"))
        # Not in Redis yet, so read from PostgreSQL.
        assert_unavailable(await client.get(f"/items/{item['id'] + 1}"))
        assert_unavailable(await client.post("/items", json={"name": lost_name, "price": 1}))
        assert_unavailable(await client.patch(f"/items/{item['id'] + 1}", json={"price": 2}))
        assert_unavailable(await client.delete(f"/items/{item['id'] + 1}"))
        assert_unavailable(await client.get("/items/stats"))
        assert_unavailable(await client.get("/items/export"))
        # An app started while PostgreSQL is down comes up, and is not ready.
        async with serve(settings) as late:
            assert (await late.client.get("/healthz")).status_code == 200
            assert_unavailable(await late.client.get("/readyz"))
            await asyncio.to_thread(postgres.start)
            await wait_ready(late.client)
    finally:
        if not await asyncio.to_thread(postgres.is_running):
            await asyncio.to_thread(postgres.start)
    await wait_ready(client)
    pages = [await client.get("/items", params={"limit": 1}) for _ in range(10)]
    assert [page.status_code for page in pages] == [200] * 10
    assert (await client.post("/items", json={"name": unique(), "price": 1})).status_code == 201
    sql = await asyncpg.connect(settings.database_url)
    try:
        assert await sql.fetchval("SELECT count(*) FROM items WHERE name = $1", lost_name) == 0
    finally:
        await sql.close()


async def test_query_over_the_statement_timeout_is_503(
    settings: Settings, sql: asyncpg.Connection
) -> None:
    async with serve(settings.model_copy(update={"db_statement_timeout": 0.3})) as quick:
        async with sql.transaction():
            await sql.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
            assert_unavailable(await quick.client.get("/items"))
        # The timed-out connection went back to the pool in working order.
        assert (await quick.client.get("/items", params={"limit": 1})).status_code == 200


async def test_unexpected_errors_are_500_without_details(settings: Settings) -> None:
    async def broken() -> dict[str, Any]:
        raise RuntimeError("SELECT secret FROM internals")

    async with serve(settings) as running:
        running.app.add_api_route("/broken", broken)
        response = await running.client.get("/broken")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error"}
    assert "SELECT" not in response.text
