#!/usr/bin/env bash
# Put the dev task image into the test user's own podman storage, for the rootless tests;
# idempotent and fast when done.
#
#   tools/rootless-image.sh [--force] [--check|--no-check]
#
#   storage the user's podman storage driver becomes overlay (native rootless overlay:
#           kernel >= 5.13) through ~USER/.config/containers/storage.conf, when it is another
#           one and overlay works; the storage is reset then (`podman system reset` as the
#           user: only these tools put anything there). vfs, which podman 4.3.1 picks by
#           itself here, copies the whole image for each container: measured 14-16 s per
#           container and 24 s per load with vfs, 0.3-0.5 s (3 s the first keep-id run) and
#           10 s with overlay
#   image   $DEV_IMAGE (tools/lib.sh: localhost/terok-task-dev:latest, USER dev, built by
#           tools/build-image.sh) goes from root's storage into $TEROK_TEST_USER's (default
#           terok-test, made by tools/test-user.sh): `podman save` as root to a tar the user
#           may read, `podman load` as the user; skipped when the user's storage already has
#           the same image id; the user's replaced image is removed
#   check   as the user, with CONTAINERS_CONF=tools/containers-rootless.conf (copied where
#           the user can read it): `podman run --rm --network none IMAGE true` and the same
#           with --userns=keep-id:uid=1000,gid=1000 (what terok passes for rootless users):
#           uid 1000 inside, and a file it writes is the user's on the host; runs after a load
#
# --force     load the image even when the user has the same id
# --check     run the check even when nothing was loaded
# --no-check  skip the check
set -euo pipefail

# shellcheck source=tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FORCE=0
CHECK=auto
for arg in "$@"; do
    case "$arg" in
        --force) FORCE=1 ;;
        --check) CHECK=1 ;;
        --no-check) CHECK=0 ;;
        -h|--help) sed -n '2,26p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) die "unknown option: $arg" ;;
    esac
done

TEST_USER="${TEROK_TEST_USER:-terok-test}"
ROOTLESS_CONF="$TOOLS_DIR/containers-rootless.conf"
PODMAN=(podman)
if [ -x "$TESTBIN/podman" ]; then
    PODMAN=("$TESTBIN/podman")
fi

[ "$(id -u)" -eq 0 ] || die "this script switches to the test user with su: run it as root"
command -v podman >/dev/null 2>&1 || die "podman is missing: run 'make bootstrap' first"
id -u "$TEST_USER" >/dev/null 2>&1 || die "the test user $TEST_USER does not exist: run tools/test-user.sh"

pm() { "${PODMAN[@]}" "$@"; }
# as_user CMD...: CMD as the test user in a login environment (its own HOME, no CONTAINERS_CONF)
as_user() { su - "$TEST_USER" -s /bin/bash -c "$(printf '%q ' "$@")"; }
user_image_id() { as_user podman image inspect --format '{{.Id}}' "$DEV_IMAGE" 2>/dev/null || true; }

