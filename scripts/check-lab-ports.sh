#!/usr/bin/env bash
# The lab publishes nginx on 127.0.0.1:8080: stop early if something else holds that port.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

port=8080
container=hiload-lb1
if docker port "$container" 2>/dev/null | grep -q ":$port\$"; then
    exit 0 # our own lab already publishes it
fi
if ss -H -ltn "sport = :$port" 2>/dev/null | grep -q .; then
    holder=$(ss -H -ltnp "sport = :$port" 2>/dev/null | grep -o 'users:(("[^"]*"' | head -n 1 | cut -d'"' -f2)
    die "Port $port on this machine is already taken${holder:+ by $holder}; the lab publishes nginx there." \
        "Stop that program, or change lab_published_ports for hiload-lb1 in inventories/lab/hosts.yml."
fi
