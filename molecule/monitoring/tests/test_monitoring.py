"""Prometheus on both releases scrapes every stub app instance and exporter, with hiload's rules."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from prometheus_checks import query, rule_groups, wait_targets_up

testinfra_hosts = ["hiload-mol-monitoring-12", "hiload-mol-monitoring-13"]

DASHBOARD = (
    Path(__file__).resolve().parents[3] / "roles/monitoring/files/grafana/hiload-dashboard.json"
)
# Two stub instances per host, a node exporter on both, PostgreSQL's exporter on the db host.
EXPECTED_TARGETS = {"prometheus": 1, "hiload_app": 4, "node": 2, "postgres": 1}


def test_config_and_rules_pass_promtool(host):
    host.run_expect([0], "promtool check config /etc/prometheus/prometheus.yml")
    host.run_expect([0], "promtool check rules /etc/prometheus/rules/hiload.rules.yml")


def test_every_expected_target_is_up(host):
    targets = wait_targets_up(host, EXPECTED_TARGETS)
    app = sorted(
        t["scrapeUrl"].rsplit(":", 1)[1] for t in targets if t["labels"]["job"] == "hiload_app"
    )
    # Debian 12 publishes hiload_app_endpoints; Debian 13's two come from hiload_app_base_port 8100.
    assert app == ["8001/metrics", "8002/metrics", "8101/metrics", "8102/metrics"]


def test_rules_are_loaded(host):
    assert rule_groups(host) == {"hiload.recording": 6, "hiload.alerts": 9, "hiload.backup": 4}


def test_postgres_exporter_reaches_the_server(host):
    wait_targets_up(host, EXPECTED_TARGETS)
    assert [r["value"][1] for r in query(host, "pg_up")] == ["1"]


def test_dashboard_queries_parse(host):
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert exprs
    for expr in exprs:
        query(host, expr.replace("$__rate_interval", "1m").replace("$instance", ".*"))


@pytest.mark.parametrize("unit", ["prometheus", "prometheus-node-exporter"])
def test_units_are_hardened(host, unit):
    show = host.check_output(f"systemctl show {unit} -p ProtectSystem -p NoNewPrivileges")
    assert "ProtectSystem=strict" in show
    assert "NoNewPrivileges=yes" in show
    assert host.service(unit).is_running


def test_exporters_listen_on_the_private_address_only(host):
    listening = host.check_output("ss -ltnH 'sport = :9100'").split()[3]
    assert not listening.startswith(("0.0.0.0", "*", "[::]", "127."))
