"""Prometheus beside an app without metrics (hiload_app_metrics_path ""): it scrapes every exporter
and no app instance, leaves out the rules on the app's own metrics, and the converge said so."""

import os
from pathlib import Path

from conftest import GROUPS
from prometheus_checks import api, wait_targets_up
from testinfra.host import Host

testinfra_hosts = GROUPS["monitoring"]


def test_every_exporter_is_scraped_and_no_app_instance(host: Host) -> None:
    wait_targets_up(
        host,
        {
            "prometheus": 1,
            # One node exporter per host of the scenario; nginx's on the lb, PostgreSQL's on the db.
            "node": len({name for hosts in GROUPS.values() for name in hosts}),
            "nginx": len(GROUPS["lb"]),
            "postgres": len(GROUPS["db"]),
        },
    )


def test_no_rule_reads_the_apps_metrics(host: Host) -> None:
    groups = {group["name"]: group["rules"] for group in api(host, "rules")["groups"]}
    assert "hiload.recording" not in groups, sorted(groups)
    alerts = {rule["name"] for rules in groups.values() for rule in rules}
    assert "TargetDown" in alerts, sorted(alerts)
    on_app_metrics = {name for name in alerts if name.startswith("Hiload")}
    assert not on_app_metrics, f"alerts on metrics no app host serves: {sorted(on_app_metrics)}"
    assert "NginxUpstreamErrors" not in alerts


def test_the_converge_said_the_app_serves_no_metrics() -> None:
    # Whitespace collapsed: the log's YAML results fold long messages.
    log = " ".join(Path(os.environ["HILOAD_PLAYBOOK_LOG"]).read_text().split())
    assert "serve no metrics" in log, "the monitoring role said nothing of it"
