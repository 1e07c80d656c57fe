"""The lab `make demo` deployed answers as the README says: through nginx on 127.0.0.1, over HTTP
and over HTTPS trusted through the lab's own CA (which also proves the app's verify-full TLS to
PostgreSQL, or no item could be read), with the cache in use and every Prometheus target up."""

from __future__ import annotations

import json
import ssl
import time
import urllib.parse
from typing import Any

import pytest

from lab import HTTP, HTTPS, LAB, PROMETHEUS, request


def test_healthz_over_http() -> None:
    assert request(HTTP + "/healthz")[0] == 200


def test_healthz_over_https_verified_against_the_lab_ca(lab_ca: ssl.SSLContext) -> None:
    assert request(HTTPS + "/healthz", context=lab_ca)[0] == 200


def test_https_is_refused_without_the_lab_ca() -> None:
    """The check above can fail: the system's own CAs do not trust the lab's certificate."""
    with pytest.raises(OSError, match="CERTIFICATE_VERIFY_FAILED"):
        request(HTTPS + "/healthz", context=ssl.create_default_context())


def test_an_item_is_created_read_and_deleted(lab_ca: ssl.SSLContext) -> None:
    name = f"newcomer-{time.time_ns()}"
    status, body = request(HTTPS + "/items", "POST", {"name": name, "price": "2.50"}, lab_ca)
    assert status == 201, body
    item = json.loads(body)
    url = f"{HTTPS}/items/{item['id']}"
    status, body = request(url, context=lab_ca)
    assert status == 200, body
    assert json.loads(body)["name"] == name
    assert request(url, "DELETE", context=lab_ca)[0] == 204
    assert request(url, context=lab_ca)[0] == 404


def test_a_read_fills_the_cache(groups: dict[str, list[str]], lab_hosts: dict[str, Any]) -> None:
    status, body = request(HTTP + "/items", "POST", {"name": "cached", "price": "1.00"})
    assert status == 201, body
    item_id = json.loads(body)["id"]
    assert request(f"{HTTP}/items/{item_id}")[0] == 200
    cache = lab_hosts[groups["cache"][0]]
    password = (LAB / "secrets" / "redis_app_password").read_text().split()[0]
    exists = cache.check_output(
        f"REDISCLI_AUTH={password} redis-cli --user hiload EXISTS hiload:item:v1:{item_id}"
    )
    assert exists == "1", f"item {item_id} was read through nginx but is not in Redis"


def test_every_prometheus_target_is_up() -> None:
    deadline = time.monotonic() + 90
    while True:
        status, body = request(PROMETHEUS + "/api/v1/targets?state=active")
        assert status == 200, body
        targets = json.loads(body)["data"]["activeTargets"]
        jobs = {target["labels"]["job"] for target in targets}
        down = [(t["scrapeUrl"], t["lastError"]) for t in targets if t["health"] != "up"]
        if not down or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert not down, down
    assert {"hiload_app", "nginx", "node", "postgres", "redis", "prometheus"} <= jobs, jobs


def test_the_redis_exporter_logs_in() -> None:
    query = urllib.parse.urlencode({"query": "redis_up"})
    status, body = request(f"{PROMETHEUS}/api/v1/query?{query}")
    assert status == 200, body
    values = [sample["value"][1] for sample in json.loads(body)["data"]["result"]]
    assert values == ["1"], f"redis_up is {values}: the exporter cannot log in to Redis"
