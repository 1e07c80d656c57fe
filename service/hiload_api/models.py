"""The items resource's models: what the API accepts, validated by Pydantic, and what it answers,
as documented in OpenAPI. Answers are rendered by PostgreSQL (hiload_api.crud), not from these.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Path
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)

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
