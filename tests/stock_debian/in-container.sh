#!/usr/bin/env bash
# The stock-Debian test, inside its container: tools/stock-debian-test.sh runs it as root in a
# fresh container of a plain Debian 12 root filesystem (debootstrap minbase), in a copy of the
# repository. Do not run it on a machine of your own: it installs packages and runs the demo.
#
#   1. the machine is stock: Debian 12, no python3 at all, no pyenv
#   2. what the README asks before the two commands: apt-get install make
#   3. make demo: tools/bootstrap.sh --demo, provision.yml (the role installs podman and
#      debootstrap, builds the task image, converges four tasks), status.yml
#      then: only Debian's Python; .venv-demo from /usr/bin/python3.11; none of the test tooling
#      (.venv, matrix venvs, .venv-terok, .cache/pybin, .cache/testbin, the test user, the
#      test-only apt packages); the table printed as a table; the report; the containers
#   4. make demo again: the provision changes nothing
#   5. make demo-cleanup: the finished job is archived
#   6. with STOCK_DEBIAN_FULL=1 (tools/stock-debian-test.sh --full): tools/bootstrap.sh as make
#      test runs it, which skips the venvs that need Python 3.12/3.13 and names them, and the
#      units matrix, whose cells say why they are skipped
#
# Environment from tools/stock-debian-test.sh: CONTAINERS_STORAGE_CONF (vfs, see storage.conf),
# PIP_CERT when this build machine's pip needs a CA of its own.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO="$(cd "$HERE/../.." && pwd -P)"
# podman in this container: see containers.conf
CONF="$HERE/containers.conf"
LOGS=/tmp/stock-debian
mkdir -p "$LOGS"

step() { printf '\n=== stock-debian: %s (at %d s)\n' "$*" "$SECONDS"; }
fail() { printf '\nstock-debian: FAILED: %s\n' "$*" >&2; exit 1; }
installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }
# run LOG CMD...: CMD with its output shown and kept in $LOGS/LOG
run() {
    local log="$LOGS/$1" rc=0
    shift
    "$@" >"$log" 2>&1 || rc=$?
    cat "$log"
    [ "$rc" -eq 0 ] || fail "$* (exit $rc)"
}
# recap LOG: the PLAY RECAP lines of LOG's playbook runs, in order
recap() { grep -A1 '^PLAY RECAP' "$LOGS/$1" | grep -E '^[a-z].*: ok=' || true; }

# ---------------------------------------------------------------- 1. stock
step "the machine: a stock Debian 12 without Python"
# shellcheck source=/dev/null
. /etc/os-release
if [ "${ID:-}" != debian ] || [ "${VERSION_ID:-}" != 12 ]; then
    fail "not Debian 12: ${PRETTY_NAME:-?}"
fi
pythons="$(compgen -G '/usr/bin/python*' || true; compgen -G '/usr/local/bin/python*' || true)"
[ -z "$pythons" ] || fail "the stock root filesystem already has Python: $pythons"
if [ -e /root/.pyenv ] || command -v pyenv >/dev/null; then
    fail "pyenv is here"
fi
cd "$REPO"
for path in .venv .venv-demo .cache; do
    [ ! -e "$path" ] || fail "the copy of the repository already has $path"
done

# ---------------------------------------------------------------- 2. make
step "what the README asks first: apt-get install make"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq make >/dev/null
apt-mark showmanual | sort >"$LOGS/manual-before.txt"
dpkg-query -W -f '${Package}\n' | sort >"$LOGS/packages-before.txt"

# ---------------------------------------------------------------- 3. make demo
step "make demo"
run demo-1.log make demo CONTAINERS_CONF="$CONF"

step "make demo: what it installed and made"
# bootstrap --demo: runc git python3-venv; the role: what the host lacked (podman, debootstrap;
# the apt module adds python3-apt for itself)
for pkg in runc git python3-venv podman debootstrap; do
    installed "$pkg" || fail "apt package $pkg is not installed"
