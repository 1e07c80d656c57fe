"""make bench-service: the service alone on loopback, side by side with baselines.

One uvicorn process (uvloop + httptools) pinned to one CPU; wrk, PostgreSQL and Redis
pinned to another. Every run is bounded in time and the servers are removed at the end.
Prints a Markdown table and writes it to reports/bench-service.md.
"""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "service"))
sys.path.insert(0, str(HERE.parent))

from loadgen import ms, run_wrk, say, verdict, wrk_command  # noqa: E402
from serializers import SERIALIZER_ROUTES, serializer_timings  # noqa: E402

from tests.servers import Postgres, RedisServer, free_port  # noqa: E402

VENV_BIN = Path(sys.executable).parent
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
WARMUP = max(2, DURATION // 3)
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "64"))
ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
# GET /items/{id} picks ids from this hot set (what a cache is for), loaded into Redis
# before the cached run so that it measures hits, not a cache filling up.
HOT_IDS = 2_000
# Rounds of /healthz then cached reads on one process; the table shows the median round.
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
READY_ATTEMPTS = 300
MB = 1024 * 1024

SERVER_CPU, LOAD_CPUS = (
    ({0}, set(range(1, os.cpu_count() or 1))) if (os.cpu_count() or 1) > 1 else (None, None)
)


@dataclass
class Load:
    rps: float
    p50: str
    p99: str
    errors: int
    # Server CPU per request: unlike req/s, barely moved by other work on the machine, and
    # 1 / cpu is the most one process could serve.
    cpu_us: float


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss(self, field: str = "VmRSS") -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        match = re.search(rf"^{field}:\s+(\d+) kB", status, re.M)
        assert match, field
        return int(match[1]) * 1024


@contextmanager
def uvicorn(target: str, env: dict[str, str], factory: bool = False) -> Iterator[Server]:
    port = free_port()
    command = [
        str(VENV_BIN / "uvicorn"),
        *(["--factory"] if factory else []),
        target,
        "--app-dir", str(HERE),
        "--host", "127.0.0.1", "--port", str(port),
        "--loop", "uvloop", "--http", "httptools",
        "--no-access-log", "--log-level", "warning", "--backlog", "2048",
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        env=os.environ | env,
        preexec_fn=(lambda: os.sched_setaffinity(0, SERVER_CPU)) if SERVER_CPU else None,
    )
    server = Server(process, f"http://127.0.0.1:{port}")
    try:
        for _ in range(READY_ATTEMPTS):
            try:
                with urllib.request.urlopen(server.url + "/healthz", timeout=1):
                    break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(f"uvicorn {target} exited: {process.returncode}") from None
                time.sleep(0.1)
        else:
            raise RuntimeError(f"uvicorn {target} did not answer")
        yield server
    finally:
        process.terminate()
        process.wait(timeout=30)


def wrk(server: Server, path: str, random_ids: bool = False) -> Load:
    for seconds in (WARMUP, DURATION):
        cpu_before = server.cpu_seconds()
        command = wrk_command(
            server.url,
            path,
            connections=CONNECTIONS,
            seconds=seconds,
            id_range=(1, HOT_IDS) if random_ids else None,
        )
        run = run_wrk(command, seconds)
    cpu = server.cpu_seconds() - cpu_before
    if run.socket_errors:
        say(f"wrk {path}: {run.socket_errors} socket errors")
    load = Load(run.rps, ms(run.p50_ms), ms(run.p99_ms), run.non_2xx, cpu / run.requests * 1e6)
    say(
        f"{path}: {load.rps:,.0f} req/s, {load.cpu_us:.0f} µs CPU/request,"
        f" p50 {load.p50}, p99 {load.p99}, errors {load.errors}"
    )
    return load


def alternating(server: Server, path: str) -> list[tuple[Load, Load]]:
    """``/healthz`` then ``path`` (random hot ids) on the same process, ROUNDS times over: the
    machine's drift over a minute (other work, its CPU's turbo) moves a single pair's ratio by
    more than a cached read costs, and it moves both sides of a round alike."""
    return [(wrk(server, "/healthz"), wrk(server, path, random_ids=True)) for _ in range(ROUNDS)]


def median_round(rounds: list[tuple[Load, Load]]) -> tuple[Load, Load]:
    """The round whose req/s ratio is the median of all rounds'."""
    ordered = sorted(rounds, key=lambda pair: pair[1].rps / pair[0].rps)
    return ordered[len(ordered) // 2]


def round_ratios(rounds: list[tuple[Load, Load]]) -> str:
    return ", ".join(f"{measured.rps / baseline.rps:.2f}x" for baseline, measured in rounds)


def read_every_hot_item(server: Server) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        for item_id in range(1, HOT_IDS + 1):
            connection.request("GET", f"/items/{item_id}")
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"GET /items/{item_id}: {response.status}")
    finally:
        connection.close()


