"""hiload_app: instances under systemd, as the service user, with their limits, loop and parser."""

import re

import pytest
from conftest import INSTANCES, run_probe
from testinfra.host import Host

testinfra_hosts = ["app"]

LIMIT_NOFILE = 16000  # hiload_app_limit_nofile in molecule.yml

# Everything the tests read about the instances, gathered in one round trip per host
# (each testinfra command is a full Ansible call here).
PROBE = """
import json, subprocess, urllib.error, urllib.request

def run(*argv):
    return subprocess.run(argv, capture_output=True, text=True).stdout.strip()

def status(url):
    try:
        return urllib.request.urlopen(url, timeout=5).status
    except urllib.error.HTTPError as error:
        return error.code

address = run("ip", "-4", "-o", "route", "get", "1.1.1.1").split(" src ")[1].split()[0]
listening = run("ss", "-Hltn")
report = {}
for index in INSTANCES:
    unit = f"hiload@{index}"
    pid = run("systemctl", "show", "--property", "MainPID", "--value", unit)
    proc = f"/proc/{pid}"
    port = BASE_PORT + index
    report[index] = {
        "active": run("systemctl", "is-active", unit),
        "enabled": run("systemctl", "is-enabled", unit),
        "user": run("ps", "-o", "user=", "-p", pid),
        "listening": f"{address}:{port} " in listening,
        "limits": open(f"{proc}/limits").read(),
        "cmdline": open(f"{proc}/cmdline").read().split("\\0"),
        "maps": open(f"{proc}/maps").read(),
        "readyz": status(f"http://{address}:{port}/readyz"),
    }
print(json.dumps(report))
"""


def probe(host: Host) -> dict[str, dict[str, object]]:
    return run_probe(host, PROBE)


@pytest.mark.parametrize("index", INSTANCES)
def test_instance_is_active_as_the_service_user(host: Host, index: int) -> None:
    instance = probe(host)[str(index)]
    assert (instance["active"], instance["enabled"]) == ("active", "enabled")
    assert instance["user"] == "hiload"


@pytest.mark.parametrize("index", INSTANCES)
def test_instance_listens_on_its_port(host: Host, index: int) -> None:
    assert probe(host)[str(index)]["listening"]


@pytest.mark.parametrize("index", INSTANCES)
def test_instance_has_the_open_files_limit(host: Host, index: int) -> None:
    limits = probe(host)[str(index)]["limits"]
    line = next(line for line in limits.splitlines() if line.startswith("Max open files"))
    assert line.split()[3:5] == [str(LIMIT_NOFILE), str(LIMIT_NOFILE)]


@pytest.mark.parametrize("index", INSTANCES)
def test_instance_runs_uvloop_and_httptools(host: Host, index: int) -> None:
    instance = probe(host)[str(index)]
    command = instance["cmdline"]
    assert command[command.index("--loop") + 1] == "uvloop"
    assert command[command.index("--http") + 1] == "httptools"
    # Loaded, not just asked for: the extension modules are mapped into the process.
    assert re.search(r"/uvloop/loop\.cpython-3\d+-x86_64-linux-gnu\.so", instance["maps"])
    assert re.search(
        r"/httptools/parser/parser\.cpython-3\d+-x86_64-linux-gnu\.so", instance["maps"]
    )


@pytest.mark.parametrize("index", INSTANCES)
def test_instance_is_ready_with_postgresql(host: Host, index: int) -> None:
    assert probe(host)[str(index)]["readyz"] == 200


def test_code_is_root_owned_and_read_only_to_the_service(host: Host) -> None:
    current = host.file("/opt/hiload/current")
    assert current.linked_to.startswith("/opt/hiload/releases/")
    release = host.file(current.linked_to)
    assert (release.user, release.mode) == ("root", 0o755)
    assert host.run("runuser -u hiload -- test -w /opt/hiload/current/venv").rc != 0
    assert host.user("hiload").shell == "/usr/sbin/nologin"
    assert host.file("/var/lib/hiload").user == "hiload"


def test_settings_file_is_private_to_the_service_group(host: Host) -> None:
    settings = host.file("/etc/hiload/hiload.env")
    assert (settings.user, settings.group, settings.mode) == ("root", "hiload", 0o640)
    # The password is stored URL-encoded inside the DSN.
    assert "Test%3Ap%40ss%2Fw0rd%231%25@" in settings.content_string
    assert "HILOAD_DB_POOL_MAX" in settings.content_string
    # CORS off unless configured: the service sends no Access-Control-* header.
    assert 'HILOAD_CORS_ORIGINS=""' in settings.content_string
