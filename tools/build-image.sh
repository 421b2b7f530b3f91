#!/usr/bin/env bash
# Build the local task image (no registry is reachable, so nothing can be pulled).
#
#   tools/build-image.sh [--force] [--check|--no-check]
#
# Two layers, each built only when missing:
#   localhost/terok-task-base:latest  debootstrap'd Debian bookworm (minbase + git,
#                                     ca-certificates, openssh-client, python3), CMD bash;
#                                     ~1 min, built only when `podman image exists` fails
#   localhost/terok-task:latest       base + files/init-ssh-and-repo.sh in /usr/local/bin;
#                                     seconds, rebuilt when the script's sha256 differs from
#                                     the image label org.terok.init-script.sha256
# After a build, a short check that containers run (run, detached run with a bind mount,
# exec, stop --time, logs --timestamps, ps -a --format json).
#
# --force     rebuild both images
# --check     run the container check even when nothing was built
# --no-check  skip the container check
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
        -h|--help) sed -n '2,19p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) die "unknown option: $arg" ;;
    esac
done

BASE_IMAGE="${TEROK_TASK_BASE_IMAGE:-localhost/terok-task-base:latest}"
INIT_SCRIPT="$REPO_ROOT/files/init-ssh-and-repo.sh"
LABEL=org.terok.init-script.sha256
SUITE=bookworm
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PODMAN=(podman)
if [ -x "$TESTBIN/podman" ]; then
    PODMAN=("$TESTBIN/podman")
fi

command -v podman >/dev/null 2>&1 || die "podman is missing: run 'make bootstrap' first"
[ -f "$INIT_SCRIPT" ] || die "$INIT_SCRIPT is missing: the image needs it in /usr/local/bin"
[ "$(id -u)" -eq 0 ] || die "debootstrap and this podman setup need root"

pm() { "${PODMAN[@]}" "$@"; }

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
    debootstrap --variant=minbase --include=git,ca-certificates,openssh-client,python3 \
        "$SUITE" "$root" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
        || { tail -n 30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
    # a smaller image: no package cache, no apt lists
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    log "importing $BASE_IMAGE"
    tar --numeric-owner -C "$root" -c . \
        | pm import -q --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
    rm -rf "$WORK"
    WORK=""
    log "built $BASE_IMAGE in $((SECONDS - start)) s"
}

build_task_image() {
    local sha=$1 start ctx old_id=""
    start=$SECONDS
    if pm image exists "$TASK_IMAGE"; then
        old_id="$(pm image inspect --format '{{.Id}}' "$TASK_IMAGE")"
    fi
    ctx="$(mktemp -d "${TMPDIR:-/tmp}/terok-image-ctx.XXXXXX")"
    WORK="$ctx"
    install -m 0755 "$INIT_SCRIPT" "$ctx/init-ssh-and-repo.sh"
    cat >"$ctx/Containerfile" <<EOF
FROM $BASE_IMAGE
COPY init-ssh-and-repo.sh /usr/local/bin/init-ssh-and-repo.sh
LABEL $LABEL=$sha
CMD ["/bin/bash"]
EOF
    log "building $TASK_IMAGE (init script $sha)"
    pm build --pull=never --network=none --layers=false -q -t "$TASK_IMAGE" -f "$ctx/Containerfile" "$ctx" >/dev/null
    rm -rf "$ctx"
    WORK=""
    if [ -n "$old_id" ]; then
        # the replaced image, now untagged (kept if a container still uses it)
        pm rmi "$old_id" >/dev/null 2>&1 || true
    fi
    log "built $TASK_IMAGE in $((SECONDS - start)) s"
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
    log "containers run fine"
}

if [ "$FORCE" = 1 ]; then
    pm rmi -f "$TASK_IMAGE" "$BASE_IMAGE" >/dev/null 2>&1 || true
fi
if ! pm image exists "$BASE_IMAGE"; then
    build_base
    [ "$CHECK" = auto ] && CHECK=1
fi
sha="$(sha256sum "$INIT_SCRIPT" | cut -d' ' -f1)"
have=""
if pm image exists "$TASK_IMAGE"; then
    have="$(pm image inspect --format "{{ index .Config.Labels \"$LABEL\" }}" "$TASK_IMAGE")"
fi
if [ "$have" != "$sha" ]; then
    build_task_image "$sha"
    [ "$CHECK" = auto ] && CHECK=1
fi
if [ "$CHECK" = 1 ]; then
    check_containers
fi
log "image ready: $TASK_IMAGE"
