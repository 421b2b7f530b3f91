#!/usr/bin/env bash
# Set up everything the tests and the demo need; idempotent and fast when nothing changed.
#
#   tools/bootstrap.sh [--demo] [--no-apt] [--no-terok] [--no-matrix] [--no-test-user] [--force]
#
#   apt packages   podman runc shellcheck debootstrap rsync make git openssh-server python3-venv systemd
#                  nftables
#   .venv/         real Python 3.11 + tools/requirements.txt (pinned by tools/constraints.txt)
#   .venv-core-2.X/  real Python 3.12 (2.22: 3.13) + tools/requirements-core.txt (pinned by
#                  tools/constraints-core-2.X.txt): ansible-core 2.X for the sanity/units
#                  matrix, one per core in MATRIX_CORES (tools/lib.sh) other than .venv's;
#                  tools/sanity-standins-core-2.X.txt, if any, edited into its ansible-test
#   get-pip        offline stand-in for ansible-test --venv, in the HOME that tools/ansible-test.sh
#                  gives it ($ANSIBLE_TEST_HOME, tools/lib.sh): one per pip version that the
#                  venvs' ansible-test versions bootstrap, .ansible/test/cache/get_pip_X_Y.py
#   .cache/pybin/  python3.8 ... python3.13 -> the real interpreters (not pyenv shims)
#   .cache/testbin podman wrapper using tools/containers.conf, terok-test-env
#   .cache/collections  ansible_collections/terok/lifecycle -> this tree
#   .venv-terok/   real Python 3.12 + terok==$TEROK_VERSION (interop tests)
#   terok-test     the test user of the non-root tests (tools/test-user.sh)
#
# A venv whose Python this machine lacks (3.12 for .venv-terok and the matrix venvs, 3.13 for
# 2.22; a stock Debian 12 has only 3.11) is skipped with a warning, and the reason is written to
# VENV.skipped (e.g. .venv-terok.skipped): the tests that need that venv read it and report
# themselves skipped, naming the reason, instead of failing. The summary lists what was skipped.
#
# --demo      only what `make demo` (tools/demo.sh) uses: apt packages runc (podman's runtime in
#             tools/containers.conf), git and python3-venv, .venv-demo (real Python 3.11 +
#             tools/requirements-demo.txt: ansible-core, pinned by tools/constraints.txt) and
#             .cache/collections. Nothing else of the list above: the demo's role terok_host
#             installs podman and debootstrap itself when they are missing.
# --no-apt    do not check/install apt packages
# --no-terok  do not create .venv-terok
# --no-matrix do not create the .venv-core-2.X venvs
# --no-test-user  do not create the test user terok-test
# --force     recreate the venvs even when their stamps match
set -euo pipefail

# shellcheck source=tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DO_APT=1
DO_TEROK=1
DO_MATRIX=1
DO_TEST_USER=1
DEMO=0
FORCE=0
for arg in "$@"; do
    case "$arg" in
        --demo) DEMO=1 ;;
        --no-apt) DO_APT=0 ;;
        --no-terok) DO_TEROK=0 ;;
        --no-matrix) DO_MATRIX=0 ;;
        --no-test-user) DO_TEST_USER=0 ;;
        --force) FORCE=1 ;;
        -h|--help) sed -n '2,/^set -euo/{/^set -euo/!p;}' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) die "unknown option: $arg" ;;
    esac
done

# python3-venv: ensurepip for Debian's python3.11, which a stock Debian 12 lacks
# systemd: systemctl and systemd-analyze, with which the reliability suite checks podman's
# podman-restart.service units (podman's recommends bring it already; listed so that it is sure)
# nftables: nft, with which the egress hook fences the reliability suite's agents (tests/reliability/test_egress.py)
APT_PACKAGES=(podman runc shellcheck debootstrap rsync make git openssh-server python3-venv systemd nftables)
if [ "$DEMO" = 1 ]; then
    APT_PACKAGES=(runc git python3-venv)
fi
PYTHON_VERSIONS=(3.8 3.9 3.10 3.11 3.12 3.13)
TEROK_VERSION="0.9.1"

