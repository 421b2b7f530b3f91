#!/usr/bin/env bash
# `make ee`: terok.lifecycle in an Ansible execution environment (EE), the container image that
# AWX and Ansible Automation Platform run their jobs in. No registry and no Galaxy are
# reachable here, so everything is built locally and the image builds run offline.
#
#   tools/ee-test.sh [--force] [--keep]
#
# 1. The collection tarball (ansible-galaxy collection build), installed into a temp collections
#    path: `ansible-builder introspect` must find requirements.txt (PyYAML, which it leaves out
#    as ansible-core's own) and every line of bindep.txt; bindep must select none of those
#    packages for the EE (default profile) and all of them for a target (profile `target`),
#    and this host, the target below, must have them (`bindep -b target`).
# 2. localhost/terok-ee-base:latest: Debian bookworm from debootstrap (minbase + python3,
#    python3-pip, python3-venv, openssh-client, ca-certificates, apt lists kept); about a
#    minute, rebuilt when its label org.terok.ee-base.recipe differs from the recipe here.
# 3. localhost/terok-ee:latest: `ansible-builder build` of a version 3 definition written here:
#    that base, apt-get as package manager, ansible-core and ansible-runner pinned as in
#    tools/requirements.txt, the collection from the tarball (ansible-galaxy --offline). The
#    Python packages come from a wheelhouse that pip fills from PyPI on the host
#    (.cache/ee/wheels), so `podman build` runs with --network=none. Rebuilt when its label
#    org.terok.ee.inputs (a hash of the definition, the base's id, the wheels and the
#    collection's FILES.json) differs: a change to a shipped file of the collection rebuilds it.
# 4. An sshd of its own on 127.0.0.7 (port 28000-28999) stands for a managed host: this one,
#    with a state root in the temp dir. Three `ansible-runner run` of a private data dir, each
#    in the EE (`podman run --network host`, as the EE's user 1000), as AWX runs a job: ad hoc
#    terok.lifecycle.terok_task state=present, playbook terok.lifecycle.status (imported by a
#    project playbook), ad hoc state=absent. tests/ee/verify.yml checks the artifacts and the
#    host's state root.
#
# ansible-builder has a venv of its own, .cache/ee/venv (tests/ee/constraints.txt), so that
# .venv does not grow. Everything else lives in a temp dir that is removed at the end.
#
# --force  rebuild both images
# --keep   keep the temp dir (private data dir with the artifacts, build context, logs)
# shellcheck disable=SC2153  # VENV, TESTBIN, CACHE_DIR, MAIN_PYTHON come from tools/lib.sh
set -euo pipefail

# shellcheck source=tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tests/integration/targets/setup_loopback_sshd/sshd.sh
. "$REPO_ROOT/tests/integration/targets/setup_loopback_sshd/sshd.sh"

FORCE=0
KEEP=0
for arg in "$@"; do
    case "$arg" in
        --force) FORCE=1 ;;
        --keep) KEEP=1 ;;
        -h|--help) sed -n '2,34p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) die "unknown option: $arg" ;;
    esac
done

EE_CACHE="$CACHE_DIR/ee"
EE_VENV="$EE_CACHE/venv"
WHEELS="$EE_CACHE/wheels"
EE_CONSTRAINTS="$REPO_ROOT/tests/ee/constraints.txt"
EE_BASE_IMAGE="${TEROK_EE_BASE_IMAGE:-localhost/terok-ee-base:latest}"
EE_IMAGE="${TEROK_EE_IMAGE:-localhost/terok-ee:latest}"
RECIPE_LABEL=org.terok.ee-base.recipe
INPUTS_LABEL=org.terok.ee.inputs
SUITE=bookworm
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
BASE_PACKAGES=python3,python3-pip,python3-venv,openssh-client,ca-certificates
RECIPE="$(printf 'minbase %s %s apt-lists\n' "$SUITE" "$BASE_PACKAGES" | sha256sum | cut -d' ' -f1)"
TARGET_ADDRESS=127.0.0.7
PODMAN=(podman)
if [ -x "$TESTBIN/podman" ]; then
    PODMAN=("$TESTBIN/podman")
fi

pm() { "${PODMAN[@]}" "$@"; }
pin_of() { sed -n "s/^$1==\([^ #]*\).*/\1/p" "$TOOLS_DIR/requirements.txt" | head -n1; }

