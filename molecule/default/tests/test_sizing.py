"""What the README promises about sizing, checked where it runs: one instance per vCPU by
default, each instance's pool as large as the role derives (vCPUs x multiplier shared over the
instances), and the fleet's connections within PostgreSQL's max_connections as the preflight
counts them. Read from the processes themselves (/metrics), not from the files the role wrote."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from testinfra.host import Host

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from inventory import scenario_groups, scenario_host
from prometheus_checks import FETCH
from reachability import role_default

testinfra_hosts = ["hiload-mol-lb1"]

APP_HOSTS = scenario_groups()["app"]
DB_HOST = "hiload-mol-db1"


def pool_max(lb: Host, address: str, port: int) -> int:
    metrics = lb.check_output(f"python3 -c '{FETCH}' http://{address}:{port}/metrics")
    match = re.search(r'^hiload_db_pool_max\{pool="primary"\} (\S+)$', metrics, re.MULTILINE)
    assert match, f"{address}:{port}/metrics has no hiload_db_pool_max"
    return int(float(match.group(1)))


def test_instances_pools_and_the_fleet_budget(host: Host) -> None:
    multiplier = role_default("hiload_app", "hiload_app_pool_multiplier")
    base_port = role_default("hiload_app", "hiload_app_base_port")
    fleet = 0
    for name in APP_HOSTS:
        app = scenario_host(name)
        vcpus = int(app.check_output("nproc"))
        units = app.check_output(
            "systemctl list-units 'hiload@*.service' --state=active --no-legend --plain"
        ).splitlines()
        assert len(units) == vcpus, f"{name}: {len(units)} instances for {vcpus} vCPUs"
        derived = max(1, vcpus * multiplier // len(units))
        address = app.check_output("hostname -I").split()[0]
        pools = [pool_max(host, address, base_port + i) for i in range(1, len(units) + 1)]
        assert pools == [derived] * len(units), f"{name}: pools {pools}, derived {derived}"
        fleet += sum(pools)
    max_connections = int(
        scenario_host(DB_HOST).check_output(
            "runuser -u postgres -- psql -Atc 'SHOW max_connections'"
        )
    )
    reserved = role_default("preflight", "preflight_db_reserved_connections")
    assert fleet + reserved <= max_connections, (fleet, reserved, max_connections)
