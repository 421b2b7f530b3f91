# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to terok.lifecycle: not a public API, it may change in any release.
"""Archive entries, ``archive/<project>/tasks/<UTC stamp>_<id>[_<name>]/task.json`` (+ ``logs/``): written and read here."""

from __future__ import annotations

import datetime
import json
import os
import shutil

from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._fileio import atomic_write, make_dirs
from ansible_collections.terok.lifecycle.plugins.module_utils._metadata import read_regular
from ansible_collections.terok.lifecycle.plugins.module_utils._paths import Layout, check_component
from ansible_collections.terok.lifecycle.plugins.module_utils._results import archive_entry_result

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Any, Callable, Dict, List, Optional

TASK_JSON = "task.json"
STAMP_FORMAT = "%Y%m%dT%H%M%S%fZ"


def archive_stamp(now: Optional[datetime.datetime] = None) -> str:
    """The UTC stamp an entry's directory name starts with."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return now.strftime(STAMP_FORMAT)


def snapshot(task: Any) -> Dict[str, Any]:
    """The merged dict terok stores in ``task.json``: the ``_meta.yml`` keys, then the internal keys."""
    merged = dict(task.meta)
    merged.update({"project_name": task.project, "task_id": task.task_id, "name": task.name})
    return merged


def _snapshot_bytes(data: Dict[str, Any]) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n").encode("utf-8")


def _reserve_entry(archive_root: str, base: str) -> str:
    """Create and return a fresh entry directory, ``base``, ``base_1``, ``base_2`` …"""
    make_dirs(archive_root)
    counter = 0
    while True:
        candidate = os.path.join(archive_root, base if counter == 0 else "%s_%d" % (base, counter))
        try:
            os.mkdir(candidate, 0o750)
            os.chmod(candidate, 0o750)
            return candidate
        except FileExistsError:
            counter += 1


def write_entry(layout: Layout, task: Any, now: Optional[datetime.datetime] = None) -> str:
    """Archive ``task`` (metadata snapshot and its ``logs/``) and return the entry's path.

    The entry counts once ``task.json`` is in it, and that file is written last and
    atomically, so a fault leaves either a complete entry or one that no reader lists.
    """
    check_component(task.task_id, "task id")
    base = "%s_%s" % (archive_stamp(now), task.task_id)
    if task.name:
        base += "_" + check_component(task.name, "task name")
    entry = None
    try:
        entry = _reserve_entry(layout.archive_dir(task.project), base)
        logs = os.path.join(layout.task_dir(task.project, task.task_id), "logs")
        if os.path.isdir(logs) and not os.path.islink(logs):
            shutil.copytree(logs, os.path.join(entry, "logs"), symlinks=True)
        atomic_write(os.path.join(entry, TASK_JSON), _snapshot_bytes(snapshot(task)), 0o640)
    except (OSError, shutil.Error, TerokError) as exc:
        if entry:
            shutil.rmtree(entry, ignore_errors=True)
        detail = exc.msg if isinstance(exc, TerokError) else exc
        raise TerokError(
            "cannot write the archive entry for task %s: %s" % (task.task_id, detail),
            path=getattr(exc, "path", None) or getattr(exc, "filename", None) or entry,
        )
    return entry


def list_entries(
    layout: Layout, project: str, warn: Optional[Callable[[str], None]] = None, task_id: Optional[str] = None
) -> List[Dict[str, Any]]:
    """Archived tasks of ``project``, newest first, each a dict; unreadable entries skipped (warned).

    ``task_id`` reads only the entries whose directory name carries that id.
    """
    root = layout.archive_dir(project)
    try:
        names = sorted(os.listdir(root), reverse=True)
    except (FileNotFoundError, NotADirectoryError):
        return []
    entries = []
    for entry in names:
        path = os.path.join(root, entry)
        if entry.startswith(".") or os.path.islink(path) or not os.path.isdir(path):
            continue
        if task_id and "_%s" % task_id not in entry:
            continue
        try:
            raw = read_regular(os.path.join(path, TASK_JSON))
            if raw is None:
                continue  # an entry being written: task.json comes last
            data = json.loads(raw.decode("utf-8") or "{}")
        except (TerokError, ValueError) as exc:
            if warn:
                warn("archive entry %s skipped: %s" % (path, getattr(exc, "msg", exc)))
            continue
        if not isinstance(data, dict):
            if warn:
                warn("archive entry %s skipped: task.json does not hold a JSON object" % path)
            continue
        entries.append(archive_entry_result(project, entry, path, data))
    return entries
