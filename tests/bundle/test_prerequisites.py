"""A missing or broken prerequisite stops the make targets with a message naming it and the fix.

These run the real scripts, as an unprivileged user where the point is "no root".
"""

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"


def run_as_nobody(command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", "nobody", "--", "env", *(f"{k}={v}" for k, v in env.items()), *command],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=ROOT,
    )


def assert_clear_failure(result: subprocess.CompletedProcess[str], *phrases: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output
    for phrase in phrases:
        assert phrase in output, output


@pytest.fixture
def no_engine() -> dict[str, str]:
    """An environment in which `docker info` cannot reach any engine."""
    return {
        "DOCKER_HOST": "unix:///nonexistent/docker.sock",
        "HILOAD_STATE_DIR": "/tmp/hiload-nobody",
    }


def test_engine_without_root_names_the_fix(no_engine: dict[str, str]) -> None:
    result = run_as_nobody(["bash", str(SCRIPTS / "ensure-engine.sh")], **no_engine)
    assert_clear_failure(result, "ERROR:", "root")


def test_missing_package_without_root_names_the_command(no_engine: dict[str, str]) -> None:
    script = f". {SCRIPTS / 'lib.sh'}; need_debian_packages hiload-no-such-package"
    result = run_as_nobody(["bash", "-c", script], **no_engine)
    assert_clear_failure(result, "hiload-no-such-package", "sudo apt-get install")


def test_image_build_without_root_names_debootstrap(no_engine: dict[str, str]) -> None:
    result = run_as_nobody(
        ["bash", str(SCRIPTS / "build-images.sh"), "hiload-test-release"], **no_engine
    )
    assert_clear_failure(result, "debootstrap needs root", "debian:hiload-test-release")


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def run_lab_container(tmp_path: Path, role_vars: str) -> subprocess.CompletedProcess[str]:
    """ansible-playbook on a play applying the lab_container role with ROLE_VARS (YAML lines)."""
    playbook = tmp_path / "lab.yml"
    playbook.write_text(
        "- hosts: localhost\n"
        "  gather_facts: false\n"
        "  roles:\n"
        "    - role: lab_container\n" + role_vars
    )
    return subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), str(playbook)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "ANSIBLE_ROLES_PATH": str(ROOT / "roles")},
    )


def assert_no_container(name: str, why: str) -> None:
    inspect = subprocess.run(
        ["docker", "container", "inspect", name], capture_output=True, check=False
    )
    assert inspect.returncode != 0, f"the container was created although {why}"


def test_lab_port_taken_is_refused_before_any_container(taken_port: int, tmp_path: Path) -> None:
    name = "hiload-test-port-taken"
    result = run_lab_container(
        tmp_path,
        "      lab_container_network: hiload-test-port\n"
        f"      lab_container_hosts: [{{name: {name}, image: hiload-systemd:bookworm,"
        f" published_ports: ['127.0.0.1:{taken_port}:80']}}]\n",
    )
    assert_clear_failure(result, f"Port 127.0.0.1:{taken_port} is already taken")
    assert_no_container(name, "its port was taken")


def test_lab_address_outside_the_subnet_is_refused_before_any_container(tmp_path: Path) -> None:
    name = "hiload-test-misplaced"
    result = run_lab_container(
        tmp_path,
        "      lab_container_network: hiload-test-misplaced\n"
        "      lab_container_subnet: 172.30.58.0/24\n"
        f"      lab_container_hosts: [{{name: {name}, image: hiload-systemd:bookworm,"
        " address: 172.30.59.4}]\n",
    )
    assert_clear_failure(result, f"{name}: a fixed address", "172.30.58.0/24", "lab_subnet")
    assert_no_container(name, "its address lies outside the subnet")
    network = subprocess.run(
        ["docker", "network", "inspect", "hiload-test-misplaced"], capture_output=True, check=False
    )
    assert network.returncode != 0, "the network was created although the address was refused"
