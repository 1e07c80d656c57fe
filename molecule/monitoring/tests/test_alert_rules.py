"""Every alert fires when it should and stays silent when it should not, on the rules as rendered.

promtool test rules runs files/hiload.rules.test.yml beside a copy of the live rules on both
releases (Prometheus 2.42 and 2.53); the tests are written for the thresholds molecule.yml pins.
"""

import sys
from pathlib import Path

from testinfra.host import Host

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from prometheus_checks import (
    assert_every_alert_has_a_firing_and_a_silent_case,
    assert_rule_tests_pass,
    live_alerts,
)

testinfra_hosts = ["hiload-mol-monitoring-12", "hiload-mol-monitoring-13"]

RULES = "/etc/prometheus/rules/hiload.rules.yml"
RULE_TESTS = Path(__file__).resolve().parents[1] / "files/hiload.rules.test.yml"


def test_promtool_unit_tests_pass_on_the_live_rules(host: Host) -> None:
    assert_rule_tests_pass(host, RULES, RULE_TESTS)


def test_every_alert_has_a_firing_and_a_silent_case(host: Host) -> None:
    assert_every_alert_has_a_firing_and_a_silent_case(live_alerts(host, RULES), RULE_TESTS)
