# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Listing tasks across projects with filters: what the info module returns."""

from __future__ import annotations

from ansible_collections.terok.lifecycle.plugins.module_utils import archive as archive_mod
from ansible_collections.terok.lifecycle.plugins.module_utils.naming import check_name, check_project, check_task_id
from ansible_collections.terok.lifecycle.plugins.module_utils.store import ProjectTasks, list_projects
from ansible_collections.terok.lifecycle.plugins.module_utils.view import task_view


class Query(object):
    """Validated filters; None means 'any'."""

    def __init__(self, project=None, name=None, task_id=None, statuses=None, include_archived=False):
        self.project = project
        self.name = name
        self.task_id = task_id
        self.statuses = set(statuses) if statuses else None
        self.include_archived = include_archived

    @classmethod
    def from_params(cls, params):
        project = params.get("project")
        if project is not None:
            check_project(project)
        name = params.get("name")
        if name is not None:
            name = check_name(name)
        task_id = params.get("task_id")
        if task_id is not None:
            check_task_id(task_id)
        return cls(project, name, task_id, params.get("status"), bool(params.get("include_archived")))

    def matches(self, task_id, name):
        return (self.task_id is None or task_id == self.task_id) and (self.name is None or name == self.name)


def list_tasks(runtime, query):
    """(tasks, archived) for ``query``: live tasks as result dicts, archive entries as dicts.

    Reads without the lock: every metadata file is replaced atomically, so a reader sees
    each file whole. One podman listing serves every task.
    """
    projects = [query.project] if query.project else list_projects(runtime.layout)
    tasks, archived = [], []
    containers = None
    for project in projects:
        loaded = ProjectTasks(runtime.layout, project).load()
        for task_id in sorted(loaded.tasks):
            task = loaded.tasks[task_id]
            if task is None:
                continue
            if task.error:
                runtime.warn("task %s of project %s skipped: %s" % (task_id, project, task.error))
                continue
            if not query.matches(task_id, task.name):
                continue
            if containers is None:
                containers = runtime.containers()
            view = task_view(runtime.layout, task, containers)
            if query.statuses is None or view["status"] in query.statuses:
                tasks.append(view)
        if query.include_archived:
            archived.extend(
                entry for entry in archive_mod.list_entries(runtime.layout, project, runtime.warn)
                if query.matches(entry["task_id"], entry["name"])
            )
    return tasks, archived
