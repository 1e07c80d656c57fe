"""hiload_app releases: a second build becomes a new release, an instance that never gets ready
stops the deploy with its journal, and the role's rollback entry point brings the first release
back."""

import os
import re
import sys
from pathlib import Path

import pytest
import testinfra

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from playbooks import assert_clean, run_playbook, scenario_playbook
from releases import another_wheelhouse

PROJECT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
HOSTS = ("hiload-mol-hiload-app-12", "hiload-mol-hiload-app-13")
PORT = 8001


def converge(
    extra_vars: dict[str, object], succeed: bool = True, playbook: str = "converge.yml"
) -> str:
    run = run_playbook(
        scenario_playbook(playbook), "--tags", "hiload_app", extra_vars=extra_vars, timeout=900
    )
    if succeed:
        assert_clean(run)
    else:
        assert run.returncode != 0, f"the run did not fail:\n{run.tail}"
    return run.output


def served(name: str) -> tuple[str, str]:
    """The release hiload@1's process runs from, and the version it serves."""
    host = testinfra.get_host(
        f"ansible://{name}?ansible_inventory={os.environ['MOLECULE_INVENTORY_FILE']}"
    )
    pid = host.check_output("systemctl show --property MainPID --value hiload@1")
    python = host.file(f"/proc/{pid}/cmdline").content_string.split("\0")[0]
    release = re.sub(r"/venv/bin/python3(\.\d+)?$", "", python)
    address = host.check_output("ip -4 -o route get 1.1.1.1").split(" src ")[1].split()[0]
    script = (
        "import json, urllib.request; print(json.load(urllib.request.urlopen("
        f"'http://{address}:{PORT}/openapi.json', timeout=5))['info']['version'])"
    )
    return release, host.check_output(f"python3 -c {script!r}")


Releases = dict[str, dict[str, tuple[str, str]]]


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Releases, str]:
    first = {name: served(name) for name in HOSTS}
    wheelhouse, _ = another_wheelhouse(
        PROJECT, tmp_path_factory.mktemp("second-build"), "rollbacktest"
    )
    second_build = {
        "hiload_app_wheelhouse_dir": str(wheelhouse),
        "hiload_app_wheelhouse_build_script": "",
    }
    converge(second_build)
    second = {name: served(name) for name in HOSTS}
    # An address the host does not have (TEST-NET-1): the migrations pass, instance 1 restarts,
    # cannot bind, never gets ready, and the play stops there.
    broken = converge(
        {**second_build, "hiload_app_listen_address": "192.0.2.1", "hiload_app_ready_retries": 3},
        succeed=False,
    )
    # The rollback also restores the unit: every instance comes back, one at a time.
    converge({}, playbook="rollback.yml")
    rolled_back = {name: served(name) for name in HOSTS}
    return {"first": first, "second": second, "rolled_back": rolled_back}, broken


@pytest.mark.parametrize("name", HOSTS)
def test_a_new_build_is_a_new_release(releases: tuple[Releases, str], name: str) -> None:
    first_release, first_version = releases[0]["first"][name]
    second_release, second_version = releases[0]["second"][name]
    assert second_release != first_release
    assert second_release.startswith("/opt/hiload/releases/")
    assert second_version.endswith("+rollbacktest")
    assert first_version != second_version


def test_an_instance_never_ready_stops_the_deploy_with_its_journal(
    releases: tuple[Releases, str],
) -> None:
    output = " ".join(releases[1].split())
    assert "hiload@1 did not answer" in output
    assert "journalctl -u hiload@1 -n 20" in output
    # The journal lines themselves: Uvicorn's own reason.
    assert "assign requested address" in output.lower()
    assert "hiload@2 did not answer" not in output


@pytest.mark.parametrize("name", HOSTS)
def test_rollback_serves_the_previous_release(releases: tuple[Releases, str], name: str) -> None:
    assert releases[0]["rolled_back"][name] == releases[0]["first"][name]