[ "$(id -u)" -eq 0 ] || die "debootstrap, the sshd and this podman setup need root"
command -v podman >/dev/null 2>&1 || die "podman is missing: run 'make bootstrap' first"
require_venv
CORE_VERSION="$(pin_of ansible-core)"
RUNNER_VERSION="$(pin_of ansible-runner)"
if [ -z "$CORE_VERSION" ] || [ -z "$RUNNER_VERSION" ]; then
    die "tools/requirements.txt pins no ansible-core or no ansible-runner (name==version)"
fi

# one run at a time on this machine: the images and podman's storage are the machine's
one_at_a_time "${TEROK_EE_LOCK:-/run/lock/terok-ee-test.lock}"

START=$SECONDS
WORK="$(mktemp -d "${TMPDIR:-/tmp}/terok-ee.XXXXXX")"
RUN_CONTAINER="terok-ee-run-$$"
PROJECT="ee$$"
cleanup() {
    local rc=$?
    loopback_sshd_stop "$WORK/sshd" 2>/dev/null || true
    pm rm -f -i "$RUN_CONTAINER" >/dev/null 2>&1 || true
    pm ps -a --format '{{.Names}}' 2>/dev/null | grep -E "^${PROJECT}-" | xargs -r "${PODMAN[@]}" rm -f >/dev/null 2>&1 || true
    if [ "$KEEP" = 1 ]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT

# ---------------------------------------------------------------- ansible-builder's venv
ee_venv() {
    local py stamp stamp_file="$EE_VENV/.ee-stamp"
    py="$(real_python "$MAIN_PYTHON")" || die "no real Python $MAIN_PYTHON found"
    stamp="$({ cat "$EE_CONSTRAINTS" "$TOOLS_DIR/constraints.txt"; echo "$py"; } | sha256sum | cut -d' ' -f1)"
    if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ] && [ -x "$EE_VENV/bin/ansible-builder" ]; then
        return 0
    fi
    log "creating $EE_VENV (ansible-builder)"
    rm -rf "$EE_VENV"
    mkdir -p "$EE_CACHE"
    "$py" -m venv "$EE_VENV"
    "$EE_VENV/bin/python" -m pip install -q --disable-pip-version-check ansible-builder \
        -c "$TOOLS_DIR/constraints.txt" -c "$EE_CONSTRAINTS" 2>&1 | without_pip_noise
    "$EE_VENV/bin/ansible-builder" --version >/dev/null
    printf '%s\n' "$stamp" >"$stamp_file"
}

# ---------------------------------------------------------------- the EE's wheels
# Everything pip installs during the image build: ansible-core and ansible-runner (the
# definition's ansible_core and ansible_runner), bindep, PyYAML and packaging (the builder
# stage), dumb-init (the version 3 default init), with their dependencies.
wheelhouse() {
    local stamp stamp_file="$WHEELS/.ee-stamp" reqs
    reqs="ansible-core==$CORE_VERSION ansible-runner==$RUNNER_VERSION bindep PyYAML packaging dumb-init"
    stamp="$({ cat "$EE_CONSTRAINTS" "$TOOLS_DIR/constraints.txt"; echo "$reqs"; } | sha256sum | cut -d' ' -f1)"
    if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ]; then
        return 0
    fi
    log "filling $WHEELS from PyPI: $reqs"
    rm -rf "$WHEELS.new"
    # shellcheck disable=SC2086  # $reqs is a list of requirements
    "$EE_VENV/bin/python" -m pip wheel -q --disable-pip-version-check -w "$WHEELS.new" \
        -c "$TOOLS_DIR/constraints.txt" -c "$EE_CONSTRAINTS" $reqs 2>&1 | without_pip_noise
    printf '%s\n' "$stamp" >"$WHEELS.new/.ee-stamp"
    rm -rf "$WHEELS"
    mv "$WHEELS.new" "$WHEELS"
}

# ---------------------------------------------------------------- 1. tarball and introspection
collection_tarball() {
    local out
    "$VENV/bin/ansible-galaxy" collection build "$REPO_ROOT" --output-path "$WORK/dist" >/dev/null
    TARBALL="$(find "$WORK/dist" -name 'terok-lifecycle-*.tar.gz' | head -n1)"
    [ -n "$TARBALL" ] || die "ansible-galaxy collection build wrote no terok-lifecycle-*.tar.gz"
    # ansible-builder reads the dependency files of an installed collection, as in the EE build
    out="$(ANSIBLE_COLLECTIONS_PATH="$WORK/collections" "$VENV/bin/ansible-galaxy" collection install \
        --offline -p "$WORK/collections" "$TARBALL" 2>&1)" || { printf '%s\n' "$out" >&2; die "installing $TARBALL failed"; }
    log "built and installed $(basename "$TARBALL")"
}

