#!/usr/bin/env bash
# Run ansible-test on a copy of this repository.
#
#   tools/ansible-test.sh sanity --venv --python 3.11
#   tools/ansible-test.sh units --venv --python 3.11
#   tools/ansible-test.sh integration --venv --python 3.11
#   tools/ansible-test.sh --core 2.21 sanity --venv --python 3.13
#   tools/ansible-test.sh --matrix sanity --venv
#   tools/ansible-test.sh --matrix units --venv
#
# --core 2.X  run the ansible-test of ansible-core 2.X (.venv-core-2.X from tools/bootstrap.sh;
#             2.19, the default, is .venv). Its copy of the tree is a root of its own
#             ($TEST_ROOT/core-2.X/...), so that the venvs ansible-test keeps in
#             tests/output/.tmp never mix two cores.
# --matrix    run the command once per cell of the ansible-core x Python matrix (tools/lib.sh:
#             MATRIX_CORES, each on the controller Pythons of its ansible-test that .cache/pybin
#             has), with --python per cell, and print a table; every cell runs, the exit code
#             is 1 when one failed. The cell of .venv (2.19 x 3.11) is left out: `make sanity`
#             and `make units` run it. TEROK_MATRIX=edges runs only each core's oldest and
#             newest Python here; TEROK_MATRIX=lean (`make sanity-matrix`) is edges where a
#             sanity cell on a core's oldest Python runs only the tests whose result depends on
#             the Python version ($LEAN_TESTS: compile, import, pylint), the newest one every
#             test; TEROK_MATRIX_CORES="2.17 2.21" limits the cores.
#
# ansible-test only runs from a directory whose real path ends in
# ansible_collections/<namespace>/<name>, so the work tree (less .git, the venvs, .cache,
# tests/output and whatever .gitignore ignores) is synced to
# $ANSIBLE_TEST_ROOT/ansible_collections/terok/lifecycle (tools/lib.sh: $TEROK_TEST_ROOT, else
# ${TMPDIR:-/tmp}/terok-lifecycle-test-<hash of this clone's path>)
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

usage() { die "usage: $0 [--core 2.X | --matrix] sanity|units|integration [ansible-test options]"; }

core="$MAIN_CORE"
matrix=0
while [ "$#" -gt 0 ]; do
    case "$1" in
        --core) [ "$#" -ge 2 ] || usage; core=$2; shift 2 ;;
        --matrix) matrix=1; shift ;;
        *) break ;;
    esac
done
[ "$#" -gt 0 ] || usage

# ---------------------------------------------------------------- --matrix
# The sanity tests of a lean cell (a core's oldest Python here): those that run on, or
# check against, the cell's Python. Every other test (validate-modules, ansible-doc, yamllint,
# changelog, runtime-metadata, pep8, shellcheck and the file checks) gives the same answer on
# each Python of a core, and runs in that core's newest-Python cell; each cell costs a set of
# ansible-test venvs on a fresh clone (2-5 min), so the lean cell makes only the few it needs.
LEAN_TESTS=(compile import pylint)

