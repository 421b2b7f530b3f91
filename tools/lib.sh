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
# make demo's venv: ansible-core only (tools/bootstrap.sh --demo)
DEMO_VENV="$REPO_ROOT/.venv-demo"
CACHE_DIR="$REPO_ROOT/.cache"
# symlinks python3.X -> the real interpreters (pyenv's shims break ansible-test)
PYBIN="$CACHE_DIR/pybin"
# podman wrapper, terok links and terok-test-env: see write_testbin
TESTBIN="$CACHE_DIR/testbin"
# ANSIBLE_COLLECTIONS_PATH for plain ansible / ansible-lint: terok.lifecycle -> this tree
COLLECTIONS_DIR="$CACHE_DIR/collections"
# HOME of ansible-test (tools/ansible-test.sh): the get-pip stand-ins (tools/bootstrap.sh),
# ansible-test's sanity venvs, the pip cache and ansible's temp files stay in this clone
ANSIBLE_TEST_HOME="$CACHE_DIR/ansible-test-home"
# where tools/ansible-test.sh copies the tree for ansible-test (which must run in
# .../ansible_collections/terok/lifecycle, outside any git work tree: inside this one it would
# list the copy's files with git, which ignores .cache). One folder per clone (a hash of its
# path), so that two clones never sync into the same copy, and a clone's delegation venvs
# (tests/output/.tmp there) are its own.
ANSIBLE_TEST_ROOT="${TEROK_TEST_ROOT:-${TMPDIR:-/tmp}/terok-lifecycle-test-$(printf '%s' "$REPO_ROOT" | sha256sum | cut -c1-8)}"
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

# one_at_a_time LOCKFILE: hold an flock on LOCKFILE (fd 9) until the script ends; when another
# run of the script holds it, say so and wait for it
one_at_a_time() {
    exec 9>>"$1"
    if ! flock -n 9; then
        log "waiting for another $(basename "$0") ($1)"
        flock 9
    fi
}

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

# ---------------------------------------------------------------- ansible-core matrix
# `make sanity-matrix` / `make units-matrix` (tools/ansible-test.sh --matrix) run ansible-test
# with every ansible-core minor that meta/runtime.yml admits (requires_ansible: '>=2.17.0')
# up to the newest stable one, each on every controller Python of that core (its own
# ansible_test CONTROLLER_PYTHON_VERSIONS) that this machine has.
MATRIX_CORES=(2.17 2.18 2.19 2.20 2.21 2.22)
# the core in .venv (pinned in tools/requirements.txt) and .venv's Python: `make sanity` and
# `make units` run this cell, so the matrix leaves it out
MAIN_CORE=2.19
MAIN_PYTHON=3.11
# every other core has a venv .venv-core-2.X of its own (tools/bootstrap.sh), pinned by
# tools/constraints-core-2.X.txt and made from this Python, a controller Python of every core
# in MATRIX_CORES up to 2.21 (core_venv_python)
CORE_VENV_PYTHON=3.12

# core_venv_python 2.X: print the Python version (3.Y) of .venv-core-2.X: CORE_VENV_PYTHON, or
# for a core that no longer runs on it, that core's oldest controller Python (ansible-core 2.22
# needs 3.13 or newer)
core_venv_python() {
    case "$1" in
        2.22) printf '%s\n' 3.13 ;;
        *) printf '%s\n' "$CORE_VENV_PYTHON" ;;
    esac
}

# core_venv 2.X: print the venv whose ansible-test is ansible-core 2.X
core_venv() {
    if [ "$1" = "$MAIN_CORE" ]; then
        printf '%s\n' "$VENV"
    else
        printf '%s\n' "$REPO_ROOT/.venv-core-$1"
    fi
}

# core_pythons VENV: print (one line) the controller Pythons of VENV's ansible-test
core_pythons() {
    "$1/bin/python" -c 'from ansible_test._util.target.common.constants import CONTROLLER_PYTHON_VERSIONS as v; print(*v)'
}

# get_pip_path VENV: print where ansible-test from VENV looks for its pip bootstrap script
# (it names the script after the pip version it installs: pip='24.2' -> get_pip_24_2.py)
get_pip_path() {
    local reqs pip_version
    reqs=("$1"/lib/python3.*/site-packages/ansible_test/_internal/python_requirements.py)
    [ -f "${reqs[0]}" ] || { warn "ansible-test not found in $1"; return 1; }
    pip_version="$(sed -n "s/^ *pip='\([0-9.]*\)',\$/\1/p" "${reqs[0]}" | head -n1)"
    [ -n "$pip_version" ] || { warn "cannot find the bootstrap pip version in ${reqs[0]}"; return 1; }
    printf '%s\n' "$ANSIBLE_TEST_HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
}

# test_path: PATH for running ansible-test and the tests
test_path() {
    venv_test_path "$VENV"
}

# venv_test_path VENV: the same with VENV (e.g. a .venv-core-2.X) instead of .venv
venv_test_path() {
    printf '%s:%s:%s:%s\n' "$TESTBIN" "$PYBIN" "$1/bin" "$PATH"
}

require_venv() {
    [ -x "$VENV/bin/ansible-test" ] || die "$VENV is missing or incomplete: run 'make bootstrap' (tools/bootstrap.sh) first"
}
