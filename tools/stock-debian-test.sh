#!/usr/bin/env bash
# make stock-debian: make demo on a stock Debian 12, with no Python but Debian's.
#
#   tools/stock-debian-test.sh [--rebuild] [--full]
#
# A container of a plain Debian 12 root filesystem (debootstrap --variant=minbase bookworm: no
# Python at all, apt sources as a Debian 12 installation writes them), run --privileged so that
# podman works inside it, gets a copy of this repository (the files a clone would have: git's
# tracked and untracked-but-not-ignored files, with their uncommitted changes) on stdin and runs
# tests/stock_debian/in-container.sh there: apt-get install make, make demo, checks of what it
# installed and made and printed, make demo again (no change), make demo-cleanup. The container
# is removed after every run, passed or not.
#
# What the container has that a stock machine does not (the test setup, not the demo's):
#   - podman's storage is vfs and its settings are tests/stock_debian/containers.conf (runc,
#     cgroupfs, host network namespace), as podman inside a container needs
#   - PIP_CERT, when this machine's pip needs a CA of its own to reach the index
#
# The image localhost/terok-stock-debian:bookworm is built when missing or when its recipe
# (label org.terok.stock-debian.recipe) differs; ~1.5 min. Caches in .cache/stock-debian, bind-mounted
# into the container so that a rerun downloads nothing it had:
#   apt-archives/ apt-lists/   apt's downloads and package lists (/var/cache/apt/archives,
#                              /var/lib/apt/lists)
#   pip/                       pip's cache (/root/.cache/pip)
#   debootstrap/               debootstrap's downloads for the image (--cache-dir)
#   storage-<hash>/            the inside podman's storage (/var/lib/containers); a run leaves only
#                              the role's debootstrap base image there (it removes the task image
#                              and the containers), so a rerun builds the task image from it but
#                              skips the role's debootstrap; <hash> is that of the role's files
#                              that make the base, and a failed run removes the directory
#
# --rebuild   rebuild the image and start with empty caches
# --full      then also tools/bootstrap.sh as make test runs it (the venvs that need Python
#             3.12/3.13 skipped, named) and the units matrix (every cell skipped, naming why);
#             a few minutes more, not part of make test
set -euo pipefail

# shellcheck source=tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REBUILD=0
FULL=0
for arg in "$@"; do
    case "$arg" in
        --rebuild) REBUILD=1 ;;
        --full) FULL=1 ;;
        -h|--help) sed -n '2,/^set -euo/{/^set -euo/!p;}' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) die "unknown option: $arg" ;;
    esac
done

IMAGE="${TEROK_STOCK_DEBIAN_IMAGE:-localhost/terok-stock-debian:bookworm}"
RECIPE_LABEL=org.terok.stock-debian.recipe
SUITE=bookworm
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
# /etc/apt/sources.list of a Debian 12 installation (main only)
SOURCES="deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main"
# what the image is made of (the mirrors left out: every mirror serves the same suites)
RECIPE="$(printf 'minbase %s sources %s-updates %s-security\n' "$SUITE" "$SUITE" "$SUITE" | sha256sum | cut -d' ' -f1)"
CACHE="$CACHE_DIR/stock-debian"
# the role's files that make its debootstrap base image: a change empties the storage cache
ROLE_BASE_FILES=(roles/terok_host/defaults/main.yml roles/terok_host/vars/main.yml
    roles/terok_host/tasks/debootstrap.yml)
INSIDE=/root/terok.lifecycle
NAME="terok-stock-debian-$$"

[ "$(id -u)" -eq 0 ] || die "debootstrap and podman --privileged need root"
command -v podman >/dev/null 2>&1 || die "podman is missing: run 'make bootstrap' first"
command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing: run 'make bootstrap' first"
command -v git >/dev/null 2>&1 || die "git is missing: run 'make bootstrap' first"
PODMAN=(podman)
if [ -x "$TESTBIN/podman" ]; then
    PODMAN=("$TESTBIN/podman")
fi
pm() { "${PODMAN[@]}" "$@"; }

# one run at a time on this machine (the image, and apt's locks in the shared caches)
one_at_a_time "${TEROK_STOCK_DEBIAN_LOCK:-/run/lock/terok-stock-debian.lock}"

