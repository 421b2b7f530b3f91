#!/usr/bin/env bash
# Build the local task images (no registry is reachable, so nothing can be pulled).
#
#   tools/build-image.sh [--force] [--check|--no-check]
#
# One base, two task images on it, each built only when missing or stale:
#   localhost/terok-task-base:latest  debootstrap'd Debian bookworm (minbase + git,
#                                     ca-certificates, openssh-client, python3, tmux), the
#                                     user dev (uid 1000, gid 1000, home /home/dev) as in
#                                     terok's images, CMD bash; ~1 min, rebuilt when its label
#                                     org.terok.base.recipe differs from this script's recipe
#   localhost/terok-task:latest       base + files/init-ssh-and-repo.sh in /usr/local/bin,
#                                     running as root: rootful podman with no user namespace
#                                     gives it the root-owned 0700 workspace; seconds
#   localhost/terok-task-dev:latest   the same with USER dev, as terok's images run, for the
#                                     rootless tests (tools/rootless-image.sh loads it into
#                                     the test user's storage); seconds
# A task image is rebuilt when the init script's sha256 (label org.terok.init-script.sha256)
# or the base image's id (label org.terok.base.id) differs from its labels.
# After a build, a short check that containers run (run, detached run with a bind mount,
# exec, stop --time, logs --timestamps, ps -a --format json, the dev image's user and tmux).
#
# --force     rebuild the three images
# --check     run the container check even when nothing was built
# --no-check  skip the container check
# shellcheck disable=SC2153  # TASK_IMAGE and DEV_IMAGE come from tools/lib.sh
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
        -h|--help) sed -n '2,25p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) die "unknown option: $arg" ;;
    esac
done

BASE_IMAGE="${TEROK_TASK_BASE_IMAGE:-localhost/terok-task-base:latest}"
INIT_SCRIPT="$REPO_ROOT/files/init-ssh-and-repo.sh"
LABEL=org.terok.init-script.sha256
BASE_ID_LABEL=org.terok.base.id
RECIPE_LABEL=org.terok.base.recipe
SUITE=bookworm
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PACKAGES=git,ca-certificates,openssh-client,python3,tmux
# the image user of terok's images
DEV_USER=dev
DEV_UID=1000
DEV_GID=1000
DEV_HOME=/home/dev
# what the base is made of; a base labelled with another recipe is rebuilt (the mirror is
# left out: every mirror serves the same suite)
RECIPE="$(printf 'minbase %s %s user %s:%s:%s:%s\n' "$SUITE" "$PACKAGES" \
    "$DEV_USER" "$DEV_UID" "$DEV_GID" "$DEV_HOME" | sha256sum | cut -d' ' -f1)"
PODMAN=(podman)
if [ -x "$TESTBIN/podman" ]; then
    PODMAN=("$TESTBIN/podman")
fi

command -v podman >/dev/null 2>&1 || die "podman is missing: run 'make bootstrap' first"
[ -f "$INIT_SCRIPT" ] || die "$INIT_SCRIPT is missing: the image needs it in /usr/local/bin"
[ "$(id -u)" -eq 0 ] || die "debootstrap and this podman setup need root"

pm() { "${PODMAN[@]}" "$@"; }

# one build at a time on this machine (podman's storage is the machine's): a second run
# waits, then finds the images built
one_at_a_time "${TEROK_IMAGE_LOCK:-/run/lock/terok-build-image.lock}"

WORK=""
cleanup() {
    if [ -n "$WORK" ]; then
        rm -rf "$WORK"
    fi
    pm rm -f -i "terok-image-check-$$" >/dev/null 2>&1 || true
}
trap cleanup EXIT

