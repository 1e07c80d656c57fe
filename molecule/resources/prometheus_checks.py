"""Prometheus checks for scenarios deploying the monitoring role, reusable from testinfra tests.

Shared by molecule/monitoring, the five-node scenario (molecule/default), molecule/own_app and
molecule/cluster, whose tests put molecule/resources on sys.path. Every function takes testinfra
hosts and talks to Prometheus's HTTP API (or runs promtool) from inside the monitoring host, where
its private listen address is reachable.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from pathlib import Path
from typing import Any

import yaml

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


def live_alerts(monitoring_host: Any, rules: str, group: str | None = None) -> set[str]:
    """Names of the alerts in the rules file RULES as rendered (only those of GROUP if given)."""
    groups = yaml.safe_load(monitoring_host.file(rules).content_string)["groups"]
    return {
        rule["alert"]
        for rules_group in groups
        if group in (None, rules_group["name"])
        for rule in rules_group["rules"]
        if "alert" in rule
    }


def assert_rule_tests_pass(monitoring_host: Any, rules: str, tests: Path) -> None:
    """promtool test rules runs TESTS (whose rule_files name RULES by its base name) beside a copy
    of the live RULES, and every case passes."""
    # Beside a copy, not in the rules directory: Prometheus loads every *.yml there.
    workdir = monitoring_host.check_output("mktemp -d")
    try:
        monitoring_host.run_expect([0], "cp %s %s/", rules, workdir)
        copy = f"{workdir}/{tests.name}"
        monitoring_host.run_expect([0], "printf '%%s' %s > %s", tests.read_text(), copy)
        result = monitoring_host.run("promtool test rules %s", copy)
    finally:
        monitoring_host.run_expect([0], "rm -rf %s", workdir)
    assert result.rc == 0, f"promtool test rules:\n{result.stdout}{result.stderr}"


def assert_every_alert_has_a_firing_and_a_silent_case(alerts: set[str], tests: Path) -> None:
    """The promtool TESTS have, for each of ALERTS, a case where it fires and one where it stays
    silent, and no case for an alert not among them."""
    cases = [
        case
        for test in yaml.safe_load(tests.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    ]
    firing = {case["alertname"] for case in cases if case.get("exp_alerts")}
    silent = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    # Named in the messages: pytest rewrites no assertion outside the test modules.
    unfired = sorted(alerts - firing)
    assert not unfired, f"alerts without a case where they fire: {unfired}"
    unsilenced = sorted(alerts - silent)
    assert not unsilenced, f"alerts without a case where they stay silent: {unsilenced}"
    stale = sorted((firing | silent) - alerts)
    assert not stale, f"cases for alerts the rules no longer have: {stale}"


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
