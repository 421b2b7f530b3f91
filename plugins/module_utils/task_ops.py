# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Changing a task's files: create, rename, update metadata, capture logs, remove with archive."""

from __future__ import annotations

import os

from ansible_collections.terok.lifecycle.plugins.module_utils import archive as archive_mod
from ansible_collections.terok.lifecycle.plugins.module_utils.errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils.fileio import (
    TEMP_SUFFIX,
    atomic_write,
    make_dirs,
    remove_file,
    remove_tree,
)
from ansible_collections.terok.lifecycle.plugins.module_utils.metadata import (
    MANAGED_BY,
    MANAGED_KEY,
    write_dossier,
    write_meta,
)
from ansible_collections.terok.lifecycle.plugins.module_utils.naming import container_names, is_task_id, new_task_id
from ansible_collections.terok.lifecycle.plugins.module_utils.podman import PodmanError
from ansible_collections.terok.lifecycle.plugins.module_utils.store import Task

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


def create_task(runtime, tasks, name):
    """Make a new task: task dir, workspace (0700) with marker, README, then the metadata."""
    layout, project = runtime.layout, tasks.project
    task_id = new_task_id(tasks.taken)
    task_dir = layout.task_dir(project, task_id)
    written = []
    try:
        if not tasks.dirs_made:
            make_dirs(layout.tasks_root(project))
            make_dirs(layout.meta_dir(project))
            tasks.dirs_made = True
        os.mkdir(task_dir, 0o755)
        written.append(task_dir)
        os.chmod(task_dir, 0o755)
        workspace = layout.workspace(project, task_id)
        os.mkdir(workspace, 0o700)
        os.chmod(workspace, 0o700)
        # whole after a kill; the metadata written next (synced) is what makes the task
        atomic_write(os.path.join(workspace, MARKER), MARKER_TEXT.encode("utf-8"), sync=False)
        atomic_write(os.path.join(task_dir, "README.md"), README_TEXT.encode("utf-8"), sync=False)
        meta = {
            "mode": None,
            "workspace": task_dir,
            "web_port": None,
            "created_at": runtime.now().isoformat(),
            MANAGED_KEY: MANAGED_BY,
        }
        written.append(layout.meta_path(project, task_id))
        write_meta(written[-1], meta)
        written.append(layout.dossier_path(project, task_id))
        dossier = write_dossier(written[-1], project, task_id, name)
    except (OSError, TerokError) as exc:
        for path in reversed(written):
            try:
                remove_tree(path)
            except OSError:
                pass
        detail = exc.msg if isinstance(exc, TerokError) else "%s: %s" % (getattr(exc, "filename", ""), exc.strerror)
        raise TerokError("cannot create task %r in project %s: %s" % (name, project, detail))
    runtime.changed = True
    return tasks.add(Task(project, task_id, dossier, meta))


def _is_temp(entry):
    return entry.startswith(".") and entry.endswith(TEMP_SUFFIX)


def _is_skeleton(task_dir):
    """Whether ``task_dir`` holds nothing but what create_task writes before the metadata."""
    try:
        entries = set(os.listdir(task_dir))
    except OSError:
        return False
    if not {e for e in entries if not _is_temp(e)} <= {"README.md", "workspace-dangerous"} or os.path.islink(task_dir):
        return False
    readme = os.path.join(task_dir, "README.md")
    if os.path.lexists(readme):
        with open(readme, "rb") as handle:
            if handle.read() != README_TEXT.encode("utf-8"):
                return False
    workspace = os.path.join(task_dir, "workspace-dangerous")
    if os.path.lexists(workspace):
        if os.path.islink(workspace) or not os.path.isdir(workspace):
            return False
        if not {e for e in os.listdir(workspace) if not _is_temp(e)} <= {MARKER}:
            return False
    return True


def _as_created(meta):
    """Whether ``meta`` is still exactly what create_task writes: the task never ran."""
    return meta.get("mode") is None and not set(meta) - {"mode", "workspace", "web_port", "created_at", MANAGED_KEY}


