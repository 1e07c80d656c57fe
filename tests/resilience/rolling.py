"""A rolling deploy or rollback under a steady stream of GETs and POSTs through nginx.

Shared by tests/resilience (five nodes), molecule/single-host (one host) and molecule/own_app
(an app of one's own, through AppUnderRollout).
"""

from __future__ import annotations

import json
import operator
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from pathlib import Path

from loadgen import BUNDLED_ITEMS, ItemApi, Outcome, SteadyLoad
from playbooks import assert_clean, run_playbook
from releases import another_wheelhouse
from stack import PROJECT, Stack


def bundled_release(workdir: Path, suffix: str) -> tuple[dict[str, object], str]:
    """Another build of the bundled service, deployed from its wheelhouse as it is: deploy.yml's
    extra variables for it, and its version."""
    wheelhouse, version = another_wheelhouse(PROJECT, workdir, suffix)
    extra: dict[str, object] = {
        "hiload_app_wheelhouse_dir": str(wheelhouse),
        "hiload_app_wheelhouse_build_script": "",
    }
    return extra, version


@dataclass(frozen=True)
class AppUnderRollout:
    """The app a rolling deploy changes under load: the API the steady load uses, where the app
    says its version (the JSON of a GET of version_path, at version_key), and how another
    release of it is made: another_release(workdir, suffix) gives deploy.yml's extra variables
    for it and its version. The default is the bundled service."""

    api: ItemApi = BUNDLED_ITEMS
    version_path: str = "/openapi.json"
    version_key: tuple[str, ...] = ("info", "version")
    another_release: Callable[[Path, str], tuple[dict[str, object], str]] = bundled_release


BUNDLED = AppUnderRollout()


def served_versions(stack: Stack, samples: int = 12, app: AppUnderRollout = BUNDLED) -> set[str]:
    """Versions the app answers with through nginx (the bundled service's: openapi.json's
    info.version)."""
    versions = set()
    for _ in range(samples):
        status, _, body = stack.get(app.version_path)
        assert status == 200
        versions.add(str(reduce(operator.getitem, app.version_key, json.loads(body))))
    return versions


def nginx_upstream_errors(stack: Stack) -> int:
    """Lines nginx logged about failing to reach or read an app instance, on every lb."""
    total = 0
    for name in stack.groups["lb"]:
        log = stack.host(name).run(
            "grep -cE 'upstream|connect\\(\\) failed' /var/log/nginx/error.log"
        )
        # grep -c: 0 found some, 1 found none; 2 could not read the log, which proves nothing.
        assert log.rc in (0, 1), f"{name}: nginx's error.log unreadable: {log.stderr.strip()}"
        total += int(log.stdout.strip())
    return total


def nginx_error_tail(stack: Stack, lines: int = 30) -> str:
    """The end of every lb's error.log: what nginx saw of a failed request."""
    return "\n".join(
        f"{name}: {stack.host(name).run(f'tail -n {lines} /var/log/nginx/error.log').stdout}"
        for name in stack.groups["lb"]
    )


# The service logs "Unhandled error on ..." with the traceback; Uvicorn, "Exception in ASGI
# application" for what escapes the app (a 500 of its own).
APP_ERRORS = (
    "journalctl -u 'hiload@*' -o cat --no-pager"
    " | grep -A 30 -E 'Unhandled error|Exception in ASGI application' | tail -n {lines}"
)


def app_error_tail(stack: Stack, lines: int = 60) -> str:
    """The app's own account of a 500: the last unhandled errors in each app host's journal."""
    return "\n".join(
        f"{name}: {stack.host(name).run(APP_ERRORS.format(lines=lines)).stdout}"
        for name in stack.groups["app"]
    )


def server_side_tails(stack: Stack) -> str:
    """What nginx and the app logged of failed requests, for an assertion's message."""
    return f"nginx's error.log:\n{nginx_error_tail(stack)}\napp errors:\n{app_error_tail(stack)}"


def assert_no_failures(
    load: SteadyLoad,
    what: str,
    minimum: int = 50,
    methods: tuple[str, ...] = ("GET", "POST"),
    stack: Stack | None = None,
) -> None:
    """No request of METHODS failed, and both kinds of client were in the load: a proof made only
    of fresh connections would say nothing of kept-alive ones, which servers close under them.
    Given the STACK, a failure's message ends with what nginx and the app logged."""
    kinds = load.kinds()
    assert kinds["requests"] >= minimum, f"{what}: only {kinds['requests']} requests were sent"
    assert kinds["kept_alive"] >= kinds["requests"] // 4, f"{what}: too few kept-alive: {kinds}"
    failed = [
        (o.method, o.path, o.status, o.reused, round(o.started, 2), round(o.seconds, 3))
        for o in load.failures()
        if o.method in methods
    ]
    assert not failed, (
        f"{what}: {len(failed)} of {kinds['requests']} failed ({kinds}): {failed[:20]}"
        + (f"\n{server_side_tails(stack)}" if stack else "")
    )


def rollout(
    stack: Stack,
    playbook: str,
    item_ids: list[int],
    ledger: list[Outcome],
    api: ItemApi = BUNDLED_ITEMS,
    **extra: object,
) -> dict[str, object]:
    errors_before = nginx_upstream_errors(stack)
    started = time.monotonic()
    with SteadyLoad(
        stack.lb_url, item_ids, gets_per_second=30, posts_per_second=3, api=api
    ) as load:
        run = run_playbook(PROJECT / "playbooks" / playbook, extra_vars=extra or None, timeout=1500)
    ledger.extend(o for o in load.outcomes if o.method == "POST")
    assert_clean(run)
    assert_no_failures(load, playbook, stack=stack)
    # Drained before every restart: nginx never even tried an instance that was going away.
    assert nginx_upstream_errors(stack) == errors_before, "nginx logged upstream errors"
    return {
        **load.kinds(),
        "posts": sum(o.method == "POST" for o in load.outcomes),
        "seconds": round(time.monotonic() - started),
    }


def deploy_and_roll_back(
    stack: Stack,
    item_ids: list[int],
    ledger: list[Outcome],
    workdir: Path,
    suffix: str,
    serial: int = 1,
    app: AppUnderRollout = BUNDLED,
) -> None:
    """deploy.yml of another release of APP, then rollback.yml, each under the steady stream and
    SERIAL app hosts per batch; the new version is served after the first, the old one again
    after the second. Records both."""
    before = served_versions(stack, app=app)
    release, version = app.another_release(workdir, suffix)
    deployed = rollout(
        stack, "deploy.yml", item_ids, ledger, app.api, rollout_serial=serial, **release
    )
    assert served_versions(stack, app=app) == {version}
    rolled_back = rollout(stack, "rollback.yml", item_ids, ledger, app.api, rollout_serial=serial)
    assert served_versions(stack, app=app) == before
    stack.record(rolling_deploy={**deployed, "serial": serial}, rollback=rolled_back)
