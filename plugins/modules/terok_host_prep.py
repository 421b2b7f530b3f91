#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: terok_host_prep
short_description: Prepare a host for terok tasks in one call and report what it lacks
version_added: 0.1.0
description:
  - In one call, the work of role C(terok.lifecycle.terok_host) that needs no package manager and no
    image build, so that a rerun on a prepared host costs one module run.
  - Makes the terok state root and its trees (C(core), C(sandbox-live), C(archive), or where
    C(TEROK_STATE_DIR) and C(TEROK_SANDBOX_LIVE_DIR) move them) with O(root_mode) and, when given, O(root_owner)
    and O(root_group).
  - Installs the in-container init script O(init_script_content) at O(init_script_path), mode C(0755).
  - Writes the podman drop-in O(containers_conf_path) when O(podman_runtime) or O(podman_ulimits) is set, or the
    egress hook's directory needs registering (O(egress_hooks_dir)), and removes it when none is.
  - With O(restart_on_boot) (the default), enables C(podman-restart.service), so that the containers with restart
    policy V(always) come back after a reboot, as far as the host allows; what it cannot do is a warning and
    RV(restart_on_boot.not_done), never a failure.
  - With O(egress_hook), installs the collection's OCI hook that loads the egress fence of a task (option
    O(terok.lifecycle.terok_task#module:egress)) into its container's network namespace at every start.
  - Reports, without changing anything, what the host lacks (podman, the O(commands), PyYAML for the
    Python that runs the modules, the O(packages) the package database does not list), whether the task
    image O(image) exists, the user it runs as, the OS family and the package manager, so that a playbook
    installs only what is missing and gathers no facts.
  - The defaults follow the user the module runs as, as terok's do; for root the system paths, for any
    other user per-user paths under its home directory (see each option).
  - Directories made on the way to a path get mode C(0755) when the module runs as root and C(0700)
    otherwise, as the XDG base directory specification asks.
author:
  - terok.lifecycle contributors (@terok-ai)
options:
  root:
    description:
      - The terok state root on the target, an absolute path.
      - When unset, as the other modules of the collection resolve it, the first of these that is set wins,
        C(TEROK_ROOT) in the target's environment, C(paths.root) in the terok config file
        (C(TEROK_CONFIG_FILE), else C(/etc/terok/config.yml), then C(~/.config/terok/config.yml); read only
        where PyYAML is installed), then C(/var/lib/terok) for root and C(${XDG_DATA_HOME:-~/.local/share}/terok)
        for other users.
    type: path
  root_mode:
    description:
      - The mode of the state root and of each of its trees, octal, as a string such as V('0750').
    type: raw
    default: '0750'
  root_owner:
    description:
      - The owner of the state root and its trees, a user name or a uid. Unset, they belong to the user the
        module runs as when it makes them, and an existing owner is left alone.
    type: str
  root_group:
    description:
      - The group of the state root and its trees, a group name or a gid. Unset as for O(root_owner).
    type: str
  init_script_content:
    description:
      - The text of the in-container init script (the collection's C(files/init-ssh-and-repo.sh)), installed at
        O(init_script_path) with mode C(0755). A module cannot read the controller's files, so the playbook passes
        the text, for example with C(lookup('ansible.builtin.file', path, rstrip=false)).
      - Unset, no init script is managed.
    type: str
  init_script_path:
    description:
      - Where the init script goes, an absolute path without C(:) or C(,) (the task containers bind-mount it).
      - Default C(/usr/local/libexec/terok/init-ssh-and-repo.sh) for root,
        C(~/.local/libexec/terok/init-ssh-and-repo.sh) for other users.
      - Needs O(init_script_content).
    type: path
  containers_conf_path:
    description:
      - The podman drop-in file this module owns, written when O(podman_runtime) or O(podman_ulimits) is set and
        removed when neither is.
      - Default C(/etc/containers/containers.conf.d/50-terok-lifecycle.conf) for root,
        C(${XDG_CONFIG_HOME:-~/.config}/containers/containers.conf.d/50-terok-lifecycle.conf) for other users,
        where podman reads a rootless user's settings.
    type: path
  podman_runtime:
    description:
      - The OCI runtime podman is to use (C([engine] runtime) in the drop-in), a name such as V(runc) or V(crun),
        or an absolute path.
    type: str
  podman_ulimits:
    description:
      - Default ulimits of podman's containers (C([containers] default_ulimits) in the drop-in), each
        C(NAME=SOFT[:HARD]) such as V(nofile=20000:20000).
    type: list
    elements: str
  restart_on_boot:
    description:
      - Enable podman's C(podman-restart.service), which starts the containers with restart policy V(always) at
        boot (C(podman start --all --filter restart-policy=always), podman 4.3.1), so that such agents come back
        after a reboot with their workspaces as they were.
      - As root, the system unit (C(systemctl enable)); as a normal user, the user unit (C(systemctl --user
        enable), with C(XDG_RUNTIME_DIR=/run/user/<uid>) when the environment has none) and lingering
        (C(loginctl enable-linger <user>)), without which a user's manager, and so the unit, starts only at the
        user's login.
      - The unit is enabled, not started, so a run does not start the containers with V(always) that were
        stopped. Debian's podman package enables the system unit already.
      - Where systemd is not PID 1 (no C(/run/systemd/system), as in a container, WSL or a chroot) nothing is changed; a
        warning and RV(restart_on_boot.not_done) say so. A masked unit is left masked, and lingering that
        C(loginctl) refuses (no polkit rule lets the user) is reported with the command an administrator runs.
      - V(false) leaves all of this alone (nothing is disabled) and returns RV(restart_on_boot) null.
      - Only containers with V(always) come back at boot; V(on-failure) and V(unless-stopped) ones need a run
        with O(terok.lifecycle.terok_task#module:state=running). See the guide C(GPUs, survival and fences).
    type: bool
    default: true
  egress_hook:
    description:
      - Install the collection's OCI hook for option O(terok.lifecycle.terok_task#module:egress), its program at
        O(egress_hook_path) (mode C(0755), a copy of the collection's C(plugins/module_utils/_egress.py)) and its
        descriptor C(terok-lifecycle-egress.json) in O(egress_hooks_dir) (mode C(0644)), which tells podman to run the
        program at C(createRuntime) for every container with the annotation C(io.terok.lifecycle.egress), that is at
        each start of a fenced container, before any of its processes runs.
      - The descriptor runs the program with the Python that runs this module; as root, whose hook podman runs for
        every user's containers, with C(/usr/bin/python3) when that Python is not one every user may run.
      - The hook needs C(nft) (nftables) and C(nsenter) (util-linux) on the host; they are added to O(commands), so
        RV(missing) names them when the host lacks them.
      - V(false) leaves an installed hook alone (it is never removed, since a fenced container would then start
        again without its fence); remove its two files by hand once no container has a fence.
    type: bool
    default: false
  egress_hook_path:
    description:
      - Where the egress hook's program goes, an absolute path.
      - Default C(/usr/local/libexec/terok/terok-lifecycle-egress-hook) for root,
        C(~/.local/libexec/terok/terok-lifecycle-egress-hook) for other users.
    type: path
  egress_hooks_dir:
    description:
      - The OCI hooks directory for the egress hook's descriptor, an absolute path.
      - Default C(/usr/share/containers/oci/hooks.d) for root, podman's default, which root and rootless podman
        read without any setting; C(${XDG_CONFIG_HOME:-~/.config}/containers/oci/hooks.d) for other users.
      - A directory other than podman's default is added, after that default, to C([engine] hooks_dir) of the
        drop-in O(containers_conf_path), which then replaces a C(hooks_dir) of the main C(containers.conf). podman
        ignores drop-ins when C(CONTAINERS_CONF) names a file; that file must then list the directory itself.
    type: path
  executable:
    description:
      - The podman executable on the target, a name looked up on C(PATH) or a full path; reported in
        RV(missing) as V(podman) when it is not found.
    type: str
    default: podman
  commands:
    description:
      - Further commands the host must have, names looked up on C(PATH) or absolute paths; those not found are
        reported in RV(missing).
    type: list
    elements: str
    default: [git]
  packages:
    description:
      - Package names to look up in the package database (C(dpkg-query) or C(rpm)); those not installed are
        reported in RV(missing_packages). One query for all of them.
    type: list
    elements: str
    default: []
  image:
    description:
      - A task image whose presence is reported in RV(image_exists) (C(podman image exists)).
    type: str
  lock_timeout:
    description:
      - Not used, since this module takes no project lock; accepted so that C(module_defaults) for the
        action group C(terok.lifecycle.terok) apply to this module too.
    type: float
    default: 30
extends_documentation_fragment:
  - terok.lifecycle.common.action_group
attributes:
  check_mode:
    support: full
    description: Nothing is written; RV(changes) and the diff say what would change. The checks run as usual.
  diff_mode:
    support: full
    description: Before and after of each directory (mode and owner), of the init script, of the drop-in and of the
      egress hook's program and descriptor.
  idempotent:
    support: full
    description: A second run with the same options reports no change.
notes:
  - The module needs no PyYAML itself (it reports whether PyYAML is missing); without PyYAML it cannot read
    the terok config file, and says so in a warning when one is there.
seealso:
  - module: terok.lifecycle.terok_tasks
    description: Converge the host's tasks once it is prepared.
"""

EXAMPLES = r"""
- name: Prepare the host (state root, init script) and see what it lacks
  terok.lifecycle.terok_host_prep:
    init_script_content: "{{ lookup('ansible.builtin.file', 'files/init-ssh-and-repo.sh', rstrip=false) }}"
    image: localhost/terok-task:latest
  register: prep

- name: Install what is missing (root only)
  ansible.builtin.package:
    name: "{{ prep.missing | map('replace', 'PyYAML', 'python3-yaml') | list }}"
    use: "{{ prep.pkg_mgr or 'auto' }}"
  when: prep.missing | length > 0 and prep.user.privileged

- name: A state root of its own, owned by a service user, with a podman runtime set
  terok.lifecycle.terok_host_prep:
    root: /srv/terok
    root_owner: terok
    root_group: terok
    root_mode: "0750"
    podman_runtime: runc
    podman_ulimits:
      - nofile=20000:20000

- name: A user's agents come back after a reboot (the user unit and lingering); only report what is missing
  terok.lifecycle.terok_host_prep:
    restart_on_boot: true
  become: true
  become_user: agent
  register: prep
  failed_when: prep.restart_on_boot.not_done | length > 0

- name: Install the OCI hook of the tasks' egress fences (option egress of terok_task and terok_tasks)
  terok.lifecycle.terok_host_prep:
    egress_hook: true
  register: prep
  failed_when: "'nft' in prep.missing"

- name: Only report (check mode changes nothing)
  terok.lifecycle.terok_host_prep:
    packages: [podman, git, python3-yaml]
  check_mode: true
  register: report
"""

RETURN = r"""
changes:
  description: What changed (in check mode, what would change), one sentence each.
  returned: always
  type: list
  elements: str
  sample: ["created directory /var/lib/terok (mode 0750)", "wrote /usr/local/libexec/terok/init-ssh-and-repo.sh (mode 0755)"]
root:
  description: The state root.
  returned: success
  type: str
  sample: /var/lib/terok
state_dir:
  description: The metadata tree (C(<root>/core) unless C(TEROK_STATE_DIR) moves it).
  returned: success
  type: str
  sample: /var/lib/terok/core
live_dir:
  description: The task directories' tree (C(<root>/sandbox-live) unless moved).
  returned: success
  type: str
  sample: /var/lib/terok/sandbox-live
archive_dir:
  description: The archive tree, C(<root>/archive).
  returned: success
  type: str
  sample: /var/lib/terok/archive
init_script:
  description: The init script, null when O(init_script_content) is unset.
  returned: success
  type: dict
  contains:
    path:
      description: Where it is.
      type: str
      sample: /usr/local/libexec/terok/init-ssh-and-repo.sh
    checksum:
      description: The SHA-256 of its text, hexadecimal (the role labels the image it builds with it).
      type: str
    changed:
      description: Whether it was written or its mode set.
      type: bool
containers_conf:
  description: The podman drop-in.
  returned: success
  type: dict
  contains:
    path:
      description: Its path.
      type: str
      sample: /etc/containers/containers.conf.d/50-terok-lifecycle.conf
    state:
      description: V(present) when a setting is asked for, else V(absent).
      type: str
      sample: absent
    changed:
      description: Whether it was written or removed.
      type: bool
restart_on_boot:
  description: What O(restart_on_boot) did and found; null when it is V(false).
  returned: success
  type: dict
  contains:
    scope:
      description: V(system) (root's unit) or V(user) (the user unit of the user the module runs as).
      type: str
      sample: system
    unit:
      description: The unit, V(podman-restart.service).
      type: str
      sample: podman-restart.service
    systemd:
      description: Whether systemd runs as PID 1 (C(/run/systemd/system) exists); without it no unit runs at boot.
      type: bool
      sample: true
    enabled:
      description: Whether the unit is enabled now (C(systemctl is-enabled), which reads the unit files, so it
        answers without systemd too); null when that could not be told (no C(systemctl), no such unit).
      type: bool
      sample: true
    linger:
      description: For a normal user, whether the user lingers (C(/var/lib/systemd/linger/<user>)); null for root.
      type: bool
    changed:
      description: Whether this run enabled the unit or lingering (in check mode, would).
      type: bool
      sample: false
    not_done:
      description: What could not be done and why, one sentence each, each also a warning; empty when all is done.
      type: list
      elements: str
      sample: ["podman-restart.service is enabled, but nothing runs it: systemd is not PID 1 on this host (no
        /run/systemd/system), so no unit runs at boot; after a reboot the containers with restart policy always
        come back only if something runs `podman start --all --filter restart-policy=always` then"]
egress_hook:
  description: The egress fence's OCI hook (O(egress_hook)); null when O(egress_hook) is V(false).
  returned: success
  type: dict
  contains:
    program:
      description: The hook's program.
      type: str
      sample: /usr/local/libexec/terok/terok-lifecycle-egress-hook
    descriptor:
      description: Its descriptor in the hooks directory.
      type: str
      sample: /usr/share/containers/oci/hooks.d/terok-lifecycle-egress.json
    python:
      description: The Python the descriptor runs the program with.
      type: str
      sample: /usr/bin/python3
    podman_hooks_dirs:
      description: The C(hooks_dir) list written to the drop-in, null when the descriptor is in podman's default
        directory.
      type: list
      elements: str
    changed:
      description: Whether the program or the descriptor was written or its mode set.
      type: bool
missing:
  description:
    - What the host lacks, in this order, V(podman) (O(executable) was not found), each of O(commands) that was not
      found, V(PyYAML) (the Python running the modules cannot import C(yaml)).
  returned: success
  type: list
  elements: str
  sample: [podman, PyYAML]
missing_packages:
  description: The O(packages) the package database does not list as installed.
  returned: success
  type: list
  elements: str
  sample: []
image_exists:
  description: Whether O(image) exists; null when O(image) is unset or podman is missing.
  returned: success
  type: bool
user:
  description: The user the module runs as, whose defaults apply.
  returned: success
  type: dict
  contains:
    uid:
      description: Its uid.
      type: int
      sample: 0
    gid:
      description: Its primary gid.
      type: int
      sample: 0
    name:
      description: Its name.
      type: str
      sample: root
    home:
      description: Its home directory (C(HOME), else the password database's).
      type: str
      sample: /root
    privileged:
      description: Whether it is root (uid 0), who may install packages.
      type: bool
      sample: true
os_family:
  description: The OS family from C(/etc/os-release), named as Ansible names it (V(Debian), V(RedHat), V(Suse),
    V(Alpine), V(Archlinux)); null when unknown.
  returned: success
  type: str
  sample: Debian
pkg_mgr:
  description: The package manager for C(ansible.builtin.package)'s C(use) (V(apt), V(dnf), V(dnf5), V(yum),
    V(zypper), V(apk), V(pacman)), null when none was found.
  returned: success
  type: str
  sample: apt
option:
  description: The option a failure is about.
  returned: failure, when the failure is about an option
  type: str
  sample: root_mode
path:
  description: The file a failure is about.
  returned: failure, when the failure is about a file
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.terok.lifecycle.plugins.module_utils._host_prep import HostPrep, Request
from ansible_collections.terok.lifecycle.plugins.module_utils._module_support import ModuleRunner, run_module
from ansible_collections.terok.lifecycle.plugins.module_utils._run_context import RunGate

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Any, Dict


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "root": {"type": "path"},
            "root_mode": {"type": "raw", "default": "0750"},
            "root_owner": {"type": "str"},
            "root_group": {"type": "str"},
            "init_script_content": {"type": "str"},
            "init_script_path": {"type": "path"},
            "containers_conf_path": {"type": "path"},
            "podman_runtime": {"type": "str"},
            "podman_ulimits": {"type": "list", "elements": "str"},
            "executable": {"type": "str", "default": "podman"},
            "commands": {"type": "list", "elements": "str", "default": ["git"]},
            "packages": {"type": "list", "elements": "str", "default": []},
            "image": {"type": "str"},
            "restart_on_boot": {"type": "bool", "default": True},
            "egress_hook": {"type": "bool", "default": False},
            "egress_hook_path": {"type": "path"},
            "egress_hooks_dir": {"type": "path"},
            "lock_timeout": {"type": "float", "default": 30.0},
        },
        supports_check_mode=True,
    )

    def prepare(gate: RunGate, partial: Dict[str, Any]) -> Dict[str, Any]:
        prep = HostPrep(Request(module.params), ModuleRunner(module), gate)
        partial["changes"] = prep.changes  # what a failure returns: the changes made before it
        result = prep.run()
        if module._diff:
            result["diff"] = prep.diffs
        return result

    # PyYAML is not needed here (its absence is reported), so the gate alone, not make_context
    run_module(module, prepare, make=lambda module: RunGate(module.check_mode))


if __name__ == "__main__":
    main()