# ---------------------------------------------------------------- apt packages
apt_packages() {
    local missing=() pkg
    for pkg in "${APT_PACKAGES[@]}"; do
        if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]; then
            missing+=("$pkg")
        fi
    done
    [ "${#missing[@]}" -gt 0 ] || return 0
    command -v apt-get >/dev/null 2>&1 || die "missing packages ${missing[*]} and no apt-get to install them"
    log "installing apt packages: ${missing[*]}"
    as_root apt-get update -qq
    # runc is listed with podman (--demo: installed before the role installs podman) so that
    # apt picks it (not crun) as podman's runtime, which tools/containers.conf names
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# ---------------------------------------------------------------- .cache/pybin
python_links() {
    local ver real link
    mkdir -p "$PYBIN"
    for ver in "${PYTHON_VERSIONS[@]}"; do
        link="$PYBIN/python$ver"
        if ! real="$(real_python "$ver")"; then
            [ "$ver" = 3.11 ] && die "no real Python 3.11 found (pyenv root: $(pyenv_root))"
            warn "no real Python $ver found: ansible-test skips it"
            rm -f "$link"
            continue
        fi
        if [ "$(readlink "$link" 2>/dev/null)" != "$real" ]; then
            ln -sfn "$real" "$link"
        fi
    done
    for link in python3 python; do
        if [ "$(readlink "$PYBIN/$link" 2>/dev/null)" != "python3.11" ]; then
            ln -sfn python3.11 "$PYBIN/$link"
        fi
    done
}

# stamp_of FILE... : a hash of the given files plus extra words from $STAMP_EXTRA
stamp_of() {
    { cat "$@"; printf '%s\n' "${STAMP_EXTRA:-}"; } | sha256sum | cut -d' ' -f1
}

# ---------------------------------------------------------------- venvs
# python_venv DIR PYTHON REQUIREMENTS CONSTRAINTS: make DIR a venv of PYTHON with the
# pinned requirements and ansible-test; kept as it is while its stamp (the two files and
# the interpreter's path) matches
python_venv() {
    local dir=$1 py=$2 req_file=$3 cons=$4 stamp stamp_file="$1/.bootstrap-stamp"
    stamp="$(STAMP_EXTRA="$py" stamp_of "$req_file" "$cons")"
    if [ "$FORCE" = 0 ] && [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ] \
        && [ -x "$dir/bin/python" ]; then
        return 0
    fi
    log "creating $dir from $py (${cons#"$REPO_ROOT"/})"
    rm -rf "$dir"
    "$py" -m venv "$dir"
    "$dir/bin/python" -m pip install -q --disable-pip-version-check \
        -r "$req_file" -c "$cons" 2>&1 | without_pip_noise
    "$dir/bin/ansible-test" --version >/dev/null
    printf '%s\n' "$stamp" >"$stamp_file"
}

main_venv() {
    local py
    py="$(real_python "$MAIN_PYTHON")" || die "no real Python $MAIN_PYTHON found"
    python_venv "$VENV" "$py" "$TOOLS_DIR/requirements.txt" "$TOOLS_DIR/constraints.txt"
}

# .venv-demo (--demo): ansible-core alone, the same release as .venv's
demo_venv() {
    local py
    py="$(real_python "$MAIN_PYTHON")" || die "no real Python $MAIN_PYTHON found"
    python_venv "$DEMO_VENV" "$py" "$TOOLS_DIR/requirements-demo.txt" "$TOOLS_DIR/constraints.txt"
}

# skip_venv DIR REASON: DIR cannot be made here; say so and leave REASON in DIR.skipped for
# the tests that need DIR (they use DIR when it is there, else report REASON as a skip)
SKIPPED=()
skip_venv() {
    warn "skipped ${1#"$REPO_ROOT"/}: $2"
    SKIPPED+=("${1#"$REPO_ROOT"/}: $2")
    printf '%s\n' "$2" >"$1.skipped"
}

