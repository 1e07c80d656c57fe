"""Per-client rate limit (driven from the stub host) and failover for idempotent requests only."""

from conftest import probe
from testinfra.host import Host

testinfra_hosts = ["lb"]


def lb_url(host: Host, path: str) -> str:
    return f"http://{host.check_output('hostname')}{path}"


def test_client_beyond_the_rate_gets_429(host: Host, stub: Host) -> None:
    result = probe(stub, lb_url(host, "/burst"), "--requests", "40")
    assert result["statuses"].get("429", 0) >= 20, result
    assert result["statuses"].get("200", 0) >= 10, result


def test_only_idempotent_requests_move_to_another_instance(host: Host) -> None:
    # /flaky answers 503 from one instance: GETs are passed on to the other, POSTs are not.
    posts = [
        probe(host, "http://127.0.0.1/flaky", "--once", "--method", "POST")["status"]
        for _ in range(4)
    ]
    gets = probe(host, "http://127.0.0.1/flaky", "--requests", "10")
    assert 503 in posts, posts
    assert gets["statuses"] == {"200": 10}, gets
