# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Converging one task to what a spec asks: find it, decide, act, report."""

from __future__ import annotations

from ansible_collections.terok.lifecycle.plugins.module_utils import archive as archive_mod
from ansible_collections.terok.lifecycle.plugins.module_utils.container_ops import (
    active_containers,
    plan_running,
    run_mode,
    start_container,
    stop_containers,
    wait_exit,
    wait_ready,
)
from ansible_collections.terok.lifecycle.plugins.module_utils.container_spec import SPEC_LABEL
from ansible_collections.terok.lifecycle.plugins.module_utils.errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils.metadata import MANAGED_BY, MANAGED_KEY
from ansible_collections.terok.lifecycle.plugins.module_utils.naming import container_name
from ansible_collections.terok.lifecycle.plugins.module_utils.store import ProjectTasks, Task
from ansible_collections.terok.lifecycle.plugins.module_utils.task_ops import (
    create_task,
    remove_task,
    rename_task,
    sweep_incomplete,
)
from ansible_collections.terok.lifecycle.plugins.module_utils.view import diff_state, gone_view, task_view


class Outcome(object):
    """What converging one spec did: ``changed``, the task result and the diff."""

    def __init__(self, changed, task, before, after):
        self.changed = changed
        self.task = task
        self.diff = {"before": before, "after": after}


def find_task(tasks, spec):
    """The task a spec means, or None; raise on an ambiguous name or an unreadable task."""
    if spec.task_id:
        task = tasks.tasks.get(spec.task_id)
    else:
        matches = tasks.by_name(spec.name)
        if len(matches) > 1:
            raise TerokError(
                "name %r is ambiguous in project %s: tasks %s all carry it; give task_id to pick one"
                % (spec.name, spec.project, ", ".join(sorted(t.task_id for t in matches))),
                option="name",
            )
        task = matches[0] if matches else None
    if task is not None and task.error:
        raise TerokError("task %s of project %s is unreadable: %s" % (task.task_id, task.project, task.error))
    if task is not None and task.meta.get("deleting") and spec.state not in ("absent", "archived"):
        raise TerokError(
            "task %s of project %s is being deleted (deleting: true in its metadata): finish with "
            "state=absent or state=archived before using it again" % (task.task_id, task.project),
            option="state",
        )
    return task


def _predicted_new(runtime, spec):
    """The task that check mode says would be created (no id is drawn)."""
    meta = {"mode": None, "workspace": None, "web_port": None, "created_at": runtime.now().isoformat(),
            MANAGED_KEY: MANAGED_BY}
    return Task(spec.project, None, {"project": spec.project, "task": None, "name": spec.name}, meta)


def _view(runtime, task, archive_path=None):
    # a task that never ran has no container to look up: no podman call for it
    containers = runtime.containers() if (task.mode and task.task_id) else {}
    return task_view(runtime.layout, task, containers, archive_path)


def _ensure_present(runtime, tasks, spec, task):
    """Create or rename as ``spec`` asks; return (task, changed). Check mode predicts."""
    if task is None:
        if spec.task_id:
            raise TerokError(
                "task_id %s does not exist in project %s; omit task_id to create a task by name"
                % (spec.task_id, spec.project),
                option="task_id",
            )
        if runtime.check_mode:
            return _predicted_new(runtime, spec), True
        return create_task(runtime, tasks, spec.name), True
    if spec.name and spec.name != task.name:
        clash = [t.task_id for t in tasks.by_name(spec.name) if t.task_id != task.task_id]
        if clash:
            raise TerokError(
                "name %r is taken in project %s by task %s; cannot rename task %s to it"
                % (spec.name, spec.project, ", ".join(sorted(clash)), task.task_id),
                option="name",
            )
        if runtime.check_mode:
            return Task(task.project, task.task_id, dict(task.dossier, name=spec.name), task.meta), True
        return rename_task(runtime, tasks, task, spec.name), True
    return task, False


