# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Task lifecycle operations: create, rename, remove with archive; and converging one spec."""

from __future__ import annotations

import datetime
import os

from ansible_collections.terok.lifecycle.plugins.module_utils import archive as archive_mod
from ansible_collections.terok.lifecycle.plugins.module_utils.errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils.fileio import (
    atomic_write,
    make_dirs,
    remove_file,
    remove_tree,
)
from ansible_collections.terok.lifecycle.plugins.module_utils.locking import ProjectLock
from ansible_collections.terok.lifecycle.plugins.module_utils.metadata import (
    MANAGED_BY,
    MANAGED_KEY,
    write_dossier,
    write_meta,
)
from ansible_collections.terok.lifecycle.plugins.module_utils.naming import (
    check_name,
    check_project,
    check_task_id,
    container_names,
    new_task_id,
)
from ansible_collections.terok.lifecycle.plugins.module_utils.podman import PodmanError
from ansible_collections.terok.lifecycle.plugins.module_utils.store import ProjectTasks, Task
from ansible_collections.terok.lifecycle.plugins.module_utils.view import diff_state, gone_view, task_view

WORKSPACE_DIR = "workspace-dangerous"
MARKER = ".new-task-marker"
MARKER_TEXT = (
    "# New task: the init script resets this workspace to the latest remote HEAD while this file exists.\n"
    "# The task-create step (terok task new, or terok.lifecycle) writes it; init-ssh-and-repo.sh deletes it once the reset is done.\n"
    "# Finding it in a workspace that is already initialized means that something went wrong.\n"
)
README_TEXT = (
    "# terok task directory\n"
    "\n"
    "`workspace-dangerous/` holds the task's git checkout. The task container mounts it at\n"
    "`/workspace` and can write anything into it, git hooks and scripts included.\n"
    "\n"
    "Do not run code, build, or run git commands inside `workspace-dangerous/` on the host:\n"
    "treat its contents as untrusted. Fetch the agent's work through the project's git gate\n"
    "(a bare repository that the host controls) instead.\n"
    "\n"
    "`logs/` holds the container log captured when the task stops or is deleted.\n"
)
STATES = ("present", "absent", "archived")


class Spec(object):
    """One validated request for one task."""

    __slots__ = ("project", "name", "task_id", "state", "archive")

    def __init__(self, project, name=None, task_id=None, state="present", archive=True):
        self.project = project
        self.name = name
        self.task_id = task_id
        self.state = state
        self.archive = archive

    @classmethod
    def from_params(cls, params, prefix=""):
        """Validate module parameters; every error names its option (``prefix`` for list items)."""

        def opt(key):
            return prefix + key

        project = check_project(params.get("project"), opt("project"))
        task_id = params.get("task_id")
        if task_id is not None:
            check_task_id(task_id, opt("task_id"))
        name = params.get("name")
        if name is not None:
            name = check_name(name, opt("name"))
        if name is None and task_id is None:
            raise TerokError("one of %s or %s is required" % (opt("name"), opt("task_id")), option=opt("name"))
        state = params.get("state") or "present"
        if state not in STATES:
            raise TerokError("%s must be one of %s, got %r" % (opt("state"), ", ".join(STATES), state), opt("state"))
        archive = params.get("archive")
        archive = True if archive is None else bool(archive)
        if state == "archived" and not archive:
            raise TerokError(
                "%s=false contradicts %s=archived: use state=absent to delete without an archive entry"
                % (opt("archive"), opt("state")),
                option=opt("archive"),
            )
        return cls(project, name, task_id, state, archive)


class Outcome(object):
    """What converging one spec did: ``changed``, the task result and the diff."""

    def __init__(self, changed, task, before, after):
        self.changed = changed
        self.task = task
        self.diff = {"before": before, "after": after}


