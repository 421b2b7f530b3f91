#!/usr/bin/env bash
# The collection's playbooks under ansible-runner, the engine of AWX and Ansible Automation
# Platform: two SSH hosts on loopback (127.0.0.4 and .5, one sshd of this test's own on a
# port in 24000-25999; fleet_ssh uses .1 to .3 and 22000-23999, so both can run at once),
# each with its own state root. A private data dir made here (inventory/, env/ with
# envvars, extravars, settings and the SSH key as AWX hands a machine credential over,
# project/ with a copy of the collection's playbooks) is run three times with
# `ansible-runner run`: provision.yml, provision.yml again, status.yml. verify.yml then
# checks the artifacts: rc, status, command and the job events.
set -euo pipefail

if [[ -z "${TEROK_LIFECYCLE_SRC:-}" ]] && command -v terok-test-env >/dev/null; then
    eval "$(terok-test-env)"
fi
: "${TEROK_LIFECYCLE_SRC:?run through tools/ansible-test.sh (terok-test-env sets it)}"
: "${CONTAINERS_CONF:?run through tools/ansible-test.sh (terok-test-env sets it)}"
if ! command -v ansible-runner >/dev/null; then
    echo "ansible_runner: ansible-runner is not on PATH: run 'make bootstrap' (tools/requirements.txt)" >&2
    exit 1
fi

# the collection under test: ansible-test points ANSIBLE_COLLECTIONS_PATH at the copy it
# tests; run by hand, the tree that tools/bootstrap.sh links into .cache/collections
collections_root="${ANSIBLE_COLLECTIONS_PATH:-$TEROK_LIFECYCLE_SRC/.cache/collections}"
collections_root="${collections_root%%:*}"
collection="$collections_root/ansible_collections/terok/lifecycle"
if [[ ! -f "$collection/playbooks/provision.yml" ]]; then
    echo "ansible_runner: no terok.lifecycle under $collections_root" >&2
    exit 1
fi

work="$(mktemp -d)"
suffix="$RANDOM"
project="runner${suffix}"
cleanup() {
    local sock
    # the SSH connections the runs keep open (ControlPersist) first, then the sshd
    for sock in "$work"/cp/*; do
        if [[ -S "$sock" ]]; then
            ssh -o ControlPath="$sock" -O exit ansible-runner-test 2>/dev/null || true
        fi
    done
    loopback_sshd_stop "$work"
    podman ps -a --format '{{.Names}}' | grep -E "^${project}-" | xargs -r podman rm -f >/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# --- an sshd of our own, on two loopback addresses only; another port if one is taken; its
# sessions without root's rc files
# shellcheck source=tests/integration/targets/setup_loopback_sshd/sshd.sh
. ../setup_loopback_sshd/sshd.sh
LOOPBACK_SSHD_PORT="${TEROK_ANSIBLE_RUNNER_SSH_PORT:-}" loopback_sshd_start "$work" 24000 2000 127.0.0.4 127.0.0.5
port=$SSHD_PORT

# --- the private data dir, laid out as ansible-runner (and AWX) expects it
pdd="$work/private"
mkdir -p "$pdd/inventory" "$pdd/env" "$pdd/project"
cp -R "$collection/playbooks/." "$pdd/project/"
cat >"$pdd/inventory/hosts.yml" <<INV
terok_hosts:
  hosts:
    runner1: {ansible_host: 127.0.0.4}
    runner2: {ansible_host: 127.0.0.5}
  vars:
    ansible_port: $port
    ansible_user: root
    ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
    ansible_python_interpreter: $TEROK_LIFECYCLE_SRC/.venv/bin/python
    terok_environment: {CONTAINERS_CONF: $CONTAINERS_CONF}
    # packages are fleet_ssh's and molecule's subject; here apt would only add time
    terok_host_install_packages: false
    # these hosts have no systemd as PID 1: the role would say so in a warning on every run (what
    # restart_on_boot cannot do here is tested by the reliability suite), and this target forbids warnings
    terok_host_restart_on_boot: false
    terok_host_root: "$work/hosts/{{ inventory_hostname }}/root"
    terok_host_init_script_path: "$work/hosts/{{ inventory_hostname }}/init-ssh-and-repo.sh"
    terok_host_containers_conf_path: "$work/hosts/{{ inventory_hostname }}/containers.conf.d/50-terok-lifecycle.conf"
    terok_host_image: ${TEROK_TASK_IMAGE:-localhost/terok-task:latest}
    terok_host_image_source: debootstrap
    terok_tasks:
      - {project: $project, name: "{{ inventory_hostname }}-agent", state: running}
      - {project: $project, name: "{{ inventory_hostname }}-idea-one"}
      - {project: $project, name: "{{ inventory_hostname }}-idea-two"}
INV
cat >"$pdd/env/envvars" <<ENV
ANSIBLE_COLLECTIONS_PATH: "$collections_root"
ANSIBLE_FORKS: "2"
ANSIBLE_SSH_CONTROL_PATH_DIR: "$work/cp"
ENV
cat >"$pdd/env/extravars" <<EXTRA
terok_status_report: "$work/report.md"
EXTRA
cat >"$pdd/env/settings" <<SETTINGS
job_timeout: 600
SETTINGS
cp "$SSHD_CLIENT_KEY" "$pdd/env/ssh_key"

# AWX gives a job only what its private data dir holds: no variable of ansible-test's
# (ANSIBLE_COLLECTIONS_PATH, ANSIBLE_CONFIG, PYTHONPATH, ...) reaches the runs. As in an
# execution environment, ansible-playbook is the one installed next to ansible-runner (the
# one ansible-test puts first on PATH works only with ansible-test's PYTHONPATH).
runner_path="$(dirname "$(command -v ansible-runner)"):$PATH"
runner() {
    local ident=$1 start=$SECONDS
    shift
    env -i PATH="$runner_path" HOME="$HOME" LANG=C.UTF-8 \
        ansible-runner run "$pdd" --ident "$ident" "$@"
    echo "ansible_runner: $ident took $((SECONDS - start)) s"
}

echo "ansible_runner: $(ansible-runner --version) with $(PATH="$runner_path" ansible-playbook --version | head -n1)"
runner provision-1 -p provision.yml
runner provision-2 -p provision.yml
runner status -p status.yml

ansible-playbook -i localhost, -c local \
    -e "runner_dir=$pdd" -e "collections_root=$collections_root" -e "project=$project" \
    -e "report=$work/report.md" verify.yml
