#!/usr/bin/env bash
# make test (service part): lint, type-check and test the bundled API against real
# PostgreSQL and Redis servers that the tests start and remove themselves.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

need_debian_packages postgresql redis-server
[ -x .venv/bin/pytest ] ||
    die "No virtualenv with the test tools at .venv." \
        "Run: UV_PYTHON_DOWNLOADS=never uv sync --locked --all-groups"

say "ruff check"
.venv/bin/ruff check service
say "ruff format --check"
.venv/bin/ruff format --check service
say "mypy --strict (service/hiload_api)"
.venv/bin/mypy
say "pytest service/tests (starts its own PostgreSQL and Redis on private ports)"
.venv/bin/pytest "$@"