class Runtime(object):
    """Shared by all specs of one module run: layout, podman, check mode, warnings.

    The container listing is taken once and reused; when podman is missing or fails it is
    empty and a warning says so, unless the caller needs it.
    """

    def __init__(self, layout, podman, check_mode=False, lock_timeout=30.0):
        self.layout = layout
        self.podman = podman
        self.check_mode = check_mode
        self.lock_timeout = lock_timeout
        self.warnings = []
        self._containers = None
        self.listing_ok = False

    def warn(self, message):
        if message not in self.warnings:
            self.warnings.append(message)

    def containers(self):
        if self._containers is None:
            try:
                self._containers = self.podman.list_containers()
                self.listing_ok = True
            except PodmanError as exc:
                self.warn("container states are unknown: %s" % exc.msg)
                self._containers = {}
        return self._containers

    def lock(self, project):
        return ProjectLock(self.layout.meta_dir(project), self.lock_timeout, create=not self.check_mode)

    def now(self):
        return datetime.datetime.now(datetime.timezone.utc)


# Operations -----------------------------------------------------------------------------------


def create_task(runtime, tasks, name):
    """Make a new task: task dir, workspace (0700) with marker, README, then the metadata."""
    layout, project = runtime.layout, tasks.project
    task_id = new_task_id(tasks.taken)
    task_dir = layout.task_dir(project, task_id)
    written = []
    try:
        make_dirs(layout.tasks_root(project))
        os.mkdir(task_dir, 0o755)
        written.append(task_dir)
        os.chmod(task_dir, 0o755)
        workspace = layout.workspace(project, task_id)
        os.mkdir(workspace, 0o700)
        os.chmod(workspace, 0o700)
        atomic_write(os.path.join(workspace, MARKER), MARKER_TEXT.encode("utf-8"))
        atomic_write(os.path.join(task_dir, "README.md"), README_TEXT.encode("utf-8"))
        make_dirs(layout.meta_dir(project))
        meta = {
            "mode": None,
            "workspace": task_dir,
            "web_port": None,
            "created_at": runtime.now().isoformat(),
            MANAGED_KEY: MANAGED_BY,
        }
        written.append(layout.dossier_path(project, task_id))
        write_dossier(written[-1], project, task_id, name)
        written.append(layout.meta_path(project, task_id))
        write_meta(written[-1], meta)
    except (OSError, TerokError) as exc:
        for path in reversed(written):
            try:
                remove_tree(path)
            except OSError:
                pass
        detail = exc.msg if isinstance(exc, TerokError) else "%s: %s" % (getattr(exc, "filename", ""), exc.strerror)
        raise TerokError("cannot create task %r in project %s: %s" % (name, project, detail))
    tasks.taken.add(task_id)
    return tasks.refresh(task_id)


def rename_task(runtime, tasks, task, name):
    path = runtime.layout.dossier_path(task.project, task.task_id)
    try:
        write_dossier(path, task.project, task.task_id, name, existing=task.dossier)
    except OSError as exc:
        raise TerokError("cannot rename task %s: %s: %s" % (task.task_id, path, exc.strerror))
    return tasks.refresh(task.task_id)


def _capture_logs(runtime, task, present):
    """Save ``podman logs --timestamps`` of the task's containers to ``logs/container.log``."""
    if not present:
        return
    chunks = []
    for name in present:
        try:
            chunks.append(runtime.podman.logs(name))
        except PodmanError as exc:
            runtime.warn("log capture for %s failed: %s" % (name, exc.msg))
    if not chunks:
        return
    path = runtime.layout.log_file(task.project, task.task_id)
    try:
        make_dirs(os.path.dirname(path))
        atomic_write(path, "".join(chunks).encode("utf-8", "surrogateescape"), 0o640)
    except (OSError, TerokError) as exc:
        runtime.warn("could not save the logs of task %s: %s" % (task.task_id, exc))


def _mark_deleting(runtime, task):
    meta = dict(task.meta)
    meta["deleting"] = True
    try:
        write_meta(runtime.layout.meta_path(task.project, task.task_id), meta)
    except OSError as exc:
        runtime.warn("could not mark task %s as deleting: %s" % (task.task_id, exc))


