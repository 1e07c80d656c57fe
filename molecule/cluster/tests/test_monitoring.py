"""Prometheus on lb1 scrapes the clustered tier beside the rest of the stack: Patroni on every db
host, HAProxy and the PgBouncer exporter on every app host, all up and serving the series the
db cluster's alerts read; and those alerts pass files/hiload-db-cluster.rules.test.yml, run by
promtool beside a copy of the live rules."""

import re
import sys
from pathlib import Path
from typing import Any

from testinfra.host import Host

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from inventory import scenario_groups, scenario_host
from nginx_upstream import upstream_servers
from prometheus_checks import (
    api,
    assert_every_alert_has_a_firing_and_a_silent_case,
    assert_rule_tests_pass,
    live_alerts,
    query,
    rule_groups,
    wait_targets_up,
)

testinfra_hosts = ["hiload-mol-cl-lb1"]

RULES = "/etc/prometheus/rules/hiload.rules.yml"
RULE_TESTS = Path(__file__).resolve().parents[1] / "files/hiload-db-cluster.rules.test.yml"
# The rules group the monitoring role renders for a clustered tier (an etcd group).
CLUSTER_GROUP = "hiload.db_cluster"


def pgbouncer_exporter_hosts() -> list[str]:
    """The app hosts the exporters role runs the PgBouncer exporter on: Debian 13's (Debian
    12's exporter cannot read its PgBouncer)."""
    return [
        name
        for name in scenario_groups()["app"]
        if int(scenario_host(name).system_info.release.split(".")[0]) >= 13
    ]


def wait_every_target_up(host: Host) -> list[dict[str, Any]]:
    """Every job's targets up, one per host the inventory gives it: the cluster's too."""
    groups = scenario_groups()
    return wait_targets_up(
        host,
        {
            "prometheus": 1,
            # Instances nginx balances over, drained ones too: the app targets.
            "hiload_app": len(upstream_servers(host)),
            # One node exporter per host of the scenario.
            "node": len({name for hosts in groups.values() for name in hosts}),
            "nginx": len(groups["lb"]),
            "postgres": len(groups["db"]),
            "patroni": len(groups["db"]),
            "haproxy": len(groups["app"]),
            "pgbouncer": len(pgbouncer_exporter_hosts()),
        },
    )


def hosts_serving(monitoring_host: Host, expr: str) -> list[str]:
    """The scraped hosts (the target's host label) EXPR has a series of."""
    return sorted({sample["metric"]["host"] for sample in query(monitoring_host, expr)})


def test_every_target_is_up(host: Host) -> None:
    """And Patroni's are the db hosts, HAProxy's the app hosts, the PgBouncer exporter's the
    Debian 13 app host."""
    targets = wait_every_target_up(host)
    groups = scenario_groups()
    scraped = {
        job: sorted(t["labels"]["host"] for t in targets if t["labels"]["job"] == job)
        for job in ("patroni", "haproxy", "pgbouncer")
    }
    assert scraped == {
        "patroni": groups["db"],
        "haproxy": groups["app"],
        "pgbouncer": pgbouncer_exporter_hosts(),
    }


def test_prometheus_evaluates_the_cluster_rules_as_rendered(host: Host) -> None:
    alerts = live_alerts(host, RULES, CLUSTER_GROUP)
    assert alerts, f"no {CLUSTER_GROUP} group in {RULES}"
    assert rule_groups(host).get(CLUSTER_GROUP) == len(alerts)


def test_the_cluster_alerts_read_series_the_live_exporters_serve(host: Host) -> None:
    """Each Patroni series the alerts read comes from every db host, and each PgBouncer one from
    every host running the PgBouncer exporter: else an alert would stay silent whatever
    happens."""
    wait_every_target_up(host)
    groups = scenario_groups()
    loaded = {group["name"]: group["rules"] for group in api(host, "rules")["groups"]}
    assert CLUSTER_GROUP in loaded, sorted(loaded)
    exprs = " ".join(rule["query"] for rule in loaded[CLUSTER_GROUP])
    patroni = sorted(set(re.findall(r"\bpatroni_\w+", exprs)))
    pgbouncer = sorted(set(re.findall(r"\bpgbouncer_\w+", exprs)))
    assert patroni, exprs
    assert pgbouncer, exprs

    assert {metric: hosts_serving(host, metric) for metric in patroni} == {
        metric: groups["db"] for metric in patroni
    }
    assert {metric: hosts_serving(host, metric) for metric in pgbouncer} == {
        metric: pgbouncer_exporter_hosts() for metric in pgbouncer
    }


def test_promtool_unit_tests_pass_on_the_live_rules(host: Host) -> None:
    assert_rule_tests_pass(host, RULES, RULE_TESTS)


def test_every_cluster_alert_has_a_firing_and_a_silent_case(host: Host) -> None:
    alerts = live_alerts(host, RULES, CLUSTER_GROUP)
    assert alerts, f"no {CLUSTER_GROUP} group in {RULES}"
    assert_every_alert_has_a_firing_and_a_silent_case(alerts, RULE_TESTS)
