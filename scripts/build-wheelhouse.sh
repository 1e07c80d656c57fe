#!/usr/bin/env bash
# Build the wheelhouse the app role installs from: app hosts have no PyPI, so the controller
# builds the app's wheel and downloads every pinned runtime dependency as a binary wheel for
# each Python the app hosts run (Debian 12: CPython 3.11, Debian 13: 3.13), manylinux x86_64.
#
#   scripts/build-wheelhouse.sh [--project DIR | --wheels DIR] [--release-file PATH]... [OUT_DIR]
#
# The app (the inventory's hiload_app_project_dir or hiload_app_wheels_dir):
#   --project DIR   a Python project with a pyproject.toml; default this repository, the bundled
#                   service. uv builds its wheel. DIR/uv.lock pins its dependencies when there is
#                   one; otherwise uv resolves pyproject.toml's for each Python, held to the pins
#                   of DIR/requirements.txt when there is one.
#   --wheels DIR    a directory of built wheels and a requirements.txt pinning everything the app
#                   needs, the app itself included; what the directory lacks is downloaded. A
#                   source distribution there stands for a pin without a wheel (see below).
#   --release-file[=]PATH   (relative to DIR, repeatable) a file or directory the release needs
#                   beside its virtualenv, such as alembic.ini and migrations: the role puts it
#                   into the release directory, the migrations' working directory.
# OUT_DIR defaults to build/wheelhouse of this repository.
#
# Result, one directory per interpreter tag (OUT_DIR/cp311, OUT_DIR/cp313):
#   *.whl             the app's wheel and its dependencies, plus the server the role runs (uvicorn,
#                     uvloop, httptools, at this repository's pins) where the app pins none of them
#   requirements.txt  the pins (a lock's with their markers, for the host's pip to evaluate) plus
#                     <app>==<version>: what the role installs, exactly
#   files/            the release files, if any
#   RELEASE           <version>-<hash of the files above>: the release directory's name
#                     (wheels-<hash> for a directory of wheels)
# and OUT_DIR/cp311.tar, OUT_DIR/cp313.tar: the same, archived, which is what the role copies.
# A dependency without a wheel for a target is built into one here when it is pure Python; any
# other is refused, naming the package and the Python, before any host is touched. Downloads are
# reused while the pins (and the target list) stay the same; the app's wheel is rebuilt every time
# and replaced only when its content changed. The last line is "wheelhouse: changed" or
# "wheelhouse: unchanged" (the app role reads it).
set -euo pipefail
caller_dir=$PWD
BUNDLE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$BUNDLE"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

usage() {
    die "$1" "Usage: scripts/build-wheelhouse.sh [--project DIR | --wheels DIR] [--release-file PATH]... [OUT_DIR]"
}
# Paths given on the command line are the caller's; the defaults are this repository's.
absolute() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$caller_dir" "$1" ;; esac }

source_dir=$BUNDLE
kind=project
release_files=()
constraints=()
OUT_DIR=""
while [ $# -gt 0 ]; do
    case $1 in
        --project)
            [ $# -ge 2 ] || usage "--project needs a directory."
            kind=project
            source_dir=$(absolute "$2")
            shift 2
            ;;
        --wheels)
            [ $# -ge 2 ] || usage "--wheels needs a directory."
            kind=wheels
            source_dir=$(absolute "$2")
            shift 2
            ;;
        --release-file)
            [ $# -ge 2 ] || usage "--release-file needs a path relative to the project."
            release_files+=("$2")
            shift 2
            ;;
        --release-file=*)
            release_files+=("${1#--release-file=}")
            shift
            ;;
        -*) usage "Unknown option: $1" ;;
        *)
            [ -z "$OUT_DIR" ] || usage "One output directory only (got $OUT_DIR and $1)."
            OUT_DIR=$(absolute "$1")
            shift
            ;;
    esac
done
OUT_DIR=${OUT_DIR:-build/wheelhouse}

[ -d "$source_dir" ] || die "No directory $source_dir." \
    "Point --project (hiload_app_project_dir) at your Python project, or --wheels (hiload_app_wheels_dir) at a directory of wheels."
