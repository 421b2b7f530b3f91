# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading what tasks a project has: one directory scan, both metadata files per task."""

from __future__ import annotations

import os

from ansible_collections.terok.lifecycle.plugins.module_utils.errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils.metadata import (
    MANAGED_BY,
    MANAGED_KEY,
    read_dossier,
    read_meta,
)
from ansible_collections.terok.lifecycle.plugins.module_utils.naming import PROJECT_RE, RESERVED_PROJECTS, is_task_id

DOSSIER_SUFFIX = "_dossier.json"
META_SUFFIX = "_meta.yml"


class Task(object):
    """One task of a project as its metadata files describe it.

    ``error`` is set (and ``dossier`` / ``meta`` may be empty) when a file could not be read.
    With ``meta_path`` the ``_meta.yml`` is parsed when first needed: finding one task among
    many by name needs the dossiers only.
    """

    __slots__ = ("project", "task_id", "dossier", "_meta", "_meta_path", "_error", "predicted_state")

    def __init__(self, project, task_id, dossier=None, meta=None, error=None, meta_path=None):
        self.project = project
        self.task_id = task_id
        self.dossier = dossier or {}
        self._meta = meta if meta is not None or meta_path else {}
        self._meta_path = meta_path
        self._error = error
        # check mode only: the container state predicted for a task that has no id yet
        self.predicted_state = None

    @property
    def meta(self):
        if self._meta is None:
            path, self._meta_path = self._meta_path, None
            try:
                self._meta = read_meta(path) or {}
            except TerokError as exc:
                self._meta, self._error = {}, exc.msg
        return self._meta

    @property
    def error(self):
        self.meta  # pylint: disable=pointless-statement  # a malformed _meta.yml shows when parsed
        return self._error

    @property
    def name(self):
        name = self.dossier.get("name")
        if name is None:
            name = self.meta.get("name")
        return None if name is None else str(name)

    @property
    def mode(self):
        return self.meta.get("mode")

    @property
    def managed(self):
        return self.meta.get(MANAGED_KEY) == MANAGED_BY


def _listdir(path):
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        raise TerokError("%s is not a directory" % path)
    except OSError as exc:
        raise TerokError("cannot list %s: %s" % (path, exc.strerror or exc))


def _ids_from_metadata(names):
    ids = set()
    for entry in names:
        for suffix in (DOSSIER_SUFFIX, META_SUFFIX):
            if entry.endswith(suffix):
                task_id = entry[: -len(suffix)]
                if is_task_id(task_id):
                    ids.add(task_id)
    return ids


class ProjectTasks(object):
    """The tasks of one project, read once; also the ids that a new task must not take."""

    def __init__(self, layout, project):
        self.layout = layout
        self.project = project
        self.tasks = {}
        self.taken = set()
        self._names = None  # name -> ids, built on the first lookup by name
        self.dirs_made = False  # whether this run made sure the project's two directories exist
        # ids of creates that a kill stopped between _meta.yml and the dossier (see sweep_incomplete)
        self.incomplete = set()

    def load(self):
        meta_dir = self.layout.meta_dir(self.project)
        if os.path.islink(meta_dir):
            raise TerokError("%s is a symbolic link; refusing to read tasks through it" % meta_dir)
        ids = _ids_from_metadata(_listdir(meta_dir))
        self.taken = set(ids)
        self.taken.update(entry for entry in _listdir(self.layout.tasks_root(self.project)) if is_task_id(entry))
        self.tasks = {}
        self._names = None
        self.incomplete = set()
        for task_id in sorted(ids):
            task = self.read(task_id)
            if task is not None and self._unfinished(task):
                self.incomplete.add(task_id)
                continue
            self.tasks[task_id] = task
        return self

    def _unfinished(self, task):
        """A create this collection began and did not finish: its ``_meta.yml`` and no dossier.

        The create writes the dossier last, so until then the task is not one; terok's own
        tasks (no ``managed_by``) and half-deleted ones (``deleting``) are never taken for it.
        """
        if task.dossier or os.path.lexists(self.layout.dossier_path(self.project, task.task_id)):
            return False  # the common case, decided without parsing the _meta.yml
        return not task.error and task.managed and not task.meta.get("deleting")

    def read(self, task_id):
        """Read one task's dossier (its ``_meta.yml`` when needed); None when it has neither file.

        A malformed file gives a Task with ``error`` set.
        """
        meta_path = self.layout.meta_path(self.project, task_id)
        try:
            dossier = read_dossier(self.layout.dossier_path(self.project, task_id))
        except TerokError as exc:
            return Task(self.project, task_id, error=exc.msg)
        if dossier is None and not os.path.lexists(meta_path):
            return None
        return Task(self.project, task_id, dossier, meta_path=meta_path)

    def by_name(self, name):
        if self._names is None:
            self._names = {}
            for task in self.tasks.values():
                self._names.setdefault(task.name, set()).add(task.task_id)
        return [self.tasks[task_id] for task_id in sorted(self._names.get(name, ()))]

    def _put(self, task_id, task):
        """Replace (or with None drop) one task, keeping the name index right."""
        old = self.tasks.pop(task_id, None)
        if self._names is not None and old is not None:
            self._names.get(old.name, set()).discard(task_id)
        if task is not None:
            self.tasks[task_id] = task
            self.taken.add(task_id)
            if self._names is not None:
                self._names.setdefault(task.name, set()).add(task_id)
        return task

    def add(self, task):
        """Record a task this run wrote (no need to read back what was just written)."""
        return self._put(task.task_id, task)

    def refresh(self, task_id):
        return self._put(task_id, self.read(task_id))


def list_projects(layout):
    """Project names that have a task metadata directory, sorted."""
    projects = []
    for entry in _listdir(layout.projects_dir()):
        if PROJECT_RE.fullmatch(entry) and entry not in RESERVED_PROJECTS:
            if os.path.isdir(os.path.join(layout.projects_dir(), entry, "tasks")):
                projects.append(entry)
    return sorted(projects)
