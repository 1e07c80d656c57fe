# Shared helpers for hiload's make targets: sourced, never executed.
# Every message says what is happening and why; every failure says how to fix it.

HILOAD_STATE_DIR="${HILOAD_STATE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.state}"

say() { printf '==> %s\n' "$*" >&2; }

die() {
    printf 'ERROR: %s\n' "$1" >&2
    shift
    for line in "$@"; do printf '       %s\n' "$line" >&2; done
    exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# Install Debian packages when a command is missing; refuse clearly when we cannot.
need_debian_packages() {
    local missing=()
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    command -v apt-get >/dev/null 2>&1 ||
        die "Missing packages: ${missing[*]}, and this is not a Debian/Ubuntu machine." \
            "Install them with your distribution's package manager and run make again."
    is_root ||
        die "Missing packages: ${missing[*]}, and installing them needs root." \
            "Run: sudo apt-get install ${missing[*]}   (then make again)"
    say "Installing Debian packages ${missing[*]} (needed by this target)"
    if [ ! -f "$HILOAD_STATE_DIR/apt-updated" ] || [ -n "$(find "$HILOAD_STATE_DIR/apt-updated" -mmin +720)" ]; then
        apt-get update -qq || die "apt-get update failed." "Check the machine's network access to its Debian mirror."
        mkdir -p "$HILOAD_STATE_DIR" && touch "$HILOAD_STATE_DIR/apt-updated"
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        die "apt-get install ${missing[*]} failed." "Run it by hand to see apt's own message."
}
