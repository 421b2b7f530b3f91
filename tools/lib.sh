# shellcheck shell=bash disable=SC2034
# (SC2034: the variables below are used by the scripts that source this file)
# Common settings for the tools/*.sh scripts. Source it; do not run it.
#
# Every path is derived from the location of this file, so the scripts work from
# any working directory and from any clone of the repository.

TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$TOOLS_DIR/.." && pwd -P)"
VENV="$REPO_ROOT/.venv"
TEROK_VENV="$REPO_ROOT/.venv-terok"
CACHE_DIR="$REPO_ROOT/.cache"
# symlinks python3.X -> the real interpreters (pyenv's shims break ansible-test)
PYBIN="$CACHE_DIR/pybin"
# podman wrapper, terok links and terok-test-env: see write_testbin
TESTBIN="$CACHE_DIR/testbin"
# ANSIBLE_COLLECTIONS_PATH for plain ansible / ansible-lint: terok.lifecycle -> this tree
COLLECTIONS_DIR="$CACHE_DIR/collections"
TASK_IMAGE="${TEROK_TASK_IMAGE:-localhost/terok-task:latest}"
# the same on USER dev (uid 1000), as terok's images run: for the rootless tests
DEV_IMAGE="${TEROK_TASK_DEV_IMAGE:-localhost/terok-task-dev:latest}"
# podman 4.3.1 as root here needs runc and explicit ulimits; keep that to tests/demo
export CONTAINERS_CONF="${CONTAINERS_CONF:-$TOOLS_DIR/containers.conf}"
export TEROK_VENV TASK_IMAGE DEV_IMAGE

# pip on these machines lists local find-links folders that do not exist; drop that noise
PIP_NOISE="^WARNING: Location 'file://.*' is ignored: it is neither a file nor a directory\.\$"
without_pip_noise() { grep --line-buffered -v -e "$PIP_NOISE" || true; }

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# as_root CMD...: run CMD as root (directly, or through sudo when not root)
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run: $*"
    fi
}

# pyenv_root: print pyenv's root directory (without running a shim)
pyenv_root() {
    if [ -n "${PYENV_ROOT:-}" ]; then
        printf '%s\n' "$PYENV_ROOT"
    elif command -v pyenv >/dev/null 2>&1; then
        pyenv root
    else
        printf '%s\n' "$HOME/.pyenv"
    fi
}

# real_python 3.X: print the path of a real (non-shim) python3.X interpreter, or fail.
# The newest pyenv release of that minor version wins, then the system's.
real_python() {
    local ver=$1 root cand found=""
    root="$(pyenv_root)"
    for cand in "$root"/versions/"$ver".*/bin/python"$ver"; do
        [ -x "$cand" ] || continue
        case "${cand#"$root"/versions/"$ver".}" in
            [0-9]*/bin/python"$ver") ;;  # a release like 3.11.7, not 3.11-dev or an env
            *) continue ;;
        esac
        found="$(printf '%s\n%s\n' "$found" "$cand" | sed '/^$/d' | sort -V | tail -n1)"
    done
    if [ -z "$found" ]; then
        for cand in /usr/bin/python"$ver" /usr/local/bin/python"$ver"; do
            if [ -x "$cand" ] && "$cand" -c 'import sys' >/dev/null 2>&1; then
                found="$cand"
                break
            fi
        done
    fi
    [ -n "$found" ] || return 1
    printf '%s\n' "$found"
}

# test_path: PATH for running ansible-test and the tests
test_path() {
    printf '%s:%s:%s:%s\n' "$TESTBIN" "$PYBIN" "$VENV/bin" "$PATH"
}

require_venv() {
    [ -x "$VENV/bin/ansible-test" ] || die "$VENV is missing or incomplete: run 'make bootstrap' (tools/bootstrap.sh) first"
}
