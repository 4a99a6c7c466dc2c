#!/usr/bin/env bash
# The whole test suite: prerequisites, unit/integration/browser tests, then the real-SSH
# end-to-end run against ucce-sim containers. This is the test command in README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT

tests/setup.sh
cargo build --release -p ucce-sim -p corsfleet
# The container image takes this binary instead of building ucce-sim again on its own.
export UCCE_SIM_BIN=${UCCE_SIM_BIN:-$(realpath "${CARGO_TARGET_DIR:-target}")/release/ucce-sim}
# Unit, property, in-process simulator, real-sshd transport and headless-Chromium tests.
cargo test --workspace --no-fail-fast 2>&1 | tee "$log"
# Real OpenSSH inside simulator containers: reachability, then rollout, idempotence, audit,
# host-key refusal.
tests/containers/smoke.sh 2>&1 | tee -a "$log"
tests/e2e-ssh.sh 2>&1 | tee -a "$log"

# One closing line for the whole suite, counted from what ran above.
python3 - "$log" <<'PY'
import re, sys
text = open(sys.argv[1], errors="replace").read()
passed = failed = 0
for p, f in re.findall(r"test result: \w+\. (\d+) passed; (\d+) failed", text):
    passed += int(p); failed += int(f)
passed += len(re.findall(r"^e2e ok: ", text, re.M))
failed += len(re.findall(r"^e2e FAILED", text, re.M))
passed += 1 if "container smoke test passed" in text else 0
print(f"tests: {passed} passed, {failed} failed")
sys.exit(1 if failed or passed == 0 else 0)
PY
