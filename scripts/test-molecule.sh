#!/usr/bin/env bash
# Run Molecule scenarios, MOLECULE_JOBS at a time (default 2), each one's log in
# .state/molecule/<scenario>.log. Scenarios have their own containers and network, so they
# run side by side; most of their time is spent waiting on the containers, not on the CPU.
#
#   scripts/test-molecule.sh SCENARIO...
#
# Prints one line per scenario as it ends and, for a failure, the end of its log.
# Exits non-zero when any scenario failed (the others still run to the end).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

[ "$#" -gt 0 ] || die "No scenario given." "Usage: scripts/test-molecule.sh SCENARIO..."
jobs_max=${MOLECULE_JOBS:-2}
[[ "$jobs_max" =~ ^[1-9][0-9]*$ ]] || die "MOLECULE_JOBS=$jobs_max is not a positive integer." \
    "Run: make test-molecule MOLECULE_JOBS=2"
log_dir="$HILOAD_STATE_DIR/molecule"
mkdir -p "$log_dir"

# The longest scenarios start first so the last ones to finish are short.
ordered=()
for heavy in cluster default single-host own_app hiload_app monitoring; do
    for scenario in "$@"; do [ "$scenario" = "$heavy" ] && ordered+=("$scenario"); done
done
for scenario in "$@"; do
    case " ${ordered[*]} " in *" $scenario "*) ;; *) ordered+=("$scenario") ;; esac
done

# Both builds of the wheelhouse the scenarios install from happen once, up front.
scripts/build-wheelhouse.sh >/dev/null

run_one() {
    local scenario=$1 start=$SECONDS
    if molecule test -s "$scenario" >"$log_dir/$scenario.log" 2>&1; then
        say "molecule scenario $scenario passed in $((SECONDS - start))s"
    else
        say "molecule scenario $scenario FAILED after $((SECONDS - start))s; end of $log_dir/$scenario.log:"
        tail -n 150 "$log_dir/$scenario.log" >&2
        touch "$log_dir/$scenario.failed"
        return 1
    fi
}

for scenario in "${ordered[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
    rm -f "$log_dir/$scenario.failed"
    say "molecule test -s $scenario (log: $log_dir/$scenario.log)"
    run_one "$scenario" &
done
wait || true
failed=()
for scenario in "${ordered[@]}"; do
    [ ! -e "$log_dir/$scenario.failed" ] || failed+=("$scenario")
done
# What failed, last: the tails above interleave with the other scenarios' lines, and a CI log is
# often read from its end.
for scenario in "${failed[@]}"; do
    say "what failed in $scenario:"
    grep -E '^(FAILED|ERROR) |^E   |^fatal: |^failed: |FAILED!|^CRITICAL ' "$log_dir/$scenario.log" \
        | cut -c1-400 | tail -n 40 >&2 || true
done
[ "${#failed[@]}" -eq 0 ] || die "Molecule scenarios failed: ${failed[*]}" \
    "Their logs are in $log_dir/; rerun one with: make test-molecule MOLECULE_SCENARIOS=${failed[0]}"
say "every molecule scenario passed (${#ordered[@]}, $jobs_max at a time)"
