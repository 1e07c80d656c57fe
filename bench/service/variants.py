"""The service plus other ways of serving GET /healthz and GET /items/{id}, for comparison only.

The extra routes are ordinary FastAPI routes (dependency injection, an included router), put in
the app's router right after the service's own DirectRoutes: where an ordinary route of the
service would be matched. ``/bench/fastapi/...`` serve the service's own endpoints that way:
what a DirectRoute saves. The serialization variants read the same row the same way (coalesced,
like the service's reads) and differ only in who turns it into JSON.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from pydantic import TypeAdapter
from serializers import plain

from hiload_api.api import health, items
from hiload_api.api.deps import database_of
from hiload_api.api.routing import DirectRoute
from hiload_api.batching import Coalescer
from hiload_api.db import Database
from hiload_api.main import create_app as create_service_app
from hiload_api.models import Item, ItemId

SQL_ITEM_ROWS = "SELECT id, name, price, tags, created_at FROM items WHERE id = ANY($1::bigint[])"
ITEM_ADAPTER = TypeAdapter(Item)
JSON = "application/json"


async def get_db(request: Request) -> Database:
    return database_of(request)


DbDep = Annotated[Database, Depends(get_db)]


def create_app() -> FastAPI:
    app = create_service_app()
    bench = APIRouter(prefix="/bench")
    bench.add_api_route("/fastapi/healthz", health.healthz, response_class=Response)
    bench.add_api_route("/fastapi/items/{item_id}", items.get_item, response_class=Response)

    rows: Coalescer[int, dict[str, Any]] | None = None

    async def fetch(database: Database, item_id: int) -> dict[str, Any]:
        nonlocal rows
        if rows is None:

            async def fetch_many(item_ids: list[int]) -> dict[int, dict[str, Any]]:
                async with database.connection() as conn:
                    found = await conn.fetch(SQL_ITEM_ROWS, item_ids)
                return {row["id"]: dict(row) for row in found}

            rows = Coalescer(fetch_many)
        row = await rows.get(item_id)
        if row is None:
            raise HTTPException(404)
        return row

    @bench.get("/declared/{item_id}")
    async def declared(item_id: ItemId, database: DbDep) -> Item:
        """Declared return type: FastAPI validates and serializes through pydantic-core."""
        return Item.model_validate(await fetch(database, item_id))

    @bench.get("/encoder/{item_id}")
    async def encoder(item_id: ItemId, database: DbDep) -> Any:
        """No declared type: jsonable_encoder walks the dict, then json.dumps."""
        return await fetch(database, item_id)

    @bench.get("/pydantic-core/{item_id}")
    async def pydantic_core(item_id: ItemId, database: DbDep) -> Response:
        """Validated and serialized by pydantic-core, handed over as bytes."""
        body = ITEM_ADAPTER.dump_json(ITEM_ADAPTER.validate_python(await fetch(database, item_id)))
        return Response(body, media_type=JSON)

    @bench.get("/orjson/{item_id}")
    async def orjson_bytes(item_id: ItemId, database: DbDep) -> Response:
        """The row serialized by orjson (datetimes natively, the price as a float)."""
        return Response(
            orjson.dumps(await fetch(database, item_id), default=float), media_type=JSON
        )

    @bench.get("/json-dumps/{item_id}")
    async def json_dumps(item_id: ItemId, database: DbDep) -> Response:
        """The row serialized by the standard library's json.dumps, compact."""
        row = await fetch(database, item_id)
        body = json.dumps(row, default=plain, separators=(",", ":"), ensure_ascii=False)
        return Response(body.encode(), media_type=JSON)

    app.include_router(bench)
    # Right after the DirectRoutes, where the service's own ordinary routes start.
    included = app.router.routes.pop()
    first_ordinary = max(
        index for index, route in enumerate(app.router.routes) if isinstance(route, DirectRoute)
    )
    app.router.routes.insert(first_ordinary + 1, included)
    return app
