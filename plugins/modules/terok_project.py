#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: terok_project
short_description: Manage a terok project's project.yml
version_added: 0.1.0
description:
  - Manages C(<config dir>/projects/<name>/project.yml), the file that makes a project known to terok. Without it,
    C(terok project list) does not list the project and C(terok task list <name>) shows none of its tasks, also
    those that M(terok.lifecycle.terok_task) made.
  - The configuration directory is resolved as terok 0.9.1 resolves it, O(config_dir), else C(TEROK_CONFIG_DIR) in
    the target's environment, else C(/etc/terok) for root and C(${XDG_CONFIG_HOME:-~/.config}/terok) for other users.
  - O(state=present) merges the options into the file and writes it when that changes it, through a temporary
    file and a rename. Keys of the file that no option sets are kept (nothing is kept with O(purge=true)); an
    unset suboption is not managed. C(project.name) is always the project's name, as terok requires.
  - The options mirror the sections of terok 0.9.1's C(project.yml) (O(git), O(image), O(gate), O(ssh),
    O(shield), O(run), O(agent), C(project) through O(description), O(security_class) and O(isolation)); O(config)
    sets any other key of the file.
  - terok 0.9.1 refuses a C(project.yml) with a key or value its schema does not take, and then lists the
    project as broken. The module refuses such a key or value in its options, naming the option, before anything
    is written. One that the file already has is kept as it is, with a warning.
  - O(state=absent) removes C(project.yml) (and the project's directory when nothing else is in it). It refuses,
    naming the tasks, while the project has tasks in the state root, unless O(force=true).
author:
  - terok.lifecycle contributors (@terok-ai)
options:
  name:
    description:
      - The project's name, which is also its directory's; C([a-z0-9][a-z0-9_-]*), at most 64 characters, not
        V(default) (terok reserves it).
    type: str
    required: true
    aliases: [project]
  state:
    description:
      - V(present), the file exists with the options merged in; V(absent), the file is gone.
    type: str
    choices: [present, absent]
    default: present
  config_dir:
    description:
      - terok's configuration directory on the target, an absolute path; the file is C(<config_dir>/projects/<name>/project.yml).
      - Unset, C(TEROK_CONFIG_DIR), else C(/etc/terok) for root and C(${XDG_CONFIG_HOME:-~/.config}/terok) for other
        users, as terok resolves it.
    type: path
  description:
    description:
      - C(project.description), a free text terok shows.
    type: str
  security_class:
    description:
      - C(project.security_class); terok's default is V(gatekeeping) (tasks push to a gate a human reviews),
        V(online) lets the agent push upstream.
    type: str
    choices: [gatekeeping, online]
  isolation:
    description:
      - C(project.isolation); terok's default is V(shared) (bind mounts), V(sealed) mounts nothing.
    type: str
    choices: [shared, sealed]
  git:
    description:
      - The C(git) section.
    type: dict
    suboptions:
      upstream_url:
        description: The repository cloned into the project's task containers.
        type: str
      default_branch:
        description: Its default branch, for example V(main).
        type: str
      human_name:
        description: The human's name in the git identity.
        type: str
      human_email:
        description: The human's e-mail address in the git identity.
        type: str
      authorship:
        description: How agent and human map to git author and committer.
        type: str
        choices: [agent-human, human-agent, agent, human]
  image:
    description:
      - The C(image) section, what terok builds the project's images from.
    type: dict
    suboptions:
      base_image:
        description: The base image, for example V(debian:bookworm).
        type: str
      family:
        description: The package family, when terok cannot tell it from O(image.base_image).
        type: str
        choices: [deb, rpm]
      agents:
        description: The agents to install, comma-separated, or V(all); a leading C(-) excludes one.
        type: str
      user_snippet_inline:
        description: A Dockerfile snippet added to the project's image.
        type: str
      user_snippet_file:
        description: A file with such a snippet.
        type: str
  gate:
    description:
      - The C(gate) section, the host-side git mirror the tasks clone from.
    type: dict
    suboptions:
      enabled:
        description: Whether the project has a gate (terok's default V(true)).
        type: bool
      path:
        description: Where the gate is, instead of terok's default.
        type: str
      backups:
        description: Backups of branch tips before destructive gate operations.
        type: dict
        suboptions:
          enabled:
            description: Whether they are made (terok's default V(true)).
            type: bool
          retention_days:
            description: Days they are kept, V(0) for ever (terok's default V(30)).
            type: int
  ssh:
    description:
      - The C(ssh) section.
    type: dict
    suboptions:
      use_personal:
        description: Whether terok's gate sync uses the user's own C(~/.ssh) keys instead of its vault's key only.
        type: bool
  shield:
    description:
      - The C(shield) section, the egress firewall of the project's tasks.
    type: dict
    suboptions:
      down_on_task_run:
        description: Whether the shield is down when a task's container is made.
        type: bool
      on_task_restart:
        description: What the shield does when a container restarts.
        type: str
        choices: [retain, up]
      sets:
        description:
          - The curated egress sets the tasks get; an empty list none of them. Unset in the file means every set.
        type: list
        elements: str
      allow:
        description: Further hosts the tasks may reach.
        type: list
        elements: str
      override:
        description: Break-glass entries above the shield's deny list.
        type: list
        elements: dict
        suboptions:
          host:
            description: A host, an IP address or a CIDR range.
            type: str
            required: true
          reason:
            description: Why it is there.
            type: str
            required: true
          expires:
            description: The date it ends, C(YYYY-MM-DD).
            type: str
  run:
    description:
      - The C(run) section, how terok runs the project's containers.
    type: dict
    suboptions:
      shutdown_timeout:
        description: Seconds before a stopping container is killed (terok's default V(10)).
        type: int
      gpus:
        description: V(true) or V(all) for every GPU, a vendor (V(nvidia), V(amd), V(intel)), C(vendor:N), or a list of them.
        type: raw
      memory:
        description: The memory limit, a podman size such as V(4g).
        type: str
      cpus:
        description: The CPU limit, a decimal such as V(2) or V(0.5).
        type: str
      nested_containers:
        description: Whether the tasks run containers themselves.
        type: bool
      perf:
        description: Whether C(perf) may sample inside the container.
        type: bool
      podman_args:
        description: Further C(podman run) arguments.
        type: list
        elements: str
      runtime:
        description: The OCI runtime.
        type: str
        choices: [crun, krun]
      timezone:
        description: The containers' time zone, for example V(Europe/Prague).
        type: str
  default_agent:
    description:
      - C(default_agent), the agent terok starts when none is named, for example V(claude).
    type: str
  default_provider:
    description:
      - C(default_provider), the LLM endpoint provider the agent uses.
    type: str
  agent:
    description:
      - The C(agent) section, terok's free mapping of agent settings (model, timeout, instructions), merged into
        the file's.
    type: dict
  config:
    description:
      - Further keys of C(project.yml), merged mapping into mapping before the other options (for example
        C(tasks), C(gatekeeping), C(services), C(credentials), C(run.hooks), C(default_shell)). A null value is
        written as null.
      - An option and a key of O(config) must not set the same place.
    type: dict
  purge:
    description:
      - With O(state=present), keep none of the file's keys that the options do not set.
    type: bool
    default: false
  force:
    description:
      - With O(state=absent), remove C(project.yml) even while the project has tasks. The tasks are kept; terok
        lists them no more.
    type: bool
    default: false
  root:
    description:
      - The terok state root, where O(state=absent) looks for the project's tasks; resolved as the other modules
        of the collection resolve it when unset (C(TEROK_ROOT), C(paths.root) in the terok config file, then
        C(/var/lib/terok) for root and C(${XDG_DATA_HOME:-~/.local/share}/terok) for other users).
    type: path
  executable:
    description:
      - Not used (the module runs no podman); accepted so that C(module_defaults) for the action group
        C(terok.lifecycle.terok) apply to this module too.
    type: str
    default: podman
  lock_timeout:
    description:
      - Not used (the module takes no project lock); accepted for C(module_defaults) as O(executable) is.
    type: float
    default: 30
extends_documentation_fragment:
  - terok.lifecycle.common.action_group
attributes:
  check_mode:
    support: full
    description: Nothing is written; the result and the diff say what would change.
  diff_mode:
    support: full
    description: The file's text before and after.
  idempotent:
    support: full
    description: A second run with the same options reports no change (and does not rewrite the file).
requirements:
  - PyYAML on the target (C(python3-yaml) on the Debian family, C(python3-pyyaml) on the Red Hat family).
notes:
  - terok 0.9.1 prefers C(<user projects dir>/<name>/project.yml) (C(paths.user_projects_dir) in the terok config
    file, else C(${XDG_CONFIG_HOME:-~/.config}/terok/projects)) to the file this module manages when both exist; the
    module warns when there is such a file.
  - A file the module rewrites loses its comments (it is written by PyYAML); an unchanged file is not rewritten.
  - Types are checked strictly, a boolean must be a boolean, where terok 0.9.1 also takes strings such as C(yes).
    C(run.podman_args) is checked as a list of strings only; terok also refuses there the flags it manages itself.
  - A new file gets mode C(0644), its directories C(0755) as root and C(0700) otherwise; a rewritten file keeps
    its mode.
seealso:
  - module: terok.lifecycle.terok_task
    description: Make the project's tasks.
  - module: terok.lifecycle.terok_tasks
    description: Make many tasks at once.
"""

EXAMPLES = r"""
- name: A project terok lists, with its repository and image
  terok.lifecycle.terok_project:
    name: demo
    git:
      upstream_url: https://git.example.org/team/demo.git
      default_branch: main
    image:
      base_image: debian:bookworm
    security_class: online

- name: Its tasks' egress and limits, leaving the rest of the file alone
  terok.lifecycle.terok_project:
    name: demo
    shield:
      allow: [pypi.org, files.pythonhosted.org]
    run:
      memory: 8g
      cpus: "4"
    default_agent: claude

- name: Keys without an option of their own
  terok.lifecycle.terok_project:
    name: demo
    config:
      tasks:
        name_categories: [animals]
      credentials:
        scope: project

- name: A rootless user's project (in ~/.config/terok/projects)
  terok.lifecycle.terok_project:
    name: demo
  become: true
  become_user: builder

- name: Remove the project once its tasks are gone
  terok.lifecycle.terok_project:
    name: demo
    state: absent
"""

RETURN = r"""
project:
  description: The project's name.
  returned: success
  type: str
  sample: demo
state:
  description: The state asked for.
  returned: success
  type: str
  sample: present
path:
  description: The project's C(project.yml); on a failure about a file, that file.
  returned: success, and on a failure about a file
  type: str
  sample: /etc/terok/projects/demo/project.yml
config_dir:
  description: terok's configuration directory the file is in.
  returned: success
  type: str
  sample: /etc/terok
config:
  description:
    - What the file holds after the run (in check mode, would hold), dates as C(YYYY-MM-DD) text; null with
      O(state=absent).
  returned: success
  type: dict
  sample: {"project": {"name": "demo"}, "git": {"upstream_url": "https://git.example.org/team/demo.git"}}
option:
  description: The option a failure is about, for example V(git.upstream_url) or V(config.run.memory).
  returned: failure, when the failure is about an option
  type: str
  sample: run.memory
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.terok.lifecycle.plugins.module_utils._metadata import HAS_YAML, YAML_IMPORT_ERROR
from ansible_collections.terok.lifecycle.plugins.module_utils._module_support import common_argument_spec, run_module
from ansible_collections.terok.lifecycle.plugins.module_utils._project_config import ProjectConfig, Request, argument_spec
from ansible_collections.terok.lifecycle.plugins.module_utils._run_context import RunGate

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Any, Dict


def main() -> None:
    spec = argument_spec()
    spec.update(common_argument_spec())
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=YAML_IMPORT_ERROR)

    def converge(gate: RunGate, partial: Dict[str, Any]) -> Dict[str, Any]:
        project = ProjectConfig(Request(module.params), gate)
        result = project.run()
        if module._diff:
            result["diff"] = project.diff
        return result

    run_module(module, converge, make=lambda module: RunGate(module.check_mode))


if __name__ == "__main__":
    main()
