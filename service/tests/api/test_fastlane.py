"""The fast lane answers GET /healthz and GET /items/{id} exactly as the FastAPI routes would."""

from __future__ import annotations

import asyncio
import re

import asyncpg
import httpx

from hiload_api.config import Settings
from hiload_api.fastlane import FastLane
from hiload_api.main import create_app
from tests.api.test_items import create
from tests.conftest import serve

COMPARED_HEADERS = ("content-type", "content-length", "retry-after")


def _summary(response: httpx.Response) -> tuple[int, dict[str, str], bytes]:
    headers = {name: value for name, value in response.headers.items() if name in COMPARED_HEADERS}
    return response.status_code, headers, response.content


async def test_the_lane_answers_what_the_fastapi_routes_answer(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    item = await create(client)
    paths = ["/healthz", f"/items/{item['id']}", "/items/999999999", "/items/0", "/items/x"]
    without_lane = create_app(settings)
    without_lane.user_middleware = [
        middleware for middleware in without_lane.user_middleware if middleware.cls is not FastLane
    ]
    async with serve(settings, without_lane) as reference:
        for path in paths:
            expected = _summary(await reference.client.get(path))
            assert _summary(await client.get(path)) == expected, path


async def test_the_lane_serves_under_a_path_prefix(settings: Settings) -> None:
    async with serve(settings.model_copy(update={"root_path": "/api"})) as prefixed:
        item = await create(prefixed.client)
        for path in ("/api", ""):  # the proxy keeps the prefix, or strips it
            assert (await prefixed.client.get(f"{path}/healthz")).status_code == 200
            response = await prefixed.client.get(f"{path}/items/{item['id']}")
            assert response.status_code == 200
            assert response.json() == item


async def query_count(client: httpx.AsyncClient, name: str) -> float:
    text = (await client.get("/metrics")).text
    sample = rf'^hiload_db_query_duration_seconds_count{{query="{name}"}} (\S+)$'
    match = re.search(sample, text, re.M)
    return float(match[1]) if match else 0.0


async def test_concurrent_reads_share_statements(
    settings: Settings, sql: asyncpg.Connection
) -> None:
    ids = [
        row["id"]
        for row in await sql.fetch(
            "INSERT INTO items (name, price) SELECT 'shared-' || gen_random_uuid(), 1"
            " FROM generate_series(1, 50) RETURNING id"
        )
    ]
    # Without Redis, every read goes to PostgreSQL.
    async with serve(settings.model_copy(update={"redis_url": ""})) as uncached:
        before = await query_count(uncached.client, "get_items")
        responses = await asyncio.gather(*(uncached.client.get(f"/items/{i}") for i in ids))
        statements = await query_count(uncached.client, "get_items") - before
    assert [response.json()["id"] for response in responses] == ids
    assert 1 <= statements < len(ids)
