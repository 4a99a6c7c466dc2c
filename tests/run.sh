#!/usr/bin/env bash
# The whole test suite: prerequisites, unit/integration/browser tests, then the real-SSH
# end-to-end run against ucce-sim containers. This is the test command in README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

tests/setup.sh
cargo build --release -p ucce-sim -p corsfleet
# Unit, property, in-process simulator, real-sshd transport and headless-Chromium tests.
cargo test --workspace --no-fail-fast
# Real OpenSSH inside simulator containers: rollout, idempotence, audit, host-key refusal.
tests/containers/smoke.sh
tests/e2e-ssh.sh