def sweep_incomplete(runtime, tasks):
    """Remove what a create killed before its dossier left: skeleton task directories without
    metadata, and collection-made ``_meta.yml`` files without a dossier. Call under the lock.

    Only what the create itself writes goes; a task that has more (it ran, or its workspace
    holds work) and lost its dossier is left alone with a warning.
    """
    layout, project = runtime.layout, tasks.project
    for task_id in sorted(tasks.incomplete):
        task = tasks.read(task_id)
        task_dir = layout.task_dir(project, task_id)
        if task is None or not _as_created(task.meta) or (os.path.lexists(task_dir) and not _is_skeleton(task_dir)):
            runtime.warn(
                "task %s of project %s has a _meta.yml but no dossier, and holds more than a new task; "
                "left as it is" % (task_id, project)
            )
            continue
        for path in (layout.meta_path(project, task_id), task_dir):
            try:
                remove_tree(path)
            except OSError:
                pass
        tasks.taken.discard(task_id)
    try:
        entries = os.listdir(layout.tasks_root(project))
    except OSError:
        return
    for entry in sorted(entries):
        if not is_task_id(entry) or entry in tasks.tasks or entry in tasks.incomplete:
            continue
        if os.path.lexists(layout.meta_path(project, entry)) or os.path.lexists(layout.dossier_path(project, entry)):
            continue
        task_dir = layout.task_dir(project, entry)
        if _is_skeleton(task_dir):
            try:
                remove_tree(task_dir)
            except OSError:
                pass


def update_meta(runtime, tasks, task, changes=None, drop=()):
    """Write ``task``'s ``_meta.yml`` with ``changes`` set and ``drop`` keys removed; keep the rest."""
    meta = dict(task.meta)
    for key in drop:
        meta.pop(key, None)
    meta.update(changes or {})
    if meta == task.meta:
        return task
    path = runtime.layout.meta_path(task.project, task.task_id)
    try:
        write_meta(path, meta)
    except OSError as exc:
        raise TerokError("cannot write %s: %s" % (path, exc.strerror or exc))
    runtime.changed = True
    return tasks.add(Task(task.project, task.task_id, task.dossier, meta))


def rename_task(runtime, tasks, task, name):
    path = runtime.layout.dossier_path(task.project, task.task_id)
    try:
        dossier = write_dossier(path, task.project, task.task_id, name, existing=task.dossier)
    except OSError as exc:
        raise TerokError("cannot rename task %s: %s: %s" % (task.task_id, path, exc.strerror))
    runtime.changed = True
    return tasks.add(Task(task.project, task.task_id, dossier, task.meta))


def capture_logs(runtime, task, present):
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
    """The archive entry a crashed earlier removal of ``task`` left (same id, same creation time)."""
    for entry in archive_mod.list_entries(runtime.layout, task.project, task_id=task.task_id):
        if entry["task_id"] == task.task_id and entry["created_at"] == task.meta.get("created_at"):
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
    capture_logs(runtime, task, present)
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
    runtime.changed = True
    try:
        # without a listing, ask podman to remove every mode's container; it ignores missing ones
        runtime.podman.remove(present if runtime.listing_ok else names)
    except PodmanError as exc:
        runtime.warn("container removal failed: %s" % exc.msg)
    try:
        remove_tree(layout.task_dir(task.project, task.task_id))
    except (OSError, TerokError) as exc:
        # keep the metadata (marked deleting): the task stays listed and a rerun retries
        runtime.warn("workspace removal failed, the task is kept as deleting for a rerun: %s" % exc)
        tasks.refresh(task.task_id)
        return entry
    for path in (layout.dossier_path(task.project, task.task_id), layout.meta_path(task.project, task.task_id)):
        try:
            remove_file(path)
        except OSError as exc:
            runtime.warn("metadata removal failed for %s: %s" % (path, exc.strerror))
    tasks.refresh(task.task_id)
    return entry
