"""Every group on one host: nginx in front of the local instances, PostgreSQL beside them."""

import json
import urllib.request

from testinfra.host import Host

testinfra_hosts = ["hiload-mol-single"]


def test_every_service_runs(host: Host) -> None:
    for unit in ("nginx", "postgresql"):
        assert host.service(unit).is_running, unit
    instances = host.check_output("systemctl list-units --plain --no-legend 'hiload@*.service'")
    assert instances.count("running") >= 1, instances


def test_request_through_nginx_reaches_postgresql(host: Host) -> None:
    address = host.check_output("hostname -I").split()[0]
    with urllib.request.urlopen(f"http://{address}/readyz", timeout=10) as response:
        assert response.status == 200
    with urllib.request.urlopen(f"http://{address}/items/stats", timeout=10) as response:
        assert response.status == 200
        assert json.loads(response.read())["items"] >= 0
