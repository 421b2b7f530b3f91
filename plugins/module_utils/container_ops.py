# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A task's container: start it (creating or recreating it), wait for readiness or exit, stop it."""

from __future__ import annotations

import os
import shutil
import tempfile

from ansible_collections.terok.lifecycle.plugins.module_utils.container_spec import READY_LINE, SPEC_LABEL
from ansible_collections.terok.lifecycle.plugins.module_utils.errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils.naming import container_name, container_names
from ansible_collections.terok.lifecycle.plugins.module_utils.podman import PodmanError
from ansible_collections.terok.lifecycle.plugins.module_utils.task_ops import capture_logs, update_meta

# States in which a container still runs its processes and `podman stop` applies.
ACTIVE_STATES = ("running", "paused", "stopping")


def check_mode_kept(task, mode):
    """A task keeps the mode it first ran in, as terok enforces."""
    if task.mode and task.mode != mode:
        raise TerokError(
            "task %s already ran in mode %s; a task keeps its first mode, so it cannot run in mode %s"
            % (task.task_id, task.mode, mode),
            option="mode",
        )


def run_mode(task, spec):
    """The mode a start uses: the one asked for, else the task's own, else cli."""
    mode = spec.mode or task.mode or "cli"
    check_mode_kept(task, mode)
    return mode


def plan_running(runtime, task, spec):
    """Decide what ``state=running`` needs: (action, container name, warning or None).

    Actions: ``none`` (runs), ``done`` (a waited-for job that already ran to its end),
    ``create``, ``start``, ``unpause``, ``recreate``.
    """
    name = container_name(task.project, run_mode(task, spec), task.task_id)
    current = runtime.containers(required=True).get(name)
    digest = spec.container.digest()
    if current is None:
        return "create", name, None
    differs = current.labels.get(SPEC_LABEL) != digest
    if differs and spec.recreate:
        return "recreate", name, None
    warning = None
    if differs:
        warning = (
            "container %s was made from other options than these (image, command, env, volumes or init "
            "script); it is kept as it is. Set recreate=true to replace it" % name
        )
    if current.state == "running":
        return "none", name, warning
    if spec.wait and not differs and current.state == "exited" and task.meta.get("exit_code") is not None:
        return "done", name, None  # the job ran to its end with these options: converged
    if current.state == "paused":
        return "unpause", name, warning
    return "start", name, warning


def _write_env_file(env):
    """A private temp file with the container's environment; the caller removes its directory."""
    directory = tempfile.mkdtemp(prefix="terok-env-")
    path = os.path.join(directory, "env")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        for key, value in env.items():
            handle.write("%s=%s\n" % (key, value))
    return directory, path


def _create(runtime, task, spec, name):
    layout = runtime.layout
    mode = run_mode(task, spec)
    directory, env_file = _write_env_file(spec.container.environment(task.project, task.task_id))
    try:
        args = spec.container.run_args(
            name,
            task.project,
            task.task_id,
            task.name,
            mode,
            layout.workspace(task.project, task.task_id),
            layout.dossier_path(task.project, task.task_id),
            env_file,
        )
        rc, out, err = runtime.podman.run(*args)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    if rc != 0:
        detail = (err or out).strip()
        runtime.podman.run("rm", "--force", "--ignore", "--", name)  # what a failed run may have made
        image_rc, _out, _err = runtime.podman.run("image", "exists", spec.container.image)
        if image_rc == 1:
            raise PodmanError(
                "image %s is not on the target and could not be pulled: %s"
                % (spec.container.image, detail.splitlines()[-1] if detail else "no detail"),
                option="image",
            )
        raise PodmanError(
            "podman run of image %s for task %s failed (rc=%s): %s"
            % (spec.container.image, task.task_id, rc, detail[-2000:])
        )
    runtime.changed = True
    runtime.note_container(name, "running", {SPEC_LABEL: spec.container.digest()})


def _since(runtime):
    """A timestamp podman's ``logs --since`` takes, just before a start, for the readiness scan."""
    return "%.6f" % runtime.now().timestamp()


def start_container(runtime, tasks, task, spec, action, name):
    """Carry out ``action`` from plan_running; return the task with its metadata updated."""
    # a (re)start begins a new run: mode set once, readiness and exit code of the last run dropped
    before = task
    task = update_meta(runtime, tasks, task, {"mode": run_mode(task, spec)}, drop=("ready_at", "exit_code"))
    since = _since(runtime)
    try:
        if action == "recreate":
            capture_logs(runtime, task, [name])  # the old container's log would go with it
            runtime.podman.remove([name])
            runtime.note_container(name, None)
            _create(runtime, task, spec, name)
        elif action == "create":
            _create(runtime, task, spec, name)
        elif action == "start":
            runtime.podman.start(name)
            runtime.changed = True
            runtime.note_container(name, "running")
        elif action == "unpause":
            runtime.podman.check("unpause", name)
            runtime.changed = True
            runtime.note_container(name, "running")
    except TerokError:
        # the podman action failed: the last run's readiness and exit code still hold
        if task is not before:
            update_meta(runtime, tasks, task, before.meta, drop=tuple(task.meta))
        raise
    return task, since


def wait_ready(runtime, tasks, task, spec, name, since=None):
    """Follow the log until the init script's last line, then record ``ready_at``."""
    outcome, tail = runtime.podman.follow_logs(name, READY_LINE, spec.ready_timeout, since=since)
    if outcome == "found":
        return update_meta(runtime, tasks, task, {"ready_at": runtime.now().isoformat()})
    last = "\n".join(tail[-20:]) or "(no output)"
    if outcome == "exited":
        capture_logs(runtime, task, [name])
        runtime.note_container(name, "exited")
        raise TerokError(
            "container %s exited before it was ready (no %r line). Last log lines:\n%s" % (name, READY_LINE, last)
        )
    raise TerokError(
        "container %s was not ready within ready_timeout=%ss (no %r line yet); it is left running. "
        "Last log lines:\n%s" % (name, spec.ready_timeout, READY_LINE, last),
        option="ready_timeout",
    )


def wait_exit(runtime, tasks, task, spec, name):
    """Wait for the container to exit; record its exit code and capture its log."""
    exit_code = runtime.podman.wait(name, spec.wait_timeout)
    if exit_code is None:
        raise TerokError(
            "container %s did not exit within wait_timeout=%ss; it is left running and no exit code "
            "was recorded" % (name, spec.wait_timeout),
            option="wait_timeout",
        )
    runtime.note_container(name, "exited", exit_code=exit_code)
    capture_logs(runtime, task, [name])
    return update_meta(runtime, tasks, task, {"exit_code": exit_code})


def active_containers(runtime, task):
    """The task's containers (any mode) that `podman stop` applies to."""
    listing = runtime.containers(required=True)
    return [name for name in container_names(task.project, task.task_id)
            if name in listing and listing[name].state in ACTIVE_STATES]


def stop_containers(runtime, task, names, timeout):
    """Stop ``names`` with ``podman stop --time``, then capture the task's log."""
    for name in names:
        runtime.podman.stop(name, timeout)
        runtime.changed = True
        runtime.note_container(name, "exited")
    capture_logs(runtime, task, names)