build_base() {
    local start root
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing: run 'make bootstrap' first"
    start=$SECONDS
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/terok-image.XXXXXX")"
    root="$WORK/rootfs"
    log "debootstrap $SUITE into $root (about a minute)"
    debootstrap --variant=minbase --include="$PACKAGES" \
        "$SUITE" "$root" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
        || { tail -n 30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
    # the user dev, made in the root filesystem (no container needed)
    chroot "$root" groupadd -g "$DEV_GID" "$DEV_USER"
    chroot "$root" useradd -m -u "$DEV_UID" -g "$DEV_GID" -d "$DEV_HOME" -s /bin/bash \
        -c "terok agent" "$DEV_USER"
    # a smaller image: no package cache, no apt lists
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    log "importing $BASE_IMAGE"
    tar --numeric-owner -C "$root" -c . \
        | pm import -q --change 'CMD ["/bin/bash"]' --change "LABEL $RECIPE_LABEL=$RECIPE" \
            - "$BASE_IMAGE" >/dev/null
    rm -rf "$WORK"
    WORK=""
    log "built $BASE_IMAGE in $((SECONDS - start)) s"
}

# build_task_image IMAGE USER: the base + the init script, labelled, running as USER
build_task_image() {
    local image=$1 user=$2 start ctx old_id=""
    start=$SECONDS
    if pm image exists "$image"; then
        old_id="$(pm image inspect --format '{{.Id}}' "$image")"
    fi
    ctx="$(mktemp -d "${TMPDIR:-/tmp}/terok-image-ctx.XXXXXX")"
    WORK="$ctx"
    install -m 0755 "$INIT_SCRIPT" "$ctx/init-ssh-and-repo.sh"
    cat >"$ctx/Containerfile" <<EOF
FROM $BASE_IMAGE
COPY init-ssh-and-repo.sh /usr/local/bin/init-ssh-and-repo.sh
LABEL $LABEL=$sha $BASE_ID_LABEL=$base_id
USER $user
CMD ["/bin/bash"]
EOF
    log "building $image (user $user, init script $sha)"
    pm build --pull=never --network=none --layers=false -q -t "$image" -f "$ctx/Containerfile" "$ctx" >/dev/null
    rm -rf "$ctx"
    WORK=""
    if [ -n "$old_id" ] && [ "$old_id" != "$(pm image inspect --format '{{.Id}}' "$image")" ]; then
        # the replaced image, now untagged (kept if a container still uses it)
        pm rmi "$old_id" >/dev/null 2>&1 || true
    fi
    log "built $image in $((SECONDS - start)) s"
}

# stale IMAGE: true when IMAGE is missing or its labels name another init script or base
stale() {
    local have
    pm image exists "$1" || return 0
    have="$(pm image inspect --format "{{ index .Config.Labels \"$LABEL\" }} {{ index .Config.Labels \"$BASE_ID_LABEL\" }}" "$1")"
    [ "$have" != "$sha $base_id" ]
}

check_containers() {
    local name="terok-image-check-$$" ws out
    log "checking that containers run from $TASK_IMAGE"
    pm run --rm "$TASK_IMAGE" git --version >/dev/null || die "podman run --rm $TASK_IMAGE failed"
    pm run --rm --entrypoint /bin/sh "$TASK_IMAGE" -c 'test -x /usr/local/bin/init-ssh-and-repo.sh' \
        || die "$TASK_IMAGE has no executable /usr/local/bin/init-ssh-and-repo.sh"
    ws="$(mktemp -d "${TMPDIR:-/tmp}/terok-image-ws.XXXXXX")"
    WORK="$ws"
    pm run -d --name "$name" -v "$ws:/workspace" "$TASK_IMAGE" \
        /bin/sh -c 'echo started; touch /workspace/seen; trap "exit 0" TERM; while :; do sleep 1; done' >/dev/null
    pm exec "$name" python3 -c 'print("exec ok")' >/dev/null || die "podman exec failed"
    pm stop --time 1 "$name" >/dev/null
    out="$(pm logs --timestamps "$name")"
    case "$out" in *started*) ;; *) die "podman logs did not show the container's output: $out" ;; esac
    pm ps -a --format json | grep -q "\"$name\"" || die "podman ps -a --format json does not list $name"
    [ -e "$ws/seen" ] || die "the bind mount did not work"
    pm rm -f "$name" >/dev/null
    rm -rf "$ws"
    WORK=""
    # shellcheck disable=SC2016  # expanded in the container
    out="$(pm run --rm "$DEV_IMAGE" sh -c 'echo "$(id -un) $(id -u):$(id -g) $HOME"; tmux -V')" \
        || die "podman run --rm $DEV_IMAGE failed"
    case "$out" in
        "$DEV_USER $DEV_UID:$DEV_GID $DEV_HOME"*tmux\ *) ;;
        *) die "$DEV_IMAGE does not run as $DEV_USER ($DEV_UID:$DEV_GID, $DEV_HOME) with tmux: $out" ;;
    esac
    log "containers run fine"
}

if [ "$FORCE" = 1 ]; then
    pm rmi -f "$TASK_IMAGE" "$DEV_IMAGE" "$BASE_IMAGE" >/dev/null 2>&1 || true
fi
old_base=""
if pm image exists "$BASE_IMAGE" \
    && [ "$(pm image inspect --format "{{ index .Config.Labels \"$RECIPE_LABEL\" }}" "$BASE_IMAGE")" != "$RECIPE" ]; then
    log "$BASE_IMAGE is stale: made from another recipe (before tmux and the user $DEV_USER?)"
    old_base="$(pm image inspect --format '{{.Id}}' "$BASE_IMAGE")"
fi
if [ -n "$old_base" ] || ! pm image exists "$BASE_IMAGE"; then
    build_base
    [ "$CHECK" = auto ] && CHECK=1
fi
sha="$(sha256sum "$INIT_SCRIPT" | cut -d' ' -f1)"
base_id="$(pm image inspect --format '{{.Id}}' "$BASE_IMAGE")"
if stale "$TASK_IMAGE"; then
    build_task_image "$TASK_IMAGE" root
    [ "$CHECK" = auto ] && CHECK=1
fi
if stale "$DEV_IMAGE"; then
    build_task_image "$DEV_IMAGE" "$DEV_USER"
    [ "$CHECK" = auto ] && CHECK=1
fi
if [ -n "$old_base" ]; then
    # the replaced base, now untagged (kept while an image or a container still uses it)
    pm rmi "$old_base" >/dev/null 2>&1 || true
fi
if [ "$CHECK" = 1 ]; then
    check_containers
fi
log "images ready: $TASK_IMAGE, $DEV_IMAGE"
