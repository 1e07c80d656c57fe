from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx

from hiload_api.config import Settings
from tests.api.test_items import count_rows

CHUNK = b" " * 4096


async def test_declared_oversize_body_is_413(
    client: httpx.AsyncClient, settings: Settings, sql: asyncpg.Connection
) -> None:
    before = await count_rows(sql)
    body = b'{"name": "big", "price": 1, "tags": ["' + b"x" * settings.max_body_bytes + b'"]}'
    response = await client.post(
        "/items", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == {
        "detail": f"Request body larger than {settings.max_body_bytes} bytes"
    }
    assert await count_rows(sql) == before


async def test_chunked_oversize_body_is_413(
    client: httpx.AsyncClient, settings: Settings, sql: asyncpg.Connection
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "big", "price": 1, "padding": "'
        for _ in range(settings.max_body_bytes // len(CHUNK) + 2):
            yield CHUNK
        yield b'"}'

    before = await count_rows(sql)
    response = await client.post(
        "/items", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert await count_rows(sql) == before


async def test_body_just_under_the_limit_is_accepted(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    # Whitespace is valid JSON padding: the limit is on bytes, not on content.
    body = b'{"name": "near-limit", "price": 1}'
    padded = body + b" " * (settings.max_body_bytes - len(body))
    response = await client.post(
        "/items", content=padded, headers={"content-type": "application/json"}
    )
    assert response.status_code in (201, 409)
