"""make bench: the deployed stack on the lab, side by side in one run.

Profiles, all measured from this machine (the controller) against the lab's containers:

- tuned: site.yml as `make demo` deploys it (bench/stack/tuned.yml), through nginx on
  127.0.0.1:8080;
- naive: bench/stack/naive.yml with -e @inventories/lab/naive.yml (one uvicorn --workers unit
  per app host, asyncio + h11, nginx without upstream keepalive, kernel defaults), through nginx
  on 127.0.0.1:8080;
- direct: the tuned instances themselves, every endpoint of nginx's upstream at once, reached
  by container address (what nginx costs);
- ceiling: nginx on the same host answering `return 200` through 127.0.0.1:8080, from a
  temporary server block removed again at the end (what the box can do at all).

wrk measures the peak rate (BENCH_CONNECTIONS connections, at most 2 threads, BENCH_DURATION
seconds per point after a short warm-up); locust the realistic mix at a fixed offered load.
The lab is left in the tuned profile. Output: reports/bench.md, and under reports/bench/ the
locust HTML reports, their CSV files and latency.png.
"""

from __future__ import annotations

import csv
import ipaddress
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))

from cpu import CpuMeter, CpuShare  # noqa: E402
from loadgen import WrkRun, ms, run_wrk, run_wrk_together, say, verdict, wrk_command  # noqa: E402

VENV_BIN = Path(sys.executable).parent
BASE_URL = "http://127.0.0.1:8080"
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "256"))
THREADS = 2
DURATION = int(os.environ.get("BENCH_DURATION", "12"))
WARMUP = 3
USERS = int(os.environ.get("BENCH_USERS", "64"))
USER_RPS = float(os.environ.get("BENCH_USER_RPS", "5"))
LOCUST_SECONDS = int(os.environ.get("BENCH_LOCUST_SECONDS", "30"))
# 0 measures the tuned profile as the lab runs it (right after make demo), saving a deploy.
DEPLOY_FIRST = os.environ.get("BENCH_DEPLOY_FIRST", "1") != "0"
SEED_ROWS = 10_000
SEED_PREFIX = "bench-seed-"

# tuned.yml removes the naive profile's unit, then runs site.yml; naive.yml runs site.yml with
# the overlay, then replaces each app host's instances by one uvicorn --workers unit.
TUNED = ("bench/stack/tuned.yml",)
NAIVE = ("bench/stack/naive.yml", "-e", "@inventories/lab/naive.yml")
LB, DB = "hiload-lb1", "hiload-db1"
LAB_NETWORK = "hiload-lab"
# The firewall role's table (roles/firewall): the app ports only accept the lb hosts.
FIREWALL_TABLE = ("inet", "hiload_firewall")
CEILING_CONF = "/etc/nginx/conf.d/hiload-bench-ceiling.conf"
CEILING_HOST = "bench-ceiling.invalid"
REPORTS = ROOT / "reports"
OUT = REPORTS / "bench"
STATE = ROOT / ".state"
ITEM = "/items/"
HEALTHZ = "/healthz"
# Labels of the points whose CPU the report breaks down, in its order.
TUNED_ITEM, NAIVE_ITEM = "tuned GET /items/{id}", "naive GET /items/{id}"
DIRECT_ITEM, CEILING = "direct GET /items/{id}", "ceiling return 200"


