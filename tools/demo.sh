#!/usr/bin/env bash
# make demo: the main job of terok.lifecycle on this machine.
#
#   1. tools/bootstrap.sh --demo: apt packages runc, git and python3-venv; .venv-demo with
#      ansible-core alone (Debian's or pyenv's real Python 3.11); .cache/collections (the
#      collection link). Not the test tooling: no .venv, matrix venvs, .venv-terok, test user.
#   2. a local git repository for the tasks to clone (.cache/demo/demo-app.git)
#   3. playbook provision.yml on localhost: role terok_host (what the host lacks, e.g. podman
#      and debootstrap on a fresh Debian; state root, init script, the task image, built
#      offline with debootstrap when missing) and role terok_tasks (four tasks: one agent
#      running with its workspace cloned by the init script, two created, one one-shot job run
#      to its end)
#   4. playbook status.yml: the table of tasks (the default callback's YAML result format, so
#      that it prints as a table), also written to .cache/demo/terok-status.md
#
#   tools/demo.sh cleanup [ANSIBLE-PLAYBOOK ARGS]   playbook cleanup.yml on the demo host
#
# What the demo writes outside this clone: the apt packages, the podman images
# localhost/terok-task-base:latest and localhost/terok-task:latest and the tasks' containers
# (podman's storage, /var/lib/containers), pip's cache (~/.cache/pip). In this clone:
# .venv-demo, .cache/collections and .cache/demo (TEROK_DEMO_DIR): the git repository, the
# state root root/, the init script bin/, ansible's temp files ansible/ and the report.
# Run it again: the second provision is all ok.
set -euo pipefail

# shellcheck source=tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$TOOLS_DIR/bootstrap.sh" --demo
PATH="$DEMO_VENV/bin:$PATH"
export PATH
export ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS_DIR"
export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_FORCE_COLOR="${ANSIBLE_FORCE_COLOR:-0}"

DEMO_DIR="${TEROK_DEMO_DIR:-$CACHE_DIR/demo}"
REPO="$DEMO_DIR/demo-app.git"
mkdir -p "$DEMO_DIR"
# ansible's own files (temp files, ~/.ansible) in the demo directory, not in HOME
export ANSIBLE_HOME="$DEMO_DIR/ansible"
export ANSIBLE_LOCAL_TEMP="$ANSIBLE_HOME/tmp" ANSIBLE_REMOTE_TEMP="$ANSIBLE_HOME/tmp"

if [ ! -d "$REPO" ]; then
    log "demo: making the git repository the tasks clone ($REPO)"
    src="$(mktemp -d)"
    git -C "$src" init -q -b main
    printf '# demo-app\n\nA small repository for the terok.lifecycle demo.\n' >"$src/README.md"
    git -C "$src" add README.md
    git -C "$src" -c user.name=demo -c user.email=demo@example.invalid commit -q -m "Start demo-app"
    printf 'def login(user):\n    return user is not None\n' >"$src/auth.py"
    git -C "$src" add auth.py
    git -C "$src" -c user.name=demo -c user.email=demo@example.invalid commit -q -m "Add a naive login"
    git clone -q --bare "$src" "$REPO"
    rm -rf "$src"
fi

extra=(
    -i "$REPO_ROOT/demo/inventory.yml"
    -e "terok_demo_dir=$DEMO_DIR"
    -e "terok_demo_python=$DEMO_VENV/bin/python"
    -e "terok_demo_containers_conf=$CONTAINERS_CONF"
)

if [ "${1:-}" = cleanup ]; then
    shift
    log "demo: archiving the finished tasks (playbooks/cleanup.yml $*)"
    exec ansible-playbook "${extra[@]}" -e terok_cleanup_older_than=0s "$@" "$REPO_ROOT/playbooks/cleanup.yml"
fi

log "demo: provisioning localhost (playbooks/provision.yml)"
ansible-playbook "${extra[@]}" "$REPO_ROOT/playbooks/provision.yml"

log "demo: the tasks (playbooks/status.yml)"
ANSIBLE_CALLBACK_RESULT_FORMAT=yaml ansible-playbook "${extra[@]}" \
    -e "terok_status_report=$DEMO_DIR/terok-status.md" "$REPO_ROOT/playbooks/status.yml"

login="$(ansible "${extra[@]}" localhost -m terok.lifecycle.terok_task_info \
    -a "root=$DEMO_DIR/root project=demo name=fix-auth" -o 2>/dev/null \
    | sed -n 's/.*"login_command": "\([^"]*\)".*/\1/p')"

cat <<NEXT

What to run next:
  a shell in the running agent's container (podman needs CONTAINERS_CONF on these build machines):
      CONTAINERS_CONF=$CONTAINERS_CONF ${login:-podman exec -it demo-cli-<task id> bash}
  the status report:
      $DEMO_DIR/terok-status.md
  what the cleanup playbook would archive (finished tasks), then archive them:
      make demo-cleanup ARGS='--check --diff'
      make demo-cleanup
  run the demo again: the second provision reports every task ok.
NEXT
