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
  - With O(state=running) the task's container C(<project>-<mode>-<task_id>) runs from O(image), with the
    workspace at C(/workspace) and the init script (the image's C(/usr/local/bin/init-ssh-and-repo.sh), which
    role C(terok.lifecycle.terok_host) puts there from this collection's C(files/), or O(init_script)) run
    first, which clones O(code_repo) into a new task's workspace and keeps the work of a restarted one.
    The container is labelled with the task and a hash of its options.
  - Runs hold a per-project lock from reading the tasks to writing them, so concurrent runs on one host
    never create two tasks for one name or lose an update.
author:
  - terok.lifecycle contributors (@terok-ai)
extends_documentation_fragment:
  - terok.lifecycle.task_options
  - terok.lifecycle.common
  - terok.lifecycle.common.attributes
  - terok.lifecycle.common.action_group
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

- name: Run the task's container; the init script clones the repository into the workspace
  terok.lifecycle.terok_task:
    project: demo
    name: fix-auth
    state: running
    image: localhost/terok-task:latest
    code_repo: https://git.example.org/demo/app.git
    git_branch: main
    env:
      LOG_LEVEL: debug
    secret_env:
      ANTHROPIC_API_KEY: "{{ vault_anthropic_api_key }}"
  register: running

- name: Tell how to log in
  ansible.builtin.debug:
    msg: "{{ running.task.login_command }}"

- name: Run a one-shot job in mode run and record its exit code
  terok.lifecycle.terok_task:
    project: demo
    name: nightly-tests
    state: running
    mode: run
    image: localhost/terok-task:latest
    code_repo: https://git.example.org/demo/app.git
    command: [make, test]
    wait: true
    wait_timeout: 3600
  register: job
  failed_when: job.task.exit_code != 0

- name: Stop the task's container, keeping the task and its workspace
  terok.lifecycle.terok_task:
    project: demo
    name: fix-auth
    state: stopped
    stop_timeout: 30

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
      RV(task.status) (V(absent)), RV(task.archive_path) and RV(task.managed) (V(false)) are set.
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
        - A container that crashed (it exited by itself with a code other than 0; no exit code recorded) is
          V(failed), with its exit code in RV(task.exit_code), where terok 0.9.1 says V(stopped); one that a stop
          ended, or that ended with 0, is V(stopped) as in terok.
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
      description:
        - The exit code of the task's last run, the one recorded (a wait, O(wait=true)) or, where none is, that of
          a container that crashed, as podman lists it (it exited by itself with a code other than 0, such as an
          agent that crashed with no restart policy), so that RV(task.status) tells V(failed) from V(stopped).
        - Null while it runs, when it never ran, when its container ended with 0 without a wait (a graceful stop
          gives 0 too) and when a stop ended it (podman's exit codes 143 and 137, SIGTERM and SIGKILL).
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
    finished_at:
      description:
        - When the task's container last exited (podman's exit time), ISO 8601 in UTC; null while it runs,
          when it never ran, or when it has no container any more.
      type: str
    archive_path:
      description: The archive entry written by this run (V(absent), V(archived)), or the newest entry of a task that was already gone.
      type: str
      sample: /var/lib/terok/archive/demo/tasks/20261128T091502118470Z_k7m2q_fix-auth
    login_command:
      description: The command that opens a shell in the running container, null when it does not run.
      type: str
      sample: podman exec -it demo-cli-k7m2q bash
    tmux_login_command:
      description:
        - The command that attaches to the running container's tmux session C(main), making it when missing, as
          C(terok login) does (the image needs C(tmux); the terok_host role's images have it); null when it does not run.
      type: str
      sample: podman exec -it demo-cli-k7m2q tmux new-session -A -s main
    managed:
      description: Whether the task carries the collection's mark (C(managed_by=terok.lifecycle)), that is, was made by this collection.
      type: bool
      sample: true
    work_status:
      description: The agent's C(agent-config/work-status.yml) as a mapping, null when there is none.
      type: dict
    confinement:
      description:
        - How the task's container is confined and set up, as this collection made it (read from its label, so from
          the same podman listing), with the user namespace it was given; null for a container this collection did
          not make. A container made before an option existed shows that option's default.
      type: dict
      # BEGIN generated by tools/option_docs.py from _task_options.OPTIONS: edit the table, not this
      contains:
        userns:
          description: The C(--userns) mode, null for none.
          type: str
        restricted:
          description: Whether C(--security-opt no-new-privileges) was set.
          type: bool
        cap_drop:
          description: The capabilities dropped.
          type: list
          elements: str
        cap_add:
          description: The capabilities added.
          type: list
          elements: str
        memory:
          description: The memory limit, null for none.
          type: str
        cpus:
          description: The CPU limit, null for none.
          type: str
        pids_limit:
          description: The process limit.
          type: int
        network:
          description: The network mode, null for podman's default.
          type: str
        egress:
          description: The destinations the container may reach (O(egress)), null for no fence.
          type: list
          elements: str
        publish:
          description: The published ports.
          type: list
          elements: str
        user:
          description: The user the container runs as, null for the image's.
          type: str
        devices:
          description: The devices given to the container.
          type: list
          elements: str
        group_add:
          description: The groups added.
          type: list
          elements: str
        shm_size:
          description: The size of C(/dev/shm), null for podman's 64m.
          type: str
        ulimits:
          description: The resource limits set, C(NAME=SOFT[:HARD]).
          type: list
          elements: str
        tmpfs:
          description: The tmpfs mounts.
          type: list
          elements: str
        read_only:
          description: Whether the root file system is read-only.
          type: bool
        labels:
          description: The container labels given by O(labels).
          type: dict
        annotations:
          description: The annotations given by O(annotations).
          type: dict
        hostname:
          description: The container's host name, null for its name (the default).
          type: str
        timezone:
          description: The container's time zone, null for the image's.
          type: str
        dns:
          description: The DNS servers set.
          type: list
          elements: str
        healthcheck:
          description: The healthcheck (C(test) and the timings given), null for the image's.
          type: dict
        secrets:
          description: The podman secrets given, as O(secrets) names them.
          type: list
          elements: str
        restart_policy:
          description: The restart policy, null for podman's (no).
          type: str
      # END generated by tools/option_docs.py
    health:
      description:
        - The verdict of the container's healthcheck (O(healthcheck), or the image's) as the container listing
          last shows it, V(starting), V(healthy) or V(unhealthy); null without a healthcheck or a container.
      type: str
      sample: healthy
    restart_count:
      description:
        - How often podman restarted the task's container by its restart policy (O(restart_policy)) since the
          container's last start, C(RestartCount) of C(podman inspect), asked of podman in one call for the
          containers this collection made with a restart policy (the container listing does not carry it). V(0)
          for a container it made without a policy, which podman never restarts; a C(podman start) counts from
          V(0) again.
        - Null without a container, for a container this collection did not make (terok 0.9.1 gives its containers
          no restart policy), or when podman could not tell (a warning says so).
      type: int
      sample: 0
    image_id:
      description: The id of the image the task's container runs (from the same podman listing); null without a container.
      type: str
    image_outdated:
      description:
        - Whether the container's image name now points at another image (a rebuilt or pulled tag), so that
          O(terok.lifecycle.terok_task#module:recreate=true) would replace it; null when not known.
      type: bool
option:
  description:
    - The option a failure is about, for example V(ready_timeout).
  returned: failure, when the failure is about an option
  type: str
  sample: ready_timeout
path:
  description: The file or directory a failure is about.
  returned: failure, when the failure is about a file
  type: str
  sample: /var/lib/terok/core/projects/demo/tasks/k7m2q_meta.yml
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.terok.lifecycle.plugins.module_utils._converge import converge_one
from ansible_collections.terok.lifecycle.plugins.module_utils._module_support import common_argument_spec, run_module
from ansible_collections.terok.lifecycle.plugins.module_utils._spec import Spec, check_on_host
from ansible_collections.terok.lifecycle.plugins.module_utils._task_options import argument_spec as task_argument_spec

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Any, Dict

    from ansible_collections.terok.lifecycle.plugins.module_utils._run_context import RunContext


def main() -> None:
    argument_spec = common_argument_spec()
    argument_spec.update(task_argument_spec())
    module = AnsibleModule(
        argument_spec=argument_spec,
        required_one_of=[("name", "task_id")],
        required_if=[("state", "running", ["image"])],
        supports_check_mode=True,
    )

    def converge(context: RunContext, partial: Dict[str, Any]) -> Dict[str, Any]:
        spec = Spec.from_params(module.params)
        check_on_host(context.podman, [spec], items=False)
        outcome = converge_one(context, spec)
        result = {"changed": outcome.changed, "task": outcome.task}
        if module._diff:
            result["diff"] = outcome.diff
        return result

    run_module(module, converge)


if __name__ == "__main__":
    main()
