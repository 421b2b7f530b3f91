# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one result shape every module returns for a task, and the diff of a change."""

from __future__ import annotations

import datetime
import os

from ansible_collections.terok.lifecycle.plugins.module_utils.errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils.metadata import read_meta
from ansible_collections.terok.lifecycle.plugins.module_utils.naming import container_name
from ansible_collections.terok.lifecycle.plugins.module_utils.status import compute_status

# Every key of a task result, in the order RETURN documents them.
TASK_KEYS = (
    "task_id",
    "name",
    "project",
    "mode",
    "status",
    "container_name",
    "container_state",
    "exit_code",
    "workspace",
    "created_at",
    "ready_at",
    "archive_path",
    "login_command",
    "managed",
    "work_status",
)


def _text(value):
    return None if value is None else str(value)


def _work_status(layout, task):
    try:
        path = layout.work_status_file(task.project, task.task_id)
    except TerokError:  # a symlink on the way out of the state root
        return None
    return read_work_status(path)


def read_work_status(path):
    """The agent's ``work-status.yml`` mapping, or None when absent or unreadable."""
    if not os.path.isfile(path) or os.path.islink(path):
        return None
    try:
        value = read_meta(path, untrusted=True)
    except TerokError:
        return None
    return plain(value) if isinstance(value, dict) else None


def plain(value):
    """``value`` with what YAML may hold but a module result may not (dates, sets...) as text."""
    if isinstance(value, dict):
        return dict((str(key), plain(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return str(value)


def task_view(layout, task, containers, archive_path=None, work_status=True):
    """The result dict of a live ``task``; ``containers`` maps names to podman containers."""
    mode = task.mode
    known = task.task_id is not None  # a task that check mode predicts has no id yet
    cname = container_name(task.project, mode, task.task_id) if (mode and known) else None
    container = containers.get(cname) if (cname and containers) else None
    state = container.state if container else task.predicted_state
    exit_code = task.meta.get("exit_code")
    return {
        "task_id": task.task_id,
        "name": task.name,
        "project": task.project,
        "mode": _text(mode),
        "status": compute_status(task.meta, state),
        "container_name": cname,
        "container_state": state,
        "exit_code": exit_code if isinstance(exit_code, int) else None,
        "workspace": layout.workspace(task.project, task.task_id, guard=False) if known else None,
        "created_at": _text(task.meta.get("created_at")),
        "ready_at": _text(task.meta.get("ready_at")),
        "archive_path": archive_path,
        "login_command": "podman exec -it %s bash" % cname if state == "running" else None,
        "managed": task.managed,
        "work_status": (
            _work_status(layout, task) if work_status and known else None
        ),
    }


def gone_view(project, task_id, name, archive_path=None):
    """The result dict of a task that does not exist (any more)."""
    view = dict.fromkeys(TASK_KEYS)
    view.update(
        {"task_id": task_id, "name": name, "project": project, "status": "absent", "archive_path": archive_path,
         "managed": False}
    )
    return view


def diff_state(task, view):
    """What a diff shows of a task: its identity, status and both metadata files."""
    if task is None:
        return {}
    return {
        "task_id": task.task_id,
        "name": task.name,
        "status": view["status"],
        "container_state": view["container_state"],
        "dossier": plain(task.dossier),
        "meta": plain(task.meta),
    }