# one venv per ansible-core of the matrix (tools/lib.sh MATRIX_CORES) other than .venv's, from
# the Python that core_venv_python (tools/lib.sh) names for it
core_venvs() {
    local py ver core cons standins
    for core in "${MATRIX_CORES[@]}"; do
        [ "$core" = "$MAIN_CORE" ] && continue
        ver="$(core_venv_python "$core")"
        if ! py="$(real_python "$ver")"; then
            skip_venv "$(core_venv "$core")" "no real Python $ver on this machine (ansible-core $core's venv needs it)"
            continue
        fi
        rm -f "$(core_venv "$core").skipped"
        cons="$TOOLS_DIR/constraints-core-$core.txt"
        [ -f "$cons" ] || die "$cons is missing (ansible-core $core is in MATRIX_CORES, tools/lib.sh)"
        python_venv "$(core_venv "$core")" "$py" "$TOOLS_DIR/requirements-core.txt" "$cons"
        standins="$TOOLS_DIR/sanity-standins-core-$core.txt"
        if [ -f "$standins" ]; then
            sanity_standins "$(core_venv "$core")" "$standins"
        fi
    done
}

# sanity_standins VENV FILE: ansible-test's sanity venvs install pinned requirements listed in
# its own ansible_test/_data/requirements/*.txt, and honour no constraint or override of ours
# there. A pin of the form `NAME @ <url>` that this machine cannot download is replaced by
# FILE's `NAME==VERSION` line (a stand-in from the index, with the reason in FILE), keeping the
# URL in a comment. Idempotent: a line it wrote before gets FILE's current version. Fails when
# FILE names a package that VENV's ansible-test no longer pins by URL (remove it from FILE).
sanity_standins() {
    local venv=$1 file=$2 tag line name version pattern reqs=() req found
    tag="$(basename "$file")"
    reqs=("$venv"/lib/python3.*/site-packages/ansible_test/_data/requirements/*.txt)
    [ -f "${reqs[0]}" ] || die "ansible-test's requirements not found in $venv"
    while read -r line || [ -n "$line" ]; do
        line="${line%%#*}"
        line="${line//[[:space:]]/}"
        [ -n "$line" ] || continue
        case "$line" in
            *==*) name="${line%%==*}" version="${line#*==}" ;;
            *) die "$file: '$line' is not NAME==VERSION" ;;
        esac
        pattern="${name//./\\.}"
        found=0
        for req in "${reqs[@]}"; do
            if grep -Eq "^$pattern( @ |==[^ ]*  # stand-in )" "$req"; then
                found=1
                sed -E -i \
                    -e "s|^$pattern @ (.*)\$|$name==$version  # stand-in ($tag) for: $name @ \1|" \
                    -e "s|^$pattern==[^ ]*  # stand-in |$name==$version  # stand-in |" "$req"
            fi
        done
        [ "$found" = 1 ] || die "the ansible-test in $venv pins no '$name @ <url>': remove $name from $file"
    done <"$file"
}

# ---------------------------------------------------------------- get-pip stand-in
# ansible-test looks for it in ~/.ansible/test/cache; tools/ansible-test.sh runs it with
# HOME=$ANSIBLE_TEST_HOME, so the stand-ins (and ansible-test's venvs and caches) stay here.
# get_pip_standin VENV: install the stand-in under the name that VENV's ansible-test uses
get_pip_standin() {
    local target
    target="$(get_pip_path "$1")" || die "cannot tell which get-pip script the ansible-test in $1 wants"
    if ! cmp -s "$TOOLS_DIR/get_pip_standin.py" "$target"; then
        log "installing the offline get-pip stand-in as $target"
        mkdir -p "$(dirname "$target")"
        cp "$TOOLS_DIR/get_pip_standin.py" "$target"
    fi
}

# ---------------------------------------------------------------- .cache/testbin
# Files put first on PATH for ansible-test and the test scripts. ansible-test integration
# passes only PATH, HOME and a few other variables to runme.sh targets, so anything a target
# needs must be reachable through PATH:
#   podman          runs the real podman with CONTAINERS_CONF (tools/containers.conf)
#   terok-test-env  prints `export` lines: TEROK_VENV, CONTAINERS_CONF, TEROK_TASK_IMAGE,
#                   TEROK_LIFECYCLE_SRC; in runme.sh: eval "$(terok-test-env)"
real_podman() {
    local dir
    local IFS=:
    for dir in $PATH; do
        [ "$dir" = "$TESTBIN" ] && continue
        if [ -x "$dir/podman" ] && [ ! -d "$dir/podman" ]; then
            printf '%s\n' "$dir/podman"
            return 0
        fi
    done
    return 1
}

write_if_changed() {  # write_if_changed FILE MODE  (content on stdin)
    local file=$1 mode=$2 tmp
    tmp="$(mktemp "$file.XXXXXX")"
    cat >"$tmp"
    chmod "$mode" "$tmp"
    if cmp -s "$tmp" "$file"; then
        rm -f "$tmp"
    else
        mv -f "$tmp" "$file"
    fi
}

testbin() {
    local podman
    mkdir -p "$TESTBIN"
    podman="$(real_podman)" || podman=/usr/bin/podman
    write_if_changed "$TESTBIN/podman" 755 <<EOF
#!/bin/sh
# Generated by tools/bootstrap.sh: podman for this project's tests and demo only.
: "\${CONTAINERS_CONF:=$TOOLS_DIR/containers.conf}"
export CONTAINERS_CONF
exec $podman "\$@"
EOF
    write_if_changed "$TESTBIN/terok-test-env" 755 <<EOF
#!/bin/sh
# Generated by tools/bootstrap.sh. Usage in a test script: eval "\$(terok-test-env)"
echo "export TEROK_LIFECYCLE_SRC='$REPO_ROOT'"
echo "export TEROK_VENV='$TEROK_VENV'"
echo "export CONTAINERS_CONF='$TOOLS_DIR/containers.conf'"
echo "export TEROK_TASK_IMAGE='$TASK_IMAGE'"
EOF
}

# ---------------------------------------------------------------- .venv-terok
terok_venv() {
    local py stamp stamp_file="$TEROK_VENV/.bootstrap-stamp"
    if ! py="$(real_python 3.12)"; then
        skip_venv "$TEROK_VENV" "no real Python 3.12 on this machine (terok $TEROK_VERSION needs it)"
        return 0
    fi
    rm -f "$TEROK_VENV.skipped"
    stamp="terok==$TEROK_VERSION $py"
    if [ "$FORCE" = 0 ] && [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ] \
        && [ -x "$TEROK_VENV/bin/terok" ]; then
        return 0
    fi
    log "creating $TEROK_VENV from $py with terok==$TEROK_VERSION (about a minute)"
    rm -rf "$TEROK_VENV"
    "$py" -m venv "$TEROK_VENV"
    "$TEROK_VENV/bin/python" -m pip install -q --disable-pip-version-check "terok==$TEROK_VERSION" 2>&1 | without_pip_noise
    "$TEROK_VENV/bin/terok" --help >/dev/null
    printf '%s\n' "$stamp" >"$stamp_file"
}

# ---------------------------------------------------------------- .cache/collections
# ansible_collections/terok/lifecycle -> this tree, for ANSIBLE_COLLECTIONS_PATH in lint
# and demo runs (plain ansible follows the symlink; ansible-test does not, see
# tools/ansible-test.sh)
collection_link() {
    local link="$COLLECTIONS_DIR/ansible_collections/terok/lifecycle"
    if [ "$(readlink "$link" 2>/dev/null)" != "$REPO_ROOT" ]; then
        mkdir -p "$(dirname "$link")"
        ln -sfn "$REPO_ROOT" "$link"
    fi
}

[ "$DO_APT" = 1 ] && apt_packages
if [ "$DEMO" = 1 ]; then
    collection_link
    demo_venv
    log "bootstrap done (demo: $(basename "$DEMO_VENV"), .cache/collections)"
    exit 0
fi
python_links
collection_link
main_venv
get_pip_standin "$VENV"
if [ "$DO_MATRIX" = 1 ]; then
    core_venvs
    for core in "${MATRIX_CORES[@]}"; do
        [ "$core" = "$MAIN_CORE" ] && continue
        [ -x "$(core_venv "$core")/bin/ansible-test" ] || continue  # skipped: core_venvs said why
        get_pip_standin "$(core_venv "$core")"
    done
fi
testbin
if [ "$DO_TEROK" = 1 ]; then
    terok_venv
fi
# the test user terok-test (subuid/subgid, PyYAML for /usr/bin/python3): tools/test-user.sh
if [ "$DO_TEST_USER" = 1 ]; then
    "$TOOLS_DIR/test-user.sh"
fi
if [ "${#SKIPPED[@]}" -gt 0 ]; then
    log "bootstrap done; skipped (the tests that need these report themselves skipped):"
    printf '      %s\n' "${SKIPPED[@]}" >&2
else
    log "bootstrap done"
fi
