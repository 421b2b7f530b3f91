# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Converging a list of task specs in one run: one lock and one read per project."""

from __future__ import annotations

from ansible_collections.terok.lifecycle.plugins.module_utils.errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils.lifecycle import converge, find_task
from ansible_collections.terok.lifecycle.plugins.module_utils.spec import Spec
from ansible_collections.terok.lifecycle.plugins.module_utils.store import ProjectTasks
from ansible_collections.terok.lifecycle.plugins.module_utils.task_ops import sweep_incomplete

# Options given once for the whole list, used where an item does not set them.
SHARED_DEFAULTS = ("image",)


def specs_from_items(items, defaults):
    """Validate every item before anything is done; errors name ``tasks[i].option``."""
    specs = []
    seen = {}
    for index, item in enumerate(items):
        params = dict(item)
        for key in SHARED_DEFAULTS:
            if params.get(key) is None and defaults.get(key) is not None:
                params[key] = defaults[key]
        spec = Spec.from_params(params, prefix="tasks[%d]." % index)
        key = (spec.project, "id", spec.task_id) if spec.task_id else (spec.project, "name", spec.name)
        if key in seen:
            raise TerokError(
                "tasks[%d] names the same task as tasks[%d] (%s %s in project %s); give each task once"
                % (index, seen[key], key[1], key[2], spec.project),
                option="tasks[%d]" % index,
            )
        seen[key] = index
        specs.append(spec)
    return specs


class BulkResult(object):
    def __init__(self, count):
        self.tasks = [None] * count
        self.diffs = [None] * count
        self.removed = []
        self.changed = False


def converge_many(runtime, specs, exclusive=False, result=None):
    """Converge ``specs`` project by project (sorted, one lock each, tasks read once).

    With ``exclusive`` the collection-managed tasks of each listed project that no spec
    names are archived. Results come back in the order of ``specs``; pass ``result`` to
    keep what was done when a later item fails.
    """
    result = result or BulkResult(len(specs))
    by_project = {}
    for index, spec in enumerate(specs):
        by_project.setdefault(spec.project, []).append(index)
    for project in sorted(by_project):
        indexes = by_project[project]
        may_create = any(
            specs[i].state in ("present", "running", "stopped") and not specs[i].task_id for i in indexes
        )
        with runtime.lock(project, may_create):
            tasks = ProjectTasks(runtime.layout, project).load()
            _check_distinct(tasks, specs, indexes)
            if not runtime.check_mode:
                sweep_incomplete(runtime, tasks)
            kept = set()
            for index in indexes:
                outcome = converge(runtime, tasks, specs[index])
                view = dict(outcome.task, changed=outcome.changed)
                result.tasks[index] = view
                result.diffs[index] = dict(outcome.diff, before_header=_header(specs[index], view))
                result.changed = result.changed or outcome.changed
                if view.get("task_id"):
                    kept.add(view["task_id"])  # named by the list, whatever its state
            if exclusive:
                _archive_unlisted(runtime, tasks, kept, result)
    return result


def _check_distinct(tasks, specs, indexes):
    """Every item finds its task (or none) before any is converged; no task is named twice."""
    seen = {}
    for index in indexes:
        try:
            task = find_task(tasks, specs[index])
        except TerokError as exc:
            raise TerokError("tasks[%d]: %s" % (index, exc.msg), option="tasks[%d]" % index)
        if task is None:
            continue
        if task.task_id in seen:
            raise TerokError(
                "tasks[%d] and tasks[%d] both name task %s of project %s (one by id, one by name); "
                "give each task once" % (seen[task.task_id], index, task.task_id, task.project),
                option="tasks[%d]" % index,
            )
        seen[task.task_id] = index


def _header(spec, view):
    return "%s/%s" % (spec.project, view.get("name") or view.get("task_id") or spec.name)


def _archive_unlisted(runtime, tasks, kept, result):
    for task_id in sorted(tasks.tasks):
        task = tasks.tasks.get(task_id)
        if task is None or task.error or not task.managed or task_id in kept:
            continue
        spec = Spec(task.project, task_id=task_id, state="archived")
        outcome = converge(runtime, tasks, spec)
        result.removed.append(dict(outcome.task, changed=outcome.changed))
        result.diffs.append(dict(outcome.diff, before_header="%s/%s (not listed)" % (task.project, task.name)))
        result.changed = result.changed or outcome.changed
