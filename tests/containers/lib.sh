# shellcheck shell=bash
# shellcheck disable=SC2034 # the settings are used by the scripts that source this file
# Shared settings and helpers for the ucce-sim container lab scripts.
#
# Sourced by build.sh, up.sh, down.sh and smoke.sh so that they agree on image
# names, container names and the run folder. Every setting can be overridden
# from the environment, which lets two labs (say, a CI smoke test and a
# developer's session) run side by side with different SIM_PROJECT values.

SIM_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SIM_DIR/../.." && pwd)"

# Final image (base + ucce-sim + sshd config) and the imported Debian base.
SIM_IMAGE="${SIM_IMAGE:-corsfleet-sim:latest}"
SIM_BASE_REPO="${SIM_BASE_REPO:-corsfleet-sim-base}"
# Containers are named "$SIM_PROJECT-1".."$SIM_PROJECT-N" and labelled with it.
SIM_PROJECT="${SIM_PROJECT:-corsfleet-sim}"
SIM_CACHE_DIR="${SIM_CACHE_DIR:-$SIM_DIR/.cache}"
SIM_RUN_DIR="${SIM_RUN_DIR:-$SIM_DIR/.run}"
# release (default) or debug: which cargo profile's ucce-sim goes into the image.
SIM_PROFILE="${SIM_PROFILE:-release}"
# The ssh test user; its login shell is the cmd.exe emulation.
SIM_USER="${SIM_USER:-administrator}"
SIM_LABEL="corsfleet.sim.project"

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# Fails loudly when a tool is missing: a lab that silently skips a step would
# turn a broken CI machine into a green build.
need() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || die "required tool '$tool' is not installed"
    done
}

# Installs Debian packages when a tool is missing (CI runs as root on a fresh
# machine); anything that still is not there afterwards is an error.
need_or_install() {
    local tool="$1" pkg="$2"
    if ! command -v "$tool" >/dev/null 2>&1; then
        [ "$(id -u)" = 0 ] || die "'$tool' is missing and installing '$pkg' needs root"
        need apt-get
        log "installing $pkg (provides $tool)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$pkg" >&2 \
            || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$pkg" >&2; } \
            || die "could not install $pkg"
    fi
    need "$tool"
}

# Runs "$@" until it succeeds or TIMEOUT seconds have passed.
wait_for() {
    local timeout="$1" what="$2"
    shift 2
    local deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || die "timed out after ${timeout}s waiting for $what"
        sleep 0.2
    done
}
