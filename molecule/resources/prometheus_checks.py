"""Prometheus checks for scenarios deploying the monitoring role, reusable from testinfra tests.

Shared by molecule/monitoring, the five-node scenario (molecule/default) and molecule/own_app,
whose tests put molecule/resources on sys.path. Every function takes testinfra hosts and talks
to Prometheus's HTTP API from inside the monitoring host, where its private listen address is
reachable.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from typing import Any

PROMETHEUS_PORT = 9090
# Scrape interval plus slack: how long a fresh sample may take to reach Prometheus.
SCRAPE_WAIT_SECONDS = 60

FETCH = (
    "import sys, urllib.request; "
    "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())"
)


def prometheus_url(monitoring_host: Any, port: int = PROMETHEUS_PORT) -> str:
    """Base URL of Prometheus, read from the socket it listens on."""
    listening = monitoring_host.check_output(f"ss -ltnH 'sport = :{port}'")
    address = listening.split()[3]
    return f"http://{address}"


def api(monitoring_host: Any, path: str, **params: str) -> Any:
    """GET /api/v1/<path> and return its data, failing on an API error."""
    url = f"{prometheus_url(monitoring_host)}/api/v1/{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    answer = json.loads(monitoring_host.check_output(f"python3 -c '{FETCH}' '{url}'"))
    assert answer["status"] == "success", answer
    return answer["data"]


def query(monitoring_host: Any, expr: str) -> list[dict[str, Any]]:
    """Instant query; the result vector."""
    return list(api(monitoring_host, "query", query=expr)["result"])


def wait_targets_up(
    monitoring_host: Any, expected: dict[str, int], timeout: float = SCRAPE_WAIT_SECONDS
) -> list[dict[str, Any]]:
    """Wait until every active target is up and each job has the expected number of targets."""
    deadline = time.monotonic() + timeout
    while True:
        targets = api(monitoring_host, "targets", state="active")["activeTargets"]
        counts: dict[str, int] = {}
        for target in targets:
            counts[target["labels"]["job"]] = counts.get(target["labels"]["job"], 0) + 1
        not_up = [
            (t["scrapeUrl"], t["health"], t["lastError"]) for t in targets if t["health"] != "up"
        ]
        if counts == expected and not not_up:
            return list(targets)
        if time.monotonic() > deadline:
            raise AssertionError(f"targets per job {counts}, expected {expected}; not up: {not_up}")
        time.sleep(3)


def rule_groups(monitoring_host: Any) -> dict[str, int]:
    """Loaded rule groups and their number of rules."""
    return {g["name"]: len(g["rules"]) for g in api(monitoring_host, "rules")["groups"]}


def _per_instance(monitoring_host: Any, expr: str) -> dict[str, float]:
    return {r["metric"]["instance"]: float(r["value"][1]) for r in query(monitoring_host, expr)}


def assert_burst_counted(
    monitoring_host: Any,
    lb_host: Any,
    requests: int = 200,
    url: str = "http://127.0.0.1/healthz",
    route: str = "/healthz",
) -> dict[str, float]:
    """Send a burst through nginx; it must appear in the request counter and the latency
    histogram of the instances that served it, and be shared out over more than one instance.

    Returns the requests each instance served.
    """
    counter = f'sum by (instance) (hiload_http_requests_total{{route="{route}"}})'
    histogram = f'sum by (instance) (hiload_http_request_duration_seconds_count{{route="{route}"}})'
    before_requests = _per_instance(monitoring_host, counter)
    before_histogram = _per_instance(monitoring_host, histogram)
    burst = (
        "import sys, urllib.request\n"
        "for _ in range(int(sys.argv[2])):\n"
        "    urllib.request.urlopen(sys.argv[1], timeout=10).read()\n"
    )
    lb_host.check_output(f"python3 -c '{burst}' '{url}' {requests}")

    deadline = time.monotonic() + SCRAPE_WAIT_SECONDS
    while True:
        after_requests = _per_instance(monitoring_host, counter)
        after_histogram = _per_instance(monitoring_host, histogram)
        served = {
            i: after_requests[i] - before_requests.get(i, 0.0)
            for i in after_requests
            if after_requests[i] > before_requests.get(i, 0.0)
        }
        observed = {
            i: after_histogram[i] - before_histogram.get(i, 0.0)
            for i in after_histogram
            if after_histogram[i] > before_histogram.get(i, 0.0)
        }
        if sum(served.values()) >= requests and observed == served:
            break
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{requests} requests to {url}: counter grew by {served}, histogram by {observed}"
            )
        time.sleep(3)
    assert len(served) > 1, f"nginx sent the whole burst to one instance: {served}"
    return served
