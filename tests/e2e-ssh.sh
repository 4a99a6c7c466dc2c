#!/usr/bin/env bash
# End-to-end over real OpenSSH: four ucce-sim containers, the shipped playbook.
# Asserts: first run changes all 4 hosts (sim-2 through PowerShell command lines; on sim-4 the installer first answers 1618, "another
# installation in progress", then 3010: retried, then reported as reboot required, all through
# the 8-bit SSH exit status); a second run changes nothing; verify is compliant; a changed host
# key makes that host unreachable and max_fail_percentage stops the run.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${CARGO_TARGET_DIR:-target}/release/corsfleet
[[ -x $bin ]] || { echo "e2e: $bin not built (cargo build --release -p corsfleet)" >&2; exit 1; }
work=$(mktemp -d)
inventory=$(tests/containers/up.sh 4 | tail -n 1)
trap 'tests/containers/down.sh >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
[[ -f $inventory ]] || { echo "e2e: up.sh did not print an inventory path (got: $inventory)" >&2; exit 1; }

# Count hosts in a report by status: status_count REPORT STATUS
status_count() {
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sum(1 for h in r["hosts"] if h["status"]==sys.argv[2]))' "$1" "$2"
}
expect() { # expect WHAT ACTUAL WANTED
  if [[ $2 != "$3" ]]; then echo "e2e FAILED: $1: got $2, wanted $3" >&2; exit 1; fi
  echo "e2e ok: $1 ($2)"
}

# Script sim-4's installer (as the ssh user, who owns the simulator's state files).
docker exec -u administrator "${SIM_PROJECT:-corsfleet-sim}-4" sh -c \
  'printf "installer:\n  next_exit_once: 1618\n  outcome: reboot\n" > /sim-faults.yml'

# sim-2 is driven as a server whose OpenSSH DefaultShell is PowerShell: its commands go out as
# `powershell -NoProfile -NonInteractive -EncodedCommand …` (a second inventory adds the var).
printf 'all:\n  hosts:\n    sim-2:\n      corsfleet_remote_shell: powershell\n' > "$work/powershell.yml"

set +e
"$bin" run playbooks/enable-cors.yml -i "$inventory" -i "$work/powershell.yml" --no-progress --report-dir "$work/run1"; code=$?
set -e
expect "first run exit code" "$code" 0
expect "first run: hosts changed" "$(status_count "$work/run1/report.json" changed)" 4
reboot=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(",".join(h["name"] for h in r["hosts"] for t in h["tasks"] if t["reboot_required"]))' "$work/run1/report.json")
expect "first run: msiexec 1618 retried, 3010 reported as reboot required" "$reboot" sim-4

"$bin" run playbooks/enable-cors.yml -i "$inventory" --no-progress --report-dir "$work/run2"
expect "second run: hosts changed" "$(status_count "$work/run2/report.json" changed)" 0
expect "second run: hosts ok" "$(status_count "$work/run2/report.json" ok)" 4

"$bin" verify playbooks/enable-cors.yml -i "$inventory" --no-progress --report-dir "$work/verify"
expect "verify: hosts compliant" "$(status_count "$work/verify/report.json" compliant)" 4

# A changed host key: replace sim-1's key in a copy of known_hosts with another key.
# The playbook's max_fail_percentage: 0 counts the unreachable host as a failure, so the run
# stops after the first batch: exit 5 (aborted), sim-1 unreachable, side B never touched.
known_hosts=$(python3 -c 'import sys,re; t=open(sys.argv[1]).read(); print(re.search(r"corsfleet_known_hosts:\s*\"?([^\"\n]+)", t).group(1))' "$inventory")
ssh-keygen -q -t ed25519 -N '' -f "$work/imposter" >/dev/null
cp "$known_hosts" "$work/known_hosts"
python3 - "$work/known_hosts" "$work/imposter.pub" "$(grep -m1 -oE '\[127\.0\.0\.1\]:[0-9]+' "$known_hosts")" <<'PY'
import sys
path, pub, first = sys.argv[1], open(sys.argv[2]).read().split(), sys.argv[3]
lines = open(path).read().splitlines()
out = [f"{first} {pub[0]} {pub[1]}" if l.startswith(first + " ") else l for l in lines]
open(path, "w").write("\n".join(out) + "\n")
PY
sed "s#$known_hosts#$work/known_hosts#g" "$inventory" > "$work/inventory-changed-key.yml"
target=$(grep -m1 -oE '\[127\.0\.0\.1\]:[0-9]+' "$known_hosts")
set +e
"$bin" run playbooks/enable-cors.yml -i "$work/inventory-changed-key.yml" --no-progress --report-dir "$work/changed-key" 2> "$work/changed-key.err"; code=$?
set -e
expect "changed host key: exit code" "$code" 5
expect "changed host key: unreachable hosts" "$(status_count "$work/changed-key/report.json" unreachable)" 1
expect "changed host key: side B skipped" "$(status_count "$work/changed-key/report.json" skipped)" 2
grep -qi "host key" "$work/changed-key.err" || { echo "e2e FAILED: no host-key message for $target" >&2; cat "$work/changed-key.err" >&2; exit 1; }
echo "e2e ok: changed host key for $target refused"

# First contact: an empty known_hosts refuses every host (verify never stops early: exit 4);
# --accept-new-host-keys records each host's key once, then the audit is compliant.
: > "$work/known_hosts_new"
sed "s#$known_hosts#$work/known_hosts_new#g" "$inventory" > "$work/inventory-new-keys.yml"
set +e
"$bin" verify playbooks/enable-cors.yml -i "$work/inventory-new-keys.yml" --no-progress --report-dir "$work/unknown" 2>/dev/null; code=$?
set -e
expect "unknown host keys: exit code" "$code" 4
expect "unknown host keys: unreachable hosts" "$(status_count "$work/unknown/report.json" unreachable)" 4
"$bin" verify playbooks/enable-cors.yml -i "$work/inventory-new-keys.yml" --no-progress --accept-new-host-keys --report-dir "$work/accepted" 2>/dev/null
expect "accept-new-host-keys: hosts compliant" "$(status_count "$work/accepted/report.json" compliant)" 4
expect "accept-new-host-keys: hosts recorded" "$(grep -c . "$work/known_hosts_new")" 4
echo "e2e: all checks passed"
