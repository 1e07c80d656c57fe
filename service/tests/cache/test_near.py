"""The near cache in front of Redis: what it keeps, and that every instance drops an item
written anywhere — against a real Redis, two instances of the API sharing it."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
from redis.asyncio import Redis

from hiload_api.cache import KEY_PREFIX, ItemCache
from hiload_api.cache.near import NearCache
from hiload_api.config import Settings
from hiload_api.metrics import Metrics
from tests.api.test_items import create
from tests.api.test_metrics import cache_reads
from tests.conftest import Served, serve
from tests.servers import RedisServer

# How long an invalidation may take to cross from Redis to an instance before a test fails.
# Sub-millisecond in practice; generous for a loaded machine. Staleness without the
# invalidation would last the whole cache TTL (60 s here).
PROPAGATION_SECONDS = 5.0


async def eventually(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PROPAGATION_SECONDS
    while not await condition():
        if loop.time() > deadline:
            pytest.fail(f"{what} within {PROPAGATION_SECONDS} s")
        await asyncio.sleep(0.02)


def near(served: Served) -> NearCache:
    cache = served.app.state.store.cache
    assert isinstance(cache, ItemCache)
    assert cache.near is not None
    return cache.near


async def tracking(served: Served) -> None:
    async def started() -> bool:
        return near(served).tracking

    await eventually(started, "the instance did not subscribe to Redis's invalidations")


async def held_nearby(served: Served, item_id: int) -> None:
    """Read the item until this instance holds it in memory (first read: PostgreSQL, then
    Redis, then the near cache)."""

    async def held() -> bool:
        assert (await served.client.get(f"/items/{item_id}")).status_code == 200
        return near(served).get(item_id) is not None

    await tracking(served)
    await eventually(held, f"item {item_id} was not kept in the instance's memory")


async def mget_calls(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    calls: int = stats.get("cmdstat_mget", {}).get("calls", 0)
    return calls


@pytest.fixture
async def other(settings: Settings, served: Served) -> AsyncIterator[Served]:
    """A second instance on the same PostgreSQL and Redis, like hiload@2 or another host."""
    async with serve(settings) as running:
        yield running


# The bookkeeping alone.


def test_an_item_invalidated_while_its_read_was_out_is_not_kept() -> None:
    cache = NearCache(max_items=10, max_age=60)
    cache.tracking_started()
    token = cache.reading([1, 2])
    cache.invalidate([1])
    cache.read(token, [1, 2], {1: b"old", 2: b"two"})
    assert cache.get(1) is None
    assert cache.get(2) == b"two"
    # Once no read of it is out, the item is kept again.
    cache.read(cache.reading([1]), [1], {1: b"new"})
    assert cache.get(1) == b"new"


def test_nothing_is_kept_without_tracking_nor_from_a_read_begun_before_it() -> None:
    cache = NearCache(max_items=10, max_age=60)
    cache.read(cache.reading([1]), [1], {1: b"one"})
    assert cache.get(1) is None
    cache.tracking_started()
    cache.read(cache.reading([1]), [1], {1: b"one"})
    before_loss = cache.reading([2])
    cache.tracking_lost()
    assert cache.get(1) is None
    cache.tracking_started()
    cache.read(before_loss, [2], {2: b"two"})
    assert cache.get(2) is None
    assert len(cache) == 0


def test_it_holds_at_most_max_items_and_none_past_max_age() -> None:
    cache = NearCache(max_items=3, max_age=60)
    cache.tracking_started()
    for key in range(5):
        cache.read(cache.reading([key]), [key], {key: b"%d" % key})
    assert len(cache) == 3
    assert [cache.get(key) for key in range(5)] == [None, None, b"2", b"3", b"4"]
    expired = NearCache(max_items=3, max_age=0)
    expired.tracking_started()
    expired.read(expired.reading([1]), [1], {1: b"one"})
    assert expired.get(1) is None


# Against Redis and PostgreSQL.


async def test_hot_reads_are_served_from_memory_without_redis(
    served: Served, redis: Redis, sql: asyncpg.Connection
) -> None:
    item = await create(served.client)
    await held_nearby(served, item["id"])
    calls = await mget_calls(redis)
    for _ in range(20):
        assert (await served.client.get(f"/items/{item['id']}")).json() == item
    assert await mget_calls(redis) == calls
    metrics = (await served.client.get("/metrics")).text
    assert "hiload_cache_local_tracking 1.0" in metrics
    assert "hiload_cache_local_items 0.0" not in metrics


async def test_a_read_from_memory_counts_as_a_near_hit_only(served: Served) -> None:
    item = await create(served.client)
    await held_nearby(served, item["id"])
    before = await cache_reads(served.client)
    await served.client.get(f"/items/{item['id']}")
    assert await cache_reads(served.client) - before == Counter({("near", "hit"): 1})


# served: the schema is migrated.
@pytest.mark.usefixtures("served")
async def test_with_the_near_cache_off_reads_count_at_redis_only(settings: Settings) -> None:
    async with serve(settings.model_copy(update={"cache_local_items": 0})) as redis_only:
        item = await create(redis_only.client)
        before = await cache_reads(redis_only.client)
        for _ in range(2):
            assert (await redis_only.client.get(f"/items/{item['id']}")).status_code == 200
        reads = await cache_reads(redis_only.client) - before
    assert reads == Counter({("redis", "miss"): 1, ("redis", "hit"): 1})


async def test_a_write_through_one_instance_reaches_the_other(
    served: Served, other: Served
) -> None:
    item = await create(served.client, price="1.00")
    await held_nearby(other, item["id"])
    patched = await served.client.patch(f"/items/{item['id']}", json={"price": "2.00"})
    assert patched.status_code == 200

    async def other_sees_the_new_price() -> bool:
        response = await other.client.get(f"/items/{item['id']}")
        return bool(response.json()["price"] == 2.0)

    await eventually(other_sees_the_new_price, "the other instance still served the old price")
    await held_nearby(other, item["id"])
    assert (await served.client.delete(f"/items/{item['id']}")).status_code == 204

    async def other_sees_it_gone() -> bool:
        return (await other.client.get(f"/items/{item['id']}")).status_code == 404

    await eventually(other_sees_it_gone, "the other instance still served a deleted item")


async def test_the_writer_reads_its_own_write_at_once(served: Served) -> None:
    item = await create(served.client, price="1.00")
    await held_nearby(served, item["id"])
    await served.client.patch(f"/items/{item['id']}", json={"price": "3.00"})
    assert (await served.client.get(f"/items/{item['id']}")).json()["price"] == 3.0


async def test_a_write_drops_the_item_here_without_waiting_for_redis(
    redis_server: RedisServer,
) -> None:
    # No listener: Redis's invalidation never arrives, so only the writer's own drop counts.
    near_cache = NearCache(max_items=10, max_age=60)
    cache = ItemCache(
        Redis.from_url(redis_server.url), ttl=60, counters=Metrics().cache_reads, near=near_cache
    )
    near_cache.tracking_started()
    item_id = 2**62  # far above the ids the other tests create
    try:
        await cache.put(item_id, b"{}")
        assert await cache.get(item_id) == b"{}"
        assert near_cache.get(item_id) == b"{}"
        await cache.invalidate(item_id)
        assert near_cache.get(item_id) is None
    finally:
        await cache.close()


async def test_a_flush_of_redis_empties_every_instance(served: Served, redis: Redis) -> None:
    item = await create(served.client)
    await held_nearby(served, item["id"])
    await redis.flushdb()

    async def emptied() -> bool:
        return len(near(served)) == 0

    await eventually(emptied, "the near cache kept items after FLUSHDB")


async def test_redis_down_drops_what_is_held_and_it_comes_back(
    served: Served, redis_server: RedisServer, sql: asyncpg.Connection
) -> None:
    item = await create(served.client)
    await held_nearby(served, item["id"])
    redis_server.stop()
    try:

        async def lost() -> bool:
            return not near(served).tracking

        await eventually(lost, "the near cache kept serving with Redis stopped")
        # Changed behind the API's back: only PostgreSQL has the new name now.
        await sql.execute("UPDATE items SET name = name || '-direct' WHERE id = $1", item["id"])
        response = await served.client.get(f"/items/{item['id']}")
        assert response.json()["name"] == item["name"] + "-direct"
    finally:
        redis_server.start()
    await held_nearby(served, item["id"])


async def test_a_killed_invalidation_connection_is_set_up_again(
    served: Served, redis: Redis, sql: asyncpg.Connection
) -> None:
    item = await create(served.client)
    await held_nearby(served, item["id"])
    # redis-py reconnects a PubSub and subscribes again by itself; a connection nobody turned
    # tracking on for would then be subscribed to invalidations that never come.
    assert await redis.client_kill_filter(_type="pubsub") >= 1
    await held_nearby(served, item["id"])
    # Changed behind the API's back, then dropped from Redis: only the invalidation can tell
    # the instance that what it holds is stale.
    await sql.execute("UPDATE items SET name = name || '-direct' WHERE id = $1", item["id"])
    await redis.delete(KEY_PREFIX + str(item["id"]))

    async def renamed() -> bool:
        response = await served.client.get(f"/items/{item['id']}")
        return bool(response.json()["name"] == item["name"] + "-direct")

    await eventually(renamed, "the instance kept an item deleted from Redis after a reconnect")
