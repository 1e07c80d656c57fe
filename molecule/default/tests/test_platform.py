"""The lab platform itself: systemd is PID 1 and /proc/sys takes network sysctls."""

import sys
from pathlib import Path

from testinfra.host import Host

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from inventory import scenario_groups

testinfra_hosts = ["all"]


def test_systemd_is_pid_one(host: Host) -> None:
    assert host.file("/proc/1/comm").content_string.strip() == "systemd"
    state = host.run("systemctl is-system-running").stdout.strip()
    assert state in {"running", "degraded"}


def test_proc_sys_is_writable(host: Host) -> None:
    options = host.check_output("findmnt --noheadings --output OPTIONS /proc/sys").split(",")
    assert "rw" in options


def test_hosts_resolve_each_other(host: Host) -> None:
    for peer in sorted({name for hosts in scenario_groups().values() for name in hosts}):
        assert host.run(f"getent hosts {peer}").rc == 0, peer
