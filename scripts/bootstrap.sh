#!/usr/bin/env bash
# Set up a fresh Debian 12 machine for this project; safe to run again at any time.
#
#   scripts/bootstrap.sh VENV [DEBIAN_PACKAGE...]
#
# 1. Installs the Debian packages that are missing (and Python 3.11+ with venv support if no
#    suitable python3 exists), as root or through sudo. `apt-get update` runs only when
#    something must be installed. Without root or sudo it prints the command to run, exits 1.
# 2. influxdb and mosquitto start system services when installed. The project never uses
#    them (it starts its own instances on free loopback ports with their own data), so the
#    services of packages installed HERE are stopped and disabled. Services of packages that
#    were already installed are left alone: they may be someone's, and cannot collide with
#    ours.
# 3. Creates VENV (or reuses it) and installs the project with its pinned dev dependencies.
#
# Quiet on success; on failure the command's output is shown.
set -euo pipefail

usage="usage: $0 VENV [DEBIAN_PACKAGE...]"
venv=${1:?$usage}
shift
debs=("$@")

cd "$(dirname "$0")/.."
MIN_PYTHON=(3 11)
SERVICE_PACKAGES=(influxdb mosquitto postgresql) # packages whose install starts a system service

say() { printf 'bootstrap: %s\n' "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}

# Run a command with its output in a log; show the log only if it fails.
quietly() {
    local output
    output=$(mktemp)
    if ! "$@" >"$output" 2>&1; then
        say "failed: $*"
        tail -n 40 "$output" >&2
        rm -f "$output"
        exit 1
    fi
    rm -f "$output"
}

is_installed() {
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
}

# Installed, or a command of that name is already on PATH (e.g. npm that came with a newer
# nodejs from another repository: installing Debian's npm over it would conflict).
is_provided() {
    is_installed "$1" || command -v "$1" >/dev/null
}

# A python3 >= 3.11 that can create venvs (Debian splits ensurepip into python3-venv).
find_python() {
    local candidate
    for candidate in python3 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null &&
            "$candidate" -c "import sys, ensurepip, venv; sys.exit(sys.version_info < (${MIN_PYTHON[0]}, ${MIN_PYTHON[1]}))" 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

# -- Debian packages ----------------------------------------------------------------------

missing=()
if command -v dpkg-query >/dev/null; then
    for package in "${debs[@]}"; do
        is_provided "$package" || missing+=("$package")
    done
    if ! find_python >/dev/null; then
        # Debian 12's python3 is 3.11; python3-venv adds the ensurepip module venv needs.
        for package in python3 python3-venv; do
            is_installed "$package" || missing+=("$package")
        done
    fi
elif ((${#debs[@]})); then
    die "dpkg-query not found: this script expects Debian 12; install ${debs[*]} by hand"
fi

if ((${#missing[@]})); then
    if ((EUID == 0)); then
        as_root=()
    elif command -v sudo >/dev/null && { sudo -n true 2>/dev/null || [[ -t 0 ]]; }; then
        as_root=(sudo)
    else
        say "these Debian packages are missing: ${missing[*]}"
        say "install them as root, then run this again:"
        printf '  apt-get update && apt-get install -y %s\n' "${missing[*]}" >&2
        exit 1
    fi
    say "installing Debian packages: ${missing[*]}"
    apt=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o Dpkg::Use-Pty=0)
    quietly "${apt[@]}" update
    quietly "${apt[@]}" install "${missing[@]}"

    for package in "${missing[@]}"; do
        [[ " ${SERVICE_PACKAGES[*]} " == *" $package "* ]] || continue
        if [[ -d /run/systemd/system ]]; then
            quietly "${as_root[@]}" systemctl disable --now "$package"
        elif [[ -x /etc/init.d/$package ]]; then
            # No systemd (a container): stop it if it started, keep it from starting at boot.
            "${as_root[@]}" /etc/init.d/"$package" stop >/dev/null 2>&1 || true
            "${as_root[@]}" update-rc.d "$package" disable >/dev/null 2>&1 || true
        fi
        say "system service '$package' stopped and disabled (the project runs its own)"
    done
fi

# -- Python venv --------------------------------------------------------------------------

if [[ -x $venv/bin/python ]] &&
    "$venv/bin/python" -c "import sys; sys.exit(sys.version_info < (${MIN_PYTHON[0]}, ${MIN_PYTHON[1]}))" 2>/dev/null; then
    : # reuse it: pip below brings it up to date
else
    python=$(find_python) || die "no python3 >= ${MIN_PYTHON[0]}.${MIN_PYTHON[1]} with the venv module; install python3 and python3-venv"
    say "creating $venv with $("$python" --version 2>&1)"
    quietly "$python" -m venv --clear "$venv"
fi

say "installing the project and its pinned dependencies into $venv"
quietly "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -e '.[dev,postgres]'
say "ready: $venv ($("$venv/bin/python" --version 2>&1))"
