#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: terok_tasks
short_description: Converge many terok tasks in one call
version_added: 0.1.0
description:
  - Brings every task of O(tasks) to its state in one module call, as M(terok.lifecycle.terok_task) does for one,
    but with one lock and one read of the metadata per project and at most one podman listing for the whole call.
    A loop of M(terok.lifecycle.terok_task) costs a module call per task; this does not.
  - Every item is validated before anything is done; a bad item fails the whole call, naming C(tasks[i]) and the
    option (for example C(tasks[3].state)), and nothing is written.
  - Projects are converged one after another in name order. Within a project, the container work of the items
    overlaps (see O(concurrency)) in starting, recreating, stopping and removing containers, and waiting for their
    readiness and exits. Decisions and metadata writes are made one item at a time, in the order of O(tasks), under
    the project's lock, which is released while every item in progress waits.
  - When an item fails, its result says why (C(failed), C(msg)), no further item starts, the items already started
    finish, and the call fails naming the first failed item.
  - With O(exclusive=true), the tasks of the listed projects that this collection made (C(managed_by=terok.lifecycle))
    and that no item names are archived; tasks that terok made by hand are never touched.
author:
  - terok.lifecycle contributors (@terok-ai)
options:
  tasks:
    description:
      - The tasks, each with the options of M(terok.lifecycle.terok_task) for one task.
      - Each sub-option takes the type and the values of the terok_task option of the same name. The collection
        converts and checks them itself, so that an error names the item, for example C(tasks[3].wait); that is
        why they are documented as V(raw) here.
    type: list
    elements: dict
    required: true
    suboptions:
      project:
        description: The task's project, required in every item. See M(terok.lifecycle.terok_task).
        type: raw
      name:
        description: The task's name; one of O(tasks[].name) and O(tasks[].task_id) is required.
        type: raw
      task_id:
        description: The task's id.
        type: raw
      state:
        description:
          - The state of the task, one of V(present), V(running), V(stopped), V(absent), V(archived).
            See M(terok.lifecycle.terok_task).
        type: raw
        default: present
      archive:
        description: Whether V(absent) writes an archive entry first.
        type: raw
        default: true
      mode:
        description: The container mode, one of V(cli), V(web), V(run), V(toad); by default the task's own, else V(cli).
        type: raw
      image:
        description: The container image for V(running); defaults to the top-level O(image).
        type: raw
      command:
        description: The command the init script hands over to, a list of words or a string split as a shell splits it.
        type: raw
      init_script:
        description: A target path of an init script to mount over the image's.
        type: raw
      code_repo:
        description: The repository the init script clones (C(CODE_REPO)).
        type: raw
      git_branch:
        description: The branch to check out (C(GIT_BRANCH)).
        type: raw
      clone_from:
        description: A repository to seed the first clone from (C(CLONE_FROM)).
        type: raw
      git_reset_mode:
        description: What a restart does with local work (C(GIT_RESET_MODE)), one of V(none), V(hard), V(soft).
        type: raw
      external_remote_url:
        description: A URL added as remote C(external) (C(EXTERNAL_REMOTE_URL)).
        type: raw
      ssh_key_name:
        description: An SSH key name whose permissions the init script fixes (C(SSH_KEY_NAME)).
        type: raw
      env:
        description: More environment variables for the container, plain settings shown in results.
        type: raw
      secret_env:
        description:
          - Environment variables whose values are secrets, delivered as podman secrets and never shown.
            See O(terok.lifecycle.terok_task#module:secret_env).
        type: raw
      volumes:
        description: More bind mounts, C(HOST_PATH:CONTAINER_PATH[:OPTIONS]).
        type: raw
      recreate:
        description: Replace a container made from other options.
        type: raw
        default: false
      recreate_foreign:
        description: Also replace a container this collection did not make. See M(terok.lifecycle.terok_task).
        type: raw
        default: false
      userns:
        description: The user namespace (C(--userns)); by default keep-id:uid=1000,gid=1000 when podman is rootless.
        type: raw
      restricted:
        description: Run with C(--security-opt no-new-privileges).
        type: raw
        default: true
      cap_drop:
        description: Capabilities to drop; by default NET_ADMIN and NET_RAW.
        type: raw
      cap_add:
        description: Capabilities to add.
        type: raw
      memory:
        description: The memory limit (C(--memory)).
        type: raw
      cpus:
        description: The CPU limit (C(--cpus)).
        type: raw
      pids_limit:
        description: The process limit (C(--pids-limit)).
        type: raw
        default: 4096
      network:
        description: The network (C(--network)).
        type: raw
      publish:
        description: Ports to publish (C(--publish)).
        type: raw
      user:
        description: The user to run as (C(--user)).
        type: raw
      wait_ready:
        description: Wait for the init script's C(>> init complete) line and record C(ready_at).
        type: raw
        default: true
      ready_timeout:
        description: Seconds to wait for readiness.
        type: raw
        default: 300
      wait:
        description: Wait for the container to exit and record its exit code.
        type: raw
        default: false
      wait_timeout:
        description: Seconds to wait for the exit.
        type: raw
        default: 7200
      stop_timeout:
        description: Seconds C(podman stop) gives the container with V(stopped).
        type: raw
        default: 10
      only_if_status:
        description:
          - With V(absent) or V(archived), remove the task only when its status is one of these (checked under the
            lock). See O(terok.lifecycle.terok_task#module:only_if_status).
        type: raw
  image:
    description:
      - The container image of every item that does not set its own.
    type: str
  exclusive:
    description:
      - Archive the collection-made tasks of the listed projects that no item names.
    type: bool
    default: false
  concurrency:
    description:
      - How many container starts (C(podman run), C(start), C(unpause)) of one project's items run at once.
        Stops, removals, log captures and the waits for readiness and exits mostly wait on podman and are not
        limited by it, so N agents cost about as long as the slowest.
      - The default suits a small host (2 cores); a larger host can take more, since a C(podman run) mostly waits for
        storage and the network set-up. V(1) converges one item after another.
      - Check mode always predicts one item after another (it waits for nothing).
    type: int
    default: 4
extends_documentation_fragment:
  - terok.lifecycle.common
  - terok.lifecycle.common.attributes
  - terok.lifecycle.common.action_group
seealso:
  - module: terok.lifecycle.terok_task
  - module: terok.lifecycle.terok_task_info
"""

EXAMPLES = r"""
- name: Three tasks in project demo, one of them running
  terok.lifecycle.terok_tasks:
    image: localhost/terok-task:latest
    tasks:
      - project: demo
        name: fix-auth
        state: running
        code_repo: https://git.example.org/demo/app.git
      - project: demo
        name: refactor-db
      - project: demo
        name: docs
        state: stopped
  register: converged

- name: Show which items changed
  ansible.builtin.debug:
    msg: "{{ converged.tasks | selectattr('changed') | map(attribute='name') | list }}"

- name: Agents started side by side, eight container actions at a time
  terok.lifecycle.terok_tasks:
    image: localhost/terok-task:latest
    concurrency: 8
    tasks: "{{ agents | map('combine', {'project': 'demo', 'state': 'running'}) | list }}"
  vars:
    agents: [{name: agent-1}, {name: agent-2}, {name: agent-3}, {name: agent-4}]

- name: Exactly these tasks in project demo; archive the other tasks this collection made there
  terok.lifecycle.terok_tasks:
    exclusive: true
    tasks:
      - project: demo
        name: fix-auth
      - project: demo
        name: docs
"""

RETURN = r"""
tasks:
  description:
    - One result per item of O(tasks), in the same order, shaped as RV(terok.lifecycle.terok_task#module:task)
      with a key C(changed) more.
    - When the call fails, the items that finished are returned, a failed item as its identity with C(failed),
      C(msg) and C(option), and the items not started are null.
  returned: always
  type: list
  elements: dict
  contains:
    changed:
      description: Whether this item changed anything.
      type: bool
    failed:
      description: Present and true on an item that failed (the call fails too).
      type: bool
      returned: on an item that failed
    msg:
      description: Why the item failed.
      type: str
      returned: on an item that failed
    option:
      description: The option the failure is about, where one is.
      type: str
      returned: on an item that failed, when known
    task_id:
      description: The task's id; null for a task that check mode would create.
      type: str
    name:
      description: The task's name.
      type: str
    project:
      description: The task's project.
      type: str
    mode:
      description: The task's container mode, null until it first runs.
      type: str
    status:
      description: The status as terok computes it; V(absent) for a task that is gone.
      type: str
    container_name:
      description: The container name C(<project>-<mode>-<task_id>).
      type: str
    container_state:
      description: The state podman reports for the container.
      type: str
    exit_code:
      description: The recorded exit code.
      type: int
    workspace:
      description: The host path of the workspace.
      type: str
    created_at:
      description: When the task was created.
      type: str
    ready_at:
      description: When the init script finished.
      type: str
    finished_at:
      description: When the container last exited, null while it runs or without a container.
      type: str
    archive_path:
      description: The archive entry of a removed task.
      type: str
    login_command:
      description: The command that opens a shell in the running container.
      type: str
    tmux_login_command:
      description: The command that attaches to the running container's tmux session C(main), as C(terok login) does.
      type: str
    managed:
      description: Whether this collection made the task.
      type: bool
    work_status:
      description: The agent's C(work-status.yml).
      type: dict
    confinement:
      description:
        - How the task's container is confined, as this collection made it; null for a container it did not make.
          Its keys are those of RV(terok.lifecycle.terok_task#module:task.confinement).
      type: dict
    image_id:
      description: The id of the image the task's container runs (from the same podman listing); null without a container.
      type: str
    image_outdated:
      description:
        - Whether the container's image name now points at another image (a rebuilt or pulled tag), so that
          O(terok.lifecycle.terok_task#module:recreate=true) would replace it; null when not known.
      type: bool
removed:
  description: The tasks that O(exclusive=true) archived, shaped as the items of RV(tasks).
  returned: success
  type: list
  elements: dict
  sample:
    - {task_id: k7m2q, name: old-spike, project: demo, status: absent, changed: true,
       archive_path: /var/lib/terok/archive/demo/tasks/20261128T091502118470Z_k7m2q_old-spike}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.terok.lifecycle.plugins.module_utils._converge import Results, converge_many
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._module_support import (
    common_argument_spec,
    run_module,
    task_argument_spec,
    typed_items,
)
from ansible_collections.terok.lifecycle.plugins.module_utils._spec import specs_from_items


def main():
    argument_spec = common_argument_spec()
    argument_spec.update(
        tasks={
            "type": "list",
            "elements": "dict",
            "required": True,
            "options": task_argument_spec(items=True),
        },
        image={"type": "str"},
        exclusive={"type": "bool", "default": False},
        concurrency={"type": "int", "default": 4},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)

    def converge(context, partial):
        # what a failure returns: the items converged so far, null for the others
        results = Results(len(module.params["tasks"]))
        partial.update(tasks=results.tasks, removed=results.removed)
        if module.params["concurrency"] < 1:
            raise TerokError("concurrency must be 1 or more, got %d" % module.params["concurrency"], option="concurrency")
        specs = specs_from_items(typed_items(module.params["tasks"]), module.params)
        converge_many(context, specs, exclusive=module.params["exclusive"], results=results,
                      concurrency=module.params["concurrency"])
        output = {"changed": results.changed, "tasks": results.tasks, "removed": results.removed}
        if module._diff:
            output["diff"] = [diff for diff in results.diffs if diff and diff.get("before") != diff.get("after")]
        return output

    run_module(module, converge)


if __name__ == "__main__":
    main()
