"""The items resource.

Hot reads return JSON rendered by PostgreSQL as bytes (see ``db.ITEM_JSON``): no Python
objects are built for them, and the cache stores exactly what the client receives. The
Pydantic models below validate input and document output; they are not on the read path.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, HTTPException, Path, Query, Response, status
from fastapi.responses import StreamingResponse
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)

from hiload_api import db
from hiload_api.api.deps import CacheDep, DbDep
from hiload_api.cache import ItemCache

router = APIRouter(prefix="/items", tags=["items"])

JSON = "application/json"
NDJSON = "application/x-ndjson"
# Rows per export round trip: large enough to amortise the round trip and the per-query
# work, small enough that a batch is about a megabyte and well inside the statement timeout.
EXPORT_BATCH_ROWS = 10_000
TOP_TAGS = 5

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Tags = Annotated[list[Tag], Field(max_length=16)]
Price = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
# The largest bigint: ids beyond it cannot exist.
MAX_ITEM_ID = 2**63 - 1
ItemId = Annotated[int, Path(ge=1, le=MAX_ITEM_ID)]


class ItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    price: Price
    tags: Tags = []


class ItemUpdate(BaseModel):
    """Fields left out keep their value; null is refused rather than guessed at."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    price: Price | None = None
    tags: Tags | None = None

    @field_validator("name", "price", "tags", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may be left out, but not null")
        return value


class Item(BaseModel):
    id: int
    name: str
    price: float = Field(description="Exact to the cent; a JSON number")
    tags: list[str]
    created_at: datetime


class ItemPage(BaseModel):
    items: list[Item]
    next: str | None = Field(description="Pass as `after` for the next page; null on the last")


class TagCount(BaseModel):
    tag: str
    items: int


class ItemStats(BaseModel):
    items: int
    price_min: float
    price_max: float
    price_avg: float
    newest_created_at: datetime | None
    top_tags: list[TagCount]


class Problem(BaseModel):
    detail: str


def encode_cursor(item_id: int) -> str:
    return base64.urlsafe_b64encode(item_id.to_bytes(8, "big")).rstrip(b"=").decode()


def decode_cursor(value: Any) -> Any:
    """Turn an opaque cursor back into the last id seen; anything else fails validation."""
    if not isinstance(value, str):
        return value
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 8:
        raise ValueError("not a cursor returned by this API")
    return int.from_bytes(raw, "big")


Cursor = Annotated[
    int,
    BeforeValidator(decode_cursor),
    WithJsonSchema({"type": "string", "description": "`next` from the previous page"}),
]

NOT_FOUND = {"model": Problem, "description": "No item with this id"}
DUPLICATE = {"model": Problem, "description": "Another item has this name"}
# Answers to a body that never reaches validation: bytes that are not UTF-8 (JSON that is not
# well-formed is a 422, like any invalid field), or more than HILOAD_MAX_BODY_BYTES of them.
UNREADABLE_BODY: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The body is not UTF-8 text"},
    413: {"model": Problem, "description": "The body is larger than the service accepts"},
}


def _json(body: str, status_code: int = status.HTTP_200_OK) -> Response:
    return Response(body.encode(), status_code=status_code, media_type=JSON)


def _duplicate(name: str) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, f"An item named {name!r} already exists")


def not_found_detail(item_id: int) -> str:
    return f"Item {item_id} not found"


def _not_found(item_id: int) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, not_found_detail(item_id))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_class=Response,
    responses={201: {"model": Item, "content": {JSON: {}}}, 409: DUPLICATE, **UNREADABLE_BODY},
)
async def create_item(item: ItemCreate, database: DbDep) -> Response:
    # One statement: a failure leaves no partial row behind.
    try:
        async with database.connection() as conn:
            body: str = await conn.fetchval(db.SQL_INSERT_ITEM, item.name, item.price, item.tags)
    except asyncpg.UniqueViolationError:
        raise _duplicate(item.name) from None
    return _json(body, status.HTTP_201_CREATED)


@router.get(
    "",
    response_class=Response,
    responses={200: {"model": ItemPage, "content": {JSON: {}}}},
)
async def list_items(
    database: DbDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[Cursor | None, Query()] = None,
) -> Response:
    """Items by id, a page at a time (keyset pagination: every page costs the same)."""
    async with database.connection() as conn:
        rows = await conn.fetch(db.SQL_PAGE_ITEMS, after or 0, limit + 1)
    page = rows[:limit]
    next_cursor = f'"{encode_cursor(page[-1]["id"])}"' if len(rows) > limit else "null"
    items = ",".join([row[1] for row in page])
    return _json(f'{{"items":[{items}],"next":{next_cursor}}}')


