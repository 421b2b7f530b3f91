#!/usr/bin/env bash
# Run the molecule scenarios of the roles against this machine (root, podman, offline).
#
#   roles/run-molecule.sh [ROLE...] [-- MOLECULE_ARGS...]
#
# ROLE: terok_host, terok_tasks (default: every role with a molecule/ directory).
# MOLECULE_ARGS default to `test` (the scenario's test_sequence); e.g. `-- converge`,
# `-- verify`, `-- destroy` to run one step.
#
# Needs the repository's .venv (tools/bootstrap.sh); molecule 26.x is installed into it when
# missing. The environment it sets up:
#   ANSIBLE_COLLECTIONS_PATH  .cache/collections, where ansible_collections/terok/lifecycle
#                             links to this tree (the scenarios set prerun: false, so molecule
#                             installs no copy of the collection anywhere)
#   ANSIBLE_HOME              .cache/ansible-home: molecule's ephemeral files and ansible's
#                             local temp files stay in the repository, not in ~/.ansible
#   CONTAINERS_CONF           tools/containers.conf unless already set (podman as root on the
#                             test machines needs runc and explicit ulimits)
# The task image localhost/terok-task:latest must exist (make image); it is not rebuilt.
set -euo pipefail

ROLES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$ROLES_DIR/.." && pwd -P)"
VENV="$REPO_ROOT/.venv"
MOLECULE_REQ="molecule==26.*"

die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }
log() { printf '==> %s\n' "$*" >&2; }

roles=()
while [ "$#" -gt 0 ]; do
    case "$1" in
        --) shift; break ;;
        -h|--help) sed -n '2,22p' "${BASH_SOURCE[0]}"; exit 0 ;;
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

[ -x "$VENV/bin/ansible-playbook" ] || die "$VENV is missing: run tools/bootstrap.sh (make bootstrap) first"
if ! "$VENV/bin/python" -c 'import molecule' >/dev/null 2>&1; then
    log "installing $MOLECULE_REQ into $VENV"
    constraints=()
    [ -f "$REPO_ROOT/tools/constraints.txt" ] && constraints=(-c "$REPO_ROOT/tools/constraints.txt")
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$MOLECULE_REQ" "${constraints[@]}"
fi

collections="$REPO_ROOT/.cache/collections"
mkdir -p "$collections/ansible_collections/terok"
link="$collections/ansible_collections/terok/lifecycle"
if [ "$(readlink "$link" 2>/dev/null)" != "$REPO_ROOT" ]; then
    rm -rf "$link"
    ln -s "$REPO_ROOT" "$link"
fi
mkdir -p "$REPO_ROOT/.cache/ansible-home"

export PATH="$VENV/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$collections"
export ANSIBLE_HOME="$REPO_ROOT/.cache/ansible-home"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$REPO_ROOT/tools/containers.conf}"
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
