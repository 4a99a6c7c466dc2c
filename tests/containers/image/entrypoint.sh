#!/bin/sh
# Container entry point: per-container host keys and simulator tree, then sshd
# in the background and `ucce-sim serve` in the foreground (its exit ends the
# container, so a crashed simulator is visible in `docker ps`).
#
# Environment:
#   SIM_AUTHORIZED_KEYS  public key line(s) for the test user
#   (or mount a file at /sim/authorized_keys)
#   SIM_EXTRA_NAMES      extra DNS names/IPs for the server certificate
#   SIM_FINESSE_LISTEN   e.g. 0.0.0.0:8445: also serve the Finesse gadget page
#   UCCE_SIM_ROOT        simulator root (default /, so C: is /C:)
set -eu
ROOT="${UCCE_SIM_ROOT:-/}"
USER_NAME=administrator
HOME_DIR=/home/$USER_NAME

ssh-keygen -A >/dev/null
mkdir -p /run/sshd

keys=""
if [ -n "${SIM_AUTHORIZED_KEYS:-}" ]; then keys="$SIM_AUTHORIZED_KEYS"; fi
if [ -r /sim/authorized_keys ]; then keys="$keys
$(cat /sim/authorized_keys)"; fi
if [ -n "$(printf '%s' "$keys" | tr -d '[:space:]')" ]; then
    printf '%s\n' "$keys" > "$HOME_DIR/.ssh/authorized_keys"
    chown "$USER_NAME:$USER_NAME" "$HOME_DIR/.ssh/authorized_keys"
    chmod 0600 "$HOME_DIR/.ssh/authorized_keys"
else
    echo "corsfleet-sim: warning: no SIM_AUTHORIZED_KEYS and no /sim/authorized_keys; ssh logins will fail" >&2
fi

if [ ! -d "$ROOT/C:" ]; then
    set -- --hostname "$(hostname)"
    for name in ${SIM_EXTRA_NAMES:-}; do set -- "$@" --hostname "$name"; done
    ucce-sim init --root "$ROOT" "$@" >/dev/null
    # The test user installs the MSI and rewrites web.config over SFTP, as an
    # administrator would on Windows, so it owns the whole C: tree.
    chown -R "$USER_NAME:$USER_NAME" "$ROOT/C:"
fi
# The shims run as the test user and keep state beside C: in the root: the
# msiexec mutex (sim-msiexec.lock, created and removed) and one-shot faults
# (sim-faults.yml, rewritten by rename). So the user may create files in the
# root; the sticky bit keeps it from removing or replacing anyone else's. The
# TLS private keys stay readable by root (the server) only.
chgrp "$USER_NAME" "$ROOT"
chmod 1775 "$ROOT"
for f in "$ROOT"/sim-faults.yml "$ROOT"/sim-registry.yml; do
    if [ -e "$f" ]; then chown "$USER_NAME:$USER_NAME" "$f"; fi
done
chmod 0600 "$ROOT"/sim-*key.pem 2>/dev/null || true

/usr/sbin/sshd -t
/usr/sbin/sshd -D -e &
if [ -n "${SIM_FINESSE_LISTEN:-}" ]; then
    exec ucce-sim serve --root "$ROOT" --listen 0.0.0.0:443 --finesse-listen "$SIM_FINESSE_LISTEN"
fi
exec ucce-sim serve --root "$ROOT" --listen 0.0.0.0:443
