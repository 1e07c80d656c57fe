"""host_tuning: the files it writes, the values the kernel and systemd report back."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from testinfra.host import Host

testinfra_hosts = ["all"]

SYSCTL_FILE = "/etc/sysctl.d/90-hiload.conf"
# Defaults plus the scenario's overrides (molecule.yml).
EXPECTED = {
    "net.ipv4.tcp_slow_start_after_idle": "0",
    "net.core.somaxconn": "8192",
    "net.ipv4.tcp_max_syn_backlog": "8192",
    "net.core.netdev_max_backlog": "16384",
    "net.ipv4.ip_local_port_range": "10240 65535",
    "net.ipv4.tcp_tw_reuse": "1",
    "net.ipv4.tcp_timestamps": "1",
    "net.ipv4.tcp_fin_timeout": "15",
    "fs.file-max": "2097152",
    "net.ipv4.tcp_keepalive_time": "600",
    "net.ipv4.tcp_rmem": "4096 131072 6291456",
}
NOFILE = "16384"
# netdev_max_backlog is kernel-wide despite its name: a network namespace has no copy of it.
NAMESPACED = sorted(k for k in EXPECTED if k.startswith("net.") and "netdev" not in k)


def test_sysctl_file_holds_every_key(host: Host) -> None:
    sysctl = host.file(SYSCTL_FILE)
    assert sysctl.user == "root"
    assert sysctl.mode == 0o644
    written = {}
    for line in sysctl.content_string.splitlines():
        if line.strip() and not line.startswith("#"):
            key, value = (part.strip() for part in line.split("=", 1))
            written[key] = value
    assert written == EXPECTED
    assert "Ansible managed" in sysctl.content_string


@pytest.mark.parametrize("key", NAMESPACED)
def test_network_keys_are_applied(host: Host, key: str) -> None:
    # Read from the kernel, not from the file: these keys belong to the container's namespace.
    live = host.file("/proc/sys/" + key.replace(".", "/")).content_string
    assert " ".join(live.split()) == EXPECTED[key]


def test_login_sessions_get_the_open_files_limit(host: Host) -> None:
    limits = host.file("/etc/security/limits.d/90-hiload-nofile.conf").content_string
    for who in ("*", "root"):
        for kind in ("soft", "hard"):
            assert f"{who}\t{kind}\tnofile\t{NOFILE}".split() in [
                line.split() for line in limits.splitlines()
            ]


def test_services_get_the_open_files_limit(host: Host) -> None:
    manager = host.check_output("systemctl show --property DefaultLimitNOFILE --value")
    assert manager == NOFILE
    started = host.check_output("systemd-run --quiet --pipe --wait sh -c 'ulimit -Sn; ulimit -Hn'")
    assert started.split() == [NOFILE, NOFILE]


def test_bad_override_fails_naming_it_before_any_change() -> None:
    scenario = Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "-i",
            os.environ["MOLECULE_INVENTORY_FILE"],
            "-e",
            '{"host_tuning_sysctl_overrides": {"net.ipv4.tcp_fin_timeout": "fast"}}',
            str(scenario / "converge.yml"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    # The callback may wrap and quote the message: compare with whitespace collapsed.
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, output[-3000:]
    assert "is invalid" in output
    assert "host_tuning_sysctl_overrides[" in output
    assert "net.ipv4.tcp_fin_timeout" in output
    recap = [line for line in result.stdout.splitlines() if "unreachable=" in line]
    assert recap, output[-3000:]
    assert all("changed=0" in line and "failed=1" in line for line in recap), recap
