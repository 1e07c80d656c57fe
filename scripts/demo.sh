#!/usr/bin/env bash
# make demo: converge the lab with site.yml, time it, and show what answers where.
# The lab's containers are already up (make lab runs first).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

mkdir -p "$HILOAD_STATE_DIR"
log="$HILOAD_STATE_DIR/site.log"
say "Converging the lab: ansible-playbook site.yml (full log: ${log#"$PWD"/})"
SECONDS=0
if ! ansible-playbook site.yml 2>&1 | tee "$log"; then
    die "site.yml failed after ${SECONDS}s." "The failing task is shown above; the whole run is in $log."
fi
elapsed=$SECONDS
changed=$(awk '/PLAY RECAP/ {recap=1; next} recap && /changed=/ {sub(/.*changed=/, ""); sub(/ .*/, ""); total += $0} END {print total + 0}' "$log")

say "Smoke request through nginx on 127.0.0.1:8080"
if ! body=$(curl -fsS --max-time 10 http://127.0.0.1:8080/healthz); then
    die "nginx on 127.0.0.1:8080 did not answer /healthz." "Check: docker exec hiload-lb1 journalctl -u nginx -n 20"
fi

cat <<SUMMARY

  site.yml converged in ${elapsed}s with changed=${changed} (a second 'make demo' should report changed=0)
  GET /healthz through nginx answered: ${body}

  What runs where (lab network hiload-lab):
    hiload-lb1   nginx            http://127.0.0.1:8080/        (API, /docs, /metrics per instance stays internal)
    hiload-app1  hiload@N units   uvicorn instances behind nginx
    hiload-app2  hiload@N units   uvicorn instances behind nginx
    hiload-db1   PostgreSQL

  Try:  curl -s http://127.0.0.1:8080/items?limit=5
        open  http://127.0.0.1:8080/docs
  Stop: make down
SUMMARY
