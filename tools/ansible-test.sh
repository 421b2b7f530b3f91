#!/usr/bin/env bash
# Run ansible-test on a copy of this repository.
#
#   tools/ansible-test.sh sanity --venv --python 3.11
#   tools/ansible-test.sh units --venv --python 3.11
#   tools/ansible-test.sh integration --venv --python 3.11
#
# ansible-test only runs from a directory whose real path ends in
# ansible_collections/<namespace>/<name>, so the work tree (less .git, the venvs, .cache,
# tests/output and whatever .gitignore ignores) is synced to
# ${TEROK_TEST_ROOT:-${TMPDIR:-/tmp}/terok-lifecycle-test}/ansible_collections/terok/lifecycle
# and ansible-test runs there, with the real interpreters (.cache/pybin), the podman
# wrapper and terok-test-env (.cache/testbin) and .venv/bin first on PATH. Its
# tests/output (junit, results, logs) is copied back into this repository's tests/output.
#
# ansible-test runs with HOME=.cache/ansible-test-home (and ANSIBLE_HOME=$HOME/.ansible):
# what it keeps under ~/.ansible/test (the offline get-pip stand-in from tools/bootstrap.sh,
# the sanity venvs), the pip cache and ansible's temp files stay in this clone. The user's
# pip configuration is linked into that HOME, so that pip keeps its index settings.
#
# A run that ansible-test ends with "All targets skipped" (exit 0) fails here, unless
# TEROK_ALLOW_NO_TESTS is set.
set -euo pipefail

# shellcheck source=tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ "$#" -gt 0 ] || die "usage: $0 sanity|units|integration [ansible-test options]"
require_venv
if [ ! -d "$PYBIN" ] || [ ! -d "$TESTBIN" ]; then
    die "$PYBIN or $TESTBIN is missing: run 'make bootstrap' first"
fi

# ansible-test finds its caches through ~ and passes only HOME (not ANSIBLE_HOME) on to the
# ansible commands it runs: a HOME of its own keeps all of that inside this clone
ANSIBLE_TEST_HOME="$CACHE_DIR/ansible-test-home"  # the same in tools/bootstrap.sh
if ! compgen -G "$ANSIBLE_TEST_HOME/.ansible/test/cache/get_pip_*.py" >/dev/null; then
    die "the get-pip stand-in is missing from $ANSIBLE_TEST_HOME: run 'make bootstrap' first"
fi

# link_pip_config USER_FILE FILE: pip run by ansible-test reads its user configuration from
# the new HOME only; link the user's file there (or drop a link whose target is gone)
link_pip_config() {
    local src=$1 dst=$2
    if [ -f "$src" ] && [ ! "$src" -ef "$dst" ]; then
        mkdir -p "$(dirname "$dst")"
        ln -sfn "$src" "$dst"
    elif [ -L "$dst" ] && [ ! -e "$dst" ]; then
        rm -f "$dst"
    fi
}
if [ "$HOME" != "$ANSIBLE_TEST_HOME" ]; then
    link_pip_config "${XDG_CONFIG_HOME:-$HOME/.config}/pip/pip.conf" "$ANSIBLE_TEST_HOME/.config/pip/pip.conf"
    link_pip_config "$HOME/.pip/pip.conf" "$ANSIBLE_TEST_HOME/.pip/pip.conf"
fi

TEST_ROOT="${TEROK_TEST_ROOT:-${TMPDIR:-/tmp}/terok-lifecycle-test}"
DEST="$TEST_ROOT/ansible_collections/terok/lifecycle"

mkdir -p "$DEST"
rsync -a --delete --delete-excluded \
    --filter='P /tests/output/' \
    --exclude=/.git --exclude='/.venv*' --exclude=/.cache --exclude=/tests/output/ \
    --filter=':- .gitignore' \
    "$REPO_ROOT/" "$DEST/"
# results from this run only; keep .tmp, where ansible-test keeps its delegation venv
if [ -d "$DEST/tests/output" ]; then
    find "$DEST/tests/output" -mindepth 1 -maxdepth 1 ! -name .tmp -exec rm -rf {} +
fi

PATH="$(test_path)"
export PATH
# the copy is the only terok.lifecycle ansible may see (a molecule install in
# ~/.ansible/collections would otherwise shadow it for plain ansible commands)
export ANSIBLE_COLLECTIONS_PATH="$TEST_ROOT"
unset ANSIBLE_COLLECTIONS_PATHS

color=()
if [ -t 1 ]; then
    color=(--color yes)
fi
log_file="$(mktemp "${TMPDIR:-/tmp}/terok-ansible-test.XXXXXX")"
trap 'rm -f "$log_file"' EXIT
set +e
(cd "$DEST" && HOME="$ANSIBLE_TEST_HOME" ANSIBLE_HOME="$ANSIBLE_TEST_HOME/.ansible" \
    ansible-test "$@" "${color[@]}") 2>&1 | without_pip_noise | tee "$log_file"
rc=${PIPESTATUS[0]}
set -e
# ansible-test exits 0 when it ran nothing (no unit tests, no integration targets):
# a run that tested nothing must not pass as green
if [ "$rc" -eq 0 ] && [ -z "${TEROK_ALLOW_NO_TESTS:-}" ] \
    && grep -q '^WARNING: All targets skipped' "$log_file"; then
    printf 'ERROR: ansible-test %s ran no test ("All targets skipped"); set TEROK_ALLOW_NO_TESTS=1 to allow that\n' "$1" >&2
    rc=1
fi

if [ -d "$DEST/tests/output" ]; then
    mkdir -p "$REPO_ROOT/tests/output"
    rsync -a --exclude=/.tmp "$DEST/tests/output/" "$REPO_ROOT/tests/output/"
fi
exit "$rc"