WORK=""
cleanup() {
    if [ -n "$WORK" ]; then
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

# a directory the user may read (pytest's and mktemp's defaults under a 0700 TMPDIR are not)
work_dir() {
    if [ -z "$WORK" ]; then
        WORK="$(mktemp -d /tmp/terok-rootless-image.XXXXXX)"
        chmod 0755 "$WORK"
    fi
}

# ---------------------------------------------------------------- storage driver
STORAGE_CONF_TEXT='# Written by tools/rootless-image.sh (terok.lifecycle tests): native rootless overlay
# instead of vfs, which copies the whole image for every container.
[storage]
driver = "overlay"'

user_storage() {
    local driver probe
    driver="$(as_user podman info --format '{{.Store.GraphDriverName}}')" \
        || die "podman info fails as $TEST_USER"
    [ "$driver" = overlay ] && return 0
    # does native overlay work for the user here? (a throwaway storage of the user's)
    probe="$(as_user mktemp -d /tmp/terok-overlay-probe.XXXXXX)"
    local store=(--root "$probe/root" --runroot "$probe/run" --storage-driver overlay)
    local works=1
    as_user podman "${store[@]}" info --format '{{.Store.GraphDriverName}}' >/dev/null 2>&1 || works=0
    # reset unmounts what overlay mounted there; the user's namespace removes the rest
    as_user podman "${store[@]}" system reset --force >/dev/null 2>&1 || true
    as_user podman unshare rm -rf "$probe" >/dev/null 2>&1 || true
    if [ "$works" = 0 ]; then
        warn "native overlay does not work for $TEST_USER: its podman storage stays $driver (slow)"
        return 0
    fi
    log "switching $TEST_USER's podman storage from $driver to overlay (podman system reset as $TEST_USER)"
    # shellcheck disable=SC2016  # expanded by the user's shell
    printf '%s\n' "$STORAGE_CONF_TEXT" | as_user sh -c 'dir="$HOME/.config/containers" &&
        mkdir -p "$dir" && cat >"$dir/storage.conf.new" && mv -f "$dir/storage.conf.new" "$dir/storage.conf"'
    as_user podman system reset --force >/dev/null 2>&1 || die "podman system reset fails as $TEST_USER"
    driver="$(as_user podman info --format '{{.Store.GraphDriverName}}')"
    [ "$driver" = overlay ] || die "$TEST_USER's podman storage is $driver after the switch, not overlay"
}

# ---------------------------------------------------------------- the image
user_storage
pm image exists "$DEV_IMAGE" || die "$DEV_IMAGE is missing in root's storage: run tools/build-image.sh"
want="$(pm image inspect --format '{{.Id}}' "$DEV_IMAGE")"
have="$(user_image_id)"
if [ "$FORCE" = 1 ] || [ "$have" != "$want" ]; then
    start=$SECONDS
    work_dir
    log "loading $DEV_IMAGE (${want:0:12}) into $TEST_USER's podman storage"
    pm save -q -o "$WORK/image.tar" "$DEV_IMAGE"
    chmod 0644 "$WORK/image.tar"
    as_user podman load -q -i "$WORK/image.tar" >/dev/null
    rm -f "$WORK/image.tar"
    now="$(user_image_id)"
    [ "$now" = "$want" ] || die "$TEST_USER's $DEV_IMAGE is ${now:-missing} after the load, not $want"
    if [ -n "$have" ] && [ "$have" != "$want" ]; then
        # the user's replaced image, now untagged (kept if one of its containers uses it)
        as_user podman rmi "$have" >/dev/null 2>&1 || true
    fi
    log "loaded $DEV_IMAGE for $TEST_USER in $((SECONDS - start)) s"
    [ "$CHECK" = auto ] && CHECK=1
fi

if [ "$CHECK" = 1 ]; then
    work_dir
    install -m 0644 "$ROOTLESS_CONF" "$WORK/containers.conf"
    log "checking that $TEST_USER's rootless containers run from $DEV_IMAGE"
    as_user env CONTAINERS_CONF="$WORK/containers.conf" podman run --rm --network none "$DEV_IMAGE" true \
        || die "podman run --rm --network none $DEV_IMAGE true fails as $TEST_USER"
    # with keep-id the image's uid 1000 is the user: a directory of the user's is uid 1000's
    # inside, and what the container writes there is the user's on the host
    install -d -o "$TEST_USER" -g "$(id -g "$TEST_USER")" -m 0755 "$WORK/probe"
    # shellcheck disable=SC2016  # expanded in the container
    out="$(as_user env CONTAINERS_CONF="$WORK/containers.conf" podman run --rm --network none \
        --userns=keep-id:uid=1000,gid=1000 -v "$WORK/probe:/probe" "$DEV_IMAGE" \
        sh -c 'touch /probe/written && echo "$(id -u) $(stat -c %u /probe)"')" \
        || die "podman run --userns=keep-id:uid=1000,gid=1000 fails as $TEST_USER"
    [ "$out" = "1000 1000" ] || die "with keep-id:uid=1000,gid=1000 the container's uid and /probe's owner are '$out', not '1000 1000'"
    [ "$(stat -c %U "$WORK/probe/written")" = "$TEST_USER" ] \
        || die "a file the container wrote belongs to $(stat -c %U "$WORK/probe/written") on the host, not to $TEST_USER"
    log "rootless containers run fine for $TEST_USER"
fi
