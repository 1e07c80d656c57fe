"""A bounded HTTP/1.1 load generator with no dependencies beyond the standard library.

It runs on the controller (imported by the fault tests) and inside the lab's containers
(`python3 - ARGS < loadgen.py`, which prints one JSON summary), so load can come from any
host of the stack. Every request is recorded: its status (0 for a connection error or a
timeout), its latency, and for POSTs the name it created, so the tests can count failures
and check afterwards that nothing was lost.

Load only ever targets the addresses it is given: loopback or the lab's own containers.

SteadyLoad sends half its GETs the way a browser or an HTTP client library does, over a pool of
kept-alive connections, and half over a fresh connection each. A GET on a reused connection that
the server closed before sending any byte of an answer (an idle connection it was closing as the
request went out) is retried once on a fresh connection, as HTTP clients do for idempotent
requests (RFC 9112, section 9.3.1); it counts as `retried`, not as failed. POSTs, which no client
retries on its own, always go over a fresh connection.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

CONNECT_TIMEOUT = 5.0


@dataclass(frozen=True)
class Outcome:
    """One request: what was asked, what came back, how long it took."""

    method: str
    path: str
    status: int  # 0: no HTTP answer (refused, reset, timed out)
    seconds: float
    started: float
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    name: str | None = None  # the item name a POST tried to create
    reused: bool = False  # sent over a connection that had already served a request
    retried: bool = False  # a reused connection closed unanswered; this is the fresh retry


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summarise(outcomes: list[Outcome]) -> dict[str, object]:
    latencies = [o.seconds for o in outcomes if 200 <= o.status < 300]
    refused = [o.seconds for o in outcomes if o.status in (429, 503)]
    return {
        "requests": len(outcomes),
        "statuses": dict(sorted(Counter(str(o.status) for o in outcomes).items())),
        "ok_p50": percentile(latencies, 0.50),
        "ok_p99": percentile(latencies, 0.99),
        "refused_p50": percentile(refused, 0.50),
        "refused_p99": percentile(refused, 0.99),
    }


class Connection:
    """One keep-alive HTTP/1.1 connection, reopened after any failure; HEADERS go with every
    request."""

    def __init__(
        self, host: str, port: int, timeout: float, headers: Mapping[str, str] | None = None
    ) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.headers = dict(headers or {})
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.served = 0  # requests answered over the current socket
        self.answering = False  # the current request got at least its status line

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None
        self.served = 0

    async def request(
        self, method: str, path: str, body: bytes = b""
    ) -> tuple[int, dict[str, str], bytes]:
        self.answering = False
        if self.writer is None:
            self.reader, self.writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), CONNECT_TIMEOUT
            )
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nUser-Agent: hiload-loadgen\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in self.headers.items())
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("closed before answering")
        self.answering = True
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b"\n", b""):
            key, _, value = line.decode("latin-1").partition(":")
            headers[key.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while size := int((await self.reader.readline()).split(b";")[0], 16):
                chunks.append(await self.reader.readexactly(size))
                await self.reader.readline()
            await self.reader.readline()
            payload = b"".join(chunks)
        else:
            payload = await self.reader.readexactly(int(headers.get("content-length", "0")))
        keep_alive = (
            status_line.startswith(b"HTTP/1.1")
            or "keep-alive" in headers.get("connection", "").lower()
        )
        self.served += 1
        if not keep_alive or headers.get("connection", "").lower() == "close":
            await self.close()
        return status, headers, payload

    async def timed(
        self, method: str, path: str, body: bytes = b"", name: str | None = None
    ) -> Outcome:
        started = time.monotonic()
        reused = self.served > 0
        try:
            status, headers, payload = await asyncio.wait_for(
                self.request(method, path, body), self.timeout
            )
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError):
            await self.close()
            status, headers, payload = 0, {}, b""
        return Outcome(
            method,
            path,
            status,
            time.monotonic() - started,
            started,
            headers,
            payload,
            name,
            reused=reused,
        )

    @property
    def closed_unanswered(self) -> bool:
        """The last request failed before any byte of an answer came back."""
        return self.writer is None and not self.answering


ITEM_PRICE = "9.50"


def item_body(prefix: str) -> tuple[str, bytes]:
    name = f"{prefix}-{uuid.uuid4().hex[:16]}"
    body = {"name": name, "price": ITEM_PRICE, "tags": ["loadgen", prefix[:16]]}
    return name, json.dumps(body).encode()


def stored_whole(price: str, tags: str) -> bool:
    """A row item_body's POST stored is whole: its price, and its tags (comma-joined) in full."""
    return price == ITEM_PRICE and tags.startswith("loadgen,") and len(tags) > len("loadgen,")


