#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: terok_task
short_description: Create, rename, archive and delete one terok task
version_added: 0.1.0
description:
  - Manages one terok task on the target, a workspace directory holding a git checkout, its
    C(.new-task-marker), a README, and the two metadata files C(<id>_dossier.json) and C(<id>_meta.yml),
    in the on-disk format of terok 0.9, so that the terok CLI sees the tasks this module makes and this
    module manages the tasks terok makes.
  - The task is found by O(task_id), or by O(project) and O(name). Names are not unique in terok; when
    several tasks of the project carry O(name) the module fails and lists their ids.
  - Giving O(task_id) and a O(name) that differs from the task's name renames the task.
  - Runs hold a per-project lock from reading the tasks to writing them, so concurrent runs on one host
    never create two tasks for one name or lose an update.
author:
  - terok.lifecycle contributors
options:
  project:
    description:
      - The terok project of the task, matching C([a-z0-9][a-z0-9_-]*); C(default) is reserved.
    type: str
    required: true
  name:
    description:
      - The task's name. It is normalised as terok normalises names (see the notes); the normalised name
        must not be empty nor start with C(-).
      - With O(task_id), a name that differs from the task's current name renames the task.
      - One of O(name) and O(task_id) is required.
    type: str
  task_id:
    description:
      - The task's id, 5 characters such as C(k7m2q). Ids are drawn by the module when it creates a task;
        a O(task_id) that does not exist is an error with O(state=present).
    type: str
  state:
    description:
      - V(present), the task exists (it is created when missing).
      - V(absent), the task is gone. Its container logs are captured, its metadata and logs archived unless
        O(archive=false), every mode's container removed, then its directory and metadata removed. Each step is
        best-effort, as in C(terok task delete); a failed step becomes a warning.
      - V(archived), like V(absent), but the archive entry is required, if it cannot be written nothing is removed
        and the module fails. A task that is gone and has an archive entry is V(archived) already.
    type: str
    choices: [present, absent, archived]
    default: present
  archive:
    description:
      - Whether O(state=absent) writes an archive entry (C(<root>/archive/<project>/tasks/<UTC stamp>_<id>_<name>/))
        before removing the task. Cannot be V(false) with O(state=archived).
    type: bool
    default: true
extends_documentation_fragment:
  - terok.lifecycle.common
  - terok.lifecycle.common.attributes
seealso:
  - module: terok.lifecycle.terok_task_info
"""

EXAMPLES = r"""
- name: Make sure the task fix-auth exists in project demo
  terok.lifecycle.terok_task:
    project: demo
    name: fix-auth
  register: task

- name: Show where its workspace is
  ansible.builtin.debug:
    msg: "{{ task.task.task_id }} lives in {{ task.task.workspace }}"

- name: Rename a task by id
  terok.lifecycle.terok_task:
    project: demo
    task_id: "{{ task.task.task_id }}"
    name: fix-auth-v2

- name: Delete a task, keeping an archive entry of its metadata and logs
  terok.lifecycle.terok_task:
    project: demo
    name: fix-auth-v2
    state: absent

- name: Archive a task, failing without removing anything if the archive cannot be written
  terok.lifecycle.terok_task:
    project: demo
    name: refactor-db
    state: archived

- name: Use a state root of its own instead of terok's default
  terok.lifecycle.terok_task:
    project: demo
    name: scratch
    root: /srv/terok
"""

RETURN = r"""
task:
  description:
    - The task after the run. For a task that is gone, only RV(task.task_id), RV(task.name), RV(task.project),
      RV(task.status) (V(absent)) and RV(task.archive_path) are set.
    - In check mode, a task that would be created has no RV(task.task_id) and no RV(task.workspace) yet.
  returned: success
  type: dict
  contains:
    task_id:
      description: The task's id.
      type: str
      sample: k7m2q
    name:
      description: The task's (normalised) name.
      type: str
      sample: fix-auth
    project:
      description: The task's project.
      type: str
      sample: demo
    mode:
      description: The mode the task's container runs in (V(cli), V(web), V(run) or V(toad)), null until it first runs.
      type: str
      sample: cli
    status:
      description:
        - The status as terok computes it, one of V(created), V(init), V(running), V(stopped), V(completed),
          V(failed), V(deleting), V(not found); V(absent) for a task that is gone.
      type: str
      sample: created
    container_name:
      description: The task's container name C(<project>-<mode>-<task_id>), null while the task has no mode.
      type: str
      sample: demo-cli-k7m2q
    container_state:
      description: The state podman reports for the container (V(running), V(exited), V(created), ...), null when there is none.
      type: str
      sample: running
    exit_code:
      description: The exit code recorded for the task's last run, null when none was recorded.
      type: int
      sample: 0
    workspace:
      description: The host path of the task's workspace, mounted in the container at C(/workspace).
      type: str
      sample: /var/lib/terok/sandbox-live/tasks/demo/k7m2q/workspace-dangerous
    created_at:
      description: When the task was created, ISO 8601 in UTC.
      type: str
      sample: '2026-11-28T09:15:02.118470+00:00'
    ready_at:
      description: When the task's init script finished, ISO 8601 in UTC; null before that.
      type: str
    archive_path:
      description: The archive entry written by this run (V(absent), V(archived)), or the newest entry of a task that was already gone.
      type: str
      sample: /var/lib/terok/archive/demo/tasks/20261128T091502118470Z_k7m2q_fix-auth
    login_command:
      description: The command that opens a shell in the running container, null when it does not run.
      type: str
      sample: podman exec -it demo-cli-k7m2q bash
    managed:
      description: Whether the task carries the collection's mark (C(managed_by=terok.lifecycle)), that is, was made by this collection.
      type: bool
      sample: true
    work_status:
      description: The agent's C(agent-config/work-status.yml) as a mapping, null when there is none.
      type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.terok.lifecycle.plugins.module_utils.errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils.lifecycle import STATES, Spec, converge_one
from ansible_collections.terok.lifecycle.plugins.module_utils.module_support import (
    common_argument_spec,
    fail,
    finish,
    make_runtime,
)


def main():
    argument_spec = common_argument_spec()
    argument_spec.update(
        project={"type": "str", "required": True},
        name={"type": "str"},
        task_id={"type": "str"},
        state={"type": "str", "default": "present", "choices": list(STATES)},
        archive={"type": "bool", "default": True},
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        required_one_of=[("name", "task_id")],
        supports_check_mode=True,
    )
    runtime = make_runtime(module)
    try:
        spec = Spec.from_params(module.params)
        outcome = converge_one(runtime, spec)
    except TerokError as exc:
        fail(module, runtime, exc)
    result = {"changed": outcome.changed, "task": outcome.task}
    if module._diff:
        result["diff"] = outcome.diff
    finish(module, runtime, **result)


if __name__ == "__main__":
    main()
