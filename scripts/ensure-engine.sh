#!/usr/bin/env bash
# Make sure a Docker engine answers `docker info`.
# Order of preference: one that already runs; one systemd can start; on Debian/Ubuntu as root,
# docker.io from the distribution with dockerd started in the background (log under .state/).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

engine_answers() { docker info >/dev/null 2>&1; }

engine_answers && exit 0

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 && systemctl cat docker.service >/dev/null 2>&1; then
    say "Docker engine not answering; starting it with systemd"
    systemctl start docker || die "systemctl start docker failed." "See: journalctl -u docker"
    engine_answers && exit 0
fi

say "No Docker engine answers 'docker info'; the lab and the Molecule tests need one, so starting dockerd"
need_debian_packages docker.io iptables
is_root || die "dockerd must run as root to start the lab's containers." "Run make as root, or start Docker yourself."

mkdir -p "$HILOAD_STATE_DIR"
log="$HILOAD_STATE_DIR/dockerd.log"
if ! pgrep -x dockerd >/dev/null 2>&1; then
    # A dockerd killed without cleanup leaves its pid file behind and refuses to start again.
    rm -f /var/run/docker.pid /run/docker.pid
    pgrep -x containerd >/dev/null 2>&1 || rm -f /run/containerd/containerd.pid
    say "Starting dockerd in the background (log: ${log#"$PWD"/})"
    # --userland-proxy=false: a published port (the lab's 127.0.0.1:8080, :8443, :9090) is
    # forwarded by an iptables DNAT rule in the kernel instead of a docker-proxy process that
    # copies every byte through userspace, a hop that takes CPU from `make bench` on two cores.
    # dockerd sets route_localnet on its bridges itself, so 127.0.0.1 still reaches containers.
    nohup dockerd --userland-proxy=false >"$log" 2>&1 </dev/null &
fi
for _ in $(seq 1 60); do
    engine_answers && { say "Docker engine is up"; exit 0; }
    sleep 1
done
die "dockerd did not answer within 60 s." "Its log is $log; the last lines:" "$(tail -n 5 "$log" 2>/dev/null)"
