"""nginx_tls_redirect_http: rendered in check mode on the converged hosts, then turned on for
real and followed by a client to the upstream over verified HTTPS, then turned off again."""

import json
import sys
from pathlib import Path
from typing import Any

from conftest import CA, probe, worker_pids
from testinfra.host import Host

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from playbooks import assert_clean, run_playbook, scenario_playbook

CONFIG = "/etc/nginx/nginx.conf"


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


def converge(lbs: list[Host], extra_vars: dict[str, object] | None = None) -> None:
    """converge.yml's nginx configuration (with EXTRA_VARS), then wait until every lb it changed
    serves what it rendered: the reload returns before the old workers stop accepting."""
    workers = {lb.backend.hostname: ",".join(worker_pids(lb)) for lb in lbs}
    run = run_playbook(
        scenario_playbook(), "--tags", "nginx_config", extra_vars=extra_vars, timeout=900
    )
    assert_clean(run)
    for lb in lbs:
        if run.recap()[lb.backend.hostname]["changed"]:
            old = workers[lb.backend.hostname]
            lb.check_output(f"timeout 60 sh -c 'while ps -p {old} >/dev/null; do sleep 0.2; done'")


def get(lb: Host, url: str) -> dict[str, Any]:
    """GET URL from LB itself as a client would: following redirects, verifying HTTPS
    against the pki role's CA."""
    return probe(lb, url, "--once", "--follow", "--cafile", CA)


def upstream_saw(answer: dict[str, Any]) -> tuple[str, str]:
    """The path and X-Forwarded-Proto of the request the stub app answered."""
    echo = json.loads(answer["body"])
    headers = {k.lower(): v for k, v in echo["headers"].items()}
    return echo["path"], headers["x-forwarded-proto"]


def test_a_client_follows_the_redirect_to_the_upstream_over_verified_https(
    lbs: list[Host],
) -> None:
    configs = {lb.backend.hostname: lb.file(CONFIG).sha256sum for lb in lbs}
    try:
        converge(lbs, {"nginx_tls_redirect_http": True})
        for lb in lbs:
            # The redirect keeps the name the client asked for ($host), so ask by one the
            # certificate holds: the pki role issues it for the inventory name, which is the
            # container's hostname.
            name = lb.check_output("hostname")
            asked = f"http://{name}/redirected/page?q=1"
            moved = f"https://{name}/redirected/page?q=1"
            answer = get(lb, asked)
            assert answer["redirects"] == [{"url": asked, "status": 301, "location": moved}], answer
            assert (answer["url"], answer["status"]) == (moved, 200), answer
            assert upstream_saw(answer) == ("/redirected/page?q=1", "https"), answer
    finally:
        # Back to the scenario's own variables (redirect off), which later tests and the
        # shared check-mode test expect.
        converge(lbs)

    for lb in lbs:
        assert lb.file(CONFIG).sha256sum == configs[lb.backend.hostname], lb.backend.hostname
        answer = get(lb, f"http://{lb.check_output('hostname')}/plain/again")
        assert (answer["redirects"], answer["status"]) == ([], 200), answer
        assert upstream_saw(answer) == ("/plain/again", "http"), answer
