#!/bin/sh
# Container entry point: per-container host keys and simulator tree, then sshd
# in the background and `ucce-sim serve` in the foreground (its exit ends the
# container, so a crashed simulator is visible in `docker ps`).
#
# Environment:
#   SIM_AUTHORIZED_KEYS  public key line(s) for the test user
#   (or mount a file at /sim/authorized_keys)
#   SIM_EXTRA_NAMES      extra DNS names/IPs for the server certificate
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
    # shellcheck disable=SC2086 # SIM_EXTRA_NAMES is a list of names
    ucce-sim init --root "$ROOT" --hostname "$(hostname)" ${SIM_EXTRA_NAMES:-}
    # The test user installs the MSI and rewrites web.config over SFTP, as an
    # administrator would on Windows, so it owns the whole C: tree.
    chown -R "$USER_NAME:$USER_NAME" "$ROOT/C:"
fi

/usr/sbin/sshd -t
/usr/sbin/sshd -D -e &
exec ucce-sim serve --root "$ROOT" --listen 0.0.0.0:443