def _previous_entry(runtime, task):
    """The archive entry a crashed earlier removal of ``task`` left, if it was marked deleting."""
    if not task.meta.get("deleting"):
        return None
    for entry in archive_mod.list_entries(runtime.layout, task.project):
        if entry["task_id"] == task.task_id:
            return entry["archive_path"]
    return None


def remove_task(runtime, tasks, task, archive=True, require_archive=False):
    """Delete a task as terok does, each step best-effort; return the archive entry's path.

    Order: capture logs, write the archive entry, mark ``deleting``, remove every mode's
    container, the task directory, then the metadata. With ``require_archive`` an archive
    failure stops before anything is removed.
    """
    layout = runtime.layout
    names = container_names(task.project, task.task_id)
    listing = runtime.containers()
    present = [name for name in names if name in listing]
    _capture_logs(runtime, task, present)
    entry = None
    if archive:
        entry = _previous_entry(runtime, task)
        if entry is None:
            try:
                entry = archive_mod.write_entry(layout, task, runtime.now())
            except TerokError as exc:
                if require_archive:
                    raise TerokError("%s; nothing was removed" % exc.msg)
                runtime.warn(exc.msg)
    _mark_deleting(runtime, task)
    try:
        # without a listing, ask podman to remove every mode's container; it ignores missing ones
        runtime.podman.remove(present if runtime.listing_ok else names)
    except PodmanError as exc:
        runtime.warn("container removal failed: %s" % exc.msg)
    try:
        remove_tree(layout.task_dir(task.project, task.task_id))
    except OSError as exc:
        runtime.warn("workspace removal failed: %s" % exc)
    for path in (layout.dossier_path(task.project, task.task_id), layout.meta_path(task.project, task.task_id)):
        try:
            remove_file(path)
        except OSError as exc:
            runtime.warn("metadata removal failed for %s: %s" % (path, exc.strerror))
    tasks.refresh(task.task_id)
    return entry


# Converging one spec ------------------------------------------------------------------------


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
    return task


def _predicted_new(runtime, spec):
    """The task that check mode says would be created (no id is drawn)."""
    meta = {"mode": None, "workspace": None, "web_port": None, "created_at": runtime.now().isoformat(),
            MANAGED_KEY: MANAGED_BY}
    return Task(spec.project, None, {"project": spec.project, "task": None, "name": spec.name}, meta)


def _view(runtime, task, archive_path=None):
    return task_view(runtime.layout, task, runtime.containers(), archive_path)


def converge(runtime, tasks, spec):
    """Bring one task to ``spec`` within a project whose tasks are loaded and locked."""
    task = find_task(tasks, spec)
    before_view = _view(runtime, task) if task else None
    before = diff_state(task, before_view)

    if spec.state == "present":
        if task is None:
            if spec.task_id:
                raise TerokError(
                    "task_id %s does not exist in project %s; omit task_id to create a task by name"
                    % (spec.task_id, spec.project),
                    option="task_id",
                )
            new = _predicted_new(runtime, spec) if runtime.check_mode else create_task(runtime, tasks, spec.name)
            view = _view(runtime, new)
            return Outcome(True, view, {}, diff_state(new, view))
        if spec.name and spec.name != task.name:
            clash = [t.task_id for t in tasks.by_name(spec.name) if t.task_id != task.task_id]
            if clash:
                raise TerokError(
                    "name %r is taken in project %s by task %s; cannot rename task %s to it"
                    % (spec.name, spec.project, ", ".join(sorted(clash)), task.task_id),
                    option="name",
                )
            if runtime.check_mode:
                renamed = Task(task.project, task.task_id, dict(task.dossier, name=spec.name), task.meta)
            else:
                renamed = rename_task(runtime, tasks, task, spec.name)
            view = _view(runtime, renamed)
            return Outcome(True, view, before, diff_state(renamed, view))
        return Outcome(False, before_view, before, before)

    # absent / archived
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


def converge_one(runtime, spec):
    """Lock the spec's project, read its tasks, converge, unlock."""
    with runtime.lock(spec.project):
        tasks = ProjectTasks(runtime.layout, spec.project).load()
        return converge(runtime, tasks, spec)
