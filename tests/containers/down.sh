#!/usr/bin/env bash
# Removes every container that up.sh started for this SIM_PROJECT (found by
# label, so a lab started with a larger N is removed completely). Keeps the
# image and the rootfs cache; the run folder stays for post-mortems.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need docker

ids="$(docker ps -aq --filter "label=$SIM_LABEL=$SIM_PROJECT")"
if [ -n "$ids" ]; then
    # shellcheck disable=SC2086 # one id per word
    docker rm -f $ids >/dev/null
    log "removed $(printf '%s\n' "$ids" | wc -l) container(s) of $SIM_PROJECT"
else
    log "no containers of $SIM_PROJECT to remove"
fi
