# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to terok.lifecycle: not a public API, it may change in any release.
"""A task's status, computed from its metadata and its container the way terok computes it."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Any, Mapping, Optional

STATUSES = ("deleting", "running", "init", "completed", "failed", "stopped", "created", "not found")


def _by_exit_code(exit_code: Any, otherwise: str) -> str:
    if exit_code is None:
        return otherwise
    return "completed" if exit_code == 0 else "failed"


def compute_status(meta: Optional[Mapping[str, Any]], container_state: Optional[str],
                   container_exit_code: Optional[int] = None) -> str:
    """Status from ``meta`` (the ``_meta.yml`` mapping) and the container's state (or None).

    1. ``deleting: true`` → deleting
    2. container running → running once initialized (``ready_at`` key present), else init
    3. container there, not running → completed / failed by exit code, else stopped
    4. no container, not initialized → created
    5. no container, initialized → completed / failed by exit code, else not found

    The exit code is the one recorded in ``meta`` (a wait); where none is, in rule 3 that of a container that
    crashed (``container_exit_code``, see ``_results.crash_exit_code``), so that an agent that crashed with no
    restart policy is ``failed``, not ``stopped`` (terok 0.9.1 says ``stopped``: it reads ``meta`` only).
    """
    meta = meta or {}
    if meta.get("deleting"):
        return "deleting"
    initialized = "ready_at" in meta  # terok counts the key, whatever its value
    exit_code = meta.get("exit_code")
    if container_state == "running":
        return "running" if initialized else "init"
    if container_state:
        return _by_exit_code(exit_code if exit_code is not None else container_exit_code, "stopped")
    if not initialized:
        return "created"
    return _by_exit_code(exit_code, "not found")
