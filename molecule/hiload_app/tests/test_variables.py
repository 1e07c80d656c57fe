"""hiload_app: a bad variable stops the play, naming it and only the rule it breaks, before
anything changes; right ones given as strings, as `-e key=value` gives them, are accepted."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from playbooks import assert_clean, assert_refused, run_playbook, scenario_playbook


def test_zero_instances_fails_naming_the_variable_before_any_change() -> None:
    # The role's own play; the postgresql play is tested by its own scenario.
    run = run_playbook(
        scenario_playbook(), "--tags", "hiload_app", extra_vars={"hiload_app_instances": 0}
    )
    assert_refused(run, "hiload_app_instances")
    # The callback may wrap the message: compare with whitespace collapsed.
    output = " ".join(run.output.split())
    assert "hiload_app_instances must be 1-256 (is 0)" in output, run.tail
    # The other rules of the same check hold, so the refusal does not state them.
    assert "hiload_app_base_port must" not in output, run.tail
    assert "hiload_app_base_port + hiload_app_instances must" not in output, run.tail


def test_a_cors_origin_with_a_path_fails_naming_the_variable_before_any_change() -> None:
    run = run_playbook(
        scenario_playbook(),
        "--tags",
        "hiload_app",
        extra_vars={"hiload_app_cors_origins": ["https://app.example.com/api"]},
    )
    assert_refused(run, "hiload_app_cors_origins")


def test_a_malformed_redis_url_fails_without_showing_its_password() -> None:
    run = run_playbook(
        scenario_playbook(),
        "--tags",
        "hiload_app",
        extra_vars={"hiload_app_redis_url": "redis:/hiload:n0t-in-any-log@cache:6379/0"},
    )
    assert_refused(run, "hiload_app_redis_url")
    assert "n0t-in-any-log" not in run.output


def test_numbers_and_booleans_given_as_strings_are_accepted() -> None:
    # The scenario's values as -e key=value gives them: the argument spec accepts the strings,
    # the checks, the derived ports and the release pruning convert them. Check mode; changes
    # are allowed, as the rollback tests may have left a release to prune.
    run = run_playbook(
        scenario_playbook(),
        "--check",
        "--tags",
        "hiload_app",
        extra_vars={
            "hiload_app_instances": "2",
            "hiload_app_base_port": "8000",
            "hiload_app_releases_kept": "3",
            "hiload_app_rollback": "false",
        },
    )
    assert_clean(run)
