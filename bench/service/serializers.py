"""The ways of turning an item's row into JSON that `make bench-service` compares: the routes of
variants.py that serve each, and each timed alone on the same row."""

from __future__ import annotations

import json
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from fastapi.encoders import jsonable_encoder
from pydantic import TypeAdapter

from hiload_api.models import Item

# variants.py's route for each serializer, under /bench/.
SERIALIZER_ROUTES = {
    "a declared return type (pydantic-core, by FastAPI)": "declared",
    "an untyped dict (jsonable_encoder, then json.dumps)": "encoder",
    "pydantic-core `dump_json`": "pydantic-core",
    "orjson": "orjson",
    "the standard library's `json.dumps`": "json-dumps",
}
ITEM_ADAPTER = TypeAdapter(Item)
TIMED_CALLS = 20_000


def plain(value: Any) -> Any:
    """What json.dumps cannot take itself, as PostgreSQL's JSON has it."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def serializer_timings() -> dict[str, float]:
    """Seconds per call of each serializer on one row as asyncpg returns it, and of encoding
    the text PostgreSQL rendered for it (what the service's reads do)."""
    row = {
        "id": 1000,
        "name": "item-1000",
        "price": Decimal("10.00"),
        "tags": ["tag-0", "group-6"],
        "created_at": datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC),
    }
    rendered = json.dumps(row, default=plain, separators=(",", ":"))
    calls: dict[str, Callable[[], bytes]] = {
        "PostgreSQL-rendered text, encoded (the service's reads)": rendered.encode,
        "a declared return type (pydantic-core, by FastAPI)": lambda: (
            Item.model_validate(row).model_dump_json().encode()
        ),
        "an untyped dict (jsonable_encoder, then json.dumps)": lambda: json.dumps(
            jsonable_encoder(row)
        ).encode(),
        "pydantic-core `dump_json`": lambda: ITEM_ADAPTER.dump_json(
            ITEM_ADAPTER.validate_python(row)
        ),
        "orjson": lambda: orjson.dumps(row, default=float),
        "the standard library's `json.dumps`": lambda: json.dumps(
            row, default=plain, separators=(",", ":"), ensure_ascii=False
        ).encode(),
    }
    return {
        name: min(timeit.repeat(call, number=TIMED_CALLS, repeat=3)) / TIMED_CALLS
        for name, call in calls.items()
    }
