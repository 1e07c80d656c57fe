"""The near cache: items kept in this process's memory, coherent across instances through Redis.

A read served from Redis still costs a round trip: a write, a wake-up, a reply parsed and the
request resumed — half again what a whole /healthz costs the process (`make bench-service`).
Holding the hottest items in the process avoids that, and is safe only if every instance hears
of every write. Redis tells it: with server-assisted client-side caching (``CLIENT TRACKING
... BCAST PREFIX``), Redis sends an invalidation for every key under the cache's prefix that
anyone sets, deletes, or lets expire or evict, on a connection this process keeps subscribed
(hiload_api.cache.invalidation applies them here).

The rules that keep it coherent:
- an item is kept only when read from Redis (never what this process just wrote: its own
  SET comes back as an invalidation), and only while the tracking connection is up;
- a key invalidated while its read is on the way is not kept (the read may predate the write);
- losing the tracking connection drops everything, and nothing is kept until it is back.
Staleness is then bounded by Redis's own: one invalidation's trip, and never past the TTL.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from time import monotonic

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


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


class NearCacheCollector(Collector):
    """The near cache's state at scrape time."""

    def __init__(self, near: NearCache) -> None:
        self._near = near

    def collect(self) -> Iterator[Metric]:
        near = self._near
        yield GaugeMetricFamily(
            "hiload_cache_local_items", "Items held in the process's near cache", value=len(near)
        )
        yield GaugeMetricFamily(
            "hiload_cache_local_tracking",
            "1 while Redis's invalidations arrive (the near cache is in use), else 0",
            value=int(near.tracking),
        )
