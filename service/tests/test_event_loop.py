"""Nothing on the request path blocks the event loop.

asyncio's debug mode logs every callback that holds the loop longer than
``slow_callback_duration``; the test drives every route and fails on any such warning.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable

import asyncpg
import httpx
import pytest

from tests.api.test_items import create

# asyncio's own default. A blocking driver call or sleep holds the loop for a whole
# network round trip or more; honest async code yields long before this.
SLOW_CALLBACK_SECONDS = 0.1
TABLE_ROWS = 10_000


@pytest.fixture
async def slow_callbacks(
    caplog: pytest.LogCaptureFixture,
) -> AsyncIterator[Callable[[], list[str]]]:
    """Debug mode on the serving loop; yields a function listing slow-callback warnings."""
    loop = asyncio.get_running_loop()
    previous = loop.get_debug(), loop.slow_callback_duration
    # The test process holds far more than a server does (pytest, earlier tests' data); a
    # full collection walking all of it would read as a slow callback. The app freezes its
    # own start-up heap the same way (see main.lifespan).
    gc.collect()
    gc.freeze()
    loop.set_debug(True)
    loop.slow_callback_duration = SLOW_CALLBACK_SECONDS
    caplog.set_level(logging.WARNING, logger="asyncio")

    def warnings() -> list[str]:
        messages = [record.getMessage() for record in caplog.records if record.name == "asyncio"]
        return [message for message in messages if message.startswith("Executing")]

    try:
        yield warnings
    finally:
        loop.set_debug(previous[0])
        loop.slow_callback_duration = previous[1]
        gc.unfreeze()


async def exercise_every_route(client: httpx.AsyncClient) -> None:
    item = await create(client)
    other = await create(client)
    for request in (
        client.get("/healthz"),
        client.get("/readyz"),
        client.get(f"/items/{item['id']}"),
        client.get(f"/items/{item['id']}"),
        client.get("/items", params={"limit": 50}),
        client.patch(f"/items/{item['id']}", json={"price": 3}),
        client.patch(f"/items/{item['id']}", json={"name": other["name"]}),
        client.post("/items", json={"name": ""}),
        client.get("/items/stats"),
        client.get("/items/export"),
        client.delete(f"/items/{other['id']}"),
        client.get("/metrics"),
        client.get("/docs"),
        client.get("/static/docs/swagger-ui.css"),
    ):
        assert (await request).status_code < 500


@pytest.fixture
async def warmed_up(client: httpx.AsyncClient, sql: asyncpg.Connection) -> httpx.AsyncClient:
    # A table of known size: a full export batch, without the client's own parsing of a
    # huge body (a test artefact, not server work) showing up as a slow callback.
    await sql.execute("TRUNCATE items")
    await sql.execute(
        "INSERT INTO items (name, price) SELECT 'loop-' || n, n FROM generate_series(1, $1) n",
        TABLE_ROWS,
    )
    # First calls build the OpenAPI schema and prepare statements: start-up work, once.
    await exercise_every_route(client)
    await client.get("/openapi.json")
    return client


async def test_the_detector_catches_a_blocking_call(
    slow_callbacks: Callable[[], list[str]],
) -> None:
    asyncio.get_running_loop().call_soon(time.sleep, SLOW_CALLBACK_SECONDS * 2)
    await asyncio.sleep(SLOW_CALLBACK_SECONDS)
    assert len(slow_callbacks()) == 1
    assert "sleep" in slow_callbacks()[0]


async def test_no_route_blocks_the_event_loop(
    warmed_up: httpx.AsyncClient, slow_callbacks: Callable[[], list[str]]
) -> None:
    await asyncio.gather(*[exercise_every_route(warmed_up) for _ in range(4)])
    assert slow_callbacks() == []