@dataclass(frozen=True)
class ItemApi:
    """The app's API as SteadyLoad uses it: GET item_path with an id in it, POST create_path with
    new_body(prefix) (the new record's name and JSON), headers on every request. The default is
    the bundled service's items."""

    item_path: str = "/items/{}"
    create_path: str = "/items"
    new_body: Callable[[str], tuple[str, bytes]] = item_body
    headers: Mapping[str, str] = field(default_factory=dict)


BUNDLED_ITEMS = ItemApi()


async def closed_loop(
    url: str,
    concurrency: int,
    duration: float,
    max_requests: int,
    method: str = "GET",
    prefix: str = "overload",
    request_timeout: float = 10.0,
) -> list[Outcome]:
    """CONCURRENCY connections, each sending its next request as soon as the last one answered."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    deadline = time.monotonic() + duration
    outcomes: list[Outcome] = []

    async def worker() -> None:
        connection = Connection(parts.hostname or "127.0.0.1", parts.port or 80, request_timeout)
        try:
            while time.monotonic() < deadline and len(outcomes) < max_requests:
                if method == "POST":
                    name, body = item_body(prefix)
                    outcomes.append(await connection.timed("POST", path, body, name))
                else:
                    outcomes.append(await connection.timed(method, path))
        finally:
            await connection.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return outcomes


class SteadyLoad:
    """A steady stream of GETs of known items and POSTs of new ones, in a background thread,
    through API (by default the bundled service's items).

    Use as a context manager around a fault; `outcomes` holds every request once it exits.
    """

    def __init__(
        self,
        base_url: str,
        item_ids: list[int],
        gets_per_second: float = 40.0,
        posts_per_second: float = 4.0,
        prefix: str = "steady",
        timeout: float = 15.0,
        max_seconds: float = 600.0,
        api: ItemApi = BUNDLED_ITEMS,
    ) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.item_ids = item_ids
        self.gets_per_second, self.posts_per_second = gets_per_second, posts_per_second
        self.prefix, self.timeout, self.max_seconds = prefix, timeout, max_seconds
        self.api = api
        self.outcomes: list[Outcome] = []
        # Idle kept-alive connections, taken by one GET at a time and put back after it.
        self._idle: list[Connection] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> SteadyLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(self.timeout + 30)

    async def _paced(self, per_second: float, send: object) -> None:
        # A fresh connection per in-flight request keeps the pace whatever one request waits.
        interval, tasks, started = 1.0 / per_second, set(), time.monotonic()
        sent = 0
        while not self._stop.is_set() and time.monotonic() - started < self.max_seconds:
            task = asyncio.ensure_future(send(sent))  # type: ignore[operator]
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            sent += 1
            await asyncio.sleep(max(0.0, started + sent * interval - time.monotonic()))
        await asyncio.gather(*tasks)

    def _connection(self) -> Connection:
        return Connection(self.host, self.port, self.timeout, self.api.headers)

    async def _get(self, index: int) -> None:
        path = self.api.item_path.format(self.item_ids[index % len(self.item_ids)])
        if index % 2:
            self.outcomes.append(await self._kept_alive(path))
            return
        connection = self._connection()
        self.outcomes.append(await connection.timed("GET", path))
        await connection.close()

    async def _kept_alive(self, path: str) -> Outcome:
        connection = self._idle.pop() if self._idle else self._connection()
        outcome = await connection.timed("GET", path)
        if outcome.reused and outcome.status == 0 and connection.closed_unanswered:
            connection = self._connection()
            retry = await connection.timed("GET", path)
            outcome = dataclasses.replace(
                retry,
                started=outcome.started,
                seconds=retry.started + retry.seconds - outcome.started,
                reused=True,
                retried=True,
            )
        if connection.writer is not None:
            self._idle.append(connection)
        return outcome

    async def _post(self, _: int) -> None:
        name, body = self.api.new_body(self.prefix)
        connection = self._connection()
        self.outcomes.append(await connection.timed("POST", self.api.create_path, body, name))
        await connection.close()

    async def _run(self) -> None:
        streams = [self._paced(self.gets_per_second, self._get)]
        if self.posts_per_second > 0:
            streams.append(self._paced(self.posts_per_second, self._post))
        await asyncio.gather(*streams)
        for connection in self._idle:
            await connection.close()

    def failures(self) -> list[Outcome]:
        """Requests that did not get a 2xx answer (after a retry, where one was due)."""
        return [o for o in self.outcomes if not 200 <= o.status < 300]

    def kinds(self) -> dict[str, int]:
        """How the requests went: over fresh or reused connections, and the retries."""
        return {
            "requests": len(self.outcomes),
            "kept_alive": sum(o.reused for o in self.outcomes),
            "retried": sum(o.retried for o in self.outcomes),
            "failed": len(self.failures()),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument("--method", choices=["GET", "POST"], default="GET")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    outcomes = asyncio.run(
        closed_loop(
            args.url,
            args.concurrency,
            args.duration,
            args.max_requests,
            args.method,
            request_timeout=args.timeout,
        )
    )
    sys.stdout.write(json.dumps(summarise(outcomes)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
