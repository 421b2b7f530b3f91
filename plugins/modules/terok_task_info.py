#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: terok_task_info
short_description: List terok tasks with their status, container and login command
version_added: 0.1.0
description:
  - Lists the terok tasks on the target, those this collection made and those terok made, with the status
    terok would show, computed from the metadata and from one C(podman ps -a --format json) call whatever
    the number of tasks.
  - Optionally lists archive entries too.
  - Where podman is missing or fails, the tasks are still listed, with a warning, as if they had no container.
  - A task whose metadata cannot be read is left out of RV(tasks) with a warning that names its file.
author:
  - terok.lifecycle contributors (@terok-ai)
options:
  project:
    description:
      - Only tasks of this project. All projects when unset.
    type: str
  name:
    description:
      - Only tasks with this name (normalised as terok normalises names).
    type: str
  task_id:
    description:
      - Only the task with this id.
    type: str
  status:
    description:
      - Only tasks whose status is one of these.
    type: list
    elements: str
    choices: [created, init, running, stopped, completed, failed, deleting, not found]
  check_images:
    description:
      - Also tell, per task, whether its container's image name now points at another image (RV(tasks[].image_outdated)).
        This lists the local images, one more podman call.
    type: bool
    default: false
  include_archived:
    description:
      - Also return the archive entries of the selected projects in RV(archived), filtered by O(name) and O(task_id).
    type: bool
    default: false
extends_documentation_fragment:
  - terok.lifecycle.common
  - terok.lifecycle.common.info_attributes
  - terok.lifecycle.common.action_group
seealso:
  - module: terok.lifecycle.terok_task
"""

EXAMPLES = r"""
- name: All tasks on the host
  terok.lifecycle.terok_task_info:
  register: all_tasks

- name: Running tasks of project demo, with the command to log in to each
  terok.lifecycle.terok_task_info:
    project: demo
    status: [running]
  register: running

- name: Print the login commands
  ansible.builtin.debug:
    msg: "{{ running.tasks | map(attribute='login_command') | list }}"

- name: A task by name, with what was archived under that name
  terok.lifecycle.terok_task_info:
    project: demo
    name: fix-auth
    include_archived: true
  register: fix_auth
