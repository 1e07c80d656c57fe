#!/usr/bin/env bash
# make bench-service: the service alone on loopback (uvicorn + uvloop + httptools, one
# process) against a raw ASGI app, PostgreSQL and Redis, with wrk. Bounded in time:
# BENCH_DURATION seconds per measurement (default 10), BENCH_ROWS rows to export
# (default 1,000,000), BENCH_CONNECTIONS concurrent connections (default 64).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

need_debian_packages postgresql redis-server wrk curl util-linux
[ -x .venv/bin/uvicorn ] ||
    die "No virtualenv with the service at .venv." \
        "Run: UV_PYTHON_DOWNLOADS=never uv sync --locked --all-groups"

say "Benchmarking the service on 127.0.0.1 (5-6 minutes; table in reports/bench-service.md)"
.venv/bin/python bench/service/bench.py
