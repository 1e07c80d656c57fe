#!/usr/bin/env bash
# The controller needs Python 3.11+ with venv to bootstrap uv and the locked toolchain.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if ! command -v python3 >/dev/null 2>&1; then
    need_debian_packages python3 python3-venv
fi
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    die "python3 is $(python3 -V 2>&1); hiload's controller needs 3.11 or later." \
        "Install a newer python3 (Debian 12 ships 3.11) and run make again."
python3 -c 'import ensurepip, venv' 2>/dev/null || need_debian_packages python3-venv