"""

RETURN = r"""
tasks:
  description: The matching tasks, by project then id.
  returned: success
  type: list
  elements: dict
  contains:
    task_id:
      description: The task's id.
      type: str
      sample: k7m2q
    name:
      description: The task's name.
      type: str
      sample: fix-auth
    project:
      description: The task's project.
      type: str
      sample: demo
    mode:
      description: The mode its container runs in (V(cli), V(web), V(run) or V(toad)), null until it first runs.
      type: str
      sample: cli
    status:
      description: The status as terok computes it, one of V(created), V(init), V(running), V(stopped), V(completed), V(failed), V(deleting), V(not found).
      type: str
      sample: running
    container_name:
      description: The task's container name C(<project>-<mode>-<task_id>), null while the task has no mode.
      type: str
      sample: demo-cli-k7m2q
    container_state:
      description: The state podman reports for the container, null when there is none (or podman is missing).
      type: str
      sample: running
    exit_code:
      description:
        - The exit code recorded for the task's last run or, where none is, that of a container that crashed.
          See RV(terok.lifecycle.terok_task#module:task.exit_code).
      type: int
    workspace:
      description: The host path of the task's workspace.
      type: str
      sample: /var/lib/terok/sandbox-live/tasks/demo/k7m2q/workspace-dangerous
    created_at:
      description: When the task was created, ISO 8601 in UTC.
      type: str
      sample: '2026-11-28T09:15:02.118470+00:00'
    ready_at:
      description: When the task's init script finished, null before that.
      type: str
    finished_at:
      description:
        - When the task's container last exited, ISO 8601 in UTC (from the same podman listing); null while it
          runs or when it has no container. Playbook C(cleanup.yml) measures a finished task's age from it.
      type: str
    archive_path:
      description: Always null for a live task.
      type: str
    login_command:
      description: The command that opens a shell in the running container, null when it does not run.
      type: str
      sample: podman exec -it demo-cli-k7m2q bash
    tmux_login_command:
      description:
        - The command that attaches to the running container's tmux session C(main), making it when missing, as
          C(terok login) does; null when it does not run.
      type: str
      sample: podman exec -it demo-cli-k7m2q tmux new-session -A -s main
    managed:
      description: Whether this collection made the task (C(managed_by=terok.lifecycle) in its metadata).
      type: bool
    work_status:
      description: The agent's C(agent-config/work-status.yml) as a mapping, null when there is none.
      type: dict
    confinement:
      description:
        - How the task's container is confined, as this collection made it; null for a container it did not make.
          Its keys are those of RV(terok.lifecycle.terok_task#module:task.confinement).
      type: dict
    health:
      description:
        - The verdict of the container's healthcheck as the container listing shows it (V(starting), V(healthy),
          V(unhealthy)); null without a healthcheck or a container. See RV(terok.lifecycle.terok_task#module:task.health).
      type: str
    restart_count:
      description:
        - How often podman restarted the task's container by its restart policy since the container's last start
          (C(podman inspect)'s C(RestartCount)). See RV(terok.lifecycle.terok_task#module:task.restart_count).
      type: int
    image_id:
      description: The id of the image the task's container runs (from the same podman listing); null without a container.
      type: str
    image_outdated:
      description:
        - Whether the container's image name now points at another image (a rebuilt or pulled tag); asked with
          O(check_images=true) (one more podman call), null otherwise or when not known.
      type: bool
archived:
  description: The archive entries of the selected projects, newest first.
  returned: when O(include_archived=true)
  type: list
  elements: dict
  contains:
    task_id:
      description: The archived task's id.
      type: str
    name:
      description: The archived task's name.
      type: str
    project:
      description: The archived task's project.
      type: str
    mode:
      description: The mode the task last ran in.
      type: str
    exit_code:
      description: The exit code recorded for the task.
      type: int
    created_at:
      description: When the task was created.
      type: str
    archived_at:
      description: When it was archived, as a UTC stamp C(%Y%m%dT%H%M%S%fZ).
      type: str
      sample: 20261128T091502118470Z
    archive_path:
      description: The archive entry's directory.
      type: str
    managed:
      description: Whether this collection made the task.
      type: bool
paths:
  description: The state root the module resolved on the target and the two trees below it.
  returned: success
  type: dict
  contains:
    root:
      description: The state root; archive entries live in C(<root>/archive).
      type: str
      sample: /var/lib/terok
    state_dir:
      description: The metadata tree (C(<root>/core), or C(TEROK_STATE_DIR)).
      type: str
      sample: /var/lib/terok/core
    live_dir:
      description: The task directories' tree (C(<root>/sandbox-live), or C(TEROK_SANDBOX_LIVE_DIR)).
      type: str
      sample: /var/lib/terok/sandbox-live
option:
  description:
    - The option a failure is about, for example V(ready_timeout).
  returned: failure, when the failure is about an option
  type: str
  sample: status
path:
  description: The file or directory a failure is about.
  returned: failure, when the failure is about a file
  type: str
  sample: /var/lib/terok/core/projects/demo/tasks/k7m2q_meta.yml
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.terok.lifecycle.plugins.module_utils._module_support import common_argument_spec, run_module
from ansible_collections.terok.lifecycle.plugins.module_utils._query import Query, list_tasks
from ansible_collections.terok.lifecycle.plugins.module_utils._status import STATUSES

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Any, Dict

    from ansible_collections.terok.lifecycle.plugins.module_utils._run_context import RunContext


def main() -> None:
    argument_spec = common_argument_spec()
    argument_spec.update(
        project={"type": "str"},
        name={"type": "str"},
        task_id={"type": "str"},
        status={"type": "list", "elements": "str", "choices": list(STATUSES)},
        include_archived={"type": "bool", "default": False},
        check_images={"type": "bool", "default": False},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)

    def query(context: RunContext, partial: Dict[str, Any]) -> Dict[str, Any]:
        wanted = Query.from_params(module.params)
        tasks, archived = list_tasks(context, wanted)
        result: Dict[str, Any] = {"changed": False, "tasks": tasks, "paths": context.layout.as_dict()}
        if wanted.include_archived:
            result["archived"] = archived
        return result

    run_module(module, query)


if __name__ == "__main__":
    main()
