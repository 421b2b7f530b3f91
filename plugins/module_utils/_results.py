# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to terok.lifecycle: not a public API, it may change in any release.
"""The result shapes every module returns: a task, a task that is gone, an archive entry, a diff.

Pure functions of what the caller read: nothing here touches the disk or podman.
"""

from __future__ import annotations

import datetime

from ansible_collections.terok.lifecycle.plugins.module_utils._container_spec import label_confinement
from ansible_collections.terok.lifecycle.plugins.module_utils._metadata import MANAGED_BY, MANAGED_KEY
from ansible_collections.terok.lifecycle.plugins.module_utils._naming import container_name
from ansible_collections.terok.lifecycle.plugins.module_utils._status import compute_status

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Any, Dict, Mapping, Optional

# terok 0.9.1's login (terok_sandbox's PodmanContainer.login_command): attach to, or start, the
# container's tmux session "main", so that a second login shares the first one's session
TMUX_SESSION = "main"


def login_commands(cname: Optional[str]) -> Dict[str, Optional[str]]:
    """The commands that log into a running container ``cname`` (None: it does not run): a plain
    shell, and terok's tmux session (the image needs tmux; the terok_host role's images have it)."""
    if cname is None:
        return {"login_command": None, "tmux_login_command": None}
    return {
        "login_command": "podman exec -it %s bash" % cname,
        "tmux_login_command": "podman exec -it %s tmux new-session -A -s %s" % (cname, TMUX_SESSION),
    }


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
    "finished_at",
    "archive_path",
    "login_command",
    "tmux_login_command",
    "managed",
    "work_status",
    "confinement",
    "health",
    "restart_count",
    "image_id",
    "image_outdated",
)

# the exit codes of a process that a signal of ``podman stop`` ended (128 + SIGTERM, 128 + SIGKILL): a container
# that exited with one was stopped (or killed), not crashed
STOP_EXIT_CODES = (143, 137)


def _text(value: Any) -> Optional[str]:
    return None if value is None else str(value)


def plain(value: Any) -> Any:
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


def _finished_at(container: Any) -> Optional[str]:
    """When the task's container last exited, ISO 8601 in UTC; None while it runs or never ran."""
    if container is None or container.state in ("running", "paused", "stopping") or not container.exited_at:
        return None
    return datetime.datetime.fromtimestamp(container.exited_at, datetime.timezone.utc).isoformat()


def crash_exit_code(container: Any) -> Optional[int]:
    """The exit code of a container that crashed: it exited by itself with a code other than 0, as podman lists
    it. None while it runs, when it never ran, when it ended with 0 (which a graceful stop may give too) and when a
    stop ended it (``STOP_EXIT_CODES``)."""
    if container is None or container.state != "exited" or not container.exited_at:
        return None
    code = container.exit_code
    return code if isinstance(code, int) and code != 0 and code not in STOP_EXIT_CODES else None


def _outdated(container: Any, image_ids: Optional[Mapping[str, str]]) -> Optional[bool]:
    """Whether the container's image name now points at another image; None when not known."""
    if container is None or image_ids is None or not container.image_id or not container.image:
        return None
    latest = image_ids.get(container.image)
    return None if latest is None else latest != container.image_id


def _confinement(container: Any) -> Optional[Dict[str, Any]]:
    """How the container is confined, as this collection made it (its label); None for another's container."""
    return label_confinement(container.labels) if container is not None else None


def task_result(
    layout: Any,
    task: Any,
    containers: Optional[Mapping[str, Any]],
    archive_path: Optional[str] = None,
    work_status: Optional[Dict[str, Any]] = None,
    image_ids: Optional[Mapping[str, str]] = None,
) -> Dict[str, Any]:
    """The result dict of a live ``task``; ``containers`` maps names to podman containers.

    ``work_status`` is the agent's ``work-status.yml`` as the caller read it; ``image_ids``
    (image name -> id, when the caller listed them) tells whether the container's image is outdated.
    """
    mode = task.mode
    known = task.task_id is not None  # a task that check mode predicts has no id yet
    cname = container_name(task.project, mode, task.task_id) if (mode and known) else None
    container = containers.get(cname) if (cname and containers) else None
    state = container.state if container else task.predicted_state
    exit_code = task.meta.get("exit_code")
    if not isinstance(exit_code, int):  # none recorded (no wait): that of a container that crashed
        exit_code = crash_exit_code(container)
    login = login_commands(cname if state == "running" else None)
    return {
        "task_id": task.task_id,
        "name": task.name,
        "project": task.project,
        "mode": _text(mode),
        "status": compute_status(task.meta, state, exit_code),
        "container_name": cname,
        "container_state": state,
        "exit_code": exit_code if isinstance(exit_code, int) else None,
        "workspace": layout.workspace(task.project, task.task_id, guard=False) if known else None,
        "created_at": _text(task.meta.get("created_at")),
        "ready_at": _text(task.meta.get("ready_at")),
        "finished_at": _finished_at(container),
        "archive_path": archive_path,
        "login_command": login["login_command"],
        "tmux_login_command": login["tmux_login_command"],
        "managed": task.managed,
        "work_status": work_status,
        "confinement": _confinement(container),
        "health": container.health if container is not None else None,
        "restart_count": container.restart_count if container is not None else None,
        "image_id": container.image_id if container is not None else None,
        "image_outdated": _outdated(container, image_ids),
    }


def gone_result(
    project: str, task_id: Optional[str], name: Optional[str], archive_path: Optional[str] = None
) -> Dict[str, Any]:
    """The result dict of a task that does not exist (any more)."""
    result: Dict[str, Any] = dict.fromkeys(TASK_KEYS)
    result.update(
        {"task_id": task_id, "name": name, "project": project, "status": "absent", "archive_path": archive_path,
         "managed": False}
    )
    return result


def archive_entry_result(project: str, entry_name: str, path: str, data: Mapping[str, Any]) -> Dict[str, Any]:
    """The result dict of one archive entry, from its directory name and its ``task.json``."""
    return {
        "project": project,
        "task_id": None if data.get("task_id") is None else str(data.get("task_id")),
        "name": data.get("name"),
        "mode": data.get("mode"),
        "exit_code": data.get("exit_code"),
        "created_at": data.get("created_at"),
        "archived_at": entry_name.split("_", 1)[0],
        "archive_path": path,
        "managed": data.get(MANAGED_KEY) == MANAGED_BY,
    }


def diff_state(task: Any, result: Optional[Mapping[str, Any]], files: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """What a diff shows of a task: its identity, status, its container's options (``confinement``), both
    metadata files and its own files."""
    if task is None or result is None:
        return {}
    state = {
        "task_id": task.task_id,
        "name": task.name,
        "status": result["status"],
        "container_state": result["container_state"],
        "image_id": result.get("image_id"),
        "confinement": result.get("confinement"),
        "dossier": plain(task.dossier),
        "meta": plain(task.meta),
    }
    if files is not None:
        state["files"] = dict(files)
    return state