source_dir=$(cd "$source_dir" && pwd)
if [ "$kind" = project ]; then
    [ -f "$source_dir/pyproject.toml" ] || die "No pyproject.toml in $source_dir." \
        "Point --project (hiload_app_project_dir) at the directory of your project's pyproject.toml."
else
    [ -f "$source_dir/requirements.txt" ] || die "No requirements.txt in $source_dir." \
        "A directory of wheels (hiload_app_wheels_dir) needs a requirements.txt pinning everything to install."
fi
for path in "${release_files[@]}"; do
    case /$path/ in
        //* | */../*) die "Release file '$path' is not a path inside $source_dir." \
            "Give it relative to the project, e.g. alembic.ini or migrations." ;;
    esac
    [ -e "$source_dir/$path" ] || die "No $path in $source_dir (a release file)." \
        "Correct hiload_app_release_files: paths relative to the project."
done

# Full versions: markers such as python_full_version < '3.11.3' decide on the patch level.
read -r -a PYTHONS <<<"${HILOAD_WHEELHOUSE_PYTHONS:-3.11.2 3.13.5}"
PYTHON=$(command -v .venv/bin/python || true)
[ -n "$PYTHON" ] || die "No toolchain virtualenv at .venv (scripts/wheelhouse_pins.py needs its packaging)." \
    "Run: make venv"
PYTHON=$BUNDLE/$PYTHON
# uv pip compile is given this interpreter (--python) beside each target's --python-version:
# it only resolves for the target, but without one it searches PATH for that version, which
# behind pyenv's shims took 3 to 9 s per target on every deploy's preflight.
PLATFORMS=(manylinux_2_28_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64)
platform_args=()
for platform in "${PLATFORMS[@]}"; do platform_args+=(--platform "$platform"); done
# Wheels of a directory of wheels are found there first.
find_links=()
if [ "$kind" = wheels ]; then find_links=(--find-links "$source_dir"); fi

UV=$(command -v .state/uv/bin/uv || command -v uv || true)
[ -n "$UV" ] || die "uv is needed to build the app's wheel and export or resolve its pins." \
    "Run: make venv   (bootstraps uv into .state/uv)"
