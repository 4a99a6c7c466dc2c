#!/usr/bin/env bash
# Container smoke test for CI: build the lab image, start 2 ucce-sim
# containers, and prove that what corsfleet needs is reachable over loopback:
#   - SSH exec through the cmd.exe login shell (`reg query` of IIS's version),
#     with strict host-key checking against the generated known_hosts;
#   - SFTP read of web.config, write into C:\Windows\Temp and rename onto
#     web.config (the write-temp-then-posix-rename pattern corsfleet uses);
#   - `start "" /wait msiexec /i ... /qn` of the test MSI exits 0 and leaves
#     the CORS module's files (the user may write C: and the shims' state);
#   - HTTPS with the container's own CA and server name: the Config API
#     answers 401 without credentials.
# Removes the containers afterwards, also on failure. Uses its own project
# name and run folder so it never touches a developer's running lab.
set -euo pipefail
export SIM_PROJECT="${SIM_PROJECT:-corsfleet-smoke}"
source "$(dirname "$0")/lib.sh"
export SIM_RUN_DIR="${SIM_RUN_DIR_SMOKE:-$SIM_CACHE_DIR/smoke-run}"

need docker ssh sftp ssh-keyscan ssh-keygen curl awk grep
N=2

cleanup() { "$SIM_DIR/down.sh" || true; }
trap cleanup EXIT

t0=$SECONDS
INVENTORY="$("$SIM_DIR/up.sh" "$N" | tail -n1)"
[ -f "$INVENTORY" ] || die "up.sh did not print an inventory path (got '$INVENTORY')"
log "up.sh $N took $((SECONDS - t0))s; inventory $INVENTORY"

# Value of KEY in HOST's block of the inventory up.sh wrote (one scalar per
# line, paths plain or double-quoted); enough for that file's fixed layout.
inv() {
    local v
    v="$(awk -v host="$1:" -v key="$2:" '
        function indent(s) { match(s, /^ */); return RLENGTH }
        !inside && $1 == host && NF == 1 { inside = 1; depth = indent($0); next }
        inside && indent($0) <= depth { exit }
        inside && $1 == key { sub(/^ *[^:]*: */, ""); print; exit }
    ' "$INVENTORY")"
    v="${v#\"}"
    v="${v%\"}"
    [ -n "$v" ] || die "inventory has no $2 for $1"
    printf '%s\n' "$v"
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"; cleanup' EXIT

for i in $(seq 1 "$N"); do
    h="sim-$i"
    port="$(inv "$h" ansible_port)"
    user="$(inv "$h" ansible_user)"
    key="$(inv "$h" ansible_ssh_private_key_file)"
    kh="$(inv "$h" corsfleet_known_hosts)"
    https_port="$(inv "$h" corsfleet_https_port)"
    ca="$(inv "$h" corsfleet_ca_file)"
    name="$(inv "$h" corsfleet_tls_server_name)"
    ssh_opts=(-i "$key" -o UserKnownHostsFile="$kh" -o StrictHostKeyChecking=yes
        -o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=10)

    # SSH exec: sshd runs the cmd.exe emulation as `ucce-sim-cmd -c LINE`.
    out="$(ssh "${ssh_opts[@]}" -p "$port" "$user@127.0.0.1" \
        'reg query "HKLM\SOFTWARE\Microsoft\InetStp" /v MajorVersion')" \
        || die "$h: ssh exec failed"
    grep -Eq 'MajorVersion[[:space:]]+REG_DWORD[[:space:]]+0xa' <<<"$out" \
        || die "$h: reg query did not report MajorVersion 0xa; got: $out"
    log "$h: ssh exec ok (IIS MajorVersion 0xa)"

    # SFTP: read, write a temp file, rename it over the original.
    cat >"$tmp/batch" <<SFTP
get /C:/icm/tomcat/bin/i386/web.config $tmp/web.config
put $tmp/web.config /C:/Windows/Temp/web.config.smoke.tmp
rename /C:/Windows/Temp/web.config.smoke.tmp /C:/icm/tomcat/bin/i386/web.config
get /C:/icm/tomcat/bin/i386/web.config $tmp/web.config.after
SFTP
    sftp "${ssh_opts[@]}" -b "$tmp/batch" -P "$port" "$user@127.0.0.1" >/dev/null \
        || die "$h: sftp get/put/rename failed"
    grep -q '<configuration' "$tmp/web.config" || die "$h: web.config read over SFTP is not a .config file"
    cmp -s "$tmp/web.config" "$tmp/web.config.after" || die "$h: web.config changed across an identical SFTP rewrite"
    log "$h: sftp ok ($(wc -c <"$tmp/web.config") bytes of web.config, temp write + rename)"

    # msiexec as corsfleet runs it (cmd.exe line, waits, exit code over ssh):
    # proves the test user may install, i.e. write C: and the shims' state.
    msi="$(awk '/^        cors_msi_src: /{print substr($0, index($0, ":") + 2)}' "$INVENTORY" | tr -d '"')"
    printf 'put %s /C:/Windows/Temp/IISCORS_amd64.msi\n' "$msi" >"$tmp/batch"
    sftp "${ssh_opts[@]}" -b "$tmp/batch" -P "$port" "$user@127.0.0.1" >/dev/null \
        || die "$h: sftp upload of the test MSI failed"
    rc=0
    ssh "${ssh_opts[@]}" -p "$port" "$user@127.0.0.1" \
        'start "" /wait msiexec /i C:\Windows\Temp\IISCORS_amd64.msi /qn /norestart /l*v C:\Windows\Temp\cors-install.log' \
        >/dev/null 2>"$tmp/msiexec.err" || rc=$?
    [ "$rc" = 0 ] || die "$h: msiexec exited with $rc: $(cat "$tmp/msiexec.err")"
    printf 'ls /C:/Windows/System32/inetsrv/iiscors.dll\nls /C:/Windows/System32/inetsrv/config/schema/cors_schema.xml\n' >"$tmp/batch"
    sftp "${ssh_opts[@]}" -b "$tmp/batch" -P "$port" "$user@127.0.0.1" >/dev/null \
        || die "$h: msiexec returned 0 but the CORS module files are not there"
    log "$h: msiexec install ok (exit 0, iiscors.dll and cors_schema.xml present)"

    # HTTPS: verified against the container's CA under its own server name.
    code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$ca" \
        --resolve "$name:$https_port:127.0.0.1" "https://$name:$https_port/unifiedconfig/config/agent")" \
        || die "$h: HTTPS request failed"
    [ "$code" = 401 ] || die "$h: GET /unifiedconfig/config/agent without auth gave $code, want 401"
    log "$h: https ok (401 without credentials, certificate valid for $name)"
done

msi="$(awk '/^        cors_msi_src: /{print substr($0, index($0, ":") + 2)}' "$INVENTORY" | tr -d '"')"
sha="$(awk '/^        cors_msi_sha256: /{print $2}' "$INVENTORY")"
[ -s "$msi" ] || die "test MSI $msi is missing or empty"
[ "$(sha256sum "$msi" | cut -d' ' -f1)" = "$sha" ] || die "cors_msi_sha256 does not match $msi"

"$SIM_DIR/down.sh"
trap 'rm -rf "$tmp"' EXIT
log "container smoke test passed in $((SECONDS - t0))s"
