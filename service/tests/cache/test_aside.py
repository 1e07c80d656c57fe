from __future__ import annotations

import asyncio
from collections import Counter

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from hiload_api.cache import KEY_PREFIX
from hiload_api.config import Settings
from tests.api.test_items import create
from tests.api.test_metrics import cache_reads
from tests.conftest import serve
from tests.servers import RedisServer

# Enough attempts to outlast the cache's back-off after Redis comes back, without a clock.
RECOVERY_ATTEMPTS = 100


async def test_a_read_fills_the_cache_with_the_response_body(
    client: httpx.AsyncClient, redis: Redis
) -> None:
    item = await create(client)
    assert await redis.get(KEY_PREFIX + str(item["id"])) is None
    response = await client.get(f"/items/{item['id']}")
    assert await redis.get(KEY_PREFIX + str(item["id"])) == response.content
    assert 0 < await redis.ttl(KEY_PREFIX + str(item["id"])) <= 60


async def test_cached_reads_do_not_touch_postgres(
    client: httpx.AsyncClient, sql: asyncpg.Connection
) -> None:
    item = await create(client)
    await client.get(f"/items/{item['id']}")
    # Changed behind the API's back: only a cache hit still shows the old name.
    await sql.execute("UPDATE items SET name = name || '-direct' WHERE id = $1", item["id"])
    assert (await client.get(f"/items/{item['id']}")).json() == item


async def test_a_read_misses_redis_then_the_next_hits_it(client: httpx.AsyncClient) -> None:
    item = await create(client)
    before = await cache_reads(client)
    await client.get(f"/items/{item['id']}")
    # Nothing is held in memory yet: an item is kept there only once read from Redis.
    first = await cache_reads(client)
    assert first - before == Counter({("near", "miss"): 1, ("redis", "miss"): 1})
    await client.get(f"/items/{item['id']}")
    assert await cache_reads(client) - first == Counter({("near", "miss"): 1, ("redis", "hit"): 1})


# served: the schema is migrated.
@pytest.mark.usefixtures("served")
async def test_without_redis_no_cache_read_is_counted(settings: Settings) -> None:
    async with serve(settings.model_copy(update={"redis_url": ""})) as uncached:
        item = await create(uncached.client)
        for _ in range(2):
            assert (await uncached.client.get(f"/items/{item['id']}")).status_code == 200
        reads = await cache_reads(uncached.client)
        assert uncached.app.state.store.cache is None
    # Every series is exported from the start, and none moves.
    assert len(reads) == 4
    assert sum(reads.values()) == 0


async def test_patch_invalidates_the_cached_item(client: httpx.AsyncClient, redis: Redis) -> None:
    item = await create(client, price="1.00")
    await client.get(f"/items/{item['id']}")
    await client.patch(f"/items/{item['id']}", json={"price": "2.00"})
    assert await redis.get(KEY_PREFIX + str(item["id"])) is None
    assert (await client.get(f"/items/{item['id']}")).json()["price"] == 2.0


async def test_delete_invalidates_the_cached_item(client: httpx.AsyncClient, redis: Redis) -> None:
    item = await create(client)
    await client.get(f"/items/{item['id']}")
    await client.delete(f"/items/{item['id']}")
    assert await redis.get(KEY_PREFIX + str(item["id"])) is None
    assert (await client.get(f"/items/{item['id']}")).status_code == 404


async def test_redis_down_serves_from_postgres_and_recovers(
    client: httpx.AsyncClient, redis_server: RedisServer, redis: Redis
) -> None:
    cached, uncached = await create(client), await create(client)
    await client.get(f"/items/{cached['id']}")
    redis_server.stop()
    try:
        before = await cache_reads(client)
        for item in (cached, uncached, cached):
            response = await client.get(f"/items/{item['id']}")
            assert response.status_code == 200
            assert response.json() == item
        # Failing or in back-off, Redis serves nothing: every read misses both layers.
        assert await cache_reads(client) - before == Counter(
            {("near", "miss"): 3, ("redis", "miss"): 3}
        )
        patched = await client.patch(f"/items/{cached['id']}", json={"tags": ["new"]})
        assert patched.status_code == 200
        assert (await client.delete(f"/items/{uncached['id']}")).status_code == 204
    finally:
        redis_server.start()
    # A fresh, empty Redis: the cache fills again once the back-off has passed.
    for _ in range(RECOVERY_ATTEMPTS):
        response = await client.get(f"/items/{cached['id']}")
        assert response.status_code == 200
        if await redis.get(KEY_PREFIX + str(cached["id"])) == response.content:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the cache was not used again after Redis came back")
    assert response.json()["tags"] == ["new"]