async def _export_chunks(database: db.Database) -> AsyncGenerator[bytes, None]:
    # Keyset batches in one read-only snapshot: each batch is its own statement (so the
    # statement timeout bounds a batch, not the stream), PostgreSQL renders it as one NDJSON
    # value, we hold two batches, and the client's pace (via the transport's back-pressure)
    # sets ours.
    async with (
        database.connection() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):

        def fetch_after(last_id: int) -> asyncio.Future[asyncpg.Record | None]:
            return asyncio.ensure_future(
                conn.fetchrow(db.SQL_EXPORT_BATCH, last_id, EXPORT_BATCH_ROWS)
            )

        # The next batch is requested before this one is sent, so PostgreSQL produces rows
        # on its CPU while this process writes on its own.
        next_batch = fetch_after(0)
        try:
            while True:
                batch = await next_batch
                assert batch is not None  # an aggregate without GROUP BY always returns one row
                last_id, lines = batch
                if last_id is None:
                    return
                next_batch = fetch_after(last_id)
                yield lines
        finally:
            # The client went away mid-stream: stop the fetch before the transaction ends.
            if not next_batch.done():
                next_batch.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await next_batch


async def _stream(first: bytes, rest: AsyncGenerator[bytes, None]) -> AsyncIterator[bytes]:
    async with aclosing(rest):
        yield first
        async for chunk in rest:
            yield chunk


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {NDJSON: {}}, "description": "One item per line"}},
)
async def export_items(database: DbDep) -> StreamingResponse:
    """Every item, one JSON object per line, in constant memory whatever the table size."""
    chunks = _export_chunks(database)
    # Pulling the first batch here means an unreachable database is a 503, not a 200
    # whose body breaks off.
    first = await anext(chunks, b"")
    return StreamingResponse(_stream(first, chunks), media_type=NDJSON)


@router.get("/stats")
async def item_stats(database: DbDep) -> ItemStats:
    """Independent small aggregates, run at once on separate pooled connections."""

    async def count() -> int:
        async with database.connection() as conn:
            total: int = await conn.fetchval(db.SQL_COUNT_ITEMS)
            return total

    async def prices() -> asyncpg.Record | None:
        async with database.connection() as conn:
            return await conn.fetchrow(db.SQL_PRICE_STATS)

    async def newest() -> datetime | None:
        async with database.connection() as conn:
            created_at: datetime | None = await conn.fetchval(db.SQL_NEWEST_ITEM)
            return created_at

    async def top_tags() -> list[asyncpg.Record]:
        async with database.connection() as conn:
            return await conn.fetch(db.SQL_TOP_TAGS, TOP_TAGS)

    total, price_row, newest_at, tags = await asyncio.gather(
        count(), prices(), newest(), top_tags()
    )
    assert price_row is not None  # an aggregate without GROUP BY always returns one row
    return ItemStats(
        items=total,
        price_min=price_row["min"],
        price_max=price_row["max"],
        price_avg=price_row["avg"],
        newest_created_at=newest_at,
        top_tags=[TagCount(tag=row["tag"], items=row["items"]) for row in tags],
    )


async def read_item(database: db.Database, cache: ItemCache | None, item_id: int) -> bytes | None:
    """The item as the response body, from the cache when it holds it; None if there is no
    such item.

    Shared with the fast lane (hiload_api.fastlane), which serves most of these reads.
    """
    if cache is not None:
        cached = await cache.get(item_id)
        if cached is not None:
            return cached
    body = await database.item_json(item_id)
    if body is None:
        return None
    encoded = body.encode()
    if cache is not None:
        await cache.put(item_id, encoded)
    return encoded


@router.get(
    "/{item_id}",
    response_class=Response,
    responses={200: {"model": Item, "content": {JSON: {}}}, 404: NOT_FOUND},
)
async def get_item(item_id: ItemId, database: DbDep, cache: CacheDep) -> Response:
    body = await read_item(database, cache, item_id)
    if body is None:
        raise _not_found(item_id)
    return Response(body, media_type=JSON)


@router.patch(
    "/{item_id}",
    response_class=Response,
    responses={
        200: {"model": Item, "content": {JSON: {}}},
        404: NOT_FOUND,
        409: DUPLICATE,
        **UNREADABLE_BODY,
    },
)
async def update_item(
    item_id: ItemId, changes: ItemUpdate, database: DbDep, cache: CacheDep
) -> Response:
    try:
        async with database.connection() as conn:
            body: str | None = await conn.fetchval(
                db.SQL_UPDATE_ITEM, item_id, changes.name, changes.price, changes.tags
            )
    except asyncpg.UniqueViolationError:
        raise _duplicate(changes.name or "") from None
    if cache is not None:
        await cache.invalidate(item_id)
    if body is None:
        raise _not_found(item_id)
    return _json(body)


@router.delete(
    "/{item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={404: NOT_FOUND},
)
async def delete_item(item_id: ItemId, database: DbDep, cache: CacheDep) -> Response:
    async with database.connection() as conn:
        deleted: int | None = await conn.fetchval(db.SQL_DELETE_ITEM, item_id)
    if cache is not None:
        await cache.invalidate(item_id)
    if deleted is None:
        raise _not_found(item_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
