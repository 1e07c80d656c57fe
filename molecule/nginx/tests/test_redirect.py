"""nginx_tls_redirect_http, rendered in check mode on the converged hosts (nothing is changed)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from playbooks import run_playbook, scenario_playbook


def test_redirect_turns_plain_http_into_a_301_to_https() -> None:
    run = run_playbook(
        scenario_playbook(),
        *("--check", "--diff", "--tags", "nginx_config"),
        extra_vars={"nginx_tls_redirect_http": True},
        timeout=300,
    )
    assert run.returncode == 0, run.tail
    recap = run.recap()
    assert recap["hiload-mol-nginx-12"]["changed"] >= 1, run.tail
    assert recap["hiload-mol-nginx-13"]["changed"] >= 1, run.tail
    assert "+        return 301 https://$host$request_uri;" in run.stdout, run.tail
