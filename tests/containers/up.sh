#!/usr/bin/env bash
# Starts N ucce-sim containers and writes an Ansible-format inventory for them.
#
#   tests/containers/up.sh N
#
# Builds the image if needed (build.sh), replaces any containers of this
# SIM_PROJECT, starts "$SIM_PROJECT-1".."$SIM_PROJECT-N" with hostnames
# sim-1..sim-N, and publishes their ports 22 and 443 on 127.0.0.1 only (docker
# picks free ports; they are read back with `docker port`), so all traffic
# stays on loopback. In the run folder (SIM_RUN_DIR, default .run/) it writes:
#   id_ed25519(.pub)  test key pair, installed as the user's authorized_keys
#   known_hosts       [127.0.0.1]:PORT entries scanned from each container
#   sim-I-ca.pem      each container's test CA (its server cert names sim-I,
#                     localhost and 127.0.0.1)
#   IISCORS_amd64.msi a test MSI from `ucce-sim make-msi`, and its SHA-256
#   inventory.yml     hosts sim-1..sim-N in group sims (children loggers and
#                     distributors, by side pair), all connection vars
# The inventory's absolute path is the last line printed on stdout.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

N="${1:-}"
[[ "$N" =~ ^[1-9][0-9]?$ ]] || die "usage: $0 N   (1 <= N <= 99 containers)"
WAIT_SECS="${SIM_WAIT_SECS:-60}"

need docker ssh-keygen ssh-keyscan curl sha256sum
t_start=$SECONDS

IMAGE="$("$SIM_DIR/build.sh" | tail -n1)"
"$SIM_DIR/down.sh" >/dev/null

rm -rf "$SIM_RUN_DIR"
mkdir -p "$SIM_RUN_DIR"
RUN_DIR="$(cd "$SIM_RUN_DIR" && pwd)"
KEY="$RUN_DIR/id_ed25519"
KNOWN_HOSTS="$RUN_DIR/known_hosts"
ssh-keygen -q -t ed25519 -N '' -C "corsfleet-sim-test" -f "$KEY"
: >"$KNOWN_HOSTS"

# A half-started lab is removed (after its logs were printed) so a failed run
# leaks no containers; SIM_KEEP_ON_FAILURE=1 keeps it for a post-mortem.
started_ok=0
trap '[ "$started_ok" = 1 ] || [ -n "${SIM_KEEP_ON_FAILURE:-}" ] || "$SIM_DIR/down.sh" >/dev/null 2>&1 || true' EXIT

declare -a SSH_PORT HTTPS_PORT
for i in $(seq 1 "$N"); do
    docker run -d --init \
        --name "$SIM_PROJECT-$i" --hostname "sim-$i" \
        --label "$SIM_LABEL=$SIM_PROJECT" \
        -p 127.0.0.1::22 -p 127.0.0.1::443 \
        -e "SIM_AUTHORIZED_KEYS=$(cat "$KEY.pub")" \
        "$IMAGE" >/dev/null || die "docker run of $SIM_PROJECT-$i failed"
done

published_port() { # container, container port
    local p
    p="$(docker port "$1" "$2/tcp" | grep -E '^127\.0\.0\.1:' | head -n1)"
    [ -n "$p" ] || die "$1: port $2 is not published on 127.0.0.1"
    printf '%s\n' "${p##*:}"
}

# Fails with the container's log when it has stopped: waiting out the timeout
# on a dead container would only hide the reason.
alive() {
    if [ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" != true ]; then
        docker logs --tail 40 "$1" >&2 || true
        die "container $1 stopped"
    fi
}

scan_host_keys() { # container, port
    alive "$1"
    local keys
    keys="$(ssh-keyscan -T 2 -p "$2" 127.0.0.1 2>/dev/null)" || return 1
    [ -n "$keys" ] || return 1
    printf '%s\n' "$keys" >>"$KNOWN_HOSTS"
}

https_up() { # container, name, port, ca
    alive "$1"
    curl -sS -o /dev/null --max-time 2 --cacert "$4" --resolve "$2:$3:127.0.0.1" "https://$2:$3/"
}

for i in $(seq 1 "$N"); do
    c="$SIM_PROJECT-$i"
    SSH_PORT[i]="$(published_port "$c" 22)"
    HTTPS_PORT[i]="$(published_port "$c" 443)"
    deadline=$((SECONDS + WAIT_SECS))
    until scan_host_keys "$c" "${SSH_PORT[i]}"; do
        [ "$SECONDS" -lt "$deadline" ] || { docker logs --tail 40 "$c" >&2; die "sshd of $c did not answer on 127.0.0.1:${SSH_PORT[i]} within ${WAIT_SECS}s"; }
        sleep 0.2
    done
    # init writes the CA before sshd starts, so it exists once sshd answers.
    docker cp "$c:/sim-ca.pem" "$RUN_DIR/sim-$i-ca.pem" >/dev/null || die "could not copy /sim-ca.pem out of $c"
    deadline=$((SECONDS + WAIT_SECS))
    until https_up "$c" "sim-$i" "${HTTPS_PORT[i]}" "$RUN_DIR/sim-$i-ca.pem" 2>/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] || { docker logs --tail 40 "$c" >&2; https_up "$c" "sim-$i" "${HTTPS_PORT[i]}" "$RUN_DIR/sim-$i-ca.pem" || true; die "HTTPS of $c did not answer as sim-$i on 127.0.0.1:${HTTPS_PORT[i]} within ${WAIT_SECS}s"; }
        sleep 0.2
    done
