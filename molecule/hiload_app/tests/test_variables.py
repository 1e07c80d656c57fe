"""hiload_app: a bad variable stops the play, naming it, before anything changes."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from playbooks import assert_refused, run_playbook, scenario_playbook


def test_zero_instances_fails_naming_the_variable_before_any_change() -> None:
    # The role's own play; the postgresql play is tested by its own scenario.
    run = run_playbook(
        scenario_playbook(), "--tags", "hiload_app", extra_vars={"hiload_app_instances": 0}
    )
    assert_refused(run, "hiload_app_instances")
    # The callback may wrap the message: compare with whitespace collapsed.
    assert "hiload_app_instances must be 1..256 (got 0)" in " ".join(run.output.split())


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
