#!/usr/bin/env bash
# Install what the test suite needs on a fresh Debian machine: OpenSSH (real sshd for the
# transport tests and the simulator image), Chromium (the browser proof), debootstrap (the
# simulator image's rootfs: no container registry is reachable), and the C libraries ssh2 links.
# Missing tools are installed, never skipped; without root they are an error.
set -euo pipefail

packages=(openssh-server openssh-client chromium debootstrap libssl-dev pkg-config curl ca-certificates xz-utils)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "tests/setup.sh: missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "tests/setup.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for tool in sshd:/usr/sbin/sshd chromium:/usr/bin/chromium debootstrap:/usr/sbin/debootstrap docker:docker ssh-keygen:ssh-keygen; do
  name=${tool%%:*} path=${tool#*:}
  command -v "$path" >/dev/null || { echo "tests/setup.sh: $name not found after install" >&2; exit 1; }
done
docker info >/dev/null 2>&1 || { echo "tests/setup.sh: the Docker engine is not running" >&2; exit 1; }
