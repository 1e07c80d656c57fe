"""Prometheus on lb1 scrapes every instance and exporter of the five-node stack."""

import sys
from pathlib import Path

from testinfra.host import Host

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from inventory import scenario_groups
from nginx_upstream import upstream_servers
from prometheus_checks import assert_burst_counted, query, rule_groups, wait_targets_up

testinfra_hosts = ["hiload-mol-lb1"]


def test_every_target_is_up(host: Host) -> None:
    expected = {
        "prometheus": 1,
        # Instances nginx balances over, drained ones too: the app targets.
        "hiload_app": len(upstream_servers(host)),
        # One node exporter per host of the scenario.
        "node": len({name for hosts in scenario_groups().values() for name in hosts}),
        "nginx": 1,
        "postgres": 1,
        "redis": 1,
    }
    wait_targets_up(host, expected)


def test_the_redis_exporter_logs_in(host: Host) -> None:
    """Its target is up even when Redis refuses it: redis_up says whether it logged in."""
    values = [sample["value"][1] for sample in query(host, "redis_up")]
    assert values == ["1"], f"redis_up is {values}: the exporter cannot log in to Redis"


def test_config_and_rules_pass_promtool(host: Host) -> None:
    host.run_expect([0], "promtool check config /etc/prometheus/prometheus.yml")
    host.run_expect([0], "promtool check rules /etc/prometheus/rules/hiload.rules.yml")


def test_rules_are_loaded(host: Host) -> None:
    groups = rule_groups(host)
    assert groups
    assert all(count > 0 for count in groups.values()), groups


def test_request_burst_shows_in_counter_and_histogram(host: Host) -> None:
    assert_burst_counted(host, host, requests=200)
