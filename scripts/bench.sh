#!/usr/bin/env bash
# make bench: the deployed stack on the lab, side by side in one run — tuned (site.yml's
# defaults, bench/stack/tuned.yml), naive (bench/stack/naive.yml -e @inventories/lab/naive.yml:
# one uvicorn --workers unit per app host), direct (the instances without nginx) and the ceiling
# (nginx answering `return 200`) — with wrk and locust. The lab is up (make lab runs first) and
# is left in the tuned profile. Bounded: BENCH_DURATION seconds per wrk point (default 12),
# BENCH_LOCUST_SECONDS per locust run (default 30), plus three deploys, each a site.yml run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

need_debian_packages wrk
[ -x .venv/bin/locust ] ||
    die "No locust in the virtualenv at .venv." \
        "Run: UV_PYTHON_DOWNLOADS=never uv sync --locked --all-groups"

say "Benchmarking the lab through nginx on 127.0.0.1:8080 (10-15 minutes; table in reports/bench.md)"
.venv/bin/python bench/stack/bench.py