@dataclass
class Mix:
    """The locust run of one profile, from its CSV files."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    failures: int
    history: Path


@dataclass
class Results:
    tuned_item: WrkRun
    tuned_healthz: WrkRun
    naive_item: WrkRun
    naive_healthz: WrkRun
    direct_item: WrkRun
    direct_healthz: WrkRun
    lb_item: WrkRun
    ceiling: WrkRun
    tuned_mix: Mix
    naive_mix: Mix
    endpoints: list[str]
    deploy_seconds: dict[str, int]


load_samples: list[float] = []
# The lab containers' CPU meter (set in main) and, by point label, the CPU each measured run
# spent with its request count.
cpu_meter: CpuMeter | None = None
cpu_spent: dict[str, tuple[CpuShare, int]] = {}


def sample_load() -> None:
    load_samples.append(os.getloadavg()[0])


def docker_exec(container: str, *argv: str) -> str:
    result = subprocess.run(
        ["docker", "exec", container, *argv], capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise RuntimeError(f"docker exec {container} {' '.join(argv)}: {result.stderr.strip()}")
    return result.stdout


def deploy(profile: str, *arguments: str) -> int:
    """ansible-playbook ARGUMENTS (a playbook of bench/stack and its options)."""
    log = STATE / f"bench-deploy-{profile}.log"
    say(f"Deploying the {profile} profile: ansible-playbook {' '.join(arguments)} (log: {log})")
    started = time.monotonic()
    with log.open("w") as out:
        result = subprocess.run(
            [str(VENV_BIN / "ansible-playbook"), *arguments],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            # ansible-playbook finds its collections and helpers on PATH.
            env=os.environ | {"PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"},
        )
    seconds = round(time.monotonic() - started)
    if result.returncode != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-30:])
        raise RuntimeError(
            f"{arguments[0]} ({profile}) failed after {seconds} s; end of {log}:\n{tail}"
        )
    say(f"{profile} deployed in {seconds} s")
    return seconds


def psql(sql: str) -> str:
    return docker_exec(
        DB, "runuser", "-u", "postgres", "--", "psql", "-d", "hiload", "-v", "ON_ERROR_STOP=1",
        "-qtAc", sql,
    ).strip()  # fmt: skip


def seed() -> tuple[int, int]:
    """SEED_ROWS items with consecutive ids, so that every id drawn exists (no 404 counted
    as an error). Made once, reused while intact."""
    check = f"SELECT count(*), min(id), max(id) FROM items WHERE name LIKE '{SEED_PREFIX}%'"
    rows, low, high = (int(value or 0) for value in psql(check).split("|"))
    if rows != SEED_ROWS or high - low + 1 != SEED_ROWS:
        say(f"Seeding {SEED_ROWS:,} items with consecutive ids")
        psql(
            f"DELETE FROM items WHERE name LIKE '{SEED_PREFIX}%';"
            " INSERT INTO items (name, price, tags)"
            f" SELECT '{SEED_PREFIX}' || n, (n % 10000) / 100.0, ARRAY['bench', 'group-' || n % 7]"
            f" FROM generate_series(1, {SEED_ROWS}) n; ANALYZE items"
        )
        rows, low, high = (int(value) for value in psql(check).split("|"))
    return low, high


def upstream_endpoints() -> list[str]:
    """host:port of every server in nginx's upstream, as nginx runs it now."""
    config = docker_exec(LB, "nginx", "-T")
    block = re.search(r"^\s*upstream\s+\S+\s*\{(.*?)\}", config, re.S | re.M)
    if not block:
        raise RuntimeError(f"no upstream block in nginx -T on {LB}")
    return re.findall(r"^\s*server\s+(\S+?:\d+)", block[1], re.M)


# Given a duration in seconds, the wrk commands of one measurement (run at once, merged).
Commands = Callable[[int], list[list[str]]]


def point(label: str, commands: Commands) -> WrkRun:
    """Warm up, then measure, reading the CPU each lab container spent in the measurement."""
    assert cpu_meter is not None
    for seconds in (WARMUP, DURATION):
        batch = commands(seconds)
        before = cpu_meter.read()
        run = run_wrk(batch[0], seconds) if len(batch) == 1 else run_wrk_together(batch, seconds)
        after = cpu_meter.read()
    cpu_spent[label] = (CpuMeter.spent(before, after), run.requests)
    sample_load()
    say(
        f"{label}: {run.rps:,.0f} req/s, p50 {ms(run.p50_ms)}, p99 {ms(run.p99_ms)},"
        f" non-2xx {run.non_2xx}, no response {run.socket_errors}"
    )
    return run


