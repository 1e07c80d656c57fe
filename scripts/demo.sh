#!/usr/bin/env bash
# make demo: converge the lab with site.yml, run it again to show it changes nothing, time
# both, and show what answers where. The lab's containers are already up (make lab runs first).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
mkdir -p "$HILOAD_STATE_DIR"

# Runs site.yml with any further arguments, logging to $1; sets SITE_SECONDS and SITE_CHANGED.
run_site() {
    local log=$1
    shift
    SECONDS=0
    if ! ansible-playbook site.yml "$@" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "site.yml failed after ${SECONDS}s." "The failing task is above; the whole run is in $log."
    fi
    SITE_SECONDS=$SECONDS
    SITE_CHANGED=$(awk '/PLAY RECAP/ {recap=1; next} recap && /changed=/ {sub(/.*changed=/, ""); sub(/ .*/, ""); total += $0} END {print total + 0}' "$log")
}

say "Converging the lab: ansible-playbook site.yml (log: .state/site-converge.log)"
# --flush-cache: containers booted again (make down, make lab) may have new addresses, and
# cached facts of the old ones would configure PostgreSQL and the app for those.
run_site "$HILOAD_STATE_DIR/site-converge.log" --flush-cache
converge_seconds=$SITE_SECONDS converge_changed=$SITE_CHANGED
say "Converged in ${converge_seconds}s (changed=${converge_changed}); running it again to prove it changes nothing"
run_site "$HILOAD_STATE_DIR/site-again.log"
again_seconds=$SITE_SECONDS again_changed=$SITE_CHANGED
[ "$again_changed" -eq 0 ] ||
    die "The second run of site.yml changed ${again_changed} things: the roles are not idempotent." \
        "The changed tasks are in .state/site-again.log (grep -B2 '^changed:')."

say "Smoke request through nginx on 127.0.0.1:8080"
body=$(curl -fsS --max-time 10 http://127.0.0.1:8080/healthz) ||
    die "nginx on 127.0.0.1:8080 did not answer /healthz." "Check: docker exec hiload-lb1 journalctl -u nginx -n 20"

cat <<SUMMARY

  site.yml: first run ${converge_seconds}s (changed=${converge_changed}), second run ${again_seconds}s (changed=${again_changed})
  GET http://127.0.0.1:8080/healthz through nginx answered: ${body}

  What runs where (Docker network hiload-lab):
    hiload-lb1   nginx, Prometheus    http://127.0.0.1:8080/  and  http://127.0.0.1:9090/
    hiload-app1  hiload@1..N          one Uvicorn instance per vCPU behind nginx
    hiload-app2  hiload@1..N          one Uvicorn instance per vCPU behind nginx
    hiload-db1   PostgreSQL, Redis (the cache every instance reads through)

  Try:  curl -s 'http://127.0.0.1:8080/items?limit=5'
        http://127.0.0.1:8080/docs   (interactive API docs, served without a CDN)
  Stop: make down
SUMMARY
