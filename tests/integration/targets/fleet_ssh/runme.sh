#!/usr/bin/env bash
# Three SSH hosts on loopback (127.0.0.1, .2, .3, one sshd of this test's own on a high
# port, ../setup_loopback_sshd), each with its own state root: provision 3 projects x 5 tasks
# per host, rerun (all ok), report all 45 tasks with status.yml, check and archive the
# finished ones with cleanup.yml. Every playbook runs exactly as its header shows it, by its
# collection name and with no extra variable (the inventory holds the settings), except the
# archiving cleanup's -e terok_cleanup_older_than (its header's second line), for an age that
# selects these new tasks.
set -euo pipefail

if [[ -z "${TEROK_LIFECYCLE_SRC:-}" ]] && command -v terok-test-env >/dev/null; then
    eval "$(terok-test-env)"
fi
: "${TEROK_LIFECYCLE_SRC:?run through make integration (terok-test-env sets it)}"
: "${CONTAINERS_CONF:?run through make integration (terok-test-env sets it)}"

work="$(mktemp -d)"
suffix="$RANDOM"
cleanup() {
    loopback_sshd_stop "$work"
    podman ps -a --format '{{.Names}}' | grep -E "^fleet${suffix}-" | xargs -r podman rm -f >/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# --- an sshd of our own, listening on three loopback addresses only (ports 22000-23999;
# ansible_runner uses 24000-25999), its sessions without root's rc files
# shellcheck source=tests/integration/targets/setup_loopback_sshd/sshd.sh
. ../setup_loopback_sshd/sshd.sh
LOOPBACK_SSHD_PORT="${TEROK_FLEET_SSH_PORT:-}" loopback_sshd_start "$work" 22000 2000 127.0.0.1 127.0.0.2 127.0.0.3

python="$TEROK_LIFECYCLE_SRC/.venv/bin/python"
cat >"$work/inventory.yml" <<INV
terok_hosts:
  hosts:
    fleet1: {ansible_host: 127.0.0.1}
    fleet2: {ansible_host: 127.0.0.2}
    fleet3: {ansible_host: 127.0.0.3}
  vars:
    ansible_port: $SSHD_PORT
    ansible_user: root
    ansible_ssh_private_key_file: $SSHD_CLIENT_KEY
    ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
    ansible_python_interpreter: $python
    terok_environment: {CONTAINERS_CONF: $CONTAINERS_CONF}
    terok_host_root: "$work/{{ inventory_hostname }}/root"
    terok_host_init_script_path: "$work/{{ inventory_hostname }}/init-ssh-and-repo.sh"
    terok_host_image: ${TEROK_TASK_IMAGE:-localhost/terok-task:latest}
    terok_host_image_source: debootstrap
    fleet_dir: $(pwd)
    fleet_projects: [fleet${suffix}-a, fleet${suffix}-b, fleet${suffix}-c]
    terok_tasks: "{{ lookup('ansible.builtin.template', fleet_dir ~ '/fleet-tasks.json.j2') | from_json }}"
INV

export ANSIBLE_HOST_KEY_CHECKING=false ANSIBLE_FORKS=3
# every playbook exactly as its header shows it (the inventory holds every setting), from the
# directory the report goes to; only the cleanup adds the -e its header shows, for an age
# that selects these new tasks
run() {
    local name=$1
    shift
    local start=$SECONDS
    (cd "$work" && ansible-playbook -i "$work/inventory.yml" "$@") | tee "$work/$name.out"
    grep -q '^PLAY RECAP' "$work/$name.out"
    echo "fleet_ssh: $name took $((SECONDS - start)) s"
}

# what one SSH command costs in these sessions (a new connection each; no rc files)
ssh_start=$(date +%s%N)
for _i in 1 2 3 4 5; do
    ssh -p "$SSHD_PORT" -i "$SSHD_CLIENT_KEY" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o ControlPath=none -o LogLevel=ERROR root@127.0.0.1 true
done
echo "fleet_ssh: one SSH command (new connection) took $(( ($(date +%s%N) - ssh_start) / 5000000 )) ms"

run provision-1 terok.lifecycle.provision
run provision-2 terok.lifecycle.provision
run status terok.lifecycle.status
# its default age (7d) selects none of these new tasks, so check mode reports every host ok
run cleanup-check terok.lifecycle.cleanup --check
if grep -E '(changed|failed|unreachable)=[1-9]' "$work/cleanup-check.out"; then
    echo "fleet_ssh: cleanup.yml --check with its defaults changed or failed something" >&2
    exit 1
fi
run cleanup terok.lifecycle.cleanup -e terok_cleanup_older_than=0s
ansible-playbook -i "$work/inventory.yml" -e "fleet_work=$work" verify.yml
