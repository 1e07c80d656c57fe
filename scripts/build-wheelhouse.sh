#!/usr/bin/env bash
# Build the wheelhouse the app role installs from: app hosts have no PyPI, so the controller
# builds the service wheel and downloads every pinned runtime dependency as a binary wheel for
# each Python the app hosts run (Debian 12: CPython 3.11, Debian 13: 3.13), manylinux x86_64.
#
#   scripts/build-wheelhouse.sh [OUT_DIR]      (default: build/wheelhouse)
#
# Result, one directory per interpreter tag (OUT_DIR/cp311, OUT_DIR/cp313):
#   *.whl             the service wheel and its dependencies, nothing else
#   requirements.txt  the lock's pins (with their markers, for the host's pip to evaluate) plus
#                     hiload==<version>: what the role installs, exactly
#   RELEASE           <version>-<hash of the files above>: the release directory's name
# and OUT_DIR/cp311.tar, OUT_DIR/cp313.tar: the same, archived, which is what the role copies.
# Dependency downloads are reused while uv.lock (and the target list) stays the same; the
# service wheel is rebuilt every time and replaced only when its content changed. The last
# line is "wheelhouse: changed" or "wheelhouse: unchanged" (the app role reads it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

OUT_DIR=${1:-build/wheelhouse}
# Full versions: markers such as python_full_version < '3.11.3' decide on the patch level.
read -r -a PYTHONS <<<"${HILOAD_WHEELHOUSE_PYTHONS:-3.11.2 3.13.5}"
PYTHON=$(command -v .venv/bin/python || true)
[ -n "$PYTHON" ] || die "No toolchain virtualenv at .venv (scripts/wheelhouse_pins.py needs its packaging)." \
    "Run: make venv"
PLATFORMS=(manylinux_2_28_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64)

UV=$(command -v .state/uv/bin/uv || command -v uv || true)
[ -n "$UV" ] || die "uv is needed to build the service wheel and export the lock's pins." \
    "Run: make venv   (bootstraps uv into .state/uv)"
python3 -c 'import ensurepip, venv' 2>/dev/null ||
    die "python3 on this controller lacks venv/ensurepip, needed for pip download." \
        "Run: sudo apt-get install python3-venv"

mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
# Scenarios converge in parallel (make test-molecule): one build at a time per wheelhouse.
exec 9>"$OUT_DIR/.lock"
flock 9
work=$(mktemp -d "$OUT_DIR/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
changed=false

# pip from the standard library's bundled wheel: downloading needs no pip on PATH.
pip_env="$OUT_DIR/.pip"
[ -x "$pip_env/bin/pip" ] || python3 -m venv "$pip_env"

say "Building the service wheel (uv build)"
"$UV" build --wheel --quiet --out-dir "$work/dist" . >&2
wheels=("$work"/dist/hiload-*.whl)
[ "${#wheels[@]}" -eq 1 ] || die "Expected one hiload wheel, got: ${wheels[*]}"
service_wheel=${wheels[0]}
version=$(basename "$service_wheel" | cut -d- -f2)

"$UV" export --frozen --quiet --no-header --no-dev --no-hashes --no-emit-project --no-default-groups \
    --output-file "$work/pins.txt" >&2
# Dependencies are downloaded again only when this stamp changes.
deps_stamp=$(cat "$work/pins.txt" scripts/wheelhouse_pins.py <(printf '%s\n' "${PLATFORMS[@]}") |
    sha256sum | cut -c1-64)

for python in "${PYTHONS[@]}"; do
    minor=${python%.*}
    tag="cp${minor//./}"
    dest="$OUT_DIR/$tag"
    if [ "$(cat "$dest/.deps-stamp" 2>/dev/null)" != "$deps_stamp" ]; then
        say "Downloading dependency wheels for CPython $python (uv.lock changed or first build)"
        staging="$work/$tag"
        "$PYTHON" scripts/wheelhouse_pins.py "$python" <"$work/pins.txt" >"$work/pins-$tag.txt"
        platform_args=()
        for platform in "${PLATFORMS[@]}"; do platform_args+=(--platform "$platform"); done
        "$pip_env/bin/pip" download --quiet --disable-pip-version-check --no-deps \
            --only-binary=:all: --implementation cp --python-version "$minor" --abi "$tag" \
            "${platform_args[@]}" --dest "$staging" --requirement "$work/pins-$tag.txt" >&2 ||
            die "pip download failed for CPython $python." \
                "Check this controller's access to PyPI; every pinned dependency needs a manylinux x86_64 wheel."
        printf '%s\n' "$deps_stamp" >"$staging/.deps-stamp"
        rm -rf "$dest"
        mv "$staging" "$dest"
        changed=true
    fi

    # The service wheel: replace it (and any older version) only when its bytes differ.
    if ! cmp -s "$service_wheel" "$dest/$(basename "$service_wheel")"; then
        rm -f "$dest"/hiload-*.whl
        cp "$service_wheel" "$dest/"
        changed=true
    fi
    { cat "$work/pins.txt"; printf 'hiload==%s\n' "$version"; } >"$work/requirements.txt"
    cmp -s "$work/requirements.txt" "$dest/requirements.txt" || {
        cp "$work/requirements.txt" "$dest/requirements.txt"
        changed=true
    }
    content_hash=$(cd "$dest" && sha256sum -- *.whl requirements.txt | sha256sum | cut -c1-10)
    printf '%s-%s\n' "$version" "$content_hash" >"$work/RELEASE"
    cmp -s "$work/RELEASE" "$dest/RELEASE" || cp "$work/RELEASE" "$dest/RELEASE"
    # One archive per tag: hosts receive it in a single transfer instead of one per wheel.
    if [ ! -f "$dest.tar" ] || [ "$(tar -xOf "$dest.tar" ./RELEASE 2>/dev/null)" != "$(cat "$dest/RELEASE")" ]; then
        tar -C "$dest" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
            --exclude=./.deps-stamp -cf "$work/$tag.tar" .
        mv "$work/$tag.tar" "$dest.tar"
        changed=true
    fi
    say "Wheelhouse for CPython $python: $dest.tar (release $(cat "$dest/RELEASE"))"
done

# nginx serves /docs' assets from disk (nginx_static_source); take them from the wheel hosts install.
docs_dir="$OUT_DIR/static/docs"
if [ -n "$(python3 scripts/extract_docs_assets.py "$OUT_DIR/$tag" "$docs_dir")" ]; then
    changed=true
fi
say "Swagger UI assets for nginx: $docs_dir"

if [ "$changed" = true ]; then echo "wheelhouse: changed"; else echo "wheelhouse: unchanged"; fi
