# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import itertools

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils._status import STATUSES, compute_status

READY = "2026-11-28T09:16:00+00:00"

# (rule, meta, container state, expected status) -- DESIGN section 4, every rule and its edges
TABLE = [
    # 1. deleting wins over everything
    ("1", {"deleting": True}, None, "deleting"),
    ("1", {"deleting": True, "ready_at": READY}, "running", "deleting"),
    ("1", {"deleting": True, "exit_code": 0}, "exited", "deleting"),
    ("1", {"deleting": True, "ready_at": READY, "exit_code": 1}, None, "deleting"),
    ("1", {"deleting": False}, None, "created"),
    # 2. container running: running once initialized, else init
    ("2", {"ready_at": READY}, "running", "running"),
    ("2", {}, "running", "init"),
    # terok counts the ready_at key as the init marker, whatever its value
    ("2", {"ready_at": None}, "running", "running"),
    ("2", {"ready_at": ""}, "running", "running"),
    ("2", {"ready_at": READY, "exit_code": 1}, "running", "running"),
    ("2", {"exit_code": 0}, "running", "init"),
    # 3. container there, not running: completed / failed by exit code, else stopped
    ("3", {"ready_at": READY, "exit_code": 0}, "exited", "completed"),
    ("3", {"ready_at": READY, "exit_code": 1}, "exited", "failed"),
    ("3", {"ready_at": READY, "exit_code": 124}, "exited", "failed"),
    ("3", {"ready_at": READY, "exit_code": 137}, "exited", "failed"),
    ("3", {"ready_at": READY}, "exited", "stopped"),
    ("3", {"ready_at": READY, "exit_code": None}, "exited", "stopped"),
    ("3", {}, "exited", "stopped"),
    ("3", {}, "created", "stopped"),
    ("3", {"ready_at": READY}, "paused", "stopped"),
    ("3", {"exit_code": 0}, "exited", "completed"),
    ("3", {"exit_code": 2}, "stopped", "failed"),
    # any other state podman reports is a container that is there and not running
    ("3", {"ready_at": READY}, "stopping", "stopped"),
    ("3", {"ready_at": READY, "exit_code": 0}, "removing", "completed"),
    ("3", {"ready_at": READY, "exit_code": 137}, "unknown", "failed"),
    # 4. no container, not initialized: created, whatever the exit code says
    ("4", {}, None, "created"),
    ("4", {"mode": None}, None, "created"),
    ("4", {"exit_code": 1}, None, "created"),
    ("4", {"exit_code": 0}, None, "created"),
    ("4", {"mode": "cli", "exit_code": None}, None, "created"),
    # 5. no container, initialized: completed / failed by exit code, else not found
    ("5", {"ready_at": READY, "exit_code": 0}, None, "completed"),
    ("5", {"ready_at": READY, "exit_code": 1}, None, "failed"),
    ("5", {"ready_at": READY, "exit_code": 124}, None, "failed"),
    ("5", {"ready_at": READY}, None, "not found"),
    ("5", {"ready_at": READY, "exit_code": None}, None, "not found"),
    ("5", {"ready_at": None}, None, "not found"),
    ("5", {"ready_at": None, "exit_code": 0}, None, "completed"),
]


@pytest.mark.parametrize(
    "rule, meta, container_state, expected", TABLE, ids=["r%s-%d" % (row[0], i) for i, row in enumerate(TABLE)]
)
def test_compute_status(rule, meta, container_state, expected):
    assert compute_status(meta, container_state) == expected


@pytest.mark.parametrize("meta, state, container_exit, expected", [
    ({"ready_at": READY}, "exited", 3, "failed"),  # a crash: the container's own exit code
    ({"ready_at": READY}, "exited", None, "stopped"),  # a stop (or no exit code known)
    ({"ready_at": READY, "exit_code": 0}, "exited", 3, "completed"),  # the recorded one wins
    ({"ready_at": READY}, "running", 3, "running"),
    ({"ready_at": READY}, None, 3, "not found"),  # no container: only what is recorded counts
])
def test_a_container_that_crashed_is_told_by_its_own_exit_code(meta, state, container_exit, expected):
    assert compute_status(meta, state, container_exit) == expected


def test_missing_meta_is_a_created_task():
    assert compute_status(None, None) == "created"
    assert compute_status(None, "running") == "init"


def test_every_status_the_filter_offers_is_reached_and_no_other():
    """STATUSES (terok_task_info's status filter choices) is exactly what compute_status returns."""
    absent = object()
    variants = {"deleting": (absent, True, False), "ready_at": (absent, READY, None), "exit_code": (absent, None, 0, 1)}
    reached = set()
    for values in itertools.product(*variants.values()):
        meta = {key: value for key, value in zip(variants, values) if value is not absent}
        for container_state in (None, "running", "exited", "created", "paused", "stopping"):
            reached.add(compute_status(meta, container_state))
    assert reached == set(STATUSES)


def test_compute_status_does_not_modify_meta():
    meta = {"ready_at": READY, "exit_code": 0}
    compute_status(meta, "exited")
    assert meta == {"ready_at": READY, "exit_code": 0}
