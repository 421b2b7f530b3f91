# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark-only callback: the wall time of every task of a play, as bench/run.py reads it.

A task's span runs from its ``v2_playbook_on_task_start`` to the next task's start (or the
end of the play): everything the controller spends on it, module payload, worker, module
process, result transfer, result processing and ``register`` included. ``result_at`` marks
when its result arrived. ``podman`` is how many lines the benchmark's podman shim appended
to its log (one per podman process) during the span. Timestamps are ``time.monotonic()`` of
the controller's main process, where all of these callbacks run.
"""

from __future__ import annotations

import collections
import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: bench_timer
type: aggregate
short_description: Task spans for the terok.lifecycle benchmark
description:
  - Writes one JSON document with the span of every task to the file named by E(BENCH_TIMINGS).
requirements:
  - enabled through C(ANSIBLE_CALLBACKS_ENABLED=bench_timer)
"""


def _summary(result):
    """A few facts of a module result that the benchmark checks (counts only, cheap)."""
    summary = {"changed": bool(result.get("changed"))}
    if result.get("msg") and result.get("failed"):
        summary["msg"] = str(result.get("msg"))[:2000]
    tasks = result.get("tasks")
    if isinstance(tasks, list):
        summary["tasks"] = len(tasks)
        summary["tasks_changed"] = sum(1 for t in tasks if isinstance(t, dict) and t.get("changed"))
        summary["statuses"] = dict(collections.Counter(str(t.get("status")) for t in tasks if isinstance(t, dict)))
    if isinstance(result.get("task"), dict):
        summary["task_status"] = result["task"].get("status")
    if isinstance(result.get("results"), list):
        summary["items"] = len(result["results"])
        summary["items_changed"] = sum(1 for r in result["results"] if isinstance(r, dict) and r.get("changed"))
        summary["items_failed"] = sum(1 for r in result["results"] if isinstance(r, dict) and r.get("failed"))
    return summary


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._out = os.environ.get("BENCH_TIMINGS")
        self._podman_log = os.environ.get("BENCH_PODMAN_LOG")
        self._current = None
        self._records = []

    def _podman_count(self):
        if not self._podman_log:
            return 0
        try:
            with open(self._podman_log, "rb") as handle:
                return handle.read().count(b"\n")
        except FileNotFoundError:
            return 0

    def _close(self, now):
        current = self._current
        if current is not None:
            current["end"] = now
            current["span"] = now - current["start"]
            current["podman"] = self._podman_count() - current.pop("podman_at_start")
            self._records.append(current)
            self._current = None

    def _start(self, task):
        now = time.monotonic()
        self._close(now)
        self._current = {
            "name": task.get_name(),
            "start": now,
            "podman_at_start": self._podman_count(),
            "result_at": None,
            "status": None,
            "items": [],
        }

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._start(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._start(task)

    def _result(self, status, result):
        if self._current is None:
            return
        self._current["result_at"] = time.monotonic()
        self._current["status"] = status
        data = getattr(result, "result", None)
        if data is None:
            data = result._result
        self._current["summary"] = _summary(data)

    def v2_runner_on_ok(self, result):
        self._result("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result("failed", result)

    def v2_runner_on_unreachable(self, result):
        self._result("unreachable", result)

    def v2_runner_on_skipped(self, result):
        self._result("skipped", result)

    def v2_runner_item_on_ok(self, result):
        if self._current is not None:
            self._current["items"].append(time.monotonic())

    def v2_runner_item_on_failed(self, result):
        if self._current is not None:
            self._current["items"].append(time.monotonic())
            self._current.setdefault("item_failures", []).append(
                str((getattr(result, "result", None) or result._result).get("msg"))[:500]
            )

    def v2_playbook_on_stats(self, stats):
        self._close(time.monotonic())
        if self._out:
            with open(self._out, "w") as handle:
                json.dump({"tasks": self._records}, handle, indent=1)
