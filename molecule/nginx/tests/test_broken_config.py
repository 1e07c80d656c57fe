"""A configuration nginx -t refuses, from a value the role's own checks accept, never goes live:
the template's validate stops it before /etc/nginx/nginx.conf is replaced, nginx is not
reloaded, and requests through the lb meanwhile are all served."""

import json
import shlex
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import probe_command
from testinfra.host import Host

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from playbooks import assert_refused, run_playbook, scenario_playbook

# A 33-bit mask: the argument spec takes any list of strings and validate.yml has no rule for
# the exempt clients, but nginx's geo block refuses it as an "invalid network".
BROKEN_CIDR = "10.0.0.0/33"
CONFIG = "/etc/nginx/nginx.conf"
# Paced requests, each on a new connection, until a stop file appears after the run. The count
# only bounds a load whose stop never comes: at this pace it lasts longer (over 1000 s) than the
# run may (RUN_TIMEOUT), so it cannot run out while the run is still going.
LOAD_REQUESTS = 20000
LOAD_PACE = "0.05"
RUN_TIMEOUT = 900


def serving_processes(lb: Host) -> tuple[str, list[str]]:
    """nginx's master and its serving workers (not old ones still shutting down)."""
    master = lb.file("/run/nginx.pid").content_string.strip()
    workers = lb.run("pgrep -f '^nginx: worker process$'").stdout.split()
    return master, sorted(workers)


def test_a_configuration_nginx_t_refuses_never_goes_live(lbs: list[Host]) -> None:
    token = uuid.uuid4().hex
    path = f"/during-broken-config/{token}"
    stop = f"/run/hiload-load-{token}.stop"
    # From 127.0.0.1, which the live configuration exempts from the rate limit: every request
    # should be a 200.
    load = probe_command(
        f"http://127.0.0.1{path}",
        *("--fresh", "--requests", str(LOAD_REQUESTS), "--pace", LOAD_PACE),
        *("--stop-file", stop),
    )
    # Bounded wait for the load's first request in the access log, so it is running before the
    # run starts; it stops only after the run ends.
    under_way = f"until grep -qF {shlex.quote(path)} /var/log/nginx/access.log; do sleep 0.5; done"
    before = {lb.backend.hostname: (lb.file(CONFIG).sha256sum, serving_processes(lb)) for lb in lbs}

    with ThreadPoolExecutor(max_workers=len(lbs)) as pool:
        loads = [pool.submit(lb.check_output, load) for lb in lbs]
        try:
            for lb in lbs:
                lb.check_output(f"timeout 120 sh -c {shlex.quote(under_way)}")
            run = run_playbook(
                scenario_playbook(),
                *("--tags", "nginx_config"),
                extra_vars={"nginx_rate_limit_exempt": ["127.0.0.1", "::1", BROKEN_CIDR]},
                timeout=RUN_TIMEOUT,
            )
        finally:
            for lb in lbs:
                lb.run(f"touch {stop}")
        results = [json.loads(load.result()) for load in loads]
    for lb in lbs:
        lb.run(f"rm -f {stop}")

    # The template task's validate output: nginx -t's complaint, naming the value.
    assert_refused(run, "failed to validate", "[emerg]", "invalid network", BROKEN_CIDR)
    recap = run.recap()
    for lb, result in zip(lbs, results, strict=True):
        name = lb.backend.hostname
        assert recap[name]["failed"], f"{name} did not fail:\n{run.tail}"
        assert (lb.file(CONFIG).sha256sum, serving_processes(lb)) == before[name], (
            f"{name}: nginx.conf was replaced or nginx reloaded or restarted"
        )
        served = sum(result["statuses"].values())
        assert result["error_count"] == 0, (name, result)
        assert result["statuses"] == {"200": served}, (name, result)
        assert 0 < served < LOAD_REQUESTS, f"{name}: the load ended before the run did: {result}"
