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


# Before the dropped-connection test below: the failures it provokes take the flaky instance
# out of rotation for nginx_upstream_fail_timeout.
def test_a_503_is_passed_on_as_the_instances_answer(host: Host) -> None:
    # /busy answers 503 + Retry-After on one instance: nginx neither retries it nor hides it,
    # and the instance stays in rotation (a 503 is not a failure: no "no live upstreams" 502).
    gets = probe(host, "http://127.0.0.1/busy", "--requests", "12")
    assert set(gets["statuses"]) == {"200", "503"}, gets
    assert gets["statuses"]["503"] >= 4, gets
    answers = [probe(host, "http://127.0.0.1/busy", "--once") for _ in range(4)]
    busy = [answer for answer in answers if answer["status"] == 503]
    assert busy, answers
    assert all(answer["headers"].get("retry-after") == "2" for answer in busy), busy


def test_only_idempotent_requests_move_to_another_instance(host: Host) -> None:
    # /flaky drops the connection on one instance: GETs are passed on to the other, POSTs are not.
    posts = [
        probe(host, "http://127.0.0.1/flaky", "--once", "--method", "POST")["status"]
        for _ in range(4)
    ]
    gets = probe(host, "http://127.0.0.1/flaky", "--requests", "10")
    assert 502 in posts, posts
    assert gets["statuses"] == {"200": 10}, gets
