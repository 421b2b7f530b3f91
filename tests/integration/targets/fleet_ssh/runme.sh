#!/usr/bin/env bash
# Three SSH hosts on loopback (127.0.0.1, .2, .3, one sshd of this test's own on a high
# port), each with its own state root: provision 3 projects x 5 tasks per host, rerun
# (all ok), report all 45 tasks with status.yml, archive the finished ones with cleanup.yml.
set -euo pipefail

if [[ -z "${TEROK_LIFECYCLE_SRC:-}" ]] && command -v terok-test-env >/dev/null; then
    eval "$(terok-test-env)"
fi
: "${TEROK_LIFECYCLE_SRC:?run through make integration (terok-test-env sets it)}"
: "${CONTAINERS_CONF:?run through make integration (terok-test-env sets it)}"

work="$(mktemp -d)"
port="${TEROK_FLEET_SSH_PORT:-$((22000 + RANDOM % 2000))}"
suffix="$RANDOM"
cleanup() {
    if [[ -f "$work/sshd.pid" ]]; then
        kill "$(cat "$work/sshd.pid")" 2>/dev/null || true
    fi
    podman ps -a --format '{{.Names}}' | grep -E "^fleet${suffix}-" | xargs -r podman rm -f >/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# --- an sshd of our own, listening on three loopback addresses only
ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/client_key"
cp "$work/client_key.pub" "$work/authorized_keys"
cat >"$work/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
ListenAddress 127.0.0.2
ListenAddress 127.0.0.3
HostKey $work/host_key
AuthorizedKeysFile $work/authorized_keys
PidFile $work/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
MaxStartups 30:30:60
CONF
mkdir -p /run/sshd
/usr/sbin/sshd -f "$work/sshd_config" -E "$work/sshd.log"
for _try in $(seq 50); do
    [[ -s "$work/sshd.pid" ]] && break
    sleep 0.1
done

python="$TEROK_LIFECYCLE_SRC/.venv/bin/python"
cat >"$work/inventory.yml" <<INV
terok_hosts:
  hosts:
    fleet1: {ansible_host: 127.0.0.1}
    fleet2: {ansible_host: 127.0.0.2}
    fleet3: {ansible_host: 127.0.0.3}
  vars:
    ansible_port: $port
    ansible_user: root
    ansible_ssh_private_key_file: $work/client_key
    ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
    ansible_python_interpreter: $python
    terok_environment: {CONTAINERS_CONF: $CONTAINERS_CONF}
    terok_host_root: "$work/{{ inventory_hostname }}/root"
    terok_host_init_script_path: "$work/{{ inventory_hostname }}/init-ssh-and-repo.sh"
    terok_host_image: ${TEROK_TASK_IMAGE:-localhost/terok-task:latest}
    terok_host_image_source: debootstrap
    fleet_projects: [fleet${suffix}-a, fleet${suffix}-b, fleet${suffix}-c]
    terok_tasks: "{{ lookup('ansible.builtin.template', fleet_dir ~ '/fleet-tasks.json.j2') | from_json }}"
INV

export ANSIBLE_HOST_KEY_CHECKING=false ANSIBLE_FORKS=3
playbooks="$TEROK_LIFECYCLE_SRC/playbooks"
run() {
    local name=$1
    shift
    local start=$SECONDS
    ansible-playbook -i "$work/inventory.yml" -e "fleet_dir=$(pwd)" "$@" | tee "$work/$name.out"
    echo "fleet_ssh: $name took $((SECONDS - start)) s"
}

run provision-1 "$playbooks/provision.yml"
run provision-2 "$playbooks/provision.yml"
run status -e "terok_status_report=$work/report.md" "$playbooks/status.yml"
# the cleanup playbook exactly as its header shows it, no extra variable: its default age (7d)
# selects none of these new tasks, so check mode reports every host ok
ansible-playbook -i "$work/inventory.yml" terok.lifecycle.cleanup --check | tee "$work/cleanup-check.out"
grep -q '^PLAY RECAP' "$work/cleanup-check.out"
if grep -E '(changed|failed|unreachable)=[1-9]' "$work/cleanup-check.out"; then
    echo "fleet_ssh: cleanup.yml --check with its defaults changed or failed something" >&2
    exit 1
fi
run cleanup -e terok_cleanup_older_than=0s "$playbooks/cleanup.yml"
ansible-playbook -i "$work/inventory.yml" -e "fleet_work=$work" verify.yml