def through(
    url: str, path: str, id_range: tuple[int, int] | None = None, headers: Sequence[str] = ()
) -> Commands:
    """One wrk with every connection, at url (nginx on 127.0.0.1:8080 unless told)."""
    return lambda seconds: [
        wrk_command(
            url, path, connections=CONNECTIONS, seconds=seconds, threads=THREADS,
            id_range=id_range, headers=headers,
        )
    ]  # fmt: skip


def direct(endpoints: list[str], path: str, id_range: tuple[int, int] | None = None) -> Commands:
    """One single-threaded wrk per endpoint at once, the connections shared out evenly."""
    share = max(1, CONNECTIONS // len(endpoints))
    return lambda seconds: [
        wrk_command(
            f"http://{endpoint}", path, connections=share, seconds=seconds, id_range=id_range
        )
        for endpoint in endpoints
    ]


def lab_network() -> dict[str, Any]:
    """docker network inspect of the lab's network."""
    inspected: list[dict[str, Any]] = json.loads(
        subprocess.run(
            ["docker", "network", "inspect", LAB_NETWORK],
            capture_output=True, text=True, check=True,
        ).stdout
    )  # fmt: skip
    return inspected[0]


def network_gateway(network: dict[str, Any]) -> str:
    """The network's gateway: this machine's address on it. The engine reports it when it chose
    the subnet; for a subnet given at creation (the lab's lab_subnet) it takes the first address
    and reports none."""
    config = network["IPAM"]["Config"][0]
    if config.get("Gateway"):
        return str(config["Gateway"])
    return str(ipaddress.ip_network(config["Subnet"])[1])


@contextmanager
def controller_allowed(endpoints: list[str]) -> Iterator[None]:
    """Let this machine reach the instance ports for the direct profile: where the firewall
    role's table exists, a runtime-only rule accepting the lab network's gateway is inserted,
    and deleted however the measurement ends (the saved ruleset is never touched)."""
    network = lab_network()
    gateway = network_gateway(network)
    container_of = {
        entry["IPv4Address"].split("/")[0]: entry["Name"]
        for entry in network["Containers"].values()
    }
    ports_of: dict[str, list[str]] = {}
    for endpoint in endpoints:
        address, port = endpoint.rsplit(":", 1)
        ports_of.setdefault(container_of[address], []).append(port)
    opened: list[tuple[str, str]] = []
    try:
        for container, ports in ports_of.items():
            try:
                docker_exec(container, "nft", "list", "table", *FIREWALL_TABLE)
            except RuntimeError:
                continue
            echoed = docker_exec(
                container, "nft", "--echo", "--handle", "insert", "rule", *FIREWALL_TABLE,
                "input", "ip", "saddr", gateway, "tcp", "dport", f"{{ {', '.join(ports)} }}",
                "accept", "comment", '"make bench direct"',
            )  # fmt: skip
            handle = re.search(r"# handle (\d+)", echoed)
            if not handle:
                raise RuntimeError(f"nft printed no handle on {container}: {echoed}")
            opened.append((container, handle[1]))
        yield
    finally:
        for container, handle in opened:
            docker_exec(
                container, "nft", "delete", "rule", *FIREWALL_TABLE, "input", "handle", handle
            )


@contextmanager
def ceiling_server() -> Iterator[None]:
    """A server block on lb1 answering `return 200`, selected by its Host header; removed
    (and nginx reloaded) however the measurement ends."""
    config = (
        "# make bench's ceiling, removed when the bench ends.\n"
        f"server {{\n    listen 80;\n    server_name {CEILING_HOST};\n"
        '    location / {\n        return 200 "ok\\n";\n    }\n}\n'
    )
    docker_exec(LB, "sh", "-c", f"cat > {CEILING_CONF} <<'EOF'\n{config}EOF")
    try:
        docker_exec(LB, "nginx", "-t", "-q")
        docker_exec(LB, "systemctl", "reload", "nginx")
        time.sleep(1)
        yield
    finally:
        docker_exec(LB, "rm", "-f", CEILING_CONF)
        docker_exec(LB, "systemctl", "reload", "nginx")


def remove_leftover_ceiling() -> None:
    if docker_exec(LB, "sh", "-c", f"test -e {CEILING_CONF} && echo yes || true").strip():
        say(f"Removing {CEILING_CONF} left by an interrupted bench")
        docker_exec(LB, "rm", "-f", CEILING_CONF)
        docker_exec(LB, "systemctl", "reload", "nginx")


def locust(profile: str, id_range: tuple[int, int]) -> Mix:
    prefix = OUT / f"locust-{profile}"
    say(f"{profile}: locust, {USERS} users x {USER_RPS:g} req/s for {LOCUST_SECONDS} s")
    subprocess.run(
        [
            str(VENV_BIN / "locust"), "-f", str(HERE / "locustfile.py"),
            "--headless", "--host", BASE_URL, "--users", str(USERS), "--spawn-rate", str(USERS),
            "--run-time", f"{LOCUST_SECONDS}s", "--stop-timeout", "5", "--only-summary",
            "--csv", str(prefix), "--csv-full-history", "--html", f"{prefix}.html",
            "--loglevel", "WARNING", "--exit-code-on-error", "0",
        ],
        env=os.environ | {
            "BENCH_ID_LOW": str(id_range[0]), "BENCH_ID_HIGH": str(id_range[1]),
            "BENCH_USER_RPS": str(USER_RPS),
        },
        check=True, capture_output=True, timeout=LOCUST_SECONDS + 120,
    )  # fmt: skip
    sample_load()
    with open(f"{prefix}_stats.csv", newline="") as stats:
        total = next(row for row in csv.DictReader(stats) if row["Name"] == "Aggregated")
    mix = Mix(
        float(total["Requests/s"]),
        float(total["50%"]),
        float(total["99%"]),
        int(total["Request Count"]),
        int(total["Failure Count"]),
        Path(f"{prefix}_stats_history.csv"),
    )
    say(
        f"{profile} mix: {mix.rps:,.0f} req/s, p50 {ms(mix.p50_ms)}, p99 {ms(mix.p99_ms)},"
        f" failures {mix.failures} of {mix.requests:,}"
    )
    return mix


def plot(mixes: dict[str, Mix], path: Path) -> None:
    """Latency over time of the locust runs, p50 and p99 per profile."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 4.5))
    for (name, mix), colour in zip(mixes.items(), ("tab:blue", "tab:red"), strict=False):
        with mix.history.open(newline="") as history:
            rows = [row for row in csv.DictReader(history) if row["Name"] == "Aggregated"]
        # Before the first responses locust writes N/A or 0, which a log scale cannot show.
        rows = [row for row in rows if row["50%"] not in ("", "N/A", "0") and row["99%"] != "N/A"]
        if not rows:
            continue
        start = int(rows[0]["Timestamp"])
        seconds = [int(row["Timestamp"]) - start for row in rows]
        for column, style in (("50%", "-"), ("99%", "--")):
            values = [float(row[column]) for row in rows]
            axes.plot(seconds, values, style, color=colour, label=f"{name} p{column[:-1]}")
    axes.set_yscale("log")
    axes.set_xlabel("seconds into the locust run")
    axes.set_ylabel("latency (ms, log scale)")
    axes.set_title(
        f"Realistic mix through nginx: {USERS} users x {USER_RPS:g} req/s (80% read by id,"
        " 10% list, 5% create, 5% stats)",
        fontsize=9,
    )
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def row(profile: str, route: str, load: str, run: WrkRun | Mix) -> str:
    if isinstance(run, Mix):
        errors, missing = f"{run.failures} (locust failures)", ""
    else:
        errors, missing = str(run.non_2xx), str(run.socket_errors)
    cells = [
        profile,
        route,
        load,
        f"{run.rps:,.0f}",
        ms(run.p50_ms),
        ms(run.p99_ms),
        errors,
        missing,
    ]
    return "| " + " | ".join(cells) + " |"


def ratio(label: str, value: float, target: str = "", ok: bool | None = None) -> str:
    goal = "" if ok is None else f"{target}: {verdict(ok)}"
    return f"| {label} | {value:.2f}x | {goal} |"


def cpu_table() -> list[str]:
    """CPU per request by lab container, for the points measured on GET /items/{id} and the
    ceiling: where each profile's requests cost the shared CPUs."""
    labels = (TUNED_ITEM, NAIVE_ITEM, DIRECT_ITEM, CEILING)
    measured = [(label, cpu_spent[label]) for label in labels]
    containers = list(measured[0][1][0].containers)
    short = [name.removeprefix("hiload-") for name in containers]
    lines = [
        'CPU per request (µs), by lab container; "rest" is everything else the machine ran'
        " meanwhile (wrk, the engine, the kernel outside the containers):",
        "",
        "| Point | " + " | ".join(short) + " | rest | total |",
        "| --- | " + " | ".join("---" for _ in short) + " | --- | --- |",
    ]
    for label, (share, requests) in measured:
        per = share.per_request_us(requests)
        cells = [f"{per[name]:,.0f}" for name in [*containers, "rest", "total"]]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def report(r: Results, load_before: float) -> tuple[str, list[bool]]:
    wrk_load = f"wrk -t{THREADS} -c{CONNECTIONS}"
    direct_load = f"{len(r.endpoints)} x wrk -t1 -c{CONNECTIONS // len(r.endpoints)}"
    mix_load = f"locust {USERS} users x {USER_RPS:g}/s"
    by_rps = r.tuned_item.rps / r.naive_item.rps
    by_p99 = r.tuned_item.p99_ms / r.naive_item.p99_ms
    via_nginx = r.tuned_item.rps / r.direct_item.rps
    tuned_errors = sum(run.non_2xx + run.socket_errors for run in (r.tuned_item, r.tuned_healthz))
    targets = [by_rps >= 1.8, by_p99 <= 0.5, via_nginx >= 0.9, tuned_errors == 0]
    item, healthz = "`GET /items/{id}`", "`/healthz`"
    lines = [
        f"{os.cpu_count()} CPUs shared by the load generators and the whole lab; load average"
        f" {load_before:.1f} before the run, {min(load_samples):.1f} to {max(load_samples):.1f}"
        f" during it. wrk: {DURATION} s per line after {WARMUP} s of warm-up, ids drawn from"
        f" {SEED_ROWS:,} seeded rows. Deploying took"
        f" {', '.join(f'{s} s for {name}' for name, s in r.deploy_seconds.items())}."
        " Direct: every endpoint of nginx's upstream"
        f" ({', '.join(r.endpoints)}) at once, by container address.",
        "",
        "| Profile | Route | Load | req/s | p50 | p99 | non-2xx | no response |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        row("tuned", item, wrk_load, r.tuned_item),
        row("naive", item, wrk_load, r.naive_item),
        row("direct", item, direct_load, r.direct_item),
        row("tuned, lb1 by address", item, wrk_load, r.lb_item),
        row("tuned", healthz, wrk_load, r.tuned_healthz),
        row("naive", healthz, wrk_load, r.naive_healthz),
        row("direct", healthz, direct_load, r.direct_healthz),
        row("ceiling", "nginx `return 200`", wrk_load, r.ceiling),
        row("tuned", "mix", mix_load, r.tuned_mix),
        row("naive", "mix", mix_load, r.naive_mix),
        "",
        "| Ratio | Value | Target |",
        "| --- | --- | --- |",
        ratio(f"tuned / naive req/s, {item}", by_rps, "≥ 1.8x", targets[0]),
        ratio(f"tuned / naive p99, {item}", by_p99, "≤ 0.5x", targets[1]),
        ratio(f"tuned via nginx / direct req/s, {item}", via_nginx, "≥ 0.9x", targets[2]),
        ratio(f"tuned / ceiling req/s, {item}", r.tuned_item.rps / r.ceiling.rps),
        ratio(f"tuned / naive req/s, {healthz}", r.tuned_healthz.rps / r.naive_healthz.rps),
        ratio(
            f"tuned via nginx / direct req/s, {healthz}",
            r.tuned_healthz.rps / r.direct_healthz.rps,
        ),
        ratio(
            f"tuned via 127.0.0.1:8080 / via lb1's address req/s, {item}",
            r.tuned_item.rps / r.lb_item.rps,
        ),
        f"| tuned non-2xx or no response at {CONNECTIONS} connections | {tuned_errors} |"
        f" 0: {verdict(targets[3])} |",
        "",
        *cpu_table(),
        "",
        "`tuned, lb1 by address` is the tuned profile through nginx at lb1's container address,"
        " bypassing Docker's publishing of 127.0.0.1:8080 (a kernel DNAT rule when dockerd runs"
        " with --userland-proxy=false, as the make targets start it; a docker-proxy process"
        " otherwise): the difference to `tuned` is that hop, not nginx. Mix latencies are"
        " locust's; their plot over time"
        " is `reports/bench/latency.png`, locust's reports `reports/bench/locust-*.html`.",
    ]
    if load_before > 1.0:
        lines.append(
            "\n**The machine was busy before the run started**: other work shared the CPUs, so"
            " absolute figures are low and ratios noisy. Run again on a quiet machine."
        )
    return "\n".join(lines) + "\n", targets


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    STATE.mkdir(exist_ok=True)
    load_before = os.getloadavg()[0]
    global cpu_meter
    cpu_meter = CpuMeter(sorted(entry["Name"] for entry in lab_network()["Containers"].values()))
    remove_leftover_ceiling()
    # --flush-cache: a lab booted again (make down, make lab) may have new addresses, and
    # site.yml would otherwise trust the cached facts of the old containers.
    deployed = {"tuned": deploy("tuned", *TUNED, "--flush-cache")} if DEPLOY_FIRST else {}
    try:
        ids = seed()
        tuned_item = point(TUNED_ITEM, through(BASE_URL, ITEM, ids))
        tuned_healthz = point("tuned /healthz", through(BASE_URL, HEALTHZ))
        endpoints = upstream_endpoints()
        with controller_allowed(endpoints):
            direct_item = point(DIRECT_ITEM, direct(endpoints, ITEM, ids))
            direct_healthz = point("direct /healthz", direct(endpoints, HEALTHZ))
        lb_address = docker_exec(LB, "hostname", "-I").split()[0]
        lb_item = point("tuned via lb1's address", through(f"http://{lb_address}", ITEM, ids))
        with ceiling_server():
            ceiling = point(CEILING, through(BASE_URL, "/", headers=[f"Host: {CEILING_HOST}"]))
        tuned_mix = locust("tuned", ids)

        deployed["naive"] = deploy("naive", *NAIVE)
        naive_item = point(NAIVE_ITEM, through(BASE_URL, ITEM, ids))
        naive_healthz = point("naive /healthz", through(BASE_URL, HEALTHZ))
        naive_mix = locust("naive", ids)
    finally:
        deployed["tuned again"] = deploy("tuned", *TUNED)

    results = Results(
        tuned_item, tuned_healthz, naive_item, naive_healthz, direct_item, direct_healthz,
        lb_item, ceiling, tuned_mix, naive_mix, endpoints, deployed,
    )  # fmt: skip
    plot({"tuned": tuned_mix, "naive": naive_mix}, OUT / "latency.png")
    table, targets = report(results, load_before)
    (REPORTS / "bench.md").write_text(table)
    sys.stdout.write(table)
    say(
        f"{sum(targets)} of {len(targets)} targets met; reports/bench.md,"
        " reports/bench/latency.png, reports/bench/locust-{tuned,naive}.html"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
