"""Items kept in this process's memory, coherent across instances through Redis.

A read served from Redis still costs a round trip: a write, a wake-up, a reply parsed and the
request resumed — half again what a whole /healthz costs the process (`make bench-service`).
Holding the hottest items in the process avoids that, and is safe only if every instance hears
of every write. Redis tells it: with server-assisted client-side caching (``CLIENT TRACKING
... BCAST PREFIX``), Redis sends an invalidation for every key under the cache's prefix that
anyone sets, deletes, or lets expire or evict, on a connection this process keeps subscribed.

The rules that keep it coherent:
- an item is kept only when read from Redis (never what this process just wrote: its own
  SET comes back as an invalidation), and only while the tracking connection is up;
- a key invalidated while its read is on the way is not kept (the read may predate the write);
- losing the tracking connection drops everything, and nothing is kept until it is back.
Staleness is then bounded by Redis's own: one invalidation's trip, and never past the TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from time import monotonic

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection

logger = logging.getLogger(__name__)

INVALIDATION_CHANNEL = "__redis__:invalidate"
# Silence on the tracking connection for this long is answered with a PING; no answer within
# the same time again means the connection is gone, whatever TCP says.
HEALTH_INTERVAL = 1.0
# Wait between attempts to set tracking up again.
RETRY_INTERVAL = 1.0


class NearCache:
    """The bookkeeping, without I/O: what is held, what is being read, what was invalidated."""

    def __init__(self, max_items: int, max_age: float) -> None:
        self._max_items = max_items
        self._max_age = max_age
        self._items: dict[int, tuple[bytes, float]] = {}
        self._reading: Counter[int] = Counter()
        self._invalidated_while_reading: set[int] = set()
        # Bumped whenever coherence was lost: reads begun before it keep nothing.
        self._epoch = 0
        self.tracking = False

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: int) -> bytes | None:
        entry = self._items.get(key)
        if entry is None:
            return None
        if monotonic() >= entry[1]:
            del self._items[key]
            return None
        return entry[0]

    def reading(self, keys: Iterable[int]) -> int | None:
        """Mark keys as being read from Redis; pass the returned token to ``read``.

        Without tracking (the near cache off, or Redis's invalidations lost) nothing is marked:
        no read begun now can be kept, as tracking_started() moves the epoch on."""
        if not self.tracking:
            return None
        self._reading.update(keys)
        return self._epoch

    def read(self, token: int | None, keys: Iterable[int], found: Mapping[int, bytes]) -> None:
        """The read marked by ``token`` is over (also when it failed: ``found`` empty)."""
        if token is None:
            return
        keep = self.tracking and token == self._epoch
        expires = monotonic() + self._max_age
        for key in keys:
            value = found.get(key)
            if keep and value is not None and key not in self._invalidated_while_reading:
                self._put(key, value, expires)
            self._reading[key] -= 1
            if self._reading[key] <= 0:
                del self._reading[key]
                self._invalidated_while_reading.discard(key)

    def invalidate(self, keys: Iterable[int]) -> None:
        for key in keys:
            self._items.pop(key, None)
            if key in self._reading:
                self._invalidated_while_reading.add(key)

    def invalidate_all(self) -> None:
        self._items.clear()
        self._epoch += 1

    def tracking_started(self) -> None:
        self.invalidate_all()
        self.tracking = True

    def tracking_lost(self) -> None:
        self.tracking = False
        self.invalidate_all()

    def _put(self, key: int, value: bytes, expires: float) -> None:
        items = self._items
        items.pop(key, None)
        if len(items) >= self._max_items:
            # Oldest first: dicts keep insertion order, so this is FIFO eviction.
            del items[next(iter(items))]
        items[key] = (value, expires)


class InvalidationListener:
    """Keeps one connection subscribed to Redis's invalidations for ``prefix`` and applies them
    to ``near``, setting it up again after any failure."""

    def __init__(self, client: Redis, prefix: str, near: NearCache) -> None:
        self._client = client
        self._prefix = prefix.encode()
        self._near = near
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            connection = self._connection()
            try:
                await self._listen(connection)
            except Exception as exc:
                # Whatever went wrong, an item held now might miss its invalidation.
                self._near.tracking_lost()
                if not self._failing:
                    self._failing = True
                    logger.warning("Redis invalidations lost (%s); local item cache off", exc)
            finally:
                await connection.disconnect(nowait=True)
            await asyncio.sleep(RETRY_INTERVAL)

    def _connection(self) -> AbstractConnection:
        pool = self._client.connection_pool
        # RESP2, so that the invalidations arrive as ordinary Pub/Sub messages on a connection
        # redirected to itself, which redis-py reads with its public connection API.
        return pool.connection_class(**{**pool.connection_kwargs, "protocol": 2})

    async def _listen(self, connection: AbstractConnection) -> None:
        await connection.connect()  # type: ignore[no-untyped-call]  # untyped in redis-py
        own_id = await self._command(connection, "CLIENT", "ID")
        await self._command(
            connection,
            "CLIENT",
            "TRACKING",
            "ON",
            "REDIRECT",
            own_id,
            "BCAST",
            "PREFIX",
            self._prefix,
        )
        await self._command(connection, "SUBSCRIBE", INVALIDATION_CHANNEL)
        self._near.tracking_started()
        if self._failing:
            self._failing = False
            logger.info("Redis invalidations arrive again; local item cache back on")
        pinged = False
        while True:
            message = await connection.read_response(timeout=HEALTH_INTERVAL)
            if message is None:
                if pinged:
                    raise TimeoutError(f"no answer to PING within {HEALTH_INTERVAL} s")
                await connection.send_command("PING")
                pinged = True
                continue
            pinged = False
            if message[0] == b"message":
                self._apply(message[2])

    @staticmethod
    async def _command(connection: AbstractConnection, *args: object) -> object:
        await connection.send_command(*args)
        return await connection.read_response()

    def _apply(self, keys: list[bytes] | None) -> None:
        if keys is None:
            # FLUSHDB / FLUSHALL: everything went at once.
            self._near.invalidate_all()
            return
        prefix = self._prefix
        self._near.invalidate(
            int(key[len(prefix) :])
            for key in keys
            if key.startswith(prefix) and key[len(prefix) :].isdigit()
        )
