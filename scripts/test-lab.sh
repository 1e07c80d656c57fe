#!/usr/bin/env bash
# make test-lab: the README's first command, run as a newcomer runs it. `make demo` runs in a fresh
# clone of HEAD outside the home directory, with the home hidden behind an empty tmpfs in a private
# mount namespace (OpenSSH expands ~ from the password database, so an empty $HOME alone would hide
# nothing): no repo-local state (secrets, build/, .state/, cached facts) and nothing the
# developer's home holds can help. tests/lab then checks the lab
# through 127.0.0.1 and restarts every host, and `make down` removes it. A lab that is already
# there stops this at once: it never removes a lab it did not create.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

existing=()
for name in $(ansible-inventory -i inventories/lab --list |
    python3 -c 'import json, sys; print(*json.load(sys.stdin)["_meta"]["hostvars"])'); do
    ! docker container inspect "$name" >/dev/null 2>&1 || existing+=("$name")
done
[ "${#existing[@]}" -eq 0 ] ||
    die "A lab is already here (${existing[*]}); this stage boots its own and never removes one it did not create." \
        "Run: make down   (then make test-lab again)"

home=$(getent passwd "$(id -u)" | cut -d: -f6)
[ -d "$home" ] || die "The home directory from the password database, '$home', does not exist."
work=$(mktemp -d /var/tmp/hiload-newcomer.XXXXXX)
trap 'rm -rf "$work"' EXIT
commit=$(git rev-parse HEAD)
git clone --quiet --no-checkout "$PWD" "$work/hiload"
git -C "$work/hiload" checkout --quiet --detach "$commit"
say "make demo in a fresh clone of ${commit:0:12} at $work/hiload, with $home hidden"

# The clone's own steps: make demo (its converge and re-run times are in its output), the checks,
# and make down whatever they gave. Inside the namespace every path is the clone's or the system's.
newcomer='
set -uo pipefail
mount -t tmpfs -o mode=0700 tmpfs "$HOME" || exit 1
status=0
make demo || status=$?
if [ "$status" -eq 0 ]; then .venv/bin/pytest -p no:cacheprovider -v tests/lab || status=$?; fi
make down || { [ "$status" -ne 0 ] || status=1; }
exit "$status"
'
# The machine's environment stays (its CA bundle and proxy settings reach the package indexes);
# the PATH loses this checkout's virtualenv, which make put first, and everything in the home.
path=$(tr ':' '\n' <<<"$PATH" | grep -v -e "^$PWD/" -e "^$home/" -e "^$home\$" | paste -sd: -)
cd "$work/hiload"
env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS -u VIRTUAL_ENV PATH="$path" HOME="$home" \
    unshare --mount --propagation private bash -c "$newcomer" ||
    die "The newcomer's make demo, its checks or make down failed (above)." \
        "Reproduce by hand: git clone . /var/tmp/x && cd /var/tmp/x && unshare -m bash -c 'mount -t tmpfs tmpfs \"\$HOME\" && make demo'"
say "make demo from a fresh clone with an empty home: deployed, checked and removed"
