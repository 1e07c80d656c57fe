"""Optional Redis cache-aside for single items. Redis is an accelerator, never a dependency:
every failure degrades to "miss" and the caller reads PostgreSQL. In front of Redis, each
process keeps the items it read in a near cache that Redis keeps coherent
(hiload_api.nearcache)."""

from __future__ import annotations

import logging
from time import monotonic

from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from hiload_api.batching import Coalescer
from hiload_api.metrics import CacheReadCounters
from hiload_api.nearcache import InvalidationListener, NearCache

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
    def __init__(
        self,
        client: Redis | None,
        ttl: int,
        counters: CacheReadCounters,
        local_items: int = 0,
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._counters = counters
        # With no item held in memory there is no near layer to count reads at.
        self._near_enabled = local_items > 0
        self._skip_reads_until = 0.0
        self._failing = False
        # Hits for the ids asked for in the same turn of the loop come back in one MGET.
        self._reads: Coalescer[int, bytes] = Coalescer(self._get_many)
        # Stays empty (nothing tracked) until start(), and for good with local_items=0.
        self.near = NearCache(local_items, max_age=ttl)
        self._listener = (
            InvalidationListener(client, KEY_PREFIX, self.near)
            if client is not None and local_items > 0
            else None
        )

    @classmethod
    def from_url(
        cls, url: str, ttl: int, counters: CacheReadCounters, local_items: int = 0
    ) -> ItemCache:
        if not url:
            return cls(None, ttl, counters)
        client = Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT,
            socket_connect_timeout=SOCKET_TIMEOUT,
            # redis-py retries with exponential back-off by default: seconds of added latency
            # per request while Redis is down.
            retry=Retry(NoBackoff(), 0),
            max_connections=MAX_CONNECTIONS,
        )
        return cls(client, ttl, counters, local_items)

    @property
    def enabled(self) -> bool:
        return self._client is not None

    def start(self) -> None:
        """Begin following Redis's invalidations (needs the running loop); the near cache
        holds items only while they arrive."""
        if self._listener is not None:
            self._listener.start()

    async def get(self, item_id: int) -> bytes | None:
        if self._client is None:
            return None
        counters = self._counters
        # In the back-off after a failure neither layer is asked: the read misses both.
        available = monotonic() >= self._skip_reads_until
        if self._near_enabled:
            # A near hit returns without suspending: no round trip, no wake-up.
            body = self.near.get(item_id) if available else None
            if body is not None:
                counters.near_hit.inc()
                return body
            counters.near_miss.inc()
        body = await self._reads.get(item_id) if available else None
        (counters.redis_miss if body is None else counters.redis_hit).inc()
        return body

    async def _get_many(self, item_ids: list[int]) -> dict[int, bytes]:
        assert self._client is not None
        found: dict[int, bytes] = {}
        token = self.near.reading(item_ids)
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
            self.near.read(token, item_ids, found)
        return found

    async def put(self, item_id: int, body: bytes) -> None:
        if self._client is None or monotonic() < self._skip_reads_until:
            return
        try:
            await self._client.set(KEY_PREFIX + str(item_id), body, ex=self._ttl)
        except CACHE_ERRORS as exc:
            self._failed(exc)

    async def invalidate(self, item_id: int) -> None:
        # Always attempted, back-off or not: a stale entry outliving a write is worse than
        # one wasted round trip. If Redis cannot be reached, the TTL bounds the staleness.
        if self._client is None:
            return
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
            self.near.invalidate((item_id,))

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.close()
        if self._client is not None:
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
