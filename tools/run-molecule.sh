#!/usr/bin/env bash
# Run the molecule scenarios of the roles against this machine (root, podman, offline).
#
#   tools/run-molecule.sh [ROLE...] [-- MOLECULE_ARGS...]
#
# ROLE: terok_host, terok_tasks (default: every role with a molecule/ directory).
# MOLECULE_ARGS default to `test` (the scenario's test_sequence); e.g. `-- converge`,
# `-- verify`, `-- destroy` to run one step.
#
# Needs the repository's .venv with molecule (tools/requirements.txt; make bootstrap).
# The environment it sets up:
#   ANSIBLE_COLLECTIONS_PATH  .cache/collections, where ansible_collections/terok/lifecycle
#                             links to this tree (the scenarios set prerun: false, so molecule
#                             installs no copy of the collection anywhere)
#   ANSIBLE_HOME              .cache/ansible-home: molecule's ephemeral files and ansible's
#                             local temp files stay in the repository, not in ~/.ansible
#   CONTAINERS_CONF           tools/containers.conf unless already set (tools/lib.sh; podman
#                             as root on the test machines needs runc and explicit ulimits)
# The task image localhost/terok-task:latest must exist (make image); it is not rebuilt.
set -euo pipefail

# shellcheck source=tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROLES_DIR="$REPO_ROOT/roles"

roles=()
while [ "$#" -gt 0 ]; do
    case "$1" in
        --) shift; break ;;
        -h|--help) sed -n '2,19p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) roles+=("$1"); shift ;;
    esac
done
args=("$@")
[ "${#args[@]}" -gt 0 ] || args=(test)
if [ "${#roles[@]}" -eq 0 ]; then
    for dir in "$ROLES_DIR"/*/molecule; do
        [ -d "$dir" ] && roles+=("$(basename "$(dirname "$dir")")")
    done
fi

require_venv
[ -x "$VENV/bin/molecule" ] || die "molecule is missing from $VENV: run 'make bootstrap' (tools/bootstrap.sh) first"

link="$COLLECTIONS_DIR/ansible_collections/terok/lifecycle"
if [ "$(readlink "$link" 2>/dev/null)" != "$REPO_ROOT" ]; then
    mkdir -p "$(dirname "$link")"
    rm -rf "$link"
    ln -s "$REPO_ROOT" "$link"
fi
mkdir -p "$CACHE_DIR/ansible-home"

export PATH="$VENV/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS_DIR"
export ANSIBLE_HOME="$CACHE_DIR/ansible-home"
export ANSIBLE_FORCE_COLOR="${ANSIBLE_FORCE_COLOR:-0}"
unset VIRTUAL_ENV  # else ansible-compat keeps its cache in the venv

start=$SECONDS
for role in "${roles[@]}"; do
    [ -d "$ROLES_DIR/$role/molecule" ] || die "role $role has no molecule scenarios"
    log "molecule ${args[*]} in roles/$role"
    role_start=$SECONDS
    (cd "$ROLES_DIR/$role" && molecule "${args[@]}")
    log "roles/$role: ${args[*]} passed in $((SECONDS - role_start)) s"
done
log "molecule ${args[*]}: ${roles[*]} passed in $((SECONDS - start)) s"
