"""The drain entry point as a rolling deploy runs it: from the host whose instances change, on
every lb host at once, through the one writer of the upstream's servers."""

import sys
from pathlib import Path

import pytest
from conftest import probe, stub_address, stub_stats
from testinfra.host import Host

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from nginx_upstream import upstream_servers
from playbooks import PlaybookRun, assert_clean, assert_refused, run_playbook, scenario_playbook

# The playbook changes both lb hosts: run it once, from the first one's tests.
testinfra_hosts = ["hiload-mol-nginx-12"]


def drain(state: str, ports: list[int]) -> PlaybookRun:
    return run_playbook(
        scenario_playbook("drain.yml"),
        extra_vars={"drain_state": state, "drain_ports": ports},
        timeout=300,
    )


def down_flags(lb: Host) -> dict[int, bool]:
    """{port: down} of the upstream's servers as nginx reads them."""
    return {int(server.rsplit(":", 1)[1]): down for server, down in upstream_servers(lb).items()}


def servers_file(lb: Host) -> str:
    return lb.file(f"/etc/nginx/hiload-upstream/{stub_address(lb)}.conf").content_string


def test_a_drained_instance_gets_no_request_on_any_lb_until_put_back(lbs: list[Host]) -> None:
    converged = [servers_file(lb) for lb in lbs]
    assert all(down_flags(lb) == {8001: False, 8002: False, 8003: True} for lb in lbs)

    assert_clean(drain("down", [8001]))
    for lb in lbs:
        assert down_flags(lb) == {8001: True, 8002: False, 8003: True}, lb.backend.hostname
        before = stub_stats(lb)
        result = probe(lb, "http://127.0.0.1/drained", "--requests", "200")
        after = stub_stats(lb)
        assert result["statuses"] == {"200": 200}, result
        assert after[8001]["requests"] == before[8001]["requests"], (
            "the drained instance was sent requests"
        )
        assert after[8002]["requests"] - before[8002]["requests"] == 200

    assert_clean(drain("up", [8001]))
    # Back to exactly what the main entry point rendered (its user-set down flag kept), so the
    # next full run changes nothing, and a second drain up changes nothing either.
    assert [servers_file(lb) for lb in lbs] == converged
    assert_clean(drain("up", [8001]), changes_allowed=False)


@pytest.mark.parametrize(
    ("state", "ports", "named"),
    [
        ("sideways", [8001], "nginx_drain_state"),
        ("down", [9999], ":9999"),
        ("down", [], "nginx_drain_servers is empty"),
    ],
)
def test_a_bad_drain_is_refused_before_any_change(
    lbs: list[Host], state: str, ports: list[int], named: str
) -> None:
    before = [servers_file(lb) for lb in lbs]
    assert_refused(drain(state, ports), named)
    assert [servers_file(lb) for lb in lbs] == before
