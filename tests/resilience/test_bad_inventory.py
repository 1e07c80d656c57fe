"""Bad inventory values stop site.yml in its preflight, before any host is touched.

Each case is one thing wrong; the run must fail, name it in the preflight's one refusal, change
nothing anywhere and never reach the first play that changes hosts. The preflight names every
refusal of a run, so the cases share runs (RUNS), three runs at a time.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from playbooks import PlaybookRun, assert_refused, run_playbook
from stack import PROJECT, inventory_file

FIRST_CHANGING_PLAY = "PLAY [Tune every host's kernel and limits]"


@dataclass(frozen=True)
class Case:
    extra_vars: dict[str, object] = field(default_factory=dict)
    names: tuple[str, ...] = ()
    # An inventory where these groups hold exactly these hosts (none: the group is empty).
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)


CASES = {
    "wrong type": Case({"hiload_app_instances": "many"}, ("hiload_app_instances",)),
    "not a boolean": Case({"nginx_gzip_enabled": "perhaps"}, ("nginx_gzip_enabled",)),
    "out of range": Case({"nginx_upstream_keepalive": 8}, ("nginx_upstream_keepalive",)),
    # A number as -e key=value gives it (a string) is accepted as the argument spec accepts it;
    # the refusal is the fleet rule's alone, naming both variables.
    "listen backlog above somaxconn": Case(
        {"nginx_listen_backlog": "16384"}, ("host_tuning_somaxconn", "nginx_listen_backlog = 16384")
    ),
    "keep-alive shorter than nginx's": Case(
        {"hiload_app_timeout_keep_alive": 10},
        ("hiload_app_timeout_keep_alive", "nginx_upstream_keepalive_timeout"),
    ),
    # A pooled connection, then the query: up to twice the app's statement timeout.
    "app waits longer than nginx": Case(
        {"hiload_app_statement_timeout": 16},
        ("nginx_proxy_read_timeout (30s", "the 32.0s the app may wait"),
    ),
    "idle upstream connections fill the instances": Case(
        {"nginx_upstream_keepalive": 4096},
        ("nginx_upstream_keepalive", "hiload_app_limit_concurrency"),
    ),
    "connection budget over max_connections": Case(
        {"hiload_app_pool_max": 60}, ("postgresql_max_connections", "hiload_app_pool_max")
    ),
    # Not a net.* key: inside containers the kernel's global net.* keys are hidden, so only
    # the others can be checked there (on real hosts every key is).
    "unknown sysctl key": Case(
        {"host_tuning_sysctl_overrides": {"vm.no_such_key": 1}},
        ("host_tuning_sysctl_overrides", "vm.no_such_key"),
    ),
    "misspelled variable": Case(
        {"nginx_upstream_keepalve": 64},
        ("nginx_upstream_keepalve", "did you mean nginx_upstream_keepalive"),
    ),
    # An app of your own, described by hiload_app_* variables: each mistake is refused on the
    # controller, before any host changes.
    "missing project directory": Case(
        {"hiload_app_project_dir": "/nonexistent/app"}, ("hiload_app_project_dir", "pyproject.toml")
    ),
    # A playbook of one's own that passes no hiload_app_bundle_dir and names no app.
    "no app named": Case(
        {"hiload_app_project_dir": ""}, ("hiload_app_project_dir is empty", "hiload_app_bundle_dir")
    ),
    "malformed ASGI target": Case(
        {"hiload_app_asgi_app": "notes.app.create_app"}, ("hiload_app_asgi_app", "module:attribute")
    ),
    "Uvicorn option the role sets": Case(
        {"hiload_app_uvicorn_extra_options": ["--workers=4"]},
        ("hiload_app_uvicorn_extra_options", "--workers", "hiload_app_instances"),
    ),
    "unknown database field": Case(
        {"hiload_app_database_env": {"DATABASE_URL": "uri"}},
        ("hiload_app_database_env", "DATABASE_URL: uri"),
    ),
    # A string would pass the argument spec (split at commas into one item), then run as a program.
    "migrate command not a list": Case(
        {"hiload_app_migrate_command": "alembic upgrade head"},
        ("hiload_app_migrate_command", "list of strings"),
    ),
    # The app would log in as a role PostgreSQL never created, and fail mid-deploy.
    "app's database user not the one created": Case(
        {"hiload_app_database_user": "notes"},
        ("notes@hiload", "hiload_app_database_user", "postgresql_app_user"),
    ),
    # An app's own pool, declared per process, counts in the fleet's budget.
    "declared connections over max_connections": Case(
        {"hiload_app_db_connections_per_process": 60},
        ("postgresql_max_connections", "hiload_app_db_connections_per_process"),
    ),
    # Every retired variable set is named in the one refusal, each with what replaces it.
    "retired variables": Case(
        {
            "hiload_app_rollback": True,
            "hiload_app_process_model": "workers",
            "redis_allowed_clients": ["192.0.2.10"],
        },
        (
            "hiload_app_rollback is gone",
            "playbooks/rollback.yml",
            "hiload_app_process_model is gone",
            "bench/stack/naive.yml",
            "redis_allowed_clients is gone",
            "firewall_extra_rules",
        ),
    ),
    # monitoring and smoke_test run last in site.yml: the preflight checks them before any host
    # changes all the same, on the monitoring and lb hosts.
    "alert threshold out of range": Case(
        {"monitoring_alert_error_ratio": 5}, ("monitoring_alert_error_ratio", "between 0 and 1")
    ),
    "scrape target not in the inventory": Case(
        {"monitoring_exporter_hosts": ["hiload-mol-lb1", "hiload-mol-gone"]},
        ("monitoring_exporter_hosts", "hiload-mol-gone"),
    ),
    # Two rules of alertmanager's one check, each named in the refusal.
    "default receiver not among the receivers": Case(
        {"alertmanager_default_receiver": "pager"},
        ("alertmanager_default_receiver is pager", "no receiver of alertmanager_receivers"),
    ),
    "webhook URL without a scheme": Case(
        {"alertmanager_receivers": [{"name": "default", "webhook_urls": ["hooks.example.com/x"]}]},
        ("webhook_urls must be http:// or https:// URLs", "hooks.example.com/x"),
    ),
    "smoke test URL without a scheme": Case(
        {"smoke_test_base_url": "127.0.0.1:8080"}, ("smoke_test_base_url", "http:// or https://")
    ),
    "empty app group": Case(names=("'app' has no hosts",), groups={"app": ()}),
    "two cache hosts": Case(
        names=("'cache' has 2 hosts", "one Redis"),
        groups={"cache": ("hiload-mol-db1", "hiload-mol-app1")},
    ),
    # Two rules of one check: one repository, never on the database host it backs up.
    "backup group of two, one a db host": Case(
        names=("has 2 hosts", "one pgBackRest repository", "lost with it"),
        groups={"backup": ("hiload-mol-db1", "hiload-mol-app1")},
    ),
    "backup host without a passphrase": Case(
        names=("backup_repository_passphrase", "at least 20 characters"),
        groups={"backup": ("hiload-mol-lb1",)},
    ),
}


# The cases' runs. A run holds at most one case per check (a role's checks stop at its first
# refusing task: its argument spec, then each of its tasks in turn) and one regrouping per
# group; the rules across roles and hosts run only once every host's own checks hold, so their
# cases share runs of their own (roles/preflight/README.md).
RUNS = (
    (
        "empty app group",
        "two cache hosts",
        "backup group of two, one a db host",
        "misspelled variable",
        "retired variables",
        "not a boolean",
        "unknown sysctl key",
        "alert threshold out of range",
        "default receiver not among the receivers",
        "webhook URL without a scheme",
        "smoke test URL without a scheme",
    ),
    # A wrong instance count leaves the app hosts no instances, which nginx's and the firewall's
    # checks then refuse too: with no case of theirs.
    ("backup host without a passphrase", "wrong type", "scrape target not in the inventory"),
    # hiload_app's rules are one check, naming every rule a run breaks: the app's source, the
    # ASGI target and Uvicorn's options, the environment, the migrations.
    (
        "missing project directory",
        "out of range",
        "malformed ASGI target",
        "Uvicorn option the role sets",
        "unknown database field",
        "migrate command not a list",
    ),
    # The other mistake of hiload_app_project_dir; no other run's app hosts reach the rules (no
    # app group, a wrong type) or may refuse one (the rules across hosts).
    ("no app named",),
    (
        "listen backlog above somaxconn",
        "keep-alive shorter than nginx's",
        "app waits longer than nginx",
        "idle upstream connections fill the instances",
        "connection budget over max_connections",
        "app's database user not the one created",
    ),
    # The budget again, from an app's own declared pool alone.
    ("declared connections over max_connections",),
)


def inventory_regrouped(groups: dict[str, tuple[str, ...]], directory: Path) -> str:
    """A copy of the scenario's inventory (with its group_vars) where GROUPS hold those hosts."""
    source = Path(inventory_file())
    copy = directory / "inventory"
    shutil.copytree(source.parent, copy)
    inventory = yaml.safe_load(source.read_text())
    for group, hosts in groups.items():
        inventory[group] = {"hosts": dict.fromkeys(hosts)}
    (copy / source.name).write_text(yaml.safe_dump(inventory))
    return str(copy / source.name)


