"""The items resource: HTTP in and out; the reads and writes are hiload_api.crud's."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from hiload_api.api.deps import StoreDep, store_of
from hiload_api.api.routing import DirectRoute
from hiload_api.models import (
    Cursor,
    Item,
    ItemCreate,
    ItemId,
    ItemPage,
    ItemStats,
    ItemUpdate,
    Problem,
)

# The reads that need nothing injected, GET /items/{item_id} above all: DirectRoutes, which
# create_app() puts in the app's own router (hiload_api.api.routing). /export and /stats come
# first, or /{item_id} would take their paths.
reads = APIRouter(prefix="/items", tags=["items"], route_class=DirectRoute)
# Everything that takes a body, a query or a dependency.
router = APIRouter(prefix="/items", tags=["items"])

JSON = "application/json"
NDJSON = "application/x-ndjson"

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


def _not_found(item_id: int) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"Item {item_id} not found")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_class=Response,
    responses={201: {"model": Item, "content": {JSON: {}}}, 409: DUPLICATE, **UNREADABLE_BODY},
)
async def create_item(item: ItemCreate, store: StoreDep) -> Response:
    try:
        body = await store.create(item)
    except asyncpg.UniqueViolationError:
        raise _duplicate(item.name) from None
    return _json(body, status.HTTP_201_CREATED)


@router.get(
    "",
    response_class=Response,
    responses={200: {"model": ItemPage, "content": {JSON: {}}}},
)
async def list_items(
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[Cursor | None, Query()] = None,
) -> Response:
    """Items by id, a page at a time (keyset pagination: every page costs the same)."""
    return _json(await store.page(limit, after or 0))


async def _stream(first: bytes, rest: AsyncGenerator[bytes, None]) -> AsyncIterator[bytes]:
    async with aclosing(rest):
        yield first
        async for chunk in rest:
            yield chunk


@reads.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {NDJSON: {}}, "description": "One item per line"}},
)
async def export_items(request: Request) -> StreamingResponse:
    """Every item, one JSON object per line, in constant memory whatever the table size."""
    batches = store_of(request).export()
    # Pulling the first batch here means an unreachable database is a 503, not a 200
    # whose body breaks off. The transport's back-pressure sets the pace of the rest.
    first = await anext(batches, b"")
    return StreamingResponse(_stream(first, batches), media_type=NDJSON)


@reads.get(
    "/stats",
    response_class=Response,
    responses={200: {"model": ItemStats, "content": {JSON: {}}}},
)
async def item_stats(request: Request) -> Response:
    """Count, prices, newest and top tags: four small queries run at once."""
    return Response(await store_of(request).stats(), media_type=JSON)


@reads.get(
    "/{item_id}",
    response_class=Response,
    responses={200: {"model": Item, "content": {JSON: {}}}, 404: NOT_FOUND},
)
async def get_item(request: Request, item_id: ItemId) -> Response:
    """One item, from the memory of the process that answers, Redis or PostgreSQL."""
    body = await store_of(request).read(item_id)
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
async def update_item(item_id: ItemId, changes: ItemUpdate, store: StoreDep) -> Response:
    try:
        body = await store.update(item_id, changes)
    except asyncpg.UniqueViolationError:
        raise _duplicate(changes.name or "") from None
    if body is None:
        raise _not_found(item_id)
    return _json(body)


@router.delete(
    "/{item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={404: NOT_FOUND},
)
async def delete_item(item_id: ItemId, store: StoreDep) -> Response:
    if not await store.delete(item_id):
        raise _not_found(item_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