def _ensure_running(runtime, tasks, spec, task):
    """Start the task's container if it does not run; wait for readiness and exit as asked."""
    action, name, warning = plan_running(runtime, task, spec)
    if warning:
        runtime.warn(warning)
    if action == "done":
        return task, False
    needs_ready = spec.wait_ready and (action != "none" or "ready_at" not in task.meta)
    if runtime.check_mode:
        if action == "none" and not needs_ready and not spec.wait:
            return task, False
        meta = dict(task.meta)
        if action != "none":
            meta["mode"] = run_mode(task, spec)
            meta.pop("ready_at", None)
            meta.pop("exit_code", None)
        if needs_ready:
            meta["ready_at"] = runtime.now().isoformat()
        predicted = Task(task.project, task.task_id, task.dossier, meta)
        if task.task_id:
            made = action in ("create", "recreate")
            labels = {SPEC_LABEL: spec.container.digest()} if made else None
            runtime.note_container(name, "exited" if spec.wait else "running", labels)
        else:
            predicted.predicted_state = "exited" if spec.wait else "running"
        return predicted, True
    since = None
    changed = False
    if action != "none":
        task, since = start_container(runtime, tasks, task, spec, action, name)
        changed = True
    if needs_ready:
        task = wait_ready(runtime, tasks, task, spec, name, since)
        changed = True
    if spec.wait:
        task = wait_exit(runtime, tasks, task, spec, name)
        changed = True
    return task, changed


def _ensure_stopped(runtime, spec, task):
    """Stop every running container of the task; a task that never ran is stopped already."""
    if task.task_id is None or not task.mode:
        return task, False
    names = active_containers(runtime, task)
    if not names:
        return task, False
    if runtime.check_mode:
        for name in names:
            runtime.note_container(name, "exited")
    else:
        stop_containers(runtime, task, names, spec.stop_timeout)
    return task, True


def _converge_gone(runtime, tasks, spec, task, before):
    """``absent`` / ``archived``: remove the task (with its archive entry), or report it gone."""
    if task is None:
        entries = archive_mod.list_entries(runtime.layout, spec.project)
        if spec.task_id:
            entries = [e for e in entries if e["task_id"] == spec.task_id]
        else:
            entries = [e for e in entries if e["name"] == spec.name]
        if spec.state == "archived" and not entries:
            raise TerokError(
                "no task %s in project %s, and no archive entry for it: nothing to archive"
                % (spec.task_id or repr(spec.name), spec.project),
                option="task_id" if spec.task_id else "name",
            )
        path = entries[0]["archive_path"] if entries else None
        task_id = spec.task_id or (entries[0]["task_id"] if entries else None)
        return Outcome(False, gone_view(spec.project, task_id, spec.name, path), {}, {})
    if runtime.check_mode:
        return Outcome(True, gone_view(spec.project, task.task_id, task.name), before, {})
    entry = remove_task(runtime, tasks, task, archive=spec.archive, require_archive=spec.state == "archived")
    return Outcome(True, gone_view(spec.project, task.task_id, task.name, entry), before, {})


def _spec_digest(runtime, task, spec):
    """The options hash on the container that ``state=running`` is about, for the diff."""
    if task is None:
        return None
    if task.task_id is None:  # check mode: a new task's container would be made from these options
        return spec.container.digest()
    container = runtime.containers().get(container_name(task.project, run_mode(task, spec), task.task_id))
    return container.labels.get(SPEC_LABEL) if container else None


def converge(runtime, tasks, spec):
    """Bring one task to ``spec`` within a project whose tasks are loaded and locked."""
    task = find_task(tasks, spec)
    before = diff_state(task, _view(runtime, task) if task else None)
    if spec.state in ("absent", "archived"):
        return _converge_gone(runtime, tasks, spec, task, before)
    if spec.state == "running" and before:
        before["container_spec"] = _spec_digest(runtime, task, spec)
    task, changed = _ensure_present(runtime, tasks, spec, task)
    if spec.state == "running":
        task, started = _ensure_running(runtime, tasks, spec, task)
        changed = changed or started
    elif spec.state == "stopped":
        task, stopped = _ensure_stopped(runtime, spec, task)
        changed = changed or stopped
    view = _view(runtime, task)
    if not changed:
        return Outcome(False, view, before, before)
    after = diff_state(task, view)
    if spec.state == "running":
        after["container_spec"] = _spec_digest(runtime, task, spec)
    return Outcome(True, view, before, after)


def converge_one(runtime, spec):
    """Lock the spec's project, read its tasks, converge, unlock."""
    may_create = spec.state in ("present", "running", "stopped") and not spec.task_id
    with runtime.lock(spec.project, may_create):
        tasks = ProjectTasks(runtime.layout, spec.project).load()
        if not runtime.check_mode:
            sweep_incomplete(runtime, tasks)
        return converge(runtime, tasks, spec)