check_introspect() {
    local out line missing=0 selected
    out="$("$EE_VENV/bin/ansible-builder" introspect "$WORK/collections" -v3 \
        --write-bindep "$WORK/introspect-bindep.txt" --write-pip "$WORK/introspect-pip.txt" 2>&1)" \
        || { printf '%s\n' "$out" >&2; die "ansible-builder introspect failed"; }
    printf '%s\n' "$out" | sed 's/^/    /'
    # requirements.txt was read: its PyYAML is left out as a requirement of ansible-core itself
    grep -qxF "# Excluding requirement 'PyYAML' from 'terok.lifecycle'" <<<"$out" \
        || die "ansible-builder introspect did not read requirements.txt (no PyYAML)"
    while IFS= read -r line; do
        case "$line" in ''|'#'*) continue ;; esac
        grep -qxF "$line  # from collection terok.lifecycle" "$WORK/introspect-bindep.txt" \
            || { warn "introspect lacks bindep.txt's line: $line"; missing=1; }
    done <"$REPO_ROOT/bindep.txt"
    [ "$missing" = 0 ] || die "ansible-builder introspect did not find every line of bindep.txt"
    # what ansible-builder's assemble step selects for the EE (bindep's default profile): nothing
    selected="$("$EE_VENV/bin/bindep" -f "$WORK/introspect-bindep.txt" -l newline)" || true
    [ -z "$selected" ] || die "bindep selects packages for the EE: $selected"
    # for a target, all of them; this host is the target of step 4 and has them
    selected="$("$EE_VENV/bin/bindep" -f "$WORK/introspect-bindep.txt" -l newline target | tr '\n' ' ')"
    [ "$selected" = "podman git python3-yaml " ] || die "bindep selects '$selected' for a Debian target"
    if ! "$EE_VENV/bin/bindep" -f "$REPO_ROOT/bindep.txt" -b target >"$WORK/bindep-missing.txt"; then
        die "this host lacks packages of profile target: $(tr '\n' ' ' <"$WORK/bindep-missing.txt") (make bootstrap)"
    fi
    log "introspect: requirements.txt and bindep.txt found; the EE gets no system package, a target gets: $selected"
}

