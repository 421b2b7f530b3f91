#!/usr/bin/env bash
# Make the system's test user for the non-root tests; idempotent and fast when done.
#
#   tools/test-user.sh
#
#   user            $TEROK_TEST_USER (default terok-test): useradd -m, shell /bin/bash, no
#                   password (root reaches it with su; nobody logs in as it)
#   /etc/subuid     a line USER:START:65536 in both files, START above every existing range,
#   /etc/subgid     so that rootless podman works for the user
#   python3-yaml    PyYAML for Debian's /usr/bin/python3, the interpreter that modules run
#                   with as the user (it cannot read the project's venvs); apt-get update
#                   runs only when the install needs it
#
# Tests run modules as the user with `become: true, become_user: terok-test,
# become_method: su` and `ansible_python_interpreter: /usr/bin/python3`
# (tests/reliability/test_non_root.py).
set -euo pipefail

# shellcheck source=tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
    "") ;;
    -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown option: $1" ;;
esac

TEST_USER="${TEROK_TEST_USER:-terok-test}"
SUB_COUNT=65536
# the lowest START (shadow's SUB_UID_MIN default)
SUB_MIN=100000

# ---------------------------------------------------------------- the user
test_user() {
    id -u "$TEST_USER" >/dev/null 2>&1 && return 0
    log "creating the test user $TEST_USER"
    # -K ...=0: no automatic subordinate ids; sub_ids gives the range above every other one
    as_root useradd -m -s /bin/bash -c "terok.lifecycle tests" \
        -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$TEST_USER"
}

# ---------------------------------------------------------------- subordinate ids
# next_sub_start: the first id above every range in /etc/subuid and /etc/subgid (and SUB_MIN)
next_sub_start() {
    cat /etc/subuid /etc/subgid 2>/dev/null | awk -F: -v min="$SUB_MIN" '
        BEGIN { top = min }
        NF >= 3 && $2 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ { if ($2 + $3 > top) top = $2 + $3 }
        END { printf "%d\n", top }'
}

sub_ids() {
    local file start=""
    for file in /etc/subuid /etc/subgid; do
        if [ -f "$file" ] && grep -q "^$TEST_USER:" "$file"; then
            continue
        fi
        # one START for both files, computed before either gets the new line
        [ -n "$start" ] || start="$(next_sub_start)"
        log "giving $TEST_USER the subordinate ids $start-$((start + SUB_COUNT - 1)) in $file"
        printf '%s:%s:%s\n' "$TEST_USER" "$start" "$SUB_COUNT" | as_root tee -a "$file" >/dev/null
    done
}

# ---------------------------------------------------------------- PyYAML for /usr/bin/python3
system_pyyaml() {
    if /usr/bin/python3 -c 'import yaml' >/dev/null 2>&1; then
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 || die "/usr/bin/python3 has no PyYAML and there is no apt-get to install python3-yaml"
    log "installing python3-yaml (PyYAML for /usr/bin/python3)"
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-yaml >/dev/null 2>&1; then
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-yaml >/dev/null
    fi
    /usr/bin/python3 -c 'import yaml' || die "python3-yaml is installed but /usr/bin/python3 cannot import yaml"
}

test_user
sub_ids
system_pyyaml
