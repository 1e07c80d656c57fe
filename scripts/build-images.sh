#!/usr/bin/env bash
# Build the systemd images the lab and the Molecule scenarios boot: hiload-systemd:<release>.
# The Debian base comes from the registry when one answers, otherwise from debootstrap
# piped into `docker import` (this machine has no registry). Images are reused across runs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

base_from_debootstrap() {
    local release=$1 root log
    need_debian_packages debootstrap
    is_root || die "debootstrap needs root to build the debian:$release base image." "Run make as root."
    root=$(mktemp -d "/var/tmp/hiload-debootstrap-$release.XXXXXX")
    log="$HILOAD_STATE_DIR/debootstrap-$release.log"
    say "Building debian:$release with debootstrap (no image registry answers; about a minute)"
    if ! debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,python3 \
        "$release" "$root" http://deb.debian.org/debian >"$log" 2>&1; then
        rm -rf "$root"
        die "debootstrap $release failed; the last lines of $log:" "$(tail -n 5 "$log")" \
            "Check that this machine reaches deb.debian.org."
    fi
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    if ! tar -C "$root" -c . | docker import - "debian:$release" >/dev/null; then
        rm -rf "$root"
        die "docker import of debian:$release failed." "Check the engine's log: $HILOAD_STATE_DIR/dockerd.log"
    fi
    rm -rf "$root"
}

mkdir -p "$HILOAD_STATE_DIR"
releases=("$@")
[ "${#releases[@]}" -gt 0 ] || releases=(bookworm trixie)
for release in "${releases[@]}"; do
    if ! image_exists "debian:$release"; then
        if ! timeout 60 docker pull -q "debian:$release" >/dev/null 2>&1; then
            base_from_debootstrap "$release"
        fi
    fi
    say "Building hiload-systemd:$release on debian:$release (cached layers are reused)"
    log="$HILOAD_STATE_DIR/build-$release.log"
    docker build -f images/systemd.Dockerfile --build-arg "BASE_IMAGE=debian:$release" \
        -t "hiload-systemd:$release" images >"$log" 2>&1 ||
        die "docker build of hiload-systemd:$release failed; the last lines of $log:" "$(tail -n 5 "$log")"
done
