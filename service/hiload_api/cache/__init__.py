"""The optional item cache, built only when ``HILOAD_REDIS_URL`` is set (hiload_api.main).

- aside.py         ItemCache: Redis cache-aside for item bodies, degrading to "miss" on failure
- near.py          NearCache: the items this process read from Redis lately, in its memory
- invalidation.py  InvalidationListener: Redis's invalidations, applied to the near cache

Without it every item read goes to PostgreSQL; ``hiload_cache_reads_total`` stays at 0.
"""

from hiload_api.cache.aside import KEY_PREFIX, ItemCache, open_item_cache

__all__ = ["KEY_PREFIX", "ItemCache", "open_item_cache"]
