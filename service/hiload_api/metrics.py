"""Prometheus metrics for one process, and the pure-ASGI middleware that feeds them.

Every app gets its own registry, so several apps in one process (tests, benchmarks) never
collide and nothing lives at module level.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from time import perf_counter

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hiload_api.db import Database

# Requests that matched no route share one label value, so scanners probing random paths
# cannot blow up the number of time series.
UNMATCHED_ROUTE = "<unmatched>"
REQUEST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
QUERY_BUCKETS = (0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5)

# What Uvicorn logs, once per request, when its --limit-concurrency answers 503 before any app
# code runs (uvicorn.protocols.http, on the uvicorn.error logger).
UVICORN_LOGGER = "uvicorn.error"
UVICORN_REFUSAL = "Exceeded concurrency limit."


class _Refusals(logging.Filter):
    """Uvicorn's concurrency-limit refusals in this process, each counted in the counter of
    every app serving here and never logged. One per process, kept on Uvicorn's logger."""

    def __init__(self) -> None:
        super().__init__()
        self.counters: list[Counter] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg != UVICORN_REFUSAL:
            return True
        for counter in self.counters:
            counter.inc()
        return False


class PoolCollector(Collector):
    """Reads the pools' counters at scrape time instead of updating gauges on every acquire;
    each pool is a value of the ``pool`` label (primary, and read with a read DSN)."""

    def __init__(self, pools: Mapping[str, Database]) -> None:
        self._pools = pools

    def collect(self) -> Iterator[Metric]:
        families = {
            "size": GaugeMetricFamily("hiload_db_pool_size", "Open connections", labels=["pool"]),
            "idle": GaugeMetricFamily(
                "hiload_db_pool_idle", "Open connections not in use", labels=["pool"]
            ),
            "max": GaugeMetricFamily(
                "hiload_db_pool_max", "Most connections the pool may open", labels=["pool"]
            ),
            "waiting": GaugeMetricFamily(
                "hiload_db_pool_waiting", "Requests waiting for a connection", labels=["pool"]
            ),
        }
        for name, database in self._pools.items():
            pool = database.pool
            families["size"].add_metric([name], pool.get_size())
            families["idle"].add_metric([name], pool.get_idle_size())
            families["max"].add_metric([name], pool.get_max_size())
            families["waiting"].add_metric([name], database.waiting)
        yield from families.values()


@dataclass(frozen=True)
class CacheReadCounters:
    """``hiload_cache_reads_total``'s children, resolved once: counting a read is one ``inc()``.

    Every item read with the cache configured counts once at the near layer (when the near
    cache is on) and, unless the near cache held the item, once at the Redis layer.
    """

    near_hit: Counter
    near_miss: Counter
    redis_hit: Counter
    redis_miss: Counter


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ("method", "route", "status")
        self.requests = Counter(
            "hiload_http_requests", "HTTP requests answered", labels, registry=self.registry
        )
        self.duration = Histogram(
            "hiload_http_request_duration_seconds",
            "Time from request to last response byte",
            labels,
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.refused = Counter(
            "hiload_http_refused",
            "Requests Uvicorn answered 503 at its --limit-concurrency, before the app saw them",
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "hiload_http_requests_in_flight", "HTTP requests being served", registry=self.registry
        )
        self.query_duration = Histogram(
            "hiload_db_query_duration_seconds",
            "PostgreSQL query time seen by the client, by statement",
            ("query",),
            buckets=QUERY_BUCKETS,
            registry=self.registry,
        )
        loop_tasks = Gauge(
            "hiload_event_loop_tasks",
            "Tasks alive on the event loop: grows when work piles up",
            registry=self.registry,
        )
        # Scrapes run on the loop, so all_tasks() sees the serving loop.
        loop_tasks.set_function(lambda: len(asyncio.all_tasks()))
        cache_reads = Counter(
            "hiload_cache_reads",
            "Item reads from the cache, by layer (near, redis) and result (hit, miss)",
            ("layer", "result"),
            registry=self.registry,
        )
        self.cache_reads = CacheReadCounters(
            near_hit=cache_reads.labels("near", "hit"),
            near_miss=cache_reads.labels("near", "miss"),
            redis_hit=cache_reads.labels("redis", "hit"),
            redis_miss=cache_reads.labels("redis", "miss"),
        )
        # labels() validates and locks on every call; the label sets are few, so keep the children.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._query_children: dict[str, Histogram] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            values = (method, route, str(status))
            children = (self.requests.labels(*values), self.duration.labels(*values))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_query(self, name: str, seconds: float) -> None:
        # Names come from the fixed set in db.QUERY_NAMES, so this cache stays small.
        child = self._query_children.get(name)
        if child is None:
            child = self._query_children[name] = self.query_duration.labels(name)
        child.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    @contextmanager
    def counting_refusals(self) -> Iterator[None]:
        """Count Uvicorn's concurrency-limit refusals in ``hiload_http_refused_total`` instead of
        logging each: under overload, that was one journal line per refused request."""
        logger = logging.getLogger(UVICORN_LOGGER)
        refusals = next((f for f in logger.filters if isinstance(f, _Refusals)), None)
        if refusals is None:
            refusals = _Refusals()
            logger.addFilter(refusals)
        refusals.counters.append(self.refused)
        try:
            yield
        finally:
            refusals.counters.remove(self.refused)
            if not refusals.counters:
                logger.removeFilter(refusals)

    @contextmanager
    def collecting(self, *collectors: Collector) -> Iterator[None]:
        """Export what ``collectors`` read at each scrape, for as long as the block runs."""
        for collector in collectors:
            self.registry.register(collector)
        try:
            yield
        finally:
            for collector in collectors:
                self.registry.unregister(collector)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # An exception before the response starts ends up as a 500 from the outer middleware.
        status = 500

        async def send_and_record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        metrics = self.metrics
        metrics.in_flight.inc()
        started = perf_counter()
        try:
            await self.app(scope, receive, send_and_record_status)
        finally:
            metrics.in_flight.dec()
            route = scope.get("route")
            template = getattr(route, "path", UNMATCHED_ROUTE)
            metrics.observe_request(scope["method"], template, status, perf_counter() - started)
