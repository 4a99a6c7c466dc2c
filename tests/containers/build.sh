#!/usr/bin/env bash
# Builds the ucce-sim lab image without any container registry.
#
# 1. `cargo build -p ucce-sim` (release by default; SIM_PROFILE=debug for a
#    quicker build; UCCE_SIM_BIN=/path skips cargo and uses that binary).
# 2. Base image "$SIM_BASE_REPO:<key>": reused if docker already has it, else
#    imported from the cached rootfs tarball in .cache/, else made from scratch
#    with `debootstrap --variant=minbase` (the slow step, about a minute) and
#    `docker import`. <key> hashes everything that shapes the rootfs, so a change
#    here invalidates the cache instead of reusing a stale one.
# 3. `docker build` of image/Dockerfile on top: sshd config, the test user whose
#    login shell is the cmd.exe emulation, ucce-sim and its msiexec/reg links.
#
# Prints the image tag as its last line.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

need docker
docker info >/dev/null 2>&1 || die "docker daemon is not reachable"

SUITE=bookworm
VARIANT=minbase
INCLUDE=openssh-server,ca-certificates
# Bump when the trimming below changes, so cached rootfs tarballs are rebuilt.
TRIM_VERSION=1
BASE_KEY="$(printf '%s\n' "$SUITE" "$VARIANT" "$INCLUDE" "$TRIM_VERSION" | sha256sum | cut -c1-12)"
BASE_IMAGE="$SIM_BASE_REPO:$SUITE-$BASE_KEY"
ROOTFS_TAR="$SIM_CACHE_DIR/rootfs-$SUITE-$VARIANT-$BASE_KEY.tar"

# The Debian mirror this machine's apt already uses (deb822 or one-line
# format), so the lab works wherever apt works; DEBIAN_MIRROR overrides.
debian_mirror() {
    if [ -n "${DEBIAN_MIRROR:-}" ]; then
        printf '%s\n' "$DEBIAN_MIRROR"
        return
    fi
    local m
    m="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | grep -v '^[[:space:]]*#' | grep -Eo '(https?|file)://[^ ]*/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ' || true)"
    printf '%s\n' "${m:-http://deb.debian.org/debian}"
}

make_rootfs_tar() {
    need_or_install debootstrap debootstrap
    [ "$(id -u)" = 0 ] || die "debootstrap needs root"
    local mirror tmp
    mirror="$(debian_mirror)"
    mkdir -p "$SIM_CACHE_DIR"
    tmp="$(mktemp -d "$SIM_CACHE_DIR/rootfs.XXXXXX")"
    # debootstrap mounts proc/sys inside the target; unmount before deleting
    # so a failed run never removes files through a live mount.
    trap 'for m in proc sys dev/pts dev; do umount -l "'"$tmp"'/rootfs/$m" 2>/dev/null || true; done; rm -rf --one-file-system "'"$tmp"'"' EXIT
    log "debootstrap $SUITE ($VARIANT, +$INCLUDE) from $mirror"
    local t0=$SECONDS
    debootstrap --variant="$VARIANT" --include="$INCLUDE" "$SUITE" "$tmp/rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1 \
        || { tail -n 30 "$tmp/debootstrap.log" >&2; die "debootstrap failed"; }
    log "debootstrap took $((SECONDS - t0))s"
    # Lean image: no docs, manuals, locales or apt caches; host keys are made
    # per container at first start so no two containers share one.
    (
        cd "$tmp/rootfs"
        rm -rf usr/share/doc/* usr/share/man/* usr/share/info/* usr/share/locale/* \
            var/cache/apt/* var/lib/apt/lists/* var/cache/debconf/*-old var/log/* \
            etc/ssh/ssh_host_*
    )
    tar --numeric-owner -C "$tmp/rootfs" -cf "$tmp/rootfs.tar" .
    mv "$tmp/rootfs.tar" "$ROOTFS_TAR"
    rm -rf --one-file-system "$tmp"
    trap - EXIT
}

ensure_base_image() {
    if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        log "reusing base image $BASE_IMAGE"
        return
    fi
    if [ ! -s "$ROOTFS_TAR" ]; then
        make_rootfs_tar
    else
        log "reusing cached rootfs $ROOTFS_TAR"
    fi
    log "docker import $ROOTFS_TAR as $BASE_IMAGE"
    docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        "$ROOTFS_TAR" "$BASE_IMAGE" >/dev/null
}

sim_binary() {
    if [ -n "${UCCE_SIM_BIN:-}" ]; then
        [ -x "$UCCE_SIM_BIN" ] || die "UCCE_SIM_BIN=$UCCE_SIM_BIN is not an executable file"
        printf '%s\n' "$UCCE_SIM_BIN"
        return
    fi
    need cargo
    local target="${CARGO_TARGET_DIR:-$REPO_ROOT/target}" flag=()
    [ "$SIM_PROFILE" = release ] && flag=(--release)
    [ "$SIM_PROFILE" = release ] || [ "$SIM_PROFILE" = debug ] || die "SIM_PROFILE must be release or debug"
    log "cargo build ${flag[*]} -p ucce-sim"
    (cd "$REPO_ROOT" && cargo build "${flag[@]}" -p ucce-sim >&2) || die "cargo build of ucce-sim failed"
    local bin="$target/$SIM_PROFILE/ucce-sim"
    [ -x "$bin" ] || die "cargo did not produce $bin"
    printf '%s\n' "$bin"
}

t_start=$SECONDS
BIN="$(sim_binary)"
ensure_base_image

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
cp "$SIM_DIR/image/Dockerfile" "$SIM_DIR/image/entrypoint.sh" "$SIM_DIR/image/sshd_config" "$ctx/"
cp "$BIN" "$ctx/ucce-sim"
# Debug info is useless in the lab image and makes it several MB larger.
if command -v strip >/dev/null 2>&1; then
    strip "$ctx/ucce-sim" 2>/dev/null || log "strip failed on $BIN; the image keeps its debug info"
fi
chmod 0755 "$ctx/ucce-sim" "$ctx/entrypoint.sh"

log "docker build $SIM_IMAGE on $BASE_IMAGE"
docker build --quiet --build-arg "BASE=$BASE_IMAGE" \
    --label "corsfleet.sim.binary-sha256=$(sha256sum "$ctx/ucce-sim" | cut -d' ' -f1)" \
    -t "$SIM_IMAGE" "$ctx" >/dev/null || die "docker build failed"
log "image $SIM_IMAGE ready ($(docker image inspect -f '{{.Size}}' "$SIM_IMAGE" | awk '{printf "%.0f MB", $1/1e6}')) in $((SECONDS - t_start))s"
printf '%s\n' "$SIM_IMAGE"