# run_matrix COMMAND ARGS...: one run of this script per cell, then the table
run_matrix() {
    local command=$1 cores=() core venv supported pythons py selected cell start rc failed=0
    local rows=() results=() matrix_start=$SECONDS extra=() note test
    shift
    case "${TEROK_MATRIX:=full}" in
        full|edges|lean) ;;
        *) die "TEROK_MATRIX must be full, edges or lean, not '$TEROK_MATRIX'" ;;
    esac
    read -r -a cores <<<"${TEROK_MATRIX_CORES:-${MATRIX_CORES[*]}}"
    for core in "${cores[@]}"; do
        venv="$(core_venv "$core")"
        if [ ! -x "$venv/bin/ansible-test" ] && [ -f "$venv.skipped" ]; then
            # tools/bootstrap.sh could not make it here (no Python for it) and said why
            rows+=("$core -")
            results+=("skipped: $(cat "$venv.skipped")")
            continue
        fi
        [ -x "$venv/bin/ansible-test" ] || die "$venv is missing: run 'make bootstrap' (tools/bootstrap.sh) first"
        read -r -a supported <<<"$(core_pythons "$venv")"
        pythons=()
        for py in "${supported[@]}"; do
            [ -x "$PYBIN/python$py" ] && pythons+=("$py")
        done
        [ "${#pythons[@]}" -gt 0 ] || die "none of ansible-core $core's controller Pythons (${supported[*]}) is in $PYBIN"
        selected=("${pythons[@]}")
        if [ "$TEROK_MATRIX" != full ] && [ "${#pythons[@]}" -gt 2 ]; then
            selected=("${pythons[0]}" "${pythons[${#pythons[@]}-1]}")
        fi
        for py in "${supported[@]}"; do
            rows+=("$core $py")
            if [ ! -x "$PYBIN/python$py" ]; then
                results+=("skipped: no real Python $py on this machine")
                continue
            fi
            if [ "$core" = "$MAIN_CORE" ] && [ "$py" = "$MAIN_PYTHON" ]; then
                results+=("not here: make $command runs this cell")
                continue
            fi
            case " ${selected[*]} " in
                *" $py "*) ;;
                *) results+=("skipped: TEROK_MATRIX=$TEROK_MATRIX"); continue ;;
            esac
            extra=()
            note=""
            if [ "$TEROK_MATRIX" = lean ] && [ "$command" = sanity ] && [ "${#selected[@]}" -gt 1 ] \
                && [ "$py" = "${selected[0]}" ]; then
                case " $* " in
                    *" --test "*) ;;  # the caller chose the tests
                    *)
                        for test in "${LEAN_TESTS[@]}"; do extra+=(--test "$test"); done
                        note=" (${LEAN_TESTS[*]})"
                        ;;
                esac
            fi
            printf '\n==> ansible-test %s: ansible-core %s, Python %s%s\n' "$command" "$core" "$py" "$note" >&2
            start=$SECONDS
            rc=0
            "${BASH_SOURCE[0]}" --core "$core" "$command" "$@" "${extra[@]}" --python "$py" || rc=$?
            if [ "$rc" -eq 0 ]; then
                results+=("passed in $((SECONDS - start)) s$note")
            else
                results+=("FAILED (rc $rc) in $((SECONDS - start)) s$note")
                failed=$((failed + 1))
            fi
        done
    done
    printf '\n==> ansible-test %s matrix (%s): %d s\n' "$command" "$TEROK_MATRIX" "$((SECONDS - matrix_start))"
    printf '  %-14s %-8s %s\n' ansible-core Python result
    for cell in "${!rows[@]}"; do
        read -r core py <<<"${rows[$cell]}"
        printf '  %-14s %-8s %s\n' "$core" "$py" "${results[$cell]}"
    done
    [ "$failed" -eq 0 ] || { printf 'ERROR: %d cell(s) of the %s matrix failed\n' "$failed" "$command" >&2; return 1; }
}

if [ "$matrix" = 1 ]; then
    run_matrix "$@"
    exit $?
fi

# ---------------------------------------------------------------- one run
case " ${MATRIX_CORES[*]} " in
    *" $core "*) ;;
    *) die "ansible-core $core is not in MATRIX_CORES (tools/lib.sh): ${MATRIX_CORES[*]}" ;;
esac
CORE_VENV="$(core_venv "$core")"
if [ "$core" = "$MAIN_CORE" ]; then
    require_venv
elif [ ! -x "$CORE_VENV/bin/ansible-test" ]; then
    die "$CORE_VENV is missing or incomplete: run 'make bootstrap' (tools/bootstrap.sh) first"
fi
if [ ! -d "$PYBIN" ] || [ ! -d "$TESTBIN" ]; then
    die "$PYBIN or $TESTBIN is missing: run 'make bootstrap' first"
fi

# ansible-test finds its caches through ~ and passes only HOME (not ANSIBLE_HOME) on to the
# ansible commands it runs: a HOME of its own ($ANSIBLE_TEST_HOME, tools/lib.sh) keeps all
# of that inside this clone
get_pip="$(get_pip_path "$CORE_VENV")" || die "cannot tell which get-pip script the ansible-test in $CORE_VENV wants"
if [ ! -f "$get_pip" ]; then
    die "the get-pip stand-in $get_pip is missing: run 'make bootstrap' first"
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

TEST_ROOT="$ANSIBLE_TEST_ROOT"
if [ "$core" != "$MAIN_CORE" ]; then
    TEST_ROOT="$TEST_ROOT/core-$core"
fi
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

PATH="$(venv_test_path "$CORE_VENV")"
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
