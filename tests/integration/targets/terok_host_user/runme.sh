#!/usr/bin/env bash
# Role terok_host as a normal user: the playbooks exactly as their headers show them, run as
# the test user terok-test (tools/test-user.sh; $TEROK_TEST_USER) with rootless podman, and no
# path variable of the role set, so that every default is the per-user one:
#
#   state root      $HOME/.local/share/terok (core, sandbox-live, archive; 0750, the user's)
#   init script     $HOME/.local/libexec/terok/init-ssh-and-repo.sh (the collection's, 0755)
#   podman drop-in  $HOME/.config/containers/containers.conf.d/50-terok-lifecycle.conf, which
#                   the user's podman reads: its runtime is a link of this test's to runc, and
#                   `podman info` as the user must name that link
#
# The inventory host (local connection) becomes the user with su and runs Debian's
# /usr/bin/python3 (the user cannot read the project's venvs); HOME is a fresh directory of
# the user's, so nothing lands in the user's real home. The user's podman keeps its own image
# storage (CONTAINERS_STORAGE_CONF: its rootless_storage_path, where tools/rootless-image.sh
# put the dev image), and PATH is the system's, so that the project's podman wrapper (which
# sets root's CONTAINERS_CONF) stays out. Then:
#   provision (changed), provision again (no change), status, cleanup --check (no change),
#   and a missing package: the role fails, installs nothing, and names the package to install.
set -euo pipefail

if [[ -z "${TEROK_LIFECYCLE_SRC:-}" ]] && command -v terok-test-env >/dev/null; then
    eval "$(terok-test-env)"
fi
: "${TEROK_LIFECYCLE_SRC:?run through make integration (terok-test-env sets it)}"

user="${TEROK_TEST_USER:-terok-test}"
image="${TEROK_TASK_DEV_IMAGE:-localhost/terok-task-dev:latest}"
if [[ "$(id -u)" -ne 0 ]]; then
    echo "terok_host_user: run as root (it switches to $user)" >&2
    exit 1
fi
if ! id -u "$user" >/dev/null 2>&1; then
    echo "terok_host_user: the test user $user does not exist: run tools/test-user.sh (make bootstrap)" >&2
    exit 1
fi
user_home="$(getent passwd "$user" | cut -d: -f6)"
# podman as the user, in the environment the plays give it (without root's CONTAINERS_CONF),
# from / (the user may not enter ansible-test's working directory)
as_user() {
    (cd / && env -u CONTAINERS_CONF su "$user" -s /bin/sh -c "HOME='$home' PATH=/usr/local/bin:/usr/bin:/bin CONTAINERS_STORAGE_CONF='$base/storage.conf' $*")
}

base="$(mktemp -d /tmp/terok-host-user.XXXXXX)"
chmod 0755 "$base"
cleanup() { rm -rf "$base"; }
trap cleanup EXIT
home="$base/home"
mkdir -m 0700 "$home"
chown "$user:" "$home"
private="$base/private" # inventory, outputs and the status report: root's only
mkdir -m 0700 "$private"
mkdir "$base/bin"
ln -s "$(command -v runc || echo /usr/bin/runc)" "$base/bin/runc"
driver="$(env -u CONTAINERS_CONF su - "$user" -s /bin/sh -c "podman info --format '{{.Store.GraphDriverName}}'")"
cat >"$base/storage.conf" <<CONF
[storage]
driver = "$driver"
rootless_storage_path = "$user_home/.local/share/containers/storage"
CONF
chmod 0644 "$base/storage.conf"
if ! as_user podman image exists "$image"; then
    echo "terok_host_user: $user has no $image: run tools/rootless-image.sh (make image)" >&2
    exit 1
fi

project="hostuser$RANDOM"
cat >"$private/inventory.yml" <<INV
terok_hosts:
  hosts:
    userhost:
      ansible_connection: local
  vars:
    ansible_python_interpreter: /usr/bin/python3
    ansible_become: true
    ansible_become_user: $user
    ansible_become_method: su
    terok_environment:
      HOME: $home
      PATH: /usr/local/bin:/usr/bin:/bin
      CONTAINERS_STORAGE_CONF: $base/storage.conf
    terok_host_image: $image
    terok_host_podman_runtime: $base/bin/runc
    terok_tasks:
      - {project: $project, name: idea-one}
      - {project: $project, name: idea-two}
