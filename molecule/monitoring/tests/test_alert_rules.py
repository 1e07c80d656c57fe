"""Every alert fires when it should and stays silent when it should not, on the rules as rendered.

promtool test rules runs files/hiload.rules.test.yml beside a copy of the live rules on both
releases (Prometheus 2.42 and 2.53); the tests are written for the thresholds molecule.yml pins.
"""

from pathlib import Path

import yaml
from testinfra.host import Host

testinfra_hosts = ["hiload-mol-monitoring-12", "hiload-mol-monitoring-13"]

RULES = "/etc/prometheus/rules/hiload.rules.yml"
RULE_TESTS = Path(__file__).resolve().parents[1] / "files/hiload.rules.test.yml"


def test_promtool_unit_tests_pass_on_the_live_rules(host: Host) -> None:
    # Beside a copy, not in the rules directory: Prometheus loads every *.yml there.
    workdir = host.check_output("mktemp -d")
    try:
        host.run_expect([0], "cp %s %s/", RULES, workdir)
        tests = f"{workdir}/{RULE_TESTS.name}"
        host.run_expect([0], "printf '%%s' %s > %s", RULE_TESTS.read_text(), tests)
        result = host.run("promtool test rules %s", tests)
    finally:
        host.run_expect([0], "rm -rf %s", workdir)
    assert result.rc == 0, f"promtool test rules:\n{result.stdout}{result.stderr}"


def test_every_alert_has_a_firing_and_a_silent_case(host: Host) -> None:
    groups = yaml.safe_load(host.file(RULES).content_string)["groups"]
    alerts = {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    cases = [case for test in tests for case in test.get("alert_rule_test", [])]
    firing = {case["alertname"] for case in cases if case.get("exp_alerts")}
    silent = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    assert sorted(alerts - firing) == [], "alerts without a case where they fire"
    assert sorted(alerts - silent) == [], "alerts without a case where they stay silent"
    assert sorted((firing | silent) - alerts) == [], "cases for alerts the rules no longer have"
