"""What a host must be after a restart with no Ansible run: booted cleanly, every service it ran
before running again, and its tuned network sysctls live again (the platform applies
/etc/sysctl.d at boot, as a real host does; in a container only the net.* keys are its own).

Shared by the lab's newcomer stage (tests/lab) and the five-node scenario (tests/resilience).
Every function takes a testinfra host."""

from __future__ import annotations

import re
import time
from typing import Any

# The sysctl file the host_tuning role writes (host_tuning_sysctl_file's default).
TUNED_SYSCTL_FILE = "/etc/sysctl.d/90-hiload.conf"
BOOT_TIMEOUT = 180


def active_services(host: Any) -> set[str]:
    """The service units active now."""
    listing = host.check_output(
        "systemctl list-units --type=service --state=active --no-legend --plain"
    )
    return {line.split()[0] for line in listing.splitlines() if line.strip()}


def tuned_network_sysctls(host: Any) -> dict[str, str]:
    """The net.* keys of the tuned sysctl file and their values, blanks collapsed."""
    wanted = {}
    for line in host.file(TUNED_SYSCTL_FILE).content_string.splitlines():
        key, separator, value = line.partition("=")
        if separator and key.strip().startswith("net."):
            wanted[key.strip()] = re.sub(r"\s+", " ", value.strip())
    assert wanted, f"{TUNED_SYSCTL_FILE} holds no net.* key: nothing to prove"
    return wanted


def live_sysctls(host: Any, keys: list[str]) -> dict[str, str]:
    """The live values of those KEYS the host's kernel shows it (-e: a container sees only the
    keys of its own network namespace, e.g. no net.core.netdev_max_backlog)."""
    live = {}
    for line in host.check_output("sysctl -e " + " ".join(keys)).splitlines():
        key, _, value = line.partition(" = ")
        live[key.strip()] = re.sub(r"\s+", " ", value.strip())
    return live


def wait_booted(host: Any, timeout: float = BOOT_TIMEOUT) -> str:
    """systemd's state once it finished starting units ('running' unless a unit failed)."""
    deadline = time.monotonic() + timeout
    while True:
        state = host.run("systemctl is-system-running --wait").stdout.strip()
        if state in {"running", "degraded"} or time.monotonic() > deadline:
            return state
        time.sleep(1)


def assert_back_as_before(host: Any, services_before: set[str]) -> None:
    """HOST booted with no failed unit, runs every service it ran before, and is tuned."""
    state = wait_booted(host)
    failed = host.run("systemctl --failed --no-legend --plain").stdout.strip()
    assert state == "running", f"systemd is {state!r} after the restart; failed units:\n{failed}"
    missing = services_before - active_services(host)
    assert not missing, f"services not running again after the restart: {sorted(missing)}"
    wanted = tuned_network_sysctls(host)
    live = live_sysctls(host, sorted(wanted))
    assert live, f"none of the tuned keys is live here: {sorted(wanted)}"
    differing = {key: (value, wanted[key]) for key, value in live.items() if value != wanted[key]}
    assert not differing, f"sysctls back at other values (live, wanted): {differing}"