done
# what was asked for by name (apt-mark showmanual; their dependencies come with them): exactly
# these, from bootstrap --demo, the role (what the host lacked) and ansible's apt module (its
# Python bindings, for Debian's python3 that it respawns in)
apt-mark showmanual | sort | comm -13 "$LOGS/manual-before.txt" - >"$LOGS/manual-new.txt"
asked="$(tr '\n' ' ' <"$LOGS/manual-new.txt")"
echo "apt packages make demo asked for: $asked"
[ "$asked" = "debootstrap git podman python3-apt python3-venv runc " ] \
    || fail "make demo asked apt for other packages than debootstrap git podman python3-apt python3-venv runc: $asked"
echo "apt packages installed with their dependencies: $(dpkg-query -W -f '${Package}\n' | sort \
    | comm -13 "$LOGS/packages-before.txt" - | wc -l)"
# apt packages of the test tooling only (tools/bootstrap.sh without --demo)
for pkg in shellcheck rsync openssh-server crun; do
    ! installed "$pkg" || fail "make demo installed $pkg, which only the tests use (crun: runc is podman's runtime)"
done
# Debian's Python only, and the demo's venv made from it
pythons="$(compgen -G '/usr/bin/python*' | tr '\n' ' ')"
for python in $pythons; do
    case "$python" in
        /usr/bin/python3|/usr/bin/python3.11) ;;
        *) fail "a Python other than Debian's python3.11: $python (all: $pythons)" ;;
    esac
done
[ -z "$(compgen -G '/usr/local/bin/python*' || true)" ] || fail "a Python in /usr/local/bin"
real="$(readlink -f .venv-demo/bin/python)"
[ "$real" = /usr/bin/python3.11 ] || fail ".venv-demo's Python is $real, not Debian's /usr/bin/python3.11"
.venv-demo/bin/python -c 'import ansible.release, sys; print("ansible-core", ansible.release.__version__, "on", sys.version.split()[0])'
[ "$(readlink .cache/collections/ansible_collections/terok/lifecycle)" = "$REPO" ] \
    || fail ".cache/collections does not link terok.lifecycle to the repository"
# none of the test tooling
for path in .venv .venv-terok .cache/pybin .cache/testbin .cache/ansible-test-home; do
    [ ! -e "$path" ] || fail "make demo made $path, which only the tests use"
done
[ -z "$(compgen -G '.venv-core-*' || true)" ] || fail "make demo made matrix venvs: $(compgen -G '.venv-core-*' | tr '\n' ' ')"
! id terok-test >/dev/null 2>&1 || fail "make demo created the test user terok-test"
! grep -qs '^terok-test:' /etc/subuid /etc/subgid || fail "make demo gave terok-test subordinate ids"
# ansible's files went to .cache/demo/ansible (ANSIBLE_HOME), not to ~/.ansible
[ ! -e /root/.ansible ] || fail "make demo wrote /root/.ansible"
[ -z "$(compgen -G '/etc/containers/containers.conf.d/*terok*' || true)" ] || fail "make demo wrote a podman drop-in in /etc"
for path in .cache/demo/demo-app.git .cache/demo/root .cache/demo/bin/init-ssh-and-repo.sh .cache/demo/terok-status.md; do
    [ -e "$path" ] || fail "make demo did not make $path"
done
echo "ok: packages, Debian's Python only, .venv-demo, no test tooling, files in .cache/demo"