WORK=""
cleanup() {
    pm rm -f -t 0 "$NAME" >/dev/null 2>&1 || true
    if [ -n "$WORK" ]; then
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- the image
build_image() {
    local start=$SECONDS root old=""
    if pm image exists "$IMAGE"; then
        old="$(pm image inspect --format '{{.Id}}' "$IMAGE")"
    fi
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/terok-stock-debian.XXXXXX")"
    root="$WORK/rootfs"
    mkdir -p "$CACHE/debootstrap"
    log "debootstrap --variant=minbase $SUITE into $root (about a minute and a half)"
    debootstrap --variant=minbase --cache-dir="$CACHE/debootstrap" "$SUITE" "$root" "$MIRROR" \
        >"$WORK/debootstrap.log" 2>&1 \
        || { tail -n 30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
    printf '%s\n' "$SOURCES" >"$root/etc/apt/sources.list"
    rm -rf "$root"/var/cache/apt/archives/*.deb
    log "importing $IMAGE"
    tar --numeric-owner -C "$root" -c . \
        | pm import -q --change 'CMD ["/bin/bash"]' --change "LABEL $RECIPE_LABEL=$RECIPE" \
            - "$IMAGE" >/dev/null
    rm -rf "$WORK"
    WORK=""
    if [ -n "$old" ] && [ "$old" != "$(pm image inspect --format '{{.Id}}' "$IMAGE")" ]; then
        pm rmi "$old" >/dev/null 2>&1 || true
    fi
    log "built $IMAGE in $((SECONDS - start)) s"
}

if [ "$REBUILD" = 1 ]; then
    rm -rf "$CACHE"
    pm rmi -f "$IMAGE" >/dev/null 2>&1 || true
fi
if ! pm image exists "$IMAGE" \
    || [ "$(pm image inspect --format "{{ index .Config.Labels \"$RECIPE_LABEL\" }}" "$IMAGE")" != "$RECIPE" ]; then
    build_image
fi

# ---------------------------------------------------------------- caches
storage="$CACHE/storage-$(cd "$REPO_ROOT" && cat "${ROLE_BASE_FILES[@]}" | sha256sum | cut -c1-12)"
for dir in "$CACHE"/storage-*; do
    [ "$dir" = "$storage" ] || rm -rf "$dir"
done
mkdir -p "$CACHE/apt-archives/partial" "$CACHE/apt-lists/partial" "$CACHE/pip" "$storage"
mounts=(
    -v "$CACHE/apt-archives:/var/cache/apt/archives"
    -v "$CACHE/apt-lists:/var/lib/apt/lists"
    -v "$CACHE/pip:/root/.cache/pip"
    -v "$storage:/var/lib/containers"
)
envs=(-e "CONTAINERS_STORAGE_CONF=$INSIDE/tests/stock_debian/storage.conf" -e "STOCK_DEBIAN_FULL=$FULL")
# this build machine's pip trusts a CA of its own (PIP_CERT, or cert in pip's configuration)
cert="${PIP_CERT:-}"
if [ -z "$cert" ] && [ -x "$VENV/bin/python" ]; then
    cert="$("$VENV/bin/python" -m pip config get global.cert 2>/dev/null || true)"
fi
if [ -n "$cert" ] && [ -f "$cert" ]; then
    mounts+=(-v "$cert:/etc/terok-stock-debian/pip-cert.pem:ro")
    envs+=(-e PIP_CERT=/etc/terok-stock-debian/pip-cert.pem)
fi

# ---------------------------------------------------------------- the run
# the files of a clone: tracked (as they are now, uncommitted changes included, deleted ones
# left out) and untracked ones that .gitignore does not ignore
repo_files() {
    local file
    git -C "$REPO_ROOT" ls-files -z --cached --others --exclude-standard \
        | while IFS= read -r -d '' file; do
            if [ -e "$REPO_ROOT/$file" ] || [ -L "$REPO_ROOT/$file" ]; then
                printf '%s\0' "$file"
            fi
        done
}

log "make demo on a stock Debian 12 in container $NAME ($IMAGE)"
start=$SECONDS
rc=0
repo_files | sort -zu | tar -C "$REPO_ROOT" --null --no-recursion -T - -c \
    | pm run --rm -i --privileged --name "$NAME" "${mounts[@]}" "${envs[@]}" "$IMAGE" \
        /bin/bash -c "mkdir -p $INSIDE && tar -x -C $INSIDE && exec $INSIDE/tests/stock_debian/in-container.sh" \
    || rc=$?
if [ "$rc" -ne 0 ]; then
    # the storage may hold a half-built image or containers: the next run starts without it
    rm -rf "$storage"
    die "the stock-Debian test failed (exit $rc) after $((SECONDS - start)) s"
fi
log "the stock-Debian test passed in $((SECONDS - start)) s"