case $UV in /*) ;; *) UV=$BUNDLE/$UV ;; esac
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
pip=("$pip_env/bin/pip" --disable-pip-version-check)

# The app's own requirement line (a directory of wheels names the app in its requirements.txt).
app_pin=""
app_wheel=""
version=wheels
if [ "$kind" = project ]; then
    say "Building the app's wheel (uv build $source_dir)"
    "$UV" build --wheel --quiet --out-dir "$work/dist" "$source_dir" >&2
    wheels=("$work"/dist/*.whl)
    [ "${#wheels[@]}" -eq 1 ] || die "Expected one wheel from $source_dir, got: ${wheels[*]}"
    app_wheel=${wheels[0]}
    app_name=$(basename "$app_wheel" | cut -d- -f1)
    version=$(basename "$app_wheel" | cut -d- -f2)
    app_pin="$app_name==$version"
fi

# The pins the wheelhouse's requirements.txt starts with: a lock's (with their markers) or a
# directory of wheels' for every Python alike, or resolved by uv for each one.
if [ "$kind" = wheels ]; then
    cp "$source_dir/requirements.txt" "$work/pins.txt"
elif [ -f "$source_dir/uv.lock" ]; then
    (cd "$source_dir" && "$UV" export --frozen --quiet --no-header --no-dev --no-hashes --no-emit-project \
        --no-default-groups --output-file "$work/pins.txt" >&2) ||
        die "uv export failed in $source_dir." "Is its uv.lock up to date with pyproject.toml? Run: uv lock (there)"
else
    if [ -f "$source_dir/requirements.txt" ]; then
        # Only the pins: an option line (-e ., -r, --index-url) is no constraint.
        grep -v '^[[:space:]]*-' "$source_dir/requirements.txt" >"$work/constraints.txt" || true
        constraints=(--constraint "$work/constraints.txt")
    fi
fi
source_pins() { # TAG: the file the wheelhouse's requirements.txt starts with for TAG
    if [ -f "$work/pins.txt" ]; then echo "$work/pins.txt"; else echo "$work/source-$1.txt"; fi
}

# Downloads binary wheels of REQUIREMENT_ARGS for one target into DEST.
download() { # MINOR TAG DEST REQUIREMENT_ARGS...
    local minor=$1 tag=$2 dest=$3
    shift 3
    "${pip[@]}" download --quiet --no-deps --only-binary=:all: --implementation cp \
        --python-version "$minor" --abi "$tag" "${platform_args[@]}" "${find_links[@]}" --dest "$dest" "$@"
}

# A pin with no wheel for CPython PYTHON: built here from its source when that gives a wheel for
# any Python (pure Python), refused otherwise. Each is built once per run, for every target.
pure_python_wheel() { # PIN PYTHON DEST
    local pin=$1 python=$2 dest=$3 key built wheel
    key=$(printf '%s' "$pin" | sha256sum | cut -c1-16)
    built="$work/built/$key"
    if [ ! -d "$built" ]; then
        mkdir -p "$work/sdist/$key"
        "${pip[@]}" download --quiet --no-deps --no-binary=:all: "${find_links[@]}" \
            --dest "$work/sdist/$key" "$pin" >&2 ||
            die "$pin has no wheel for CPython $python (manylinux x86_64), nor a source distribution pip could fetch." \
                "Pin a version of it that publishes wheels, or check this controller's access to PyPI."
        say "Building $pin from its source distribution: it has no wheel for CPython $python"
        mkdir -p "$built"
        "${pip[@]}" wheel --quiet --no-deps --wheel-dir "$built" "$work/sdist/$key"/* >&2 ||
            die "$pin has no wheel for CPython $python (manylinux x86_64), and its source did not build on this controller (pip's output above)." \
                "Pin a version of it that publishes manylinux x86_64 wheels for CPython $python."
    fi
    wheel=$(find "$built" -name '*.whl' | head -n 1)
    case $wheel in
        *-none-any.whl) cp "$wheel" "$dest/" ;;
        *) die "$pin has no wheel for CPython $python (manylinux x86_64) and is not pure Python: its source builds $(basename "$wheel"), a wheel for this controller only." \
            "The app hosts cannot install it, so nothing was deployed. Pin a version of it that publishes manylinux x86_64" \
            "wheels for CPython $python, or build a manylinux wheel of it for CPython $python yourself (pip wheel, then" \
            "auditwheel repair) and deploy from a directory of wheels (hiload_app_wheels_dir)." ;;
    esac
}

# The release files, as the release directory will hold them: readable by the service, never
# writable, without the caches a local run leaves behind.
if [ "${#release_files[@]}" -gt 0 ]; then
    mkdir -p "$work/files"
    tar -C "$source_dir" --exclude=__pycache__ --exclude='*.pyc' -cf - -- "${release_files[@]}" |
        tar -C "$work/files" -xf -
    chmod -R u+rwX,go+rX,go-w "$work/files"
fi

for python in "${PYTHONS[@]}"; do
    minor=${python%.*}
    tag="cp${minor//./}"
    dest="$OUT_DIR/$tag"
    if [ ! -f "$work/pins.txt" ]; then
        say "Resolving $source_dir/pyproject.toml for CPython $python (no uv.lock there)"
        "$UV" pip compile --quiet --no-header --no-annotate "${constraints[@]}" --python "$PYTHON" --python-version "$python" \
            --python-platform x86_64-manylinux_2_28 --output-file "$work/source-$tag.txt" \
            "$source_dir/pyproject.toml" >&2 ||
            die "uv could not resolve the dependencies of $source_dir/pyproject.toml for CPython $python (above)."
    fi
    "$PYTHON" scripts/wheelhouse_pins.py "$python" --server uv.lock "$(source_pins "$tag")" >"$work/server-$tag.txt"
    cat "$(source_pins "$tag")" "$work/server-$tag.txt" |
        "$PYTHON" scripts/wheelhouse_pins.py "$python" >"$work/pins-$tag.txt"
    # Dependencies are downloaded again only when this stamp changes.
    deps_stamp=$(
        {
            cat "$work/pins-$tag.txt" scripts/wheelhouse_pins.py
            printf '%s\n' "${PLATFORMS[@]}"
            if [ "$kind" = wheels ]; then (cd "$source_dir" && sha256sum -- *.whl 2>/dev/null || true); fi
        } | sha256sum | cut -c1-64
    )
    if [ "$(cat "$dest/.deps-stamp" 2>/dev/null)" != "$deps_stamp" ]; then
        say "Downloading dependency wheels for CPython $python (pins changed or first build)"
        staging="$work/$tag"
        mkdir -p "$staging"
        if ! download "$minor" "$tag" "$staging" --requirement "$work/pins-$tag.txt" 2>"$work/pip-$tag.log"; then
            say "Not every pin has a wheel for CPython $python: finding which"
            missing=()
            while read -r pin; do
                download "$minor" "$tag" "$staging" "$pin" 2>/dev/null || missing+=("$pin")
            done <"$work/pins-$tag.txt"
            [ "${#missing[@]}" -gt 0 ] || die "pip download failed for CPython $python:" \
                "$(tail -n 5 "$work/pip-$tag.log")" "Check this controller's access to PyPI."
            for pin in "${missing[@]}"; do pure_python_wheel "$pin" "$python" "$staging"; done
        fi
        printf '%s\n' "$deps_stamp" >"$staging/.deps-stamp"
        rm -rf "$dest"
        mv "$staging" "$dest"
        changed=true
    fi

    # The app's wheel: replace it (and any older version) only when its bytes differ.
    if [ -n "$app_wheel" ] && ! cmp -s "$app_wheel" "$dest/$(basename "$app_wheel")"; then
        rm -f "$dest/$app_name"-*.whl
        cp "$app_wheel" "$dest/"
        changed=true
    fi
    if [ -d "$work/files" ]; then
        if ! diff -r "$work/files" "$dest/files" >/dev/null 2>&1; then
            rm -rf "$dest/files"
            cp -a "$work/files" "$dest/files"
            changed=true
        fi
    elif [ -e "$dest/files" ]; then
        rm -rf "$dest/files"
        changed=true
    fi
    {
        cat "$(source_pins "$tag")" "$work/server-$tag.txt"
        if [ -n "$app_pin" ]; then printf '%s\n' "$app_pin"; fi
    } >"$work/requirements.txt"
    cmp -s "$work/requirements.txt" "$dest/requirements.txt" || {
        cp "$work/requirements.txt" "$dest/requirements.txt"
        changed=true
    }
    # What the host's pip will do, offline and from these wheels alone: refused here, not there.
    "$UV" pip compile --quiet --no-header --no-index --find-links "$dest" --python "$PYTHON" --python-version "$python" \
        --python-platform x86_64-manylinux_2_28 --output-file "$work/installable-$tag.txt" \
        "$dest/requirements.txt" 2>"$work/check-$tag.log" ||
        die "The wheelhouse for CPython $python would not install on the hosts from its own wheels:" \
            "$(cat "$work/check-$tag.log")" \
            "A directory of wheels' requirements.txt must pin every package the app needs, its dependencies' too."
    content_hash=$(
        cd "$dest" && {
            sha256sum -- *.whl requirements.txt
            if [ -d files ]; then find files -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; fi
        } | sha256sum | cut -c1-10
    )
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

# The bundled service's /docs assets, which nginx serves from disk (hiload_app_static_dir's
# default): taken from the Swagger UI wheel the hosts install.
if compgen -G "$OUT_DIR/$tag/swagger_ui_bundle*.whl" >/dev/null; then
    docs_dir="$OUT_DIR/static/docs"
    if [ -n "$(python3 scripts/extract_docs_assets.py "$OUT_DIR/$tag" "$docs_dir")" ]; then
        changed=true
    fi
    say "Swagger UI assets for nginx: $docs_dir"
fi

if [ "$changed" = true ]; then echo "wheelhouse: changed"; else echo "wheelhouse: unchanged"; fi