step "make demo: the table, printed as a table, and the report"
# the printed table (the default callback's YAML block, as the README shows it): 4 rows
table="$(sed -n '/^TASK \[Print the table\]/,/^TASK \[/p' "$LOGS/demo-1.log")"
grep -q '^    msg: |-$' <<<"$table" || fail "status.yml did not print the table as a YAML block"
rows=(
    '\| localhost \| demo +\| [a-z0-9]{5} \| fix-auth +\| cli +\| running +\| running +\| - +\| - +\|'
    '\| localhost \| demo +\| [a-z0-9]{5} \| refactor-db +\| - +\| created +\| - +\| - +\| - +\|'
    '\| localhost \| demo +\| [a-z0-9]{5} \| write-docs +\| - +\| created +\| - +\| - +\| - +\|'
    '\| localhost \| ops +\| [a-z0-9]{5} \| nightly-check +\| run +\| completed +\| exited +\| 0 +\| - +\|'
)
for row in "${rows[@]}"; do
    grep -Eq "^        $row [0-9]+[smhd] +\|\$" <<<"$table" || fail "the printed table has no row like: $row"
    grep -Eq "^$row [0-9]+[smhd] +\|\$" .cache/demo/terok-status.md || fail "the report has no row like: $row"
done
[ "$(grep -c '^        | localhost ' <<<"$table")" -eq 4 ] || fail "the printed table does not have 4 rows"
echo "ok: 4 rows, printed and in .cache/demo/terok-status.md"

step "make demo: the image and the containers (podman in this container)"
export CONTAINERS_CONF="$CONF"
podman image exists localhost/terok-task:latest || fail "the task image was not built"
podman ps --format '{{.Names}} {{.Status}}' | tee "$LOGS/ps.txt"
grep -Eq '^demo-cli-[a-z0-9]{5} Up' "$LOGS/ps.txt" || fail "the agent fix-auth is not running"
agent="$(sed -n 's/^\(demo-cli-[a-z0-9]\{5\}\) .*/\1/p' "$LOGS/ps.txt")"
podman exec "$agent" git -C /workspace log --oneline | tee "$LOGS/agent-log.txt"
grep -q 'Add a naive login' "$LOGS/agent-log.txt" || fail "the agent's workspace is not a clone of the demo repository"

# ---------------------------------------------------------------- 4. again
step "make demo again: every task ok"
run demo-2.log make demo CONTAINERS_CONF="$CONF"
recap demo-2.log
recap demo-2.log | head -n1 | grep -Eq ' changed=0 .* failed=0 ' || fail "the second provision changed something"

# ---------------------------------------------------------------- 5. cleanup
step "make demo-cleanup: the finished job archived"
run cleanup.log make demo-cleanup CONTAINERS_CONF="$CONF"
recap cleanup.log | grep -Eq ' changed=[1-9][0-9]* .* failed=0 ' || fail "demo-cleanup archived nothing"
if podman ps -a --format '{{.Names}}' | grep -q '^ops-run-'; then
    fail "the finished job's container is still there"
fi

# the next run finds the role's base image in the storage cache, not the task image or containers
podman rm -af -t 0 >/dev/null
podman rmi -f localhost/terok-task:latest >/dev/null

# ---------------------------------------------------------------- 6. make test's bootstrap (--full)
if [ "${STOCK_DEBIAN_FULL:-0}" = 1 ]; then
    step "tools/bootstrap.sh as make test runs it: what needs a Python this machine lacks is skipped, named"
    run bootstrap-full.log tools/bootstrap.sh
    [ -x .venv/bin/ansible-test ] || fail "no .venv"
    # shellcheck source=/dev/null
    . tools/lib.sh
    for core in "${MATRIX_CORES[@]}"; do
        [ "$core" = "$MAIN_CORE" ] && continue
        [ -f ".venv-core-$core.skipped" ] || fail ".venv-core-$core was not skipped (or has no .skipped)"
    done
    [ -f .venv-terok.skipped ] || fail ".venv-terok was not skipped"
    grep -q 'skipped (the tests that need these report themselves skipped)' "$LOGS/bootstrap-full.log" \
        || fail "bootstrap's summary does not list what it skipped"
    step "the ansible-core matrix: every cell skipped, naming why"
    run units-matrix.log env TEROK_MATRIX=full tools/ansible-test.sh --matrix units --venv
    grep -Eq '^  2\.17 +- +skipped: no real Python 3\.12 ' "$LOGS/units-matrix.log" || fail "the matrix does not name the missing Python"
fi
printf '\nstock-debian: all checks passed in %d s\n' "$SECONDS"
