"""The service plus alternative ways of serving GET /healthz and GET /items/{id}, for
comparison only.

``/bench/framework/...`` are the service's own FastAPI endpoints on paths the fast lane does
not take: what the lane saves. The serialization variants read the same row; they differ only
in who turns it into JSON.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Response
from pydantic import TypeAdapter

from hiload_api.api import health, items
from hiload_api.api.deps import DbDep
from hiload_api.batching import Coalescer
from hiload_api.main import create_app as create_service_app
from hiload_api.models import Item, ItemId

SQL_ITEM_ROWS = "SELECT id, name, price, tags, created_at FROM items WHERE id = ANY($1::bigint[])"
ITEM_ADAPTER = TypeAdapter(Item)


def create_app() -> FastAPI:
    app = create_service_app()
    app.add_api_route("/bench/framework/healthz", health.healthz, response_class=Response)
    app.add_api_route("/bench/framework/items/{item_id}", items.get_item, response_class=Response)

    rows: Coalescer[int, dict[str, Any]] | None = None

    async def fetch(database: DbDep, item_id: int) -> dict[str, Any]:
        # Rows coalesced like the service's own reads, so only the serialization differs.
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

    @app.get("/bench/declared/{item_id}")
    async def declared(item_id: ItemId, database: DbDep) -> Item:
        """Declared return type: FastAPI validates and serializes through pydantic-core."""
        return Item.model_validate(await fetch(database, item_id))

    @app.get("/bench/encoder/{item_id}")
    async def encoder(item_id: ItemId, database: DbDep) -> Any:
        """No declared type: jsonable_encoder walks the dict, then json.dumps."""
        return await fetch(database, item_id)

    @app.get("/bench/python-bytes/{item_id}")
    async def python_bytes(item_id: ItemId, database: DbDep) -> Response:
        """Serialized in Python by pydantic-core, handed over as bytes."""
        body = ITEM_ADAPTER.dump_json(ITEM_ADAPTER.validate_python(await fetch(database, item_id)))
        return Response(body, media_type="application/json")

    return app
