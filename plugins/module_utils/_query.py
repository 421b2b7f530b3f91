# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to terok.lifecycle: not a public API, it may change in any release.
"""Queries: listing tasks across projects with filters, what terok_task_info returns (read only, no lock)."""

from __future__ import annotations

from ansible_collections.terok.lifecycle.plugins.module_utils import _archive
from ansible_collections.terok.lifecycle.plugins.module_utils._naming import check_name, check_project, check_task_id
from ansible_collections.terok.lifecycle.plugins.module_utils._project_tasks import ProjectTasks, list_projects
from ansible_collections.terok.lifecycle.plugins.module_utils._results import task_result
from ansible_collections.terok.lifecycle.plugins.module_utils._run_context import RunContext

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple


class Query:
    """Validated filters; None means 'any'."""

    def __init__(
        self,
        project: Optional[str] = None,
        name: Optional[str] = None,
        task_id: Optional[str] = None,
        statuses: Optional[Sequence[str]] = None,
        include_archived: bool = False,
        check_images: bool = False,
    ) -> None:
        self.project = project
        self.name = name
        self.task_id = task_id
        self.statuses = set(statuses) if statuses else None
        self.include_archived = include_archived
        self.check_images = check_images

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "Query":
        """Validate the filter options of terok_task_info."""
        project = params.get("project")
        if project is not None:
            check_project(project)
        name = params.get("name")
        if name is not None:
            name = check_name(name)
        task_id = params.get("task_id")
        if task_id is not None:
            check_task_id(task_id)
        return cls(
            project, name, task_id, params.get("status"), bool(params.get("include_archived")),
            bool(params.get("check_images")),
        )

    def matches(self, task_id: Optional[str], name: Optional[str]) -> bool:
        """Whether a task or archive entry passes the id and name filters."""
        return (self.task_id is None or task_id == self.task_id) and (self.name is None or name == self.name)


def list_tasks(context: RunContext, query: Query) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """(tasks, archived) for ``query``: live tasks as result dicts, archive entries as dicts.

    Reads without the lock: every metadata file is replaced atomically, so a reader sees
    each file whole. One podman listing serves every task.
    """
    projects = [query.project] if query.project else list_projects(context.layout)
    tasks: List[Dict[str, Any]] = []
    archived: List[Dict[str, Any]] = []
    containers = None
    for project in projects:
        loaded = ProjectTasks(context.layout, project).load()
        for task_id in sorted(loaded.tasks):
            task = loaded.tasks[task_id]
            if task.error:
                context.warn("task %s of project %s skipped: %s" % (task_id, project, task.error))
                continue
            if not query.matches(task_id, task.name):
                continue
            if containers is None:
                containers = context.containers()
            image_ids = context.image_ids() if (query.check_images and task.mode) else None
            result = task_result(
                context.layout, task, containers, work_status=loaded.read_work_status(task), image_ids=image_ids
            )
            if query.statuses is None or result["status"] in query.statuses:
                tasks.append(result)
        if query.include_archived:
            archived.extend(
                entry for entry in _archive.list_entries(context.layout, project, context.warn)
                if query.matches(entry["task_id"], entry["name"])
            )
    return tasks, archived