INV

# the controller is root; CONTAINERS_CONF (root's test settings) must not reach the user's podman
run() {
    local name=$1 start=$SECONDS rc=0
    shift
    (cd "$private" && env -u CONTAINERS_CONF ansible-playbook -i "$private/inventory.yml" "$@") >"$private/$name.out" 2>&1 || rc=$?
    cat "$private/$name.out"
    echo "terok_host_user: $name took $((SECONDS - start)) s (rc $rc)"
    return "$rc"
}
fail() {
    echo "terok_host_user: $*" >&2
    exit 1
}
recap_ok() { # recap_ok NAME CHANGED: the recap of run NAME, with changed=CHANGED (0, or + for some)
    local changed='0'
    [[ "$2" == "+" ]] && changed='[1-9][0-9]*'
    grep -Eq "^userhost +: ok=[0-9]+ +changed=$changed +unreachable=0 +failed=0" "$private/$1.out" \
        || fail "$1: expected changed=$2 and no failure"
}

run provision-1 terok.lifecycle.provision
recap_ok provision-1 +
run provision-2 terok.lifecycle.provision
recap_ok provision-2 0

# --- the per-user defaults, the user's own
root="$home/.local/share/terok"
for tree in "" /core /sandbox-live /archive; do
    [[ "$(stat -c '%F %a %U' "$root$tree")" == "directory 750 $user" ]] \
        || fail "$root$tree: $(stat -c '%F %a %U' "$root$tree")"
done
script="$home/.local/libexec/terok/init-ssh-and-repo.sh"
cmp "$script" "$TEROK_LIFECYCLE_SRC/files/init-ssh-and-repo.sh" || fail "$script is not the collection's"
[[ "$(stat -c '%a %U' "$script")" == "755 $user" ]] || fail "$script: $(stat -c '%a %U' "$script")"
[[ "$(stat -c '%a' "$home/.local")" == 700 ]] || fail "$home/.local: mode $(stat -c '%a' "$home/.local")"
dropin="$home/.config/containers/containers.conf.d/50-terok-lifecycle.conf"
[[ "$(stat -c '%a %U' "$dropin")" == "644 $user" ]] || fail "$dropin: $(stat -c '%a %U' "$dropin")"
runtime="$(as_user podman info --format "'{{.Host.OCIRuntime.Path}}'")"
[[ "$runtime" == "$base/bin/runc" ]] || fail "the user's podman does not read $dropin (runtime $runtime)"
dossiers=("$root/core/projects/$project/tasks/"*_dossier.json)
[[ "${#dossiers[@]}" -eq 2 && -f "${dossiers[0]}" ]] || fail "expected 2 tasks of $project under $root, found ${dossiers[*]}"
[[ "$(stat -c '%U' "${dossiers[0]}")" == "$user" ]] || fail "${dossiers[0]} is not the user's"

# --- the other playbooks, as their headers show them
run status terok.lifecycle.status
recap_ok status + # the report written on the controller
[[ "$(grep -c "^| userhost .* $project " "$private/terok-status.md")" -eq 2 ]] \
    || fail "terok-status.md does not list the 2 tasks: $(cat "$private/terok-status.md")"
run cleanup-check terok.lifecycle.cleanup --check
recap_ok cleanup-check 0

# --- a missing package: the user cannot install it, so the role fails and says what to install
if run missing terok.lifecycle.provision -e terok_host_podman_executable=/usr/bin/no-such-podman; then
    fail "provision with a missing podman did not fail"
fi
grep -q "userhost lacks podman" "$private/missing.out" || fail "the failure does not name podman"
grep -q "apt-get install -y podman" "$private/missing.out" || fail "the failure does not say how to install podman"
grep -q "runs as $user, not root" "$private/missing.out" || fail "the failure does not say why nothing was installed"
if grep -q "Install what the host lacks" "$private/missing.out" \
    && ! grep -A1 "Install what the host lacks" "$private/missing.out" | grep -q skipping; then
    fail "the role tried to install a package as $user"
fi
echo "terok_host_user: passed"