def run_case(case: Case, directory: Path) -> PlaybookRun:
    inventory = inventory_regrouped(case.groups, directory) if case.groups else None
    return run_playbook(
        PROJECT / "site.yml", extra_vars=case.extra_vars, inventory=inventory, timeout=900
    )


def merged(cases: Iterable[Case]) -> Case:
    """One case with every mistake of CASES at once."""
    merged_case = Case()
    for case in cases:
        for field_name in ("extra_vars", "groups"):
            clash = getattr(merged_case, field_name).keys() & getattr(case, field_name).keys()
            assert not clash, f"cases of one run set {sorted(clash)} twice"
        merged_case = Case(
            merged_case.extra_vars | case.extra_vars,
            merged_case.names + case.names,
            merged_case.groups | case.groups,
        )
    return merged_case


def run_cases(
    cases: dict[str, Case],
    runs: tuple[tuple[str, ...], ...],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, PlaybookRun]:
    """Each case's run: every one of RUNS makes all its cases' mistakes at once, three runs at a
    time."""
    assert sorted(name for run in runs for name in run) == sorted(cases), "each case in one run"
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [
            (
                run,
                pool.submit(
                    run_case, merged(cases[name] for name in run), tmp_path_factory.mktemp("run")
                ),
            )
            for run in runs
        ]
        return {name: future.result() for run, future in futures for name in run}


def preflight_refusal(run: PlaybookRun) -> str:
    """The preflight's one refusal (roles/preflight/tasks/report.yml), from its error line."""
    refusal = re.search(
        r"^\[ERROR\]: .*?(The preflight refused this inventory.*)$", run.output, re.M
    )
    assert refusal, f"no refusal of the preflight:\n{run.tail}"
    return refusal[1]


def assert_stopped_in_preflight(run: PlaybookRun, case: Case) -> None:
    """The run was refused, the preflight's one refusal naming every one of the case's names,
    before the first changing play."""
    assert_refused(run, *case.names)
    refusal = preflight_refusal(run)
    missing = [name for name in case.names if name not in refusal]
    assert not missing, f"the preflight's refusal does not name {missing}: {refusal}"
    assert FIRST_CHANGING_PLAY not in run.stdout, f"went past the preflight:\n{run.tail}"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, PlaybookRun]:
    return run_cases(CASES, RUNS, tmp_path_factory)


@pytest.mark.parametrize("name", CASES)
def test_bad_value_stops_in_preflight_naming_it(runs: dict[str, PlaybookRun], name: str) -> None:
    assert_stopped_in_preflight(runs[name], CASES[name])
