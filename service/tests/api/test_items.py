from __future__ import annotations

import asyncio
import json
import re
import tracemalloc
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from hiload_api.config import Settings
from hiload_api.models import ItemStats, encode_cursor
from tests.conftest import Served, serve


def unique(prefix: str = "item") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def create(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"name": unique(), "price": "9.99", "tags": ["a"]} | fields
    response = await client.post("/items", json=body)
    assert response.status_code == 201, response.text
    item: dict[str, Any] = response.json()
    return item


async def count_rows(sql: asyncpg.Connection) -> int:
    total: int = await sql.fetchval("SELECT count(*) FROM items")
    return total


async def test_create_returns_the_stored_item(client: httpx.AsyncClient) -> None:
    name = unique()
    response = await client.post("/items", json={"name": name, "price": 12.5, "tags": ["x", "y"]})
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    item = response.json()
    assert item["name"] == name
    assert item["price"] == 12.5
    assert item["tags"] == ["x", "y"]
    assert isinstance(item["id"], int)
    assert item["created_at"].endswith("+00:00")


async def test_create_defaults_tags_to_empty(client: httpx.AsyncClient) -> None:
    item = await create(client, tags=[])
    assert item["tags"] == []


async def test_get_returns_what_create_returned(client: httpx.AsyncClient) -> None:
    item = await create(client)
    response = await client.get(f"/items/{item['id']}")
    assert response.status_code == 200
    assert response.json() == item


@pytest.mark.parametrize("path", ["/items/999999999", "/items/9223372036854775807"])
async def test_get_unknown_id_is_404(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": f"Item {path.rsplit('/', 1)[1]} not found"}


@pytest.mark.parametrize("item_id", ["0", "-1", "abc", "9223372036854775808"])
async def test_get_malformed_id_is_422(client: httpx.AsyncClient, item_id: str) -> None:
    response = await client.get(f"/items/{item_id}")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "item_id"]


async def test_duplicate_name_is_409_and_adds_no_row(
    client: httpx.AsyncClient, sql: asyncpg.Connection
) -> None:
    item = await create(client)
    before = await count_rows(sql)
    response = await client.post("/items", json={"name": item["name"], "price": 1})
    assert response.status_code == 409
    assert item["name"] in response.json()["detail"]
    assert await count_rows(sql) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"price": 1}, "name"),
        ({"name": "", "price": 1}, "name"),
        ({"name": "x" * 201, "price": 1}, "name"),
        ({"name": "ok", "price": -0.01}, "price"),
        ({"name": "ok", "price": "NaN"}, "price"),
        ({"name": "ok", "price": 1.001}, "price"),
        ({"name": "ok", "price": 1, "tags": ["t"] * 17}, "tags"),
        ({"name": "ok", "price": 1, "tags": ["x" * 33]}, "tags"),
        ({"name": "ok", "price": 1, "colour": "red"}, "colour"),
    ],
)
async def test_invalid_fields_are_422_with_field_messages(
    client: httpx.AsyncClient, sql: asyncpg.Connection, body: dict[str, Any], field: str
) -> None:
    before = await count_rows(sql)
    response = await client.post("/items", json=body)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert any(error["loc"][:2] == ["body", field] and error["msg"] for error in errors), errors
    assert await count_rows(sql) == before


