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
        a O(task_id) that does not exist is an error with O(state=present), V(running) and V(stopped).
    type: str
  state:
    description:
      - V(present), the task exists (it is created when missing).
      - V(running), the task exists and its container runs. A missing container is created, a stopped one started
        again (its workspace keeps local work; only a new task's workspace is reset to the remote HEAD). With
        O(wait_ready) the module waits for the init script's C(>> init complete) line and records C(ready_at);
        with O(wait) it then waits for the container to exit and records its exit code.
      - V(stopped), the task exists and none of its containers runs; running ones get C(podman stop --time
        O(stop_timeout)) and their log is saved to C(logs/container.log). A task that never ran is stopped already.
      - V(absent), the task is gone. Its container logs are captured, its metadata and logs archived unless
        O(archive=false), every mode's container removed, then its directory and metadata removed. Each step is
        best-effort, as in C(terok task delete); a failed step becomes a warning.
      - V(archived), like V(absent), but the archive entry is required, if it cannot be written nothing is removed
        and the module fails. A task that is gone and has an archive entry is V(archived) already.
    type: str
    choices: [present, running, stopped, absent, archived]
    default: present
  archive:
    description:
      - Whether O(state=absent) writes an archive entry (C(<root>/archive/<project>/tasks/<UTC stamp>_<id>_<name>/))
        before removing the task. Cannot be V(false) with O(state=archived).
    type: bool
    default: true
  mode:
    description:
      - The terok mode the container runs in; it is part of the container name.
      - By default the mode the task already ran in, else V(cli).
      - A task keeps the mode it first ran in; asking for another fails.
    type: str
    choices: [cli, web, run, toad]
  image:
    description:
      - The container image, such as the one role C(terok_host) builds (C(localhost/terok-task:latest)).
      - Required with O(state=running).
    type: str
  command:
    description:
      - The command the init script hands over to once the workspace is ready.
      - By default C(/bin/bash) with its standard input held open, which keeps the container up so that
        RV(task.login_command) opens a shell in it.
      - A list is the argv as it is. A string is split into words as a POSIX shell splits them (quotes
        group words, no variable or glob expansion), so V(echo "hello world") runs C(echo) with one argument.
    type: raw
  init_script:
    description:
      - A path on the target of the init script, bind-mounted read-only over C(/usr/local/bin/init-ssh-and-repo.sh)
        in the container. By default the image's own script at that path runs.
    type: path
  code_repo:
    description:
      - The git repository the init script clones into a new task's workspace (C(CODE_REPO)).
    type: str
  git_branch:
    description:
      - The branch to check out (C(GIT_BRANCH)); the default branch when the remote has no such branch.
    type: str
  clone_from:
    description:
      - A repository to seed the first clone from, such as a local gate mirror (C(CLONE_FROM)); origin is
        pointed at O(code_repo) afterwards.
    type: str
  git_reset_mode:
    description:
      - What a restart does with local work (C(GIT_RESET_MODE)). V(none) keeps it; V(hard) and V(soft) reset
        to the remote branch O(git_branch).
    type: str
    choices: [none, hard, soft]
  external_remote_url:
    description:
      - A URL the init script adds as remote C(external) (C(EXTERNAL_REMOTE_URL)).
    type: str
  ssh_key_name:
    description:
      - The name of an SSH key in the container user's C(~/.ssh) whose permissions the init script fixes (C(SSH_KEY_NAME)).
      - A file name, not a secret, so it is shown in results and logs like the other options.
    type: str
  env:
    description:
      - More environment variables for the container, plain settings shown in results, diffs and logs, as
        C(env) is in containers.podman and community.docker. Put secrets in O(secret_env) instead.
      - A value is a string, a number or a boolean (passed as V(true) or V(false), as YAML writes them);
        a list or a mapping is refused, naming its key.
      - The variables the module sets itself (C(REPO_ROOT), C(TASK_ID), C(PROJECT_NAME) and those of the
        options above) cannot be given here.
    type: dict
  secret_env:
    description:
      - Environment variables whose values are secrets, such as API keys. They are in no result, no log
        (Ansible's C(no_log)), no podman command line, no file the module leaves behind, and not in
        C(podman inspect). Each value becomes a podman secret (C(podman secret create) reading it from
        standard input), mounted at C(/run/secrets/<NAME>) in the container, and the init script exports it
        to the container command (variable C(TEROK_SECRET_ENV) lists the names). The secrets are removed with
        the container.
      - The image's init script must support this (the collection's C(files/init-ssh-and-repo.sh) does); a
        value ends without trailing newlines, as shell command substitution leaves it.
      - The container options hash covers the values through an HMAC-SHA256 under a per-host key
        (C(<root>/.terok-lifecycle-secrets.key), mode 0600, drawn on first use), so the hash, a container
        label, does not let anyone check guesses of a secret.
      - Ansible hides every occurrence of a C(no_log) value in the whole result, so a short secret such as
        V(1) would also hide that text elsewhere; give real secrets only.
      - The same rules for names apply as for O(env); a variable may not be in both.
    type: dict
  volumes:
    description:
      - More bind mounts, each C(HOST_PATH:CONTAINER_PATH[:OPTIONS]) as for C(podman run --volume), for example
        a local repository that O(code_repo) names.
    type: list
    elements: str
  recreate:
    description:
      - Replace the container when it was made from other options (a different hash label) than these.
        Without it such a container is kept, with a warning.
    type: bool
    default: false
  recreate_foreign:
    description:
      - With O(recreate=true), also replace a container this collection did not make (no options hash label; terok
        made it, confined by terok-sandbox). Without it such a container is never replaced, only warned about, so
        that a recreate cannot silently weaken what terok set up.
    type: bool
    default: false
  userns:
    description:
      - The user namespace, as C(podman run --userns) takes it (terok's C(--userns)), for example
        V(keep-id:uid=1000,gid=1000), V(keep-id), V(auto) or V(host).
      - By default, as terok does, V(keep-id:uid=1000,gid=1000) when podman runs rootless (the image's user 1000,
        C(dev) in terok's images, is the host user, who then owns what the agent writes), and none when it runs as
        root. Whether podman is rootless is asked once per run (C(podman info)), only when a container is made.
    type: str
  restricted:
    description:
      - Run the container with C(--security-opt no-new-privileges), as terok does for a restricted task, and record
        C(unrestricted) in C(_meta.yml) the way terok records it (C(unrestricted=false) by default).
    type: bool
    default: true
  cap_drop:
    description:
      - Capabilities to drop (C(--cap-drop)). By default V(NET_ADMIN) and V(NET_RAW), as terok's shield drops them;
        give an empty list to keep podman's defaults.
    type: list
    elements: str
  cap_add:
    description:
      - Capabilities to add (C(--cap-add)).
    type: list
    elements: str
  memory:
    description:
      - The memory limit (C(--memory)), for example V(4g); none by default, as terok.
    type: str
  cpus:
    description:
      - The CPU limit (C(--cpus)), for example V(2); none by default, as terok.
    type: float
  pids_limit:
    description:
      - The most processes the container may run (C(--pids-limit)), a finite default against fork bombs.
    type: int
    default: 4096
  network:
    description:
      - The network (C(--network)), one of podman's modes (V(bridge), V(none), V(host), V(slirp4netns), V(pasta)) or a
        network's name. By default podman's own choice; a rootless user on a host without C(/dev/net/tun) needs
        V(none) or V(host).
    type: str
  publish:
    description:
      - Ports to publish (C(--publish)), for example V(8080:80). With O(mode=web) or O(mode=toad) the host port of the
        first one is recorded as C(web_port) in C(_meta.yml), as terok records it.
    type: list
    elements: str
  user:
    description:
      - The user to run as (C(--user)), for example V(dev) or V(1000:1000); by default the image's.
    type: str
  wait_ready:
    description:
      - Wait for the init script's C(>> init complete) line and record C(ready_at) (status V(running); V(init) before).
      - A container that exits before that line fails the module with its last log lines.
    type: bool
    default: true
  ready_timeout:
    description:
      - Seconds to wait for readiness; the module fails when they run out and leaves the container running.
    type: int
    default: 300
  wait:
    description:
      - After readiness, wait for the container to exit and record its exit code (for O(mode=run) tasks).
      - A job that already ran to its end with the same options, its exit code recorded, is left as it is, so a
        second run is V(ok); O(recreate=true) with other options, or O(state=absent), makes room for a new run.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for the exit with O(wait). When they run out the module fails and records no exit code;
        an exit code 124 of the container itself is recorded as 124.
    type: int
    default: 7200
  stop_timeout:
    description:
      - Seconds C(podman stop) gives the container before it kills it, with O(state=stopped).
    type: int
    default: 10
  only_if_status:
    description:
      - With O(state=absent) or O(state=archived), remove the task only when its status is one of these,
        decided under the project lock, so that a task another run restarted in between is not removed while it
        runs. A task in another status is kept, with a warning, and the module reports no change.
    type: list
    elements: str
    choices: [created, init, running, stopped, completed, failed, deleting, not found]
extends_documentation_fragment:
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
        - How the task's container is confined, as this collection made it (read from its label, so from the same
          podman listing), with the user namespace it was given; null for a container this collection did not make.
      type: dict
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
        publish:
          description: The published ports.
          type: list
          elements: str
        user:
          description: The user the container runs as, null for the image's.
          type: str
    image_id:
      description: The id of the image the task's container runs (from the same podman listing); null without a container.
      type: str
    image_outdated:
      description:
        - Whether the container's image name now points at another image (a rebuilt or pulled tag), so that
          O(terok.lifecycle.terok_task#module:recreate=true) would replace it; null when not known.
      type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.terok.lifecycle.plugins.module_utils._converge import converge_one
from ansible_collections.terok.lifecycle.plugins.module_utils._module_support import (
    common_argument_spec,
    run_module,
    task_argument_spec,
)
from ansible_collections.terok.lifecycle.plugins.module_utils._spec import Spec


def main():
    argument_spec = common_argument_spec()
    argument_spec.update(task_argument_spec())
    module = AnsibleModule(
        argument_spec=argument_spec,
        required_one_of=[("name", "task_id")],
        required_if=[("state", "running", ["image"])],
        supports_check_mode=True,
    )

    def converge(context, partial):
        outcome = converge_one(context, Spec.from_params(module.params))
        result = {"changed": outcome.changed, "task": outcome.task}
        if module._diff:
            result["diff"] = outcome.diff
        return result

    run_module(module, converge)


if __name__ == "__main__":
    main()
