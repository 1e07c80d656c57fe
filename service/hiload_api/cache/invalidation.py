"""Redis's invalidations for the near cache, on one connection per process.

The connection subscribes to ``__redis__:invalidate`` after turning on ``CLIENT TRACKING ON
REDIRECT <its own id> BCAST PREFIX hiload:item:v1:``: every write, delete, expiry or eviction of
an item's key, by anyone, arrives on it as a Pub/Sub message naming the keys.

redis-py has no asyncio API for this: its client-side caching (``cache_config``) exists for the
synchronous client only, and on RESP3 an asyncio PubSub drops the ``invalidate`` pushes unless
a parser hook it does not document is set. So the listener uses what redis-py documents:
- a client of its own, ``Redis.from_url(url, protocol=2)``, so that the redirected invalidations
  arrive as ordinary Pub/Sub messages (RESP2; the service's data client speaks RESP3);
- a ``PubSub`` from it, whose ``execute_command`` and ``parse_response`` run ``CLIENT ID`` and
  ``CLIENT TRACKING`` on the very connection that then subscribes (tracking redirected to another
  connection would stop silently when that one dropped), and whose ``get_message`` and ``ping``
  read the messages and check the connection is alive.
Any error ends that PubSub, redis-py's own reconnection included (it would resubscribe a new
connection that nobody turned tracking on for): the near cache is dropped, and a new PubSub sets
tracking up again. Tested with redis-py 8.1 (``redis>=8.1,<9`` in pyproject.toml).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from hiload_api.cache.near import NearCache

logger = logging.getLogger(__name__)

INVALIDATION_CHANNEL = "__redis__:invalidate"
# Silence on the connection for this long is answered with a PING; no answer within the same
# time again means the connection is gone, whatever TCP says.
HEALTH_INTERVAL = 1.0
# Wait between attempts to set tracking up again.
RETRY_INTERVAL = 1.0


class InvalidationListener:
    """Keeps one connection of ``client`` (RESP2, used for nothing else) subscribed to Redis's
    invalidations for ``prefix`` and applies them to ``near``, setting it up again after any
    failure."""

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
        await self._client.aclose()

    async def _run(self) -> None:
        while True:
            pubsub = self._client.pubsub()
            try:
                await self._listen(pubsub)
            except Exception as exc:
                # Whatever went wrong, an item held now might miss its invalidation.
                self._near.tracking_lost()
                if not self._failing:
                    self._failing = True
                    logger.warning("Redis invalidations lost (%s); local item cache off", exc)
            finally:
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py
            await asyncio.sleep(RETRY_INTERVAL)

    async def _listen(self, pubsub: PubSub) -> None:
        own_id = await self._command(pubsub, "CLIENT", "ID")
        if not isinstance(own_id, int):
            raise TypeError(f"CLIENT ID answered {own_id!r}")
        await self._command(
            pubsub, "CLIENT", "TRACKING", "ON", "REDIRECT", own_id, "BCAST", "PREFIX", self._prefix
        )
        await pubsub.subscribe(INVALIDATION_CHANNEL)
        # Redis drops invalidations for a connection not yet subscribed: nothing may be kept
        # before the subscription is confirmed.
        confirmation = await pubsub.get_message(timeout=HEALTH_INTERVAL)
        if confirmation is None or confirmation["type"] != "subscribe":
            raise TimeoutError(f"SUBSCRIBE not confirmed within {HEALTH_INTERVAL} s")
        self._near.tracking_started()
        if self._failing:
            self._failing = False
            logger.info("Redis invalidations arrive again; local item cache back on")
        pinged = False
        while True:
            message = await pubsub.get_message(timeout=HEALTH_INTERVAL)
            if message is None:
                if pinged:
                    raise TimeoutError(f"no answer to PING within {HEALTH_INTERVAL} s")
                await pubsub.ping()
                pinged = True
                continue
            pinged = False
            if message["type"] == "message":
                self._apply(message["data"])

    @staticmethod
    async def _command(pubsub: PubSub, *args: str | bytes | int) -> object:
        """Run a command on the PubSub's connection before it subscribes; its reply."""
        await pubsub.execute_command(*args)
        reply: object = await pubsub.parse_response(block=False, timeout=HEALTH_INTERVAL)
        if reply is None:
            raise TimeoutError(f"no reply to {args[0]!r} {args[1]!r} within {HEALTH_INTERVAL} s")
        return reply

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
