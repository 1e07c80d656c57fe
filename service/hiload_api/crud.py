"""Every statement the items resource runs, next to the code that runs it (ItemStore).

Each item is rendered to JSON by PostgreSQL itself: the reads hand these bytes to the client (and
to Redis) without building Python objects at all. row_to_json over a row of exactly these
columns (aliased "item") costs PostgreSQL about two thirds of what json_build_object does, and
its output is compact.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from datetime import datetime

import asyncpg
import orjson

from hiload_api.batching import Coalescer
from hiload_api.cache import ItemCache
from hiload_api.db import SQL_PING, Database
from hiload_api.models import ItemCreate, ItemUpdate, encode_cursor

ITEM_COLUMNS = "id, name, price, tags, created_at"
ITEM_JSON = "row_to_json(item)::text"

# Single reads arrive coalesced (see batching.py): one statement serves every id asked for
# in the same turn of the event loop.
SQL_GET_ITEMS = (
    f"SELECT id, {ITEM_JSON} FROM (SELECT {ITEM_COLUMNS} FROM items WHERE id = ANY($1::bigint[]))"
    " AS item"
)
SQL_INSERT_ITEM = (
    f"WITH item AS (INSERT INTO items (name, price, tags) VALUES ($1, $2, $3)"
    f" RETURNING {ITEM_COLUMNS}) SELECT {ITEM_JSON} FROM item"
)
# NULL never is a legal new value, so COALESCE keeps every field the client left out.
SQL_UPDATE_ITEM = (
    "WITH item AS (UPDATE items SET name = COALESCE($2, name), price = COALESCE($3, price),"
    f" tags = COALESCE($4, tags) WHERE id = $1 RETURNING {ITEM_COLUMNS})"
    f" SELECT {ITEM_JSON} FROM item"
)
SQL_DELETE_ITEM = "DELETE FROM items WHERE id = $1 RETURNING id"
# Keyset pagination: the primary-key index finds the start, so page 10,000 costs what page 1 does.
SQL_PAGE_ITEMS = (
    f"SELECT id, {ITEM_JSON} FROM (SELECT {ITEM_COLUMNS} FROM items WHERE id > $1"
    " ORDER BY id LIMIT $2) AS item ORDER BY id"
)
# One export batch as a single value: the next rows after $1 by id, already joined into
# NDJSON and returned as bytea, so the API only forwards bytes (no per-row Python object,
# no decode/encode). NULLs once the table is exhausted.
SQL_EXPORT_BATCH = (
    f"SELECT max(id), convert_to(string_agg({ITEM_JSON}, E'\\n' ORDER BY id) || E'\\n', 'UTF8')"
    f" FROM (SELECT {ITEM_COLUMNS} FROM items WHERE id > $1 ORDER BY id LIMIT $2) AS item"
)
SQL_COUNT_ITEMS = "SELECT count(*) FROM items"
SQL_PRICE_STATS = (
    "SELECT coalesce(min(price), 0) AS min, coalesce(max(price), 0) AS max,"
    " coalesce(round(avg(price), 2), 0) AS avg FROM items"
)
SQL_NEWEST_ITEM = "SELECT max(created_at) FROM items"
SQL_TOP_TAGS = (
    "SELECT tag, count(*) AS items FROM items, unnest(tags) AS tag"
    " GROUP BY tag ORDER BY items DESC, tag LIMIT $1"
)

# Label for the query-duration histogram: a fixed set, so Prometheus cardinality stays bounded.
QUERY_NAMES = {
    SQL_GET_ITEMS: "get_items",
    SQL_INSERT_ITEM: "insert_item",
    SQL_UPDATE_ITEM: "update_item",
    SQL_DELETE_ITEM: "delete_item",
    SQL_PAGE_ITEMS: "page_items",
    SQL_EXPORT_BATCH: "export_batch",
    SQL_COUNT_ITEMS: "count_items",
    SQL_PRICE_STATS: "price_stats",
    SQL_NEWEST_ITEM: "newest_item",
    SQL_TOP_TAGS: "top_tags",
    SQL_PING: "ping",
}

# Rows per export round trip: large enough to amortise the round trip and the per-query
# work, small enough that a batch is about a megabyte and well inside the statement timeout.
EXPORT_BATCH_ROWS = 10_000
TOP_TAGS = 5


class ItemStore:
    """The items in PostgreSQL, as JSON it renders; with ``cache``, single reads go through it
    first and writes invalidate it. With ``replica``, the list, export and stats reads go
    there; writes and reads by id stay on ``database``: a client reads its own writes."""

    def __init__(
        self, database: Database, cache: ItemCache | None, replica: Database | None = None
    ) -> None:
        self._database = database
        self._replica = replica or database
        self.cache = cache
        # The ids asked for in the same turn of the loop are read with one statement.
        self._rows: Coalescer[int, str] = Coalescer(self._read_many)

    async def read(self, item_id: int) -> bytes | None:
        """The item as the response body, from the cache when it holds it (otherwise put
        there); None if there is no such item."""
        cache = self.cache
        if cache is not None:
            cached = await cache.get(item_id)
            if cached is not None:
                return cached
        row = await self._rows.get(item_id)
        if row is None:
            return None
        body = row.encode()
        if cache is not None:
            await cache.put(item_id, body)
        return body

    async def _read_many(self, item_ids: list[int]) -> dict[int, str]:
        async with self._database.connection() as conn:
            rows = await conn.fetch(SQL_GET_ITEMS, item_ids)
        return {item_id: body for item_id, body in rows}

    async def create(self, item: ItemCreate) -> str:
        """The new item; asyncpg.UniqueViolationError if the name is taken. One statement: a
        failure leaves no partial row behind."""
        async with self._database.connection() as conn:
            body: str = await conn.fetchval(SQL_INSERT_ITEM, item.name, item.price, item.tags)
        return body

    async def update(self, item_id: int, changes: ItemUpdate) -> str | None:
        """The changed item, None if there is none; asyncpg.UniqueViolationError if the new
        name is taken."""
        try:
            async with self._database.connection() as conn:
                body: str | None = await conn.fetchval(
                    SQL_UPDATE_ITEM, item_id, changes.name, changes.price, changes.tags
                )
        finally:
            await self._invalidate(item_id)
        return body

    async def delete(self, item_id: int) -> bool:
        """Whether there was such an item."""
        try:
            async with self._database.connection() as conn:
                deleted: int | None = await conn.fetchval(SQL_DELETE_ITEM, item_id)
        finally:
            await self._invalidate(item_id)
        return deleted is not None

    async def _invalidate(self, item_id: int) -> None:
        if self.cache is not None:
            await self.cache.invalidate(item_id)

    async def page(self, limit: int, after: int) -> str:
        """Up to ``limit`` items with ids above ``after``, as an ItemPage."""
        async with self._replica.connection() as conn:
            rows = await conn.fetch(SQL_PAGE_ITEMS, after, limit + 1)
        page = rows[:limit]
        next_cursor = f'"{encode_cursor(page[-1]["id"])}"' if len(rows) > limit else "null"
        items = ",".join([row[1] for row in page])
        return f'{{"items":[{items}],"next":{next_cursor}}}'

    async def export(self) -> AsyncGenerator[bytes, None]:
        """Every item, one JSON line each, a batch at a time.

        Keyset batches in one read-only snapshot: each batch is its own statement (so the
        statement timeout bounds a batch, not the stream), PostgreSQL renders it as one NDJSON
        value, we hold two batches, and the consumer's pace sets ours.
        """
        async with (
            self._replica.connection() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):

            def fetch_after(last_id: int) -> asyncio.Future[asyncpg.Record | None]:
                return asyncio.ensure_future(
                    conn.fetchrow(SQL_EXPORT_BATCH, last_id, EXPORT_BATCH_ROWS)
                )

            # The next batch is requested before this one is handed on, so PostgreSQL produces
            # rows on its CPU while this process writes on its own.
            next_batch = fetch_after(0)
            try:
                while True:
                    batch = await next_batch
                    assert batch is not None  # an aggregate without GROUP BY returns one row
                    last_id, lines = batch
                    if last_id is None:
                        return
                    next_batch = fetch_after(last_id)
                    yield lines
            finally:
                # The consumer went away mid-stream: stop the fetch before the transaction ends.
                if not next_batch.done():
                    next_batch.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await next_batch

    async def stats(self) -> bytes:
        """An ItemStats: independent small aggregates, run at once on separate pooled
        connections.

        Serialized by orjson, the fastest way from Python values to JSON measured here (`make
        bench-service`): the same bytes ItemStats.model_dump_json() would give ("Z" for UTC, as
        pydantic writes it), in a fifth of the time.
        """
        database = self._replica

        async def count() -> int:
            async with database.connection() as conn:
                total: int = await conn.fetchval(SQL_COUNT_ITEMS)
                return total

        async def prices() -> asyncpg.Record | None:
            async with database.connection() as conn:
                return await conn.fetchrow(SQL_PRICE_STATS)

        async def newest() -> datetime | None:
            async with database.connection() as conn:
                created_at: datetime | None = await conn.fetchval(SQL_NEWEST_ITEM)
                return created_at

        async def top_tags() -> list[asyncpg.Record]:
            async with database.connection() as conn:
                return await conn.fetch(SQL_TOP_TAGS, TOP_TAGS)

        total, price_row, newest_at, tags = await asyncio.gather(
            count(), prices(), newest(), top_tags()
        )
        assert price_row is not None  # an aggregate without GROUP BY always returns one row
        stats = {
            "items": total,
            "price_min": float(price_row["min"]),
            "price_max": float(price_row["max"]),
            "price_avg": float(price_row["avg"]),
            "newest_created_at": newest_at,
            "top_tags": [{"tag": row["tag"], "items": row["items"]} for row in tags],
        }
        return orjson.dumps(stats, option=orjson.OPT_UTC_Z)
