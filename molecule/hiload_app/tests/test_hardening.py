"""hiload_app's sandbox: systemd rates the unit "OK" (exposure <= 2.0), the running process
holds no capability, cannot gain any, is seccomp-filtered, sees a read-only system but for its
state directory, and the API still serves reads and writes through asyncpg inside it."""

import re

import pytest
from conftest import INSTANCES, run_probe
from testinfra.host import Host

testinfra_hosts = ["app"]

# systemd-analyze security's "OK" band ends here; the target.
MAX_EXPOSURE = 2.0
EXPOSURE = re.compile(r"Overall exposure level for hiload@\d+\.service: (\d+\.\d+)")

# One round trip per host: everything the tests read about each instance's sandbox.
PROBE = """
import json, subprocess, urllib.request, uuid

def run(*argv):
    return subprocess.run(argv, capture_output=True, text=True).stdout.strip()

def call(method, url, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())

address = run("ip", "-4", "-o", "route", "get", "1.1.1.1").split(" src ")[1].split()[0]
report = {}
for index in INSTANCES:
    unit = f"hiload@{index}.service"
    pid = run("systemctl", "show", "--property", "MainPID", "--value", unit)
    status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status").read().splitlines())
    mounts = {}
    for line in open(f"/proc/{pid}/mountinfo"):
        fields = line.split()
        mounts[fields[4]] = fields[5].split(",")
    base = f"http://{address}:{BASE_PORT + index}"
    created = call("POST", f"{base}/items", {"name": f"sandbox-{uuid.uuid4()}", "price": 1.5})
    read = call("GET", f"{base}/items/{created[1]['id']}")
    report[index] = {
        "security": run("systemd-analyze", "security", "--no-pager", unit),
        "status": {key: value.strip() for key, value in status.items()},
        "mounts": mounts,
        "created": created,
        "read": read,
    }
print(json.dumps(report))
"""


def probe(host: Host) -> dict[str, dict[str, object]]:
    return run_probe(host, PROBE)


@pytest.mark.parametrize("index", INSTANCES)
def test_unit_exposure_is_in_the_ok_band(host: Host, index: int) -> None:
    report = probe(host)[str(index)]["security"]
    found = EXPOSURE.search(report)
    assert found, report
    assert float(found[1]) <= MAX_EXPOSURE, report


@pytest.mark.parametrize("index", INSTANCES)
def test_process_holds_no_capability_and_is_filtered(host: Host, index: int) -> None:
    status = probe(host)[str(index)]["status"]
    for capabilities in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[capabilities], 16) == 0, (capabilities, status[capabilities])
    assert status["NoNewPrivs"] == "1"
    assert status["Seccomp"] == "2"  # filter mode


@pytest.mark.parametrize("index", INSTANCES)
def test_process_writes_only_its_state_directory(host: Host, index: int) -> None:
    mounts = probe(host)[str(index)]["mounts"]
    for read_only in ("/", "/usr", "/etc", "/opt/hiload/current", "/home", "/root"):
        covering = max((m for m in mounts if read_only.startswith(m)), key=len)
        assert "ro" in mounts[covering], (read_only, covering, mounts[covering])
    assert "rw" in mounts["/var/lib/hiload"]


@pytest.mark.parametrize("index", INSTANCES)
def test_sandboxed_instance_writes_and_reads_through_postgresql(host: Host, index: int) -> None:
    report = probe(host)[str(index)]
    status, created = report["created"]
    assert status == 201
    assert report["read"] == [200, created]
