"""wrk runs and report helpers shared by make bench-service and make bench.

Every wrk run uses bench/wrk.lua, whose done() prints a summary line and the latency quantiles
per mille: figures are read from there, not from wrk's human-readable text, and the runs of
several wrk processes driven at once can be merged into one distribution.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

WRK_SCRIPT = Path(__file__).resolve().parent / "wrk.lua"


@dataclass
class WrkRun:
    seconds: float
    requests: int
    # Responses other than 2xx or 3xx.
    non_2xx: int
    # Connect, read, write errors and timeouts: requests that got no response at all.
    socket_errors: int
    # (per mille, microseconds) for 1..1000, 1000 being the maximum.
    quantiles: list[tuple[int, int]]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def latency_ms(self, permille: int) -> float:
        return dict(self.quantiles)[permille] / 1000

    @property
    def p50_ms(self) -> float:
        return self.latency_ms(500)

    @property
    def p99_ms(self) -> float:
        return self.latency_ms(990)


def say(message: str) -> None:
    sys.stderr.write(f"==> {message}\n")


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def ms(value: float) -> str:
    """A latency for a table: 0.42 ms, 12.3 ms, 1,234 ms."""
    if value < 10:
        return f"{value:.2f} ms"
    if value < 100:
        return f"{value:.1f} ms"
    return f"{value:,.0f} ms"


def wrk_command(
    url: str,
    path: str,
    *,
    connections: int,
    seconds: int,
    threads: int = 1,
    id_range: tuple[int, int] | None = None,
    headers: Sequence[str] = (),
    timeout: int = 10,
) -> list[str]:
    """wrk against url + path; with id_range, path + a random id in that range."""
    script_args = [path]
    if id_range:
        script_args += ["random", str(id_range[1]), str(id_range[0])]
    return [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", f"--timeout={timeout}s",
        *(arg for header in headers for arg in ("-H", header)),
        "-s", str(WRK_SCRIPT), url, "--", *script_args,
    ]  # fmt: skip


def parse_wrk(out: str) -> WrkRun:
    summary: list[int] | None = None
    quantiles: list[tuple[int, int]] = []
    for line in out.splitlines():
        fields = line.split()
        if fields[:1] == ["hiload-summary"]:
            summary = [int(field) for field in fields[1:]]
        elif fields[:1] == ["hiload-quantile"]:
            quantiles.append((int(fields[1]), int(fields[2])))
    if summary is None or len(quantiles) != 1000:
        raise RuntimeError(f"wrk printed no summary from {WRK_SCRIPT.name}:\n{out}")
    duration_us, requests, connect, read, write, status, timeout = summary
    return WrkRun(duration_us / 1e6, requests, status, connect + read + write + timeout, quantiles)


def run_wrk(command: list[str], seconds: int) -> WrkRun:
    result = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=seconds + 60
    )
    return parse_wrk(result.stdout)


def run_wrk_together(commands: Sequence[list[str]], seconds: int) -> WrkRun:
    """Run several wrk processes at once (one per target) and merge them into one run."""
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for command in commands
    ]
    runs = []
    try:
        for process, command in zip(processes, commands, strict=True):
            out, err = process.communicate(timeout=seconds + 60)
            if process.returncode != 0:
                raise RuntimeError(f"{' '.join(command)} exited {process.returncode}:\n{err}")
            runs.append(parse_wrk(out))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return merge(runs)


def merge(runs: Sequence[WrkRun]) -> WrkRun:
    """One run from several simultaneous ones: requests and errors add up over the longest
    duration; each run's quantiles stand for its requests in equal shares."""
    total = sum(run.requests for run in runs)
    weighted = sorted(
        (micros, run.requests / len(run.quantiles)) for run in runs for _, micros in run.quantiles
    )
    quantiles = []
    cumulative, index = 0.0, 0
    for permille in range(1, 1001):
        share = total * permille / 1000
        while index < len(weighted) - 1 and cumulative + weighted[index][1] < share:
            cumulative += weighted[index][1]
            index += 1
        quantiles.append((permille, weighted[index][0]))
    return WrkRun(
        max(run.seconds for run in runs),
        total,
        sum(run.non_2xx for run in runs),
        sum(run.socket_errors for run in runs),
        quantiles,
    )
