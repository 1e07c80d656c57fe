"""The cache as deployed: with a host in the cache group and no further variable, every app
instance uses its Redis. A read-through fills Redis, an instance on the other app host answers
from it (its own hit counter moves), and a change or a delete through nginx reaches every
instance at once — none serves the old item."""

from __future__ import annotations

import json
import re
import shlex
import sys
import urllib.parse
from pathlib import Path

from testinfra.host import Host

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from inventory import scenario_groups, scenario_host

testinfra_hosts = ["hiload-mol-lb1"]

APP_HOSTS = scenario_groups()["app"]
CACHE_HOST = "hiload-mol-db1"
ENVIRONMENT_FILE = "/etc/hiload/hiload.env"
KEY_PREFIX = "hiload:item:v1:"
# One request from the lb host, which reaches nginx on loopback and every instance directly.
FETCH = """
import json, sys, urllib.error, urllib.request
method, url, body = sys.argv[1], sys.argv[2], sys.argv[3] or None
request = urllib.request.Request(url, data=body and body.encode(), method=method,
                                 headers={"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(request, timeout=10) as answer:
        status, text = answer.status, answer.read().decode()
except urllib.error.HTTPError as error:
    status, text = error.code, error.read().decode()
print(json.dumps([status, text]))
"""


def fetch(lb: Host, method: str, url: str, body: object | None = None) -> tuple[int, str]:
    payload = "" if body is None else json.dumps(body)
    command = " ".join(shlex.quote(part) for part in ("python3", "-c", FETCH, method, url, payload))
    status, text = json.loads(lb.check_output(command))
    return int(status), str(text)


def instances(lb: Host) -> dict[str, list[str]]:
    """{app address: [host:port, ...]} of every instance nginx balances over."""
    found: dict[str, list[str]] = {}
    for line in lb.check_output("nginx -T 2>/dev/null").splitlines():
        words = line.split()
        if len(words) > 1 and words[0] == "server" and ":" in words[1]:
            server = words[1].rstrip(";")
            found.setdefault(server.rsplit(":", 1)[0], []).append(server)
    return found


def redis_url(app: Host) -> urllib.parse.SplitResult:
    for line in app.file(ENVIRONMENT_FILE).content_string.splitlines():
        name, _, value = line.partition("=")
        if name.strip() == "HILOAD_REDIS_URL":
            return urllib.parse.urlsplit(value.strip().strip("'\""))
    raise AssertionError(f"{ENVIRONMENT_FILE} sets no HILOAD_REDIS_URL")


def cached(item_id: int) -> str | None:
    """The item's body in Redis, as the service's own user reads it; None when absent."""
    url = redis_url(scenario_host(APP_HOSTS[0]))
    command = (
        f"REDISCLI_AUTH={shlex.quote(urllib.parse.unquote(url.password or ''))} redis-cli "
        f"--user {shlex.quote(urllib.parse.unquote(url.username or ''))} --raw "
        f"GET {KEY_PREFIX}{item_id}"
    )
    value = scenario_host(CACHE_HOST).check_output(command)
    return value or None


def redis_hits(lb: Host, instance: str) -> float:
    status, text = fetch(lb, "GET", f"http://{instance}/metrics")
    assert status == 200, text
    match = re.search(
        r'^hiload_cache_reads_total\{(?=[^}]*layer="redis")(?=[^}]*result="hit")[^}]*\} (\S+)$',
        text,
        re.MULTILINE,
    )
    assert match, "the instance's /metrics has no Redis hit counter"
    return float(match.group(1))


def test_every_instance_is_given_the_cache_hosts_redis() -> None:
    cache_address = scenario_host(CACHE_HOST).check_output("hostname -I").split()[0]
    for name in APP_HOSTS:
        url = redis_url(scenario_host(name))
        assert (url.scheme, url.hostname, url.port) == ("redis", cache_address, 6379), name
        assert url.username, f"{name} reaches Redis as its disabled default user"
        assert url.password, f"{name} reaches Redis without a password"


def test_a_cached_read_is_shared_and_invalidated_everywhere(host: Host) -> None:
    status, text = fetch(host, "POST", "http://127.0.0.1/items", {"name": "cached", "price": "4"})
    assert status == 201, text
    item_id = json.loads(text)["id"]
    by_host = instances(host)
    # The first instance of two app hosts: one fills the cache, the other must read it.
    first, second = (
        by_host[scenario_host(name).check_output("hostname -I").split()[0]][0]
        for name in APP_HOSTS[:2]
    )

    assert fetch(host, "GET", f"http://{first}/items/{item_id}")[0] == 200
    assert cached(item_id) is not None, "a read-through left nothing in Redis"
    hits = redis_hits(host, second)
    assert fetch(host, "GET", f"http://{second}/items/{item_id}")[0] == 200
    assert redis_hits(host, second) == hits + 1, "the other app host did not answer from Redis"

    status, text = fetch(host, "PATCH", f"http://127.0.0.1/items/{item_id}", {"name": "changed"})
    assert status == 200, text
    every_instance = [server for servers in by_host.values() for server in servers]
    for server in every_instance:
        status, text = fetch(host, "GET", f"http://{server}/items/{item_id}")
        assert (status, json.loads(text)["name"]) == (200, "changed"), server
    assert json.loads(cached(item_id) or "{}").get("name") in (None, "changed")

    assert fetch(host, "DELETE", f"http://127.0.0.1/items/{item_id}")[0] == 204
    for server in every_instance:
        assert fetch(host, "GET", f"http://{server}/items/{item_id}")[0] == 404, server
    assert cached(item_id) is None, "the deleted item is still in Redis"