@pytest.mark.parametrize("payload", [b"{", b"not json", b'{"name": "x", "price": 1,}', b"[]"])
async def test_malformed_json_is_422(client: httpx.AsyncClient, payload: bytes) -> None:
    response = await client.post(
        "/items", content=payload, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "body"


@pytest.mark.parametrize(("method", "path"), [("POST", "/items"), ("PATCH", "/items/1")])
async def test_a_body_that_is_not_utf8_is_a_documented_400(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    # Found by schemathesis through nginx: the status was right, but the schema did not say so.
    response = await client.request(
        method, path, content=b'{"name": "\xff\xfe"}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "There was an error parsing the body"}
    spec = (await client.get("/openapi.json")).json()
    documented = spec["paths"][path.replace("/1", "/{item_id}")][method.lower()]["responses"]
    assert {"400", "413"} <= set(documented)


async def test_patch_changes_only_given_fields(client: httpx.AsyncClient) -> None:
    item = await create(client, price="5.00", tags=["keep"])
    response = await client.patch(f"/items/{item['id']}", json={"price": "7.25"})
    assert response.status_code == 200
    assert response.json() == item | {"price": 7.25}


async def test_patch_with_empty_body_changes_nothing(client: httpx.AsyncClient) -> None:
    item = await create(client)
    response = await client.patch(f"/items/{item['id']}", json={})
    assert response.status_code == 200
    assert response.json() == item


async def test_patch_refuses_null(client: httpx.AsyncClient) -> None:
    item = await create(client)
    response = await client.patch(f"/items/{item['id']}", json={"name": None})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "name"]


async def test_patch_to_a_taken_name_is_409_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    first, second = await create(client), await create(client)
    response = await client.patch(f"/items/{second['id']}", json={"name": first["name"]})
    assert response.status_code == 409
    assert (await client.get(f"/items/{second['id']}")).json() == second


async def test_patch_unknown_id_is_404(client: httpx.AsyncClient) -> None:
    response = await client.patch("/items/999999999", json={"price": 1})
    assert response.status_code == 404


async def test_delete_removes_the_item(client: httpx.AsyncClient) -> None:
    item = await create(client)
    response = await client.delete(f"/items/{item['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(f"/items/{item['id']}")).status_code == 404
    assert (await client.delete(f"/items/{item['id']}")).status_code == 404


async def test_pagination_walks_every_item_once_in_id_order(
    client: httpx.AsyncClient, sql: asyncpg.Connection
) -> None:
    await sql.execute("TRUNCATE items")
    await sql.execute(
        "INSERT INTO items (name, price) SELECT 'page-' || n, n FROM generate_series(1, 25) n"
    )
    seen: list[int] = []
    pages = 0
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 10} | ({"after": after} if after else {})
        response = await client.get("/items", params=params)
        assert response.status_code == 200
        page = response.json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        after = page["next"]
        if after is None:
            break
    assert pages == 3
    assert len(page["items"]) == 5
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen)) == 25


async def test_pagination_of_an_exact_multiple_ends_without_an_empty_page(
    client: httpx.AsyncClient, sql: asyncpg.Connection
) -> None:
    await sql.execute("TRUNCATE items")
    await sql.execute(
        "INSERT INTO items (name, price) SELECT 'exact-' || n, n FROM generate_series(1, 4) n"
    )
    first = (await client.get("/items", params={"limit": 2})).json()
    second = (await client.get("/items", params={"limit": 2, "after": first["next"]})).json()
    assert len(second["items"]) == 2
    assert second["next"] is None


