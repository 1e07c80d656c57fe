from __future__ import annotations

import asyncio
import logging
from collections import Counter

import httpx
from prometheus_client.parser import text_string_to_metric_families

from hiload_api.config import Settings
from hiload_api.metrics import UVICORN_LOGGER, UVICORN_REFUSAL
from tests.api.test_items import create
from tests.conftest import serve

CacheReads = Counter[tuple[str, str]]


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def cache_reads(client: httpx.AsyncClient) -> CacheReads:
    """hiload_cache_reads_total by (layer, result); subtract two to see what a test moved."""
    reads: CacheReads = Counter()
    for family in text_string_to_metric_families(await scrape(client)):
        for sample in family.samples:
            if sample.name == "hiload_cache_reads_total":
                reads[sample.labels["layer"], sample.labels["result"]] = sample.value
    return reads


async def test_requests_are_counted_by_route_template_and_status(
    client: httpx.AsyncClient,
) -> None:
    item = await create(client)
    await client.get(f"/items/{item['id']}")
    await client.get("/items/999999999")
    await client.get("/no/such/path")
    text = await scrape(client)
    assert 'hiload_http_requests_total{method="GET",route="/items/{item_id}",status="200"}' in text
    assert 'hiload_http_requests_total{method="GET",route="/items/{item_id}",status="404"}' in text
    assert 'hiload_http_requests_total{method="POST",route="/items",status="201"}' in text
    assert 'route="<unmatched>",status="404"' in text
    assert str(item["id"]) not in text.split("hiload_http_requests_total", 1)[1]
    assert (
        'hiload_http_request_duration_seconds_bucket{le="0.005",method="GET",'
        'route="/items/{item_id}",status="200"}' in text
    )


async def test_loop_pool_and_query_gauges_are_exported(client: httpx.AsyncClient) -> None:
    await client.get("/readyz")
    text = await scrape(client)
    samples = dict(
        line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    # The scrape itself is in flight while the metrics are rendered.
    assert float(samples["hiload_http_requests_in_flight"]) >= 1
    assert float(samples["hiload_event_loop_tasks"]) >= 1
    assert float(samples['hiload_db_pool_size{pool="primary"}']) >= 1
    assert float(samples['hiload_db_pool_max{pool="primary"}']) == 8
    assert float(samples['hiload_db_pool_idle{pool="primary"}']) >= 0
    assert float(samples['hiload_db_pool_waiting{pool="primary"}']) == 0
    # Without a read DSN, the reads share the primary's pool.
    assert 'pool="read"' not in text
    assert float(samples['hiload_db_query_duration_seconds_count{query="ping"}']) >= 1
    assert float(samples["hiload_cache_local_items"]) >= 0
    assert float(samples["hiload_cache_local_tracking"]) in (0, 1)


def refused_total(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "hiload_http_refused_total":
                return sample.value
    raise AssertionError("no hiload_http_refused_total in /metrics")


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


async def test_a_request_uvicorn_refuses_is_counted_not_logged(settings: Settings) -> None:
    # Two connections at --limit-concurrency 2: while both are open, Uvicorn answers their
    # requests 503 itself, before the app; once one closes, the other's scrape counts them.
    async with serve(settings, limit_concurrency=2) as running:
        # After uvicorn configured its loggers: a handler of the logger its refusals go to.
        logged = Records()
        logging.getLogger(UVICORN_LOGGER).addHandler(logged)
        try:
            assert (await running.client.get("/healthz")).status_code == 200
            async with httpx.AsyncClient(base_url=running.url, timeout=30) as other:
                refusals = [(await other.get("/healthz")).status_code for _ in range(3)]
            assert refusals == [503] * 3
            # The second connection's close reaches the server a moment later; a scrape before
            # it is refused, and counted, too.
            for _ in range(100):
                scrape = await running.client.get("/metrics")
                if scrape.status_code == 200:
                    break
                refusals.append(scrape.status_code)
                await asyncio.sleep(0.05)
            assert scrape.status_code == 200
        finally:
            logging.getLogger(UVICORN_LOGGER).removeHandler(logged)
    assert UVICORN_REFUSAL not in logged.messages
    assert refused_total(scrape.text) == len(refusals)
