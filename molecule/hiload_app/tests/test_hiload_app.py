"""hiload_app: instances under systemd, as the service user, with their limits, loop and parser."""

import re
import shlex

import pytest
from testinfra.host import Host

testinfra_hosts = ["app"]

INSTANCES = (1, 2)  # hiload_app_instances in molecule.yml
BASE_PORT = 8000
LIMIT_NOFILE = 16000  # hiload_app_limit_nofile in molecule.yml


def main_pid(host: Host, index: int) -> int:
    pid = int(host.check_output(f"systemctl show --property MainPID --value hiload@{index}"))
    assert pid > 0, f"hiload@{index} has no main process"
    return pid


def listen_address(host: Host) -> str:
    return host.ansible("setup", "filter=ansible_default_ipv4")["ansible_facts"][
        "ansible_default_ipv4"
    ]["address"]


def http_status(host: Host, url: str) -> int:
    script = (
        "import urllib.request, urllib.error\n"
        "try:\n"
        f"    print(urllib.request.urlopen({url!r}, timeout=5).status)\n"
        "except urllib.error.HTTPError as error:\n"
        "    print(error.code)\n"
    )
    return int(host.check_output(f"python3 -c {shlex.quote(script)}"))


@pytest.mark.parametrize("index", INSTANCES)
def test_instance_runs_as_the_service_user(host: Host, index: int) -> None:
    service = host.service(f"hiload@{index}")
    assert service.is_running
    assert service.is_enabled
    pid = main_pid(host, index)
    assert host.check_output(f"ps -o user= -p {pid}") == "hiload"
    assert host.user("hiload").shell == "/usr/sbin/nologin"


@pytest.mark.parametrize("index", INSTANCES)
def test_instance_listens_on_its_port(host: Host, index: int) -> None:
    address = listen_address(host)
    assert host.socket(f"tcp://{address}:{BASE_PORT + index}").is_listening


@pytest.mark.parametrize("index", INSTANCES)
def test_instance_has_the_open_files_limit(host: Host, index: int) -> None:
    limits = host.file(f"/proc/{main_pid(host, index)}/limits").content_string
    line = next(line for line in limits.splitlines() if line.startswith("Max open files"))
    assert line.split()[3:5] == [str(LIMIT_NOFILE), str(LIMIT_NOFILE)]


@pytest.mark.parametrize("index", INSTANCES)
def test_instance_runs_uvloop_and_httptools(host: Host, index: int) -> None:
    pid = main_pid(host, index)
    command = host.file(f"/proc/{pid}/cmdline").content_string.split("\0")
    assert command[command.index("--loop") + 1] == "uvloop"
    assert command[command.index("--http") + 1] == "httptools"
    # Loaded, not just asked for: the extension modules are mapped into the process.
    maps = host.file(f"/proc/{pid}/maps").content_string
    assert re.search(r"/uvloop/loop\.cpython-3\d+-x86_64-linux-gnu\.so", maps)
    assert re.search(r"/httptools/parser/parser\.cpython-3\d+-x86_64-linux-gnu\.so", maps)


@pytest.mark.parametrize("index", INSTANCES)
def test_instance_is_ready_with_postgresql(host: Host, index: int) -> None:
    url = f"http://{listen_address(host)}:{BASE_PORT + index}/readyz"
    assert http_status(host, url) == 200


def test_code_is_root_owned_and_read_only_to_the_service(host: Host) -> None:
    current = host.file("/opt/hiload/current")
    assert current.is_symlink
    assert current.linked_to.startswith("/opt/hiload/releases/")
    release = host.file(current.linked_to)
    assert release.user == "root"
    assert release.mode == 0o755
    assert host.run("runuser -u hiload -- test -w /opt/hiload/current/venv").rc != 0
    state = host.file("/var/lib/hiload")
    assert state.user == "hiload"


def test_settings_file_is_private_to_the_service_group(host: Host) -> None:
    settings = host.file("/etc/hiload/hiload.env")
    assert (settings.user, settings.group, settings.mode) == ("root", "hiload", 0o640)
    # The password is stored URL-encoded inside the DSN.
    assert "Test%3Ap%40ss%2Fw0rd%231%25@" in settings.content_string
    assert "HILOAD_DB_POOL_MAX" in settings.content_string