def export(server: Server) -> tuple[float, float, int, int]:
    """Stream the whole table; return rows/s, server CPU seconds, RSS before and the peak
    RSS sampled during."""
    cpu_before = server.cpu_seconds()
    before = server.rss()
    peak = before
    started = time.perf_counter()
    curl = subprocess.Popen(
        ["curl", "-sS", "--fail", "-o", "/dev/null", "-w", "%{size_download}",
         "--max-time", "300", server.url + "/items/export"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    while curl.poll() is None:
        peak = max(peak, server.rss())
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    size = int(curl.stdout.read() if curl.stdout else 0)
    if curl.returncode != 0:
        raise RuntimeError(f"export failed (curl exit {curl.returncode})")
    cpu = server.cpu_seconds() - cpu_before
    say(f"export: {size / MB:,.0f} MB in {elapsed:.2f} s, {cpu:.2f} s of server CPU")
    return ROWS / elapsed, cpu, before, peak


def serialization_table() -> list[str]:
    """The serializers alone on one item's row, in this process: the per-request lines above
    differ by less than the machine's noise."""
    timings = serializer_timings()
    fastest = min(seconds for name, seconds in timings.items() if name in SERIALIZER_ROUTES)
    lines = [
        "| Turning one item into JSON bytes, in-process | µs | Against the fastest serializer |",
        "| --- | --- | --- |",
    ]
    for name, seconds in timings.items():
        lines.append(f"| {name} | {seconds * 1e6:.2f} | {seconds / fastest:.1f}x |")
    return lines


def load_row(
    label: str, load: Load, against: tuple[str, Load] | None = None, target: float | None = None
) -> str:
    cells = [label, f"{load.rps:,.0f}", f"{load.cpu_us:.0f}", f"{load.p50} / {load.p99}"]
    if against is None:
        cells += ["", "", "", ""]
    else:
        name, baseline = against
        by_rps = load.rps / baseline.rps
        by_cpu = baseline.cpu_us / load.cpu_us
        goal = "comparison" if target is None else f"≥ {target}x: {verdict(by_rps >= target)}"
        cells += [name, f"{by_rps:.2f}x", f"{by_cpu:.2f}x", goal]
    return "| " + " | ".join(cells) + " |"


def run() -> str:
    load_before = os.getloadavg()[0]
    if LOAD_CPUS:
        os.sched_setaffinity(0, LOAD_CPUS)  # inherited by PostgreSQL, Redis and wrk
    postgres = Postgres(
        options=(
            "fsync=off",
            "synchronous_commit=off",
            "full_page_writes=off",
            "shared_buffers=256MB",
        )
    ).init()
    redis = RedisServer()
    try:
        postgres.start()
        redis.start()
        postgres.psql("CREATE DATABASE hiload")
        base_env = {
            "HILOAD_DATABASE_URL": postgres.dsn("hiload"),
            "HILOAD_DB_POOL_MIN": "4",
            "HILOAD_DB_POOL_MAX": "16",
            "HILOAD_LOG_LEVEL": "warning",
            "HILOAD_REDIS_URL": "",
        }
        subprocess.run(
            [str(VENV_BIN / "hiload-api"), "migrate"], env=os.environ | base_env, check=True
        )
        say(f"Loading {ROWS:,} items")
        postgres.psql(
            "INSERT INTO items (name, price, tags) SELECT 'item-' || n, (n % 10000) / 100.0,"
            f" ARRAY['tag-' || n % 50, 'group-' || n % 7] FROM generate_series(1, {ROWS}) n",
            "hiload",
        )
        postgres.psql("VACUUM ANALYZE items", "hiload")
        item = f"/items/{HOT_IDS // 2}"

        say("Raw ASGI app (framework-tax baseline)")
        with uvicorn("raw_app:app", {}) as raw:
            raw_healthz = wrk(raw, "/healthz")

        say("Service without Redis, with the comparison routes of variants.py")
        with uvicorn("variants:create_app", base_env, factory=True) as service:
            healthz = wrk(service, "/healthz")
            from_pg = wrk(service, "/items/", random_ids=True)
            fastapi_healthz = wrk(service, "/bench/fastapi/healthz")
            fastapi_pg = wrk(service, "/bench/fastapi/items/", random_ids=True)
            serializers = {
                name: wrk(service, f"/bench/{path}/", random_ids=True)
                for name, path in SERIALIZER_ROUTES.items()
            }

        say("Service as deployed, with Redis")
        # Deployed settings but a TTL that outlasts the cached rounds (60 s by default): they
        # measure hits, and an item expiring mid-run would turn into PostgreSQL reads.
        env = base_env | {"HILOAD_REDIS_URL": redis.url, "HILOAD_CACHE_TTL": "3600"}
        with uvicorn("hiload_api.main:create_app", env, factory=True) as deployed:
            with urllib.request.urlopen(deployed.url + item, timeout=5):
                pass
            idle_rss = deployed.rss()
            rows_per_second, export_cpu, export_before, export_peak = export(deployed)
            read_every_hot_item(deployed)
            # The cached line's baseline is measured on the same process just before it, not
            # a minute earlier on another one: other work on the machine drifts in between.
            cached_rounds = alternating(deployed, "/items/")

        say("Service with Redis, near cache off: every hit a round trip to Redis")
        with uvicorn(
            "hiload_api.main:create_app", env | {"HILOAD_CACHE_LOCAL_ITEMS": "0"}, factory=True
        ) as remote_only:
            read_every_hot_item(remote_only)
            remote_rounds = alternating(remote_only, "/items/")
    finally:
        redis.stop()
        postgres.destroy()

    deployed_healthz, cached = median_round(cached_rounds)
    remote_healthz, from_redis = median_round(remote_rounds)
    growth = export_peak - export_before
    load_after = os.getloadavg()[0]
    lines = [
        f"wrk -t1 -c{CONNECTIONS}, {DURATION} s per line after {WARMUP} s of warm-up;"
        f" ids drawn from 1..{HOT_IDS:,} of {ROWS:,} rows; {os.cpu_count()} CPUs,"
        f" load average {load_before:.1f} before and {load_after:.1f} after."
        " Ratios compare throughput (req/s) and, less sensitive to other work on the"
        " machine, capacity (the inverse of server CPU per request).",
        "",
        "| Measure | req/s | CPU µs/req | p50 / p99 | Against | Ratio req/s | Ratio capacity"
        " | Target |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        load_row("Raw ASGI app `/healthz`", raw_healthz),
        load_row("Service `/healthz` (framework tax)", healthz, ("raw ASGI", raw_healthz), 0.5),
        load_row("`GET /items/{id}` from PostgreSQL", from_pg, ("`/healthz`", healthz), 0.6),
        load_row("Service `/healthz`, deployed with Redis", deployed_healthz),
        load_row(
            "`GET /items/{id}` cached: near cache kept coherent by Redis (as deployed)",
            cached,
            ("`/healthz` just before", deployed_healthz),
            0.8,
        ),
        load_row(
            "`GET /items/{id}` cached, near cache off (a Redis round trip each)",
            from_redis,
            ("its `/healthz` just before", remote_healthz),
        ),
        load_row(
            "`/healthz` as an ordinary FastAPI route (dependency injection)",
            fastapi_healthz,
            ("`/healthz`", healthz),
        ),
        load_row(
            "`GET /items/{id}` as an ordinary FastAPI route",
            fastapi_pg,
            ("PostgreSQL, DirectRoute", from_pg),
        ),
        *(
            load_row(f"Item serialized by {name}", load, ("PostgreSQL JSON", fastapi_pg))
            for name, load in serializers.items()
        ),
        "",
        f"The two cached lines show the median of {ROUNDS} rounds of `/healthz` then cached"
        f" reads on one process; every round's req/s ratio: as deployed"
        f" {round_ratios(cached_rounds)}; near cache off {round_ratios(remote_rounds)}.",
        "",
        "| Measure | Result | Target |",
        "| --- | --- | --- |",
        f"| `GET /items/export`, {ROWS:,} rows | {rows_per_second:,.0f} rows/s"
        f" | ≥ 200,000: {verdict(rows_per_second >= 200_000)} |",
        f"| Server CPU during the export | {export_cpu:.2f} s"
        f" ({export_cpu / ROWS * 1e6:.2f} µs/row; the rest is PostgreSQL and the client) | |",
        f"| RSS growth during the export | {growth / MB:.1f} MB (peak {export_peak / MB:.0f} MB)"
        f" | < 50 MB: {verdict(growth < 50 * MB)} |",
        f"| Idle RSS, one process | {idle_rss / MB:.0f} MB"
        f" | < 80 MB: {verdict(idle_rss < 80 * MB)} |",
        "",
        *serialization_table(),
    ]
    errors = sum(
        load.errors
        for load in (
            raw_healthz,
            healthz,
            from_pg,
            fastapi_healthz,
            fastapi_pg,
            *(load for pair in cached_rounds + remote_rounds for load in pair),
            *serializers.values(),
        )
    )
    if load_before > 1.0:
        lines.append(
            "\n**The machine was busy before the run started**: other work shared the CPUs,"
            " so absolute figures are low and ratios noisy. Run again on a quiet machine."
        )
    if errors:
        lines.append(f"\n**{errors} responses were not 2xx**: the figures above are not valid.")
    return "\n".join(lines) + "\n"


def main() -> int:
    table = run()
    reports = ROOT / "reports"
    reports.mkdir(exist_ok=True)
    (reports / "bench-service.md").write_text(table)
    sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