# ---------------------------------------------------------------- 2. base image
build_base() {
    local start=$SECONDS root="$WORK/rootfs" old_id=""
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing: run 'make bootstrap' first"
    if pm image exists "$EE_BASE_IMAGE"; then
        old_id="$(pm image inspect --format '{{.Id}}' "$EE_BASE_IMAGE")"
    fi
    log "debootstrap $SUITE ($BASE_PACKAGES) for $EE_BASE_IMAGE (about a minute)"
    debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$root" "$MIRROR" \
        >"$WORK/debootstrap.log" 2>&1 || { tail -n 30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
    # the package cache goes; the apt lists stay, for bindep packages of other collections
    rm -rf "$root"/var/cache/apt/archives/*.deb
    tar --numeric-owner -C "$root" -c . \
        | pm import -q --change 'CMD ["/bin/bash"]' --change "LABEL $RECIPE_LABEL=$RECIPE" \
            - "$EE_BASE_IMAGE" >/dev/null
    rm -rf "$root"
    if [ -n "$old_id" ]; then
        pm rmi "$old_id" >/dev/null 2>&1 || true
    fi
    log "built $EE_BASE_IMAGE in $((SECONDS - start)) s"
}

base_image() {
    if [ "$FORCE" = 0 ] && pm image exists "$EE_BASE_IMAGE" \
        && [ "$(pm image inspect --format "{{ index .Config.Labels \"$RECIPE_LABEL\" }}" "$EE_BASE_IMAGE")" = "$RECIPE" ]; then
        return 0
    fi
    build_base
}

# ---------------------------------------------------------------- 3. the EE
# ee_definition TARBALL_NAME: the version 3 definition (stdin of the hash without its label)
ee_definition() {
    cat <<EOF
---
# Written by tools/ee-test.sh: an EE of terok.lifecycle built with no registry and no Galaxy.
version: 3
images:
  base_image:
    name: $EE_BASE_IMAGE
dependencies:
  python_interpreter:
    python_path: /usr/bin/python3
  ansible_core:
    package_pip: ansible-core==$CORE_VERSION
  ansible_runner:
    package_pip: ansible-runner==$RUNNER_VERSION
  # as an AWX user writes {name: terok.lifecycle}, here from the tarball in the build context
  galaxy:
    collections:
      - name: /build/files/$1
        type: file
build_arg_defaults:
  ANSIBLE_GALAXY_CLI_COLLECTION_OPTS: --offline
options:
  package_manager_path: /usr/bin/apt-get
  # pip is the base's python3-pip
  skip_pip_install: true
additional_build_files:
  - src: files
    dest: files
  - src: wheels
    dest: wheels
additional_build_steps:
  # pip installs from the wheelhouse alone while the image is built (podman build --network=none)
  prepend_base:
    - COPY _build/wheels/ /opt/terok-ee-wheels/
    - RUN printf '[global]\\nno-index = true\\nfind-links = /opt/terok-ee-wheels\\n' >/etc/pip.conf
  append_final:
    - RUN rm -rf /etc/pip.conf /opt/terok-ee-wheels
EOF
}

# short_hash: the first 12 hex digits of the sha256 of stdin
short_hash() { sha256sum | cut -c1-12; }

ee_image() {
    local name definition inputs have old_id="" start=$SECONDS ctx="$WORK/ee" reason="" part
    name="$(basename "$TARBALL")"
    definition="$(ee_definition "$name")"
    # what the image is made of, one hash per part, so that a rebuild can say why
    inputs="definition:$(printf '%s\n' "$definition" | short_hash)"
    inputs+=" base:$(pm image inspect --format '{{.Id}}' "$EE_BASE_IMAGE" | cut -c1-12)"
    inputs+=" wheels:$(cd "$WHEELS" && sha256sum ./*.whl | short_hash)"
    inputs+=" collection:$(tar -xOzf "$TARBALL" MANIFEST.json FILES.json | short_hash)"
    inputs+=" ansible-builder:$("$EE_VENV/bin/ansible-builder" --version)"
    if pm image exists "$EE_IMAGE"; then
        have="$(pm image inspect --format "{{ index .Config.Labels \"$INPUTS_LABEL\" }}" "$EE_IMAGE")"
        if [ "$FORCE" = 0 ] && [ "$have" = "$inputs" ]; then
            log "$EE_IMAGE is current ($INPUTS_LABEL: $inputs)"
            return 0
        fi
        for part in $inputs; do
            case " $have " in *" $part "*) ;; *) reason+=" ${part%%:*}" ;; esac
        done
        old_id="$(pm image inspect --format '{{.Id}}' "$EE_IMAGE")"
    fi
    mkdir -p "$ctx/files"
    cp "$TARBALL" "$ctx/files/"
    cp -R "$WHEELS" "$ctx/wheels"
    rm -f "$ctx/wheels/.ee-stamp"
    {
        printf '%s\n' "$definition"
        printf '    - LABEL %s="%s"\n' "$INPUTS_LABEL" "$inputs"
    } >"$ctx/execution-environment.yml"
    if [ "$FORCE" = 1 ]; then
        reason=" --force"
    fi
    log "ansible-builder build $EE_IMAGE (ansible-core $CORE_VERSION, ansible-runner $RUNNER_VERSION, $name; new or changed:${reason:- the image})"
    if ! "$EE_VENV/bin/ansible-builder" build -f "$ctx/execution-environment.yml" -c "$ctx/context" \
        -t "$EE_IMAGE" --container-runtime podman -v 3 \
        --extra-build-cli-args '--network=none --pull=never --layers=false' >"$WORK/ee-build.log" 2>&1; then
        tail -n 60 "$WORK/ee-build.log" >&2
        die "ansible-builder build failed (the whole log: --keep, then $WORK/ee-build.log)"
    fi
    if [ -n "$old_id" ] && [ "$old_id" != "$(pm image inspect --format '{{.Id}}' "$EE_IMAGE")" ]; then
        pm rmi "$old_id" >/dev/null 2>&1 || true
    fi
    log "built $EE_IMAGE in $((SECONDS - start)) s"
}

# what is in the EE: the pinned ansible-core and ansible-runner, the collection installed where
# ansible-builder puts collections, and none of the targets' packages
check_ee_contents() {
    local out
    # shellcheck disable=SC2016  # expanded in the container
    out="$(pm run --rm --network none "$EE_IMAGE" bash -c '
        ansible --version | head -n1
        echo "ansible-runner $(ansible-runner --version)"
        ansible-galaxy collection list terok.lifecycle 2>/dev/null | sed -n "s/^# //p; /^terok.lifecycle /p"
        for cmd in podman git; do command -v "$cmd" >/dev/null && echo "has $cmd"; done
        echo "user $(id -u)"')" || die "podman run $EE_IMAGE failed"
    printf '%s\n' "$out" | sed 's/^/    /'
    grep -q "^ansible \[core $CORE_VERSION\]" <<<"$out" || die "the EE has no ansible-core $CORE_VERSION"
    grep -qx "ansible-runner $RUNNER_VERSION" <<<"$out" || die "the EE has no ansible-runner $RUNNER_VERSION"
    if ! grep -qx '/usr/share/ansible/collections/ansible_collections' <<<"$out" \
        || ! grep -q '^terok.lifecycle ' <<<"$out"; then
        die "terok.lifecycle is not in the EE's /usr/share/ansible/collections"
    fi
    ! grep -q '^has ' <<<"$out" || die "the EE has a target's command: $(grep '^has ' <<<"$out" | tr '\n' ' ')"
}

# ---------------------------------------------------------------- 4. jobs in the EE
# private_data_dir: laid out as ansible-runner (and AWX) expects it; owned by the EE's user
private_data_dir() {
    local pdd="$WORK/runner" executable=podman
    [ -x "$TESTBIN/podman" ] && executable="$TESTBIN/podman"
    mkdir -p "$pdd/inventory" "$pdd/env" "$pdd/project" "$WORK/state"
    cat >"$pdd/inventory/hosts.yml" <<EOF
terok_hosts:
  hosts:
    terok-ee-target: {ansible_host: $TARGET_ADDRESS}
  vars:
    ansible_port: $SSHD_PORT
    ansible_user: root
    ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
    # Debian's Python on the host, with python3-yaml (bindep.txt, profile target)
    ansible_python_interpreter: /usr/bin/python3
    terok_tasks_root: $WORK/state
    terok_tasks_executable: $executable
EOF
    # how AWX runs a collection's playbook: a project playbook that imports it
    cat >"$pdd/project/status.yml" <<'EOF'
---
- name: The status report of terok.lifecycle
  ansible.builtin.import_playbook: terok.lifecycle.status
EOF
    printf 'terok_status_report: /runner/report.md\n' >"$pdd/env/extravars"
    # a plain log for make (AWX keeps the colours)
    printf 'ANSIBLE_NOCOLOR: "1"\n' >"$pdd/env/envvars"
    cp "$SSHD_CLIENT_KEY" "$pdd/env/ssh_key"
    MODULE_ARGS="project=$PROJECT name=ee-probe root=$WORK/state executable=$executable"
    chown -R 1000:0 "$pdd"
    PDD="$pdd"
}

# ee_run IDENT ARGS...: `ansible-runner run` of the private data dir in the EE
ee_run() {
    local ident=$1 start=$SECONDS
    shift
    log "ansible-runner run /runner --ident $ident $* (in $EE_IMAGE)"
    pm run --rm --name "$RUN_CONTAINER" --network host -v "$PDD:/runner" "$EE_IMAGE" \
        ansible-runner run /runner --ident "$ident" "$@" \
        || die "ansible-runner run --ident $ident failed (tools/ee-test.sh --keep keeps the artifacts)"
    log "$ident took $((SECONDS - start)) s"
}

ee_venv
wheelhouse
collection_tarball
check_introspect
base_image
ee_image
check_ee_contents

mkdir -p "$WORK/sshd"
LOOPBACK_SSHD_PORT="${TEROK_EE_SSH_PORT:-}" loopback_sshd_start "$WORK/sshd" 28000 1000 "$TARGET_ADDRESS"
private_data_dir
runs_start=$SECONDS
ee_run adhoc-present --hosts terok_hosts -m terok.lifecycle.terok_task -a "$MODULE_ARGS state=present"
# the task is on the host, in terok's format: its dossier names it
grep -lq '"name": "ee-probe"' "$WORK/state/core/projects/$PROJECT/tasks/"*_dossier.json 2>/dev/null \
    || die "no task ee-probe in $WORK/state/core/projects/$PROJECT/tasks on the host"
ee_run status -p status.yml
ee_run adhoc-absent --hosts terok_hosts -m terok.lifecycle.terok_task -a "$MODULE_ARGS state=absent"
runs_time=$((SECONDS - runs_start))

env -u ANSIBLE_COLLECTIONS_PATH "$VENV/bin/ansible-playbook" -i localhost, -c local \
    -e "runner_dir=$PDD" -e "state_root=$WORK/state" -e "project=$PROJECT" \
    "$REPO_ROOT/tests/ee/verify.yml"
log "make ee passed in $((SECONDS - START)) s (the three jobs in the EE: $runs_time s)"
