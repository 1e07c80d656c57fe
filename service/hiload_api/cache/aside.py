"""Redis cache-aside for single items, with the near cache in front of it.

Redis is an accelerator, never a dependency: every failure degrades to "miss" and the caller
reads PostgreSQL. Each process keeps the items it read from Redis in its near cache, which
Redis's invalidations keep coherent (hiload_api.cache.near, hiload_api.cache.invalidation).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from time import monotonic
from typing import Any

from prometheus_client.registry import Collector
from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from hiload_api.batching import Coalescer
from hiload_api.cache.invalidation import InvalidationListener
from hiload_api.cache.near import NearCache, NearCacheCollector
from hiload_api.config import Settings
from hiload_api.metrics import CacheReadCounters

logger = logging.getLogger(__name__)

# A local Redis answers in well under a millisecond; waiting longer than this costs more
# than reading PostgreSQL would.
SOCKET_TIMEOUT = 0.25
# After a failure, skip reads for this long rather than paying a failed connect per request.
BACKOFF_AFTER_FAILURE = 1.0
MAX_CONNECTIONS = 64
KEY_PREFIX = "hiload:item:v1:"

CACHE_ERRORS = (RedisError, OSError, TimeoutError)


class ItemCache:
    """Each item's response body in Redis under ``KEY_PREFIX`` + id, for ``ttl`` seconds; in
    front of it, when ``near`` is given, the items this process read from Redis lately."""

    def __init__(
        self,
        client: Redis,
        ttl: int,
        counters: CacheReadCounters,
        near: NearCache | None = None,
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._counters = counters
        self.near = near
        self._skip_reads_until = 0.0
        self._failing = False
        # Hits for the ids asked for in the same turn of the loop come back in one MGET.
        self._reads: Coalescer[int, bytes] = Coalescer(self._get_many)

    def collectors(self) -> list[Collector]:
        """What /metrics reads from this cache at each scrape."""
        return [] if self.near is None else [NearCacheCollector(self.near)]

    async def get(self, item_id: int) -> bytes | None:
        counters = self._counters
        # In the back-off after a failure neither layer is asked: the read misses both.
        available = monotonic() >= self._skip_reads_until
        near = self.near
        if near is not None:
            # A near hit returns without suspending: no round trip, no wake-up.
            body = near.get(item_id) if available else None
            if body is not None:
                counters.near_hit.inc()
                return body
            counters.near_miss.inc()
        body = await self._reads.get(item_id) if available else None
        (counters.redis_miss if body is None else counters.redis_hit).inc()
        return body

    async def _get_many(self, item_ids: list[int]) -> dict[int, bytes]:
        found: dict[int, bytes] = {}
        near = self.near
        token = None if near is None else near.reading(item_ids)
        try:
            values = await self._client.mget([KEY_PREFIX + str(item_id) for item_id in item_ids])
            self._recovered()
            # The client does not decode responses, so a hit is always bytes.
            found = {
                item_id: value
                for item_id, value in zip(item_ids, values, strict=True)
                if isinstance(value, bytes)
            }
        except CACHE_ERRORS as exc:
            self._failed(exc)
        finally:
            if near is not None:
                near.read(token, item_ids, found)
        return found

    async def put(self, item_id: int, body: bytes) -> None:
        if monotonic() < self._skip_reads_until:
            return
        try:
            await self._client.set(KEY_PREFIX + str(item_id), body, ex=self._ttl)
        except CACHE_ERRORS as exc:
            self._failed(exc)

    async def invalidate(self, item_id: int) -> None:
        # Always attempted, back-off or not: a stale entry outliving a write is worse than
        # one wasted round trip. If Redis cannot be reached, the TTL bounds the staleness.
        try:
            await self._client.delete(KEY_PREFIX + str(item_id))
        except CACHE_ERRORS as exc:
            self._failed(exc)
        else:
            self._recovered()
        finally:
            # Redis's invalidation is on its way to every process, this one too; dropping the
            # item here as well means a read after this write never sees the old item — and a
            # read from Redis still on its way is marked not to be kept.
            if self.near is not None:
                self.near.invalidate((item_id,))

    async def close(self) -> None:
        await self._client.aclose()

    def _failed(self, exc: BaseException) -> None:
        self._skip_reads_until = monotonic() + BACKOFF_AFTER_FAILURE
        if not self._failing:
            self._failing = True
            logger.warning("Redis unavailable (%s); serving from PostgreSQL", exc)

    def _recovered(self) -> None:
        if self._failing:
            self._failing = False
            logger.info("Redis answers again; cache back in use")


def _client(url: str, **options: Any) -> Redis:
    return Redis.from_url(
        url,
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=SOCKET_TIMEOUT,
        # redis-py retries with exponential back-off by default: seconds of added latency
        # per request while Redis is down.
        retry=Retry(NoBackoff(), 0),
        **options,
    )


@asynccontextmanager
async def open_item_cache(
    settings: Settings, counters: CacheReadCounters
) -> AsyncIterator[ItemCache]:
    """The cache at ``HILOAD_REDIS_URL``; with a near cache (``HILOAD_CACHE_LOCAL_ITEMS`` > 0),
    Redis's invalidations are followed while the block runs."""
    near = (
        NearCache(settings.cache_local_items, max_age=settings.cache_ttl)
        if settings.cache_local_items > 0
        else None
    )
    cache = ItemCache(
        _client(settings.redis_url, max_connections=MAX_CONNECTIONS),
        settings.cache_ttl,
        counters,
        near,
    )
    listener = (
        None
        if near is None
        else InvalidationListener(_client(settings.redis_url, protocol=2), KEY_PREFIX, near)
    )
    if listener is not None:
        listener.start()
    try:
        yield cache
    finally:
        if listener is not None:
            await listener.close()
        await cache.close()
