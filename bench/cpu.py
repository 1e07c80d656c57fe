"""Where the CPU went during a measurement: each lab container's cgroup, and the rest.

Every profile of `make bench` shares one machine's CPUs, so a hop that costs CPU (nginx's)
takes it from the instances. Reading each container's CPU time before and after a wrk run
turns that into microseconds per request by container; "the rest" is everything else the
machine ran meanwhile (the load generators, the engine, the kernel's work outside the
containers).

The containers' cgroups are found from this machine's side (cgroup v1's cpuacct controller or
cgroup v2's cpu.stat, under the engine's cgroupfs or systemd layout).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
# /proc/stat's CPU fields are in clock ticks.
TICK_SECONDS = 1 / os.sysconf("SC_CLK_TCK")


def _usage_reader(container_id: str) -> Path:
    """The file holding the container's CPU time: cpuacct.usage (ns) or cpu.stat (usec)."""
    candidates = (
        CGROUP_ROOT / "cpuacct" / "docker" / container_id / "cpuacct.usage",
        CGROUP_ROOT / "cpu,cpuacct" / "docker" / container_id / "cpuacct.usage",
        CGROUP_ROOT / "docker" / container_id / "cpu.stat",
        CGROUP_ROOT / "system.slice" / f"docker-{container_id}.scope" / "cpu.stat",
    )
    for path in candidates:
        if path.is_file():
            return path
    raise RuntimeError(
        f"no CPU accounting file for container {container_id[:12]} under {CGROUP_ROOT}"
    )


def _seconds(path: Path) -> float:
    text = path.read_text()
    if path.name == "cpuacct.usage":
        return int(text) / 1e9
    fields = dict(line.split() for line in text.splitlines())
    return int(fields["usage_usec"]) / 1e6


def _machine_busy_seconds() -> float:
    """CPU time the whole machine spent on anything but idling and waiting for I/O."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle, iowait = fields[3], fields[4]
    # guest and guest_nice (fields 8 and 9) are already counted in user and nice.
    return (sum(fields[:8]) - idle - iowait) * TICK_SECONDS


@dataclass(frozen=True)
class Snapshot:
    containers: dict[str, float]
    machine: float


@dataclass(frozen=True)
class CpuShare:
    """CPU seconds spent during one measurement: per container, and by everything else."""

    containers: dict[str, float]
    rest: float

    @property
    def total(self) -> float:
        return sum(self.containers.values()) + self.rest

    def per_request_us(self, requests: int) -> dict[str, float]:
        """Microseconds per request, by container, then "rest" and "total"."""
        spent = self.containers | {"rest": self.rest, "total": self.total}
        return {name: seconds * 1e6 / max(requests, 1) for name, seconds in spent.items()}


class CpuMeter:
    """Reads the named containers' CPU time and the machine's, to diff two readings."""

    def __init__(self, containers: Sequence[str]) -> None:
        ids = subprocess.run(
            ["docker", "inspect", "--format", "{{.Id}}", *containers],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        self._files = {name: _usage_reader(cid) for name, cid in zip(containers, ids, strict=True)}

    def read(self) -> Snapshot:
        return Snapshot(
            {name: _seconds(path) for name, path in self._files.items()}, _machine_busy_seconds()
        )

    @staticmethod
    def spent(before: Snapshot, after: Snapshot) -> CpuShare:
        containers = {
            name: after.containers[name] - before.containers[name] for name in before.containers
        }
        rest = after.machine - before.machine - sum(containers.values())
        return CpuShare(containers, max(rest, 0.0))