done

# The test MSI comes from the simulator itself, so its content is exactly what
# the simulated msiexec accepts.
MSI="$RUN_DIR/IISCORS_amd64.msi"
docker exec "$SIM_PROJECT-1" ucce-sim make-msi /tmp/IISCORS_amd64.msi >/dev/null \
    || die "ucce-sim make-msi failed in $SIM_PROJECT-1"
docker cp "$SIM_PROJECT-1:/tmp/IISCORS_amd64.msi" "$MSI" >/dev/null || die "could not copy the test MSI out"
MSI_SHA256="$(sha256sum "$MSI" | cut -d' ' -f1)"

# A path as a YAML scalar: plain when it holds only safe characters (easy for
# line-based tools to read back), else double-quoted with \\ and \" escaped.
q() {
    if [[ "$1" =~ ^[A-Za-z0-9_./+-]+$ ]]; then
        printf '%s' "$1"
    else
        local s="${1//\\/\\\\}"
        s="${s//\"/\\\"}"
        printf '"%s"' "$s"
    fi
}

INVENTORY="$RUN_DIR/inventory.yml"
# Hosts come in side pairs (a, b) and alternate roles by pair: sim-1/sim-2
# loggers, sim-3/sim-4 distributors, ... so the shipped playbook (hosts:
# loggers:distributors, batch_by: side) runs unchanged against the lab.
host_vars() { # index
    local i="$1" side=a
    [ $((i % 2)) -eq 0 ] && side=b
    printf '            sim-%s:\n' "$i"
    printf '              ansible_host: 127.0.0.1\n'
    printf '              ansible_connection: ssh\n'
    printf '              ansible_shell_type: cmd\n'
    printf '              ansible_port: %s\n' "${SSH_PORT[i]}"
    printf '              ansible_user: %s\n' "$(q "$SIM_USER")"
    printf '              ansible_ssh_private_key_file: %s\n' "$(q "$KEY")"
    printf '              corsfleet_known_hosts: %s\n' "$(q "$KNOWN_HOSTS")"
    printf '              corsfleet_https_port: %s\n' "${HTTPS_PORT[i]}"
    printf '              corsfleet_ca_file: %s\n' "$(q "$RUN_DIR/sim-$i-ca.pem")"
    printf '              corsfleet_tls_server_name: sim-%s\n' "$i"
    printf '              side: %s\n' "$side"
}
role_hosts() { # 0 = loggers, 1 = distributors
    local i any=0
    for i in $(seq 1 "$N"); do
        if [ $(((i - 1) / 2 % 2)) -eq "$1" ]; then
            host_vars "$i"
            any=1
        fi
    done
    # An empty group still exists, so `loggers:distributors` resolves with N=2.
    [ "$any" = 1 ] || printf '            {}\n'
}
{
    printf '# Written by tests/containers/up.sh %s: ucce-sim containers on 127.0.0.1.\n' "$N"
    printf 'all:\n  children:\n    sims:\n      children:\n'
    printf '        loggers:\n          hosts:\n'
    role_hosts 0
    printf '        distributors:\n          hosts:\n'
    role_hosts 1
    printf '      vars:\n'
    printf '        finesse_origins:\n'
    printf '          - https://finesse-a.lab.local:8445\n'
    printf '          - https://finesse-b.lab.local:8445\n'
    printf '        cors_msi_src: %s\n' "$(q "$MSI")"
    printf '        cors_msi_sha256: %s\n' "$MSI_SHA256"
} >"$INVENTORY"

started_ok=1
log "$N container(s) up in $((SECONDS - t_start))s; run folder $RUN_DIR"
printf '%s\n' "$INVENTORY"
