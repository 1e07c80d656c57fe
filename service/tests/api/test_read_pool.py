"""HILOAD_DATABASE_READ_URL: the list, export and stats reads go to a second pool (a database
cluster's replicas); writes and reads by id stay on the primary, so a client reads its own
writes. Here the "replica" is a second database with rows of its own, so the tests see which
pool answered."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import asyncpg
import pytest

from hiload_api.config import Settings, SettingsError, load_settings
from hiload_api.db import migrate
from tests.conftest import Served, serve
from tests.servers import Postgres

ONLY_ON_THE_READ_SIDE = "only-on-the-read-side"


@pytest.fixture(scope="module")
async def read_side(postgres: Postgres, settings: Settings) -> AsyncIterator[Served]:
    if not postgres.psql("SELECT 1 FROM pg_database WHERE datname = 'hiload_replica'"):
        postgres.psql("CREATE DATABASE hiload_replica")
    replica = settings.model_copy(update={"database_url": postgres.dsn("hiload_replica")})
    await migrate(settings)
    await migrate(replica)
    conn = await asyncpg.connect(replica.database_url)
    try:
        await conn.execute("TRUNCATE items")
        await conn.execute(
            "INSERT INTO items (name, price, tags) VALUES ($1, 1.5, '{replica}')",
            ONLY_ON_THE_READ_SIDE,
        )
    finally:
        await conn.close()
    split = settings.model_copy(update={"database_read_url": replica.database_url, "redis_url": ""})
    async with serve(split) as running:
        yield running


async def test_a_client_reads_its_own_write_by_id_from_the_primary(read_side: Served) -> None:
    created = await read_side.client.post("/items", json={"name": "written-to-primary", "price": 2})
    assert created.status_code == 201, created.text
    item = created.json()
    got = await read_side.client.get(f"/items/{item['id']}")
    assert got.status_code == 200, got.text
    assert got.json() == item


async def test_list_export_and_stats_come_from_the_read_pool(read_side: Served) -> None:
    page = (await read_side.client.get("/items", params={"limit": 1000})).json()
    assert [item["name"] for item in page["items"]] == [ONLY_ON_THE_READ_SIDE]
    export = await read_side.client.get("/items/export")
    assert [json.loads(line)["name"] for line in export.text.splitlines()] == [
        ONLY_ON_THE_READ_SIDE
    ]
    stats = (await read_side.client.get("/items/stats")).json()
    assert stats["items"] == 1
    assert stats["top_tags"][0]["tag"] == "replica"


async def test_both_pools_are_exported(read_side: Served) -> None:
    await read_side.client.get("/items")
    text = (await read_side.client.get("/metrics")).text
    assert 'hiload_db_pool_size{pool="primary"}' in text
    assert 'hiload_db_pool_size{pool="read"}' in text


async def test_without_prepared_statements_every_route_still_works(
    settings: Settings,
) -> None:
    """HILOAD_DB_STATEMENT_CACHE_SIZE=0, as behind PgBouncer 1.18 in transaction mode (the
    cluster scenario runs it behind the real one)."""
    uncached = settings.model_copy(update={"db_statement_cache_size": 0, "redis_url": ""})
    await migrate(uncached)
    async with serve(uncached) as running:
        created = await running.client.post(
            "/items", json={"name": "no-statement-cache", "price": 3}
        )
        assert created.status_code == 201, created.text
        item_id = created.json()["id"]
        for path in (f"/items/{item_id}", "/items", "/items/stats", "/items/export", "/readyz"):
            response = await running.client.get(path)
            assert response.status_code == 200, (path, response.text)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("HILOAD_DATABASE_READ_URL", "mysql://db/hiload", "HILOAD_DATABASE_READ_URL is invalid"),
        ("HILOAD_DB_STATEMENT_CACHE_SIZE", "-1", "HILOAD_DB_STATEMENT_CACHE_SIZE is invalid"),
    ],
)
def test_bad_read_settings_are_refused_by_name(
    env: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    env.setenv(variable, value)
    with pytest.raises(SettingsError, match=message) as refused:
        load_settings()
    assert "mysql://db" not in str(refused.value)
