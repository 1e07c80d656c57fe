"""The five-node stack: every hop of the request path works across hosts."""

import json
import sys
import urllib.request
from pathlib import Path

from testinfra.host import Host

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from inventory import scenario_groups
from nginx_upstream import upstream_servers

testinfra_hosts = ["hiload-mol-lb1"]

APP_HOSTS = scenario_groups()["app"]


def lb_address(host: Host) -> str:
    return host.check_output("hostname -I").split()[0]


def test_upstream_lists_instances_of_both_app_hosts(host: Host) -> None:
    servers = upstream_servers(host)
    addresses = {server.rsplit(":", 1)[0] for server in servers}
    app_addresses = {host.check_output(f"getent hosts {name}").split()[0] for name in APP_HOSTS}
    assert app_addresses <= addresses, servers


def test_lb_reaches_every_app_instance(host: Host) -> None:
    for server in upstream_servers(host):
        fetch = (
            "import urllib.request as u; "
            f"print(u.urlopen('http://{server}/readyz', timeout=5).status)"
        )
        assert host.check_output(f'python3 -c "{fetch}"') == "200", server


def test_requests_through_lb_are_answered_by_both_app_hosts(host: Host) -> None:
    base = f"http://{lb_address(host)}"
    marker = "/items?limit=1"
    for _ in range(40):
        with urllib.request.urlopen(base + marker, timeout=10) as response:
            assert response.status == 200
            json.loads(response.read())
    log = host.check_output("tail -n 200 /var/log/nginx/access.log")
    upstreams = {
        json.loads(line)["upstream_addr"].rsplit(":", 1)[0]
        for line in log.splitlines()
        if marker in line
    }
    app_addresses = {host.check_output(f"getent hosts {name}").split()[0] for name in APP_HOSTS}
    assert app_addresses <= upstreams, upstreams