async def test_pagination_of_an_empty_table(
    client: httpx.AsyncClient, sql: asyncpg.Connection
) -> None:
    await sql.execute("TRUNCATE items")
    response = await client.get("/items")
    assert response.json() == {"items": [], "next": None}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"after": "not-a-cursor"}, "after"),
        ({"after": encode_cursor(5) + "AA"}, "after"),
    ],
)
async def test_bad_page_parameters_are_422(
    client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    response = await client.get("/items", params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", field]


async def test_stats_aggregate_the_table(
    client: httpx.AsyncClient, sql: asyncpg.Connection
) -> None:
    await sql.execute("TRUNCATE items")
    for name, price, tags in [("a", "1.00", ["red", "big"]), ("b", "3.00", ["red"])]:
        await create(client, name=unique(name), price=price, tags=tags)
    response = await client.get("/items/stats")
    assert response.status_code == 200
    stats = response.json()
    assert stats["items"] == 2
    assert (stats["price_min"], stats["price_max"], stats["price_avg"]) == (1.0, 3.0, 2.0)
    assert stats["newest_created_at"] is not None
    assert stats["top_tags"] == [{"tag": "red", "items": 2}, {"tag": "big", "items": 1}]
    # Serialized outside the model, byte for byte what the documented model would give.
    assert response.content == ItemStats.model_validate(stats).model_dump_json().encode()


async def test_stats_of_an_empty_table(client: httpx.AsyncClient, sql: asyncpg.Connection) -> None:
    await sql.execute("TRUNCATE items")
    stats = (await client.get("/items/stats")).json()
    assert stats["items"] == 0
    assert stats["newest_created_at"] is None
    assert stats["top_tags"] == []


async def test_export_streams_every_row_in_bounded_memory(
    client: httpx.AsyncClient, sql: asyncpg.Connection
) -> None:
    rows = 200_000
    await sql.execute("TRUNCATE items")
    await sql.execute(
        "INSERT INTO items (name, price, tags)"
        " SELECT 'export-' || n, n % 1000, ARRAY['t' || n % 7] FROM generate_series(1, $1) n",
        rows,
    )
    first_id, last_id = await sql.fetchrow("SELECT min(id), max(id) FROM items")
    lines = payload = 0
    head = tail = b""
    tracemalloc.start()
    try:
        async with client.stream("GET", "/items/export") as response:
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/x-ndjson"
            # The client only counts, so it keeps up and buffers nothing: what the peak
            # measures is the server.
            async for chunk in response.aiter_raw():
                head = head or chunk[: chunk.index(b"\n")]
                tail = (tail + chunk)[-1024:]
                lines += chunk.count(b"\n")
                payload += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert lines == rows
    assert json.loads(head)["id"] == first_id
    assert json.loads(tail.rstrip(b"\n").rsplit(b"\n", 1)[1])["id"] == last_id
    # Server and client share this process: if either held the table, the peak would
    # approach the payload size. A streaming pipeline holds a couple of batches.
    assert payload > 20 * 1024 * 1024
    assert peak < payload / 4, (peak, payload)


async def test_export_of_an_empty_table_is_empty(
    client: httpx.AsyncClient, sql: asyncpg.Connection
) -> None:
    await sql.execute("TRUNCATE items")
    response = await client.get("/items/export")
    assert response.status_code == 200
    assert response.content == b""


async def test_export_abandoned_midway_gives_its_connection_back(
    served: Served, sql: asyncpg.Connection
) -> None:
    await sql.execute("TRUNCATE items")
    # Far more than the kernel's socket buffers hold, so the server is mid-stream.
    await sql.execute(
        "INSERT INTO items (name, price) SELECT 'abandon-' || n, n FROM generate_series(1, $1) n",
        200_000,
    )
    async with served.client.stream("GET", "/items/export") as response:
        async for _ in response.aiter_raw():
            break
    pool = served.app.state.db.pool
    for _ in range(200):
        if pool.get_idle_size() == pool.get_size():
            break
        await asyncio.sleep(0.02)
    else:
        pytest.fail("the export's connection was not returned to the pool")
    assert (await served.client.get("/items", params={"limit": 1})).status_code == 200


async def test_export_outlasting_the_statement_timeout_completes(
    settings: Settings, sql: asyncpg.Connection
) -> None:
    rows = 200_000
    await sql.execute("TRUNCATE items")
    await sql.execute(
        "INSERT INTO items (name, price) SELECT 'slow-' || n, n FROM generate_series(1, $1) n",
        rows,
    )
    # The limit applies to each batch the cursor fetches, not to the whole stream.
    timeout = 0.3
    async with (
        serve(settings.model_copy(update={"db_statement_timeout": timeout})) as quick,
        quick.client.stream("GET", "/items/export") as response,
    ):
        lines = 0
        async for chunk in response.aiter_raw():
            if not lines:
                await asyncio.sleep(timeout * 2)
            lines += chunk.count(b"\n")
    assert lines == rows


async def test_reads_are_served_under_a_path_prefix(settings: Settings) -> None:
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
