# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A project's items side by side (concurrency > 1): order, overlap, failures, the lock during waits."""

from __future__ import annotations

import threading
import time

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils._converge import Results, converge_many
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._item_pool import ItemPool
from ansible_collections.terok.lifecycle.plugins.module_utils._lock import ProjectLock
from ansible_collections.terok.lifecycle.plugins.module_utils._project_tasks import ProjectTasks
from ansible_collections.terok.lifecycle.plugins.module_utils._spec import specs_from_items
from ansible_collections.terok.lifecycle.tests.support.fake_podman import FakePodman

IMAGE = "localhost/terok-agent:latest"


class SlowPodman(FakePodman):
    """FakePodman whose calls take a while, counting how many of each kind run at once.

    ``slow``: {subcommand: seconds}. ``probe(argv)`` runs inside every call (to look at the lock).
    A streaming call with no time left (``ready_timeout: 0``) times out at once.
    """

    def __init__(self, slow, probe=None, **fields):
        super().__init__(**fields)
        self.slow = slow
        self.probe = probe
        self.now = {}
        self.most = {}
        self._guard = threading.Lock()

    def _timed(self, argv, answer):
        sub = argv[1]
        with self._guard:
            self.now[sub] = self.now.get(sub, 0) + 1
            self.most[sub] = max(self.most.get(sub, 0), self.now[sub])
        try:
            if self.probe:
                self.probe(argv)
            time.sleep(self.slow.get(sub, 0))
            return answer()
        finally:
            with self._guard:
                self.now[sub] -= 1

    def run(self, argv, data=None, timeout=None):
        return self._timed(argv, lambda: super(SlowPodman, self).run(argv, timeout=timeout))

    def stream(self, argv, needle, timeout):
        if timeout <= 0:
            return self._timed(argv, lambda: ("timeout", (-9, ">> cloning\n", "")))
        return self._timed(argv, lambda: super(SlowPodman, self).stream(argv, needle, timeout))


def running(count, **extra):
    items = [dict(project="demo", name="agent-%d" % i, state="running", **extra) for i in range(count)]
    return specs_from_items(items, {"image": IMAGE})


def converge(make_runtime, runner, specs, concurrency):
    context, _runner = make_runtime()
    context.podman.runner = runner
    results = Results(len(specs))
    try:
        converge_many(context, specs, results=results, concurrency=concurrency)
    except TerokError as exc:
        return context, results, exc
    return context, results, None


def test_waits_overlap_and_actions_are_bounded(make_runtime):
    runner = SlowPodman({"run": 0.05, "logs": 0.3})
    _context, results, error = converge(make_runtime, runner, running(6), concurrency=2)
    assert error is None
    assert runner.most["logs"] == 6  # every readiness wait at once
    assert runner.most["run"] == 2  # podman run: no more than concurrency at once
    assert all(task["ready_at"] and task["changed"] for task in results.tasks)


def test_one_item_at_a_time_when_concurrency_is_one(make_runtime):
    runner = SlowPodman({"logs": 0.05})
    _context, results, error = converge(make_runtime, runner, running(3), concurrency=1)
    assert error is None
    assert runner.most["logs"] == 1 and runner.most["run"] == 1


def test_results_and_decisions_keep_the_item_order(make_runtime, layout):
    # later items' waits end first; results and the tasks' creation still follow the list
    runner = SlowPodman({"logs": 0.2})
    specs = running(5)
    _context, results, error = converge(make_runtime, runner, specs, concurrency=5)
    assert error is None
    assert [task["name"] for task in results.tasks] == ["agent-%d" % i for i in range(5)]
    created = [task["created_at"] for task in results.tasks]
    assert created == sorted(created)
    tasks = ProjectTasks(layout, "demo").load().tasks
    assert sorted(t.name for t in tasks.values()) == ["agent-%d" % i for i in range(5)]


def test_a_failing_item_does_not_abandon_the_others_waits(make_runtime):
    runner = SlowPodman({"logs": 0.3})
    specs = running(4)
    specs[1] = running(2, ready_timeout=0)[1]  # SlowPodman: a wait with no time left times out at once
    _context, results, error = converge(make_runtime, runner, specs, concurrency=4)
    assert error is not None and error.option == "ready_timeout"
    assert results.tasks[1]["failed"] is True and results.tasks[1]["option"] == "ready_timeout"
    assert results.tasks[1]["changed"] is True  # its container was made before the wait failed
    for index in (0, 2, 3):  # started before the failure: their waits ran to the end and were recorded
        assert results.tasks[index]["ready_at"], results.tasks[index]
        assert "failed" not in results.tasks[index]


def test_the_project_lock_is_let_go_while_every_item_waits(make_runtime, layout):
    seen = {}

    def probe(argv):
        try:
            with ProjectLock(layout.meta_dir("demo"), timeout=0):
                free = True
        except TerokError:
            free = False
        seen.setdefault(argv[1], set()).add(free)

    runner = SlowPodman({"logs": 0.3}, probe=probe)
    _context, _results, error = converge(make_runtime, runner, running(3), concurrency=3)
    assert error is None
    assert seen["run"] == {False}  # container actions: under the lock
    assert True in seen["logs"]  # once every item waits, another run may take the project


def test_after_a_failure_no_further_item_starts():
    order = []
    pool = ItemPool(2, lambda: None, lambda: None)

    def work(position):
        order.append(position)
        if position == 1:
            raise TerokError("item 1 fails")

    errors = pool.run(5, work)
    assert list(errors) == [1]
    assert order == [0, 1]  # each item decides in turn; none after the failure


def test_a_second_failure_is_named_in_the_first_ones_message(make_runtime):
    runner = SlowPodman({"logs": 0.2})
    _context, results, error = converge(make_runtime, runner, running(3, ready_timeout=0), concurrency=3)
    assert error is not None
    assert "tasks[1], tasks[2] failed too" in error.msg
    assert [task["failed"] for task in results.tasks] == [True, True, True]


@pytest.mark.parametrize("concurrency", [1, 4])
def test_changed_is_per_item(make_runtime, concurrency):
    runner = SlowPodman({"logs": 0.05})
    specs = running(3)
    converge(make_runtime, runner, specs, concurrency)
    runner.now, runner.most = {}, {}
    context, _runner = make_runtime(containers=runner.containers)
    context.podman.runner = runner
    mixed = specs_from_items([
        dict(project="demo", name="agent-0", state="running"),
        dict(project="demo", name="agent-1", state="stopped"),
        dict(project="demo", name="agent-2", state="running"),
    ], {"image": IMAGE})
    results = converge_many(context, mixed, concurrency=concurrency)
    assert [task["changed"] for task in results.tasks] == [False, True, False]


def test_stops_and_removals_are_not_bounded_by_concurrency(make_runtime):
    runner = SlowPodman({"logs": 0.05})
    converge(make_runtime, runner, running(4), concurrency=4)
    for state, sub in (("stopped", "stop"), ("absent", "rm")):
        runner.slow = {sub: 0.3}
        runner.now, runner.most = {}, {}
        context, _runner = make_runtime(containers=runner.containers)
        context.podman.runner = runner
        items = [dict(project="demo", name="agent-%d" % i, state=state) for i in range(4)]
        results = converge_many(context, specs_from_items(items, {}), concurrency=2)
        assert all(task["changed"] for task in results.tasks)
        assert runner.most[sub] == 4  # a stop waits out its grace, a removal its podman: all four at once


def test_an_item_that_raises_any_exception_is_recorded_and_raised_on_the_callers_thread(make_runtime):
    # a SystemExit (what fail_json raises) in a worker: kept as the item's failure, not lost
    calls = []

    def probe(argv):
        if argv[1] == "run":
            calls.append(argv)
            if len(calls) == 2:
                raise SystemExit(1)

    runner = SlowPodman({"logs": 0.05}, probe=probe)
    context, _runner = make_runtime()
    context.podman.runner = runner
    results = Results(3)
    with pytest.raises(SystemExit):
        converge_many(context, running(3), results=results, concurrency=3)
    assert results.tasks[1]["failed"] is True
    assert "failed" not in results.tasks[0]


def test_a_failed_read_after_the_lock_is_taken_again_leaves_the_lock_held_once(make_runtime, monkeypatch):
    # the first item back takes the lock and its read of the tasks fails: the lock is held all the
    # same, so the next item must not open a second lock of its own (it timed out against itself)
    loads = []
    real_load = ProjectTasks.load

    def load(self):
        loads.append(1)
        if len(loads) == 2:  # the first read after the waits (the first is the session's)
            raise TerokError("cannot read the tasks: disk broke")
        return real_load(self)

    monkeypatch.setattr(ProjectTasks, "load", load)
    runner = SlowPodman({"logs": 0.2})
    context, _runner = make_runtime(lock_timeout=1.0)
    context.podman.runner = runner
    results = Results(2)
    with pytest.raises(TerokError) as err:
        converge_many(context, running(2), results=results, concurrency=2)
    assert "disk broke" in err.value.msg
    failed = [task for task in results.tasks if task.get("failed")]
    assert len(failed) == 1 and "disk broke" in failed[0]["msg"], results.tasks
    ok = [task for task in results.tasks if not task.get("failed")]
    assert len(ok) == 1 and ok[0]["ready_at"], results.tasks  # read afresh by the next item, recorded


def test_an_item_the_pool_fails_before_its_work_begins_is_recorded_and_raised(make_runtime, monkeypatch):
    # an item that comes in while every other item waits takes the lock and reads the tasks before
    # its work begins; when that read fails the item must fail visibly, not vanish from the results
    real_run = ItemPool.run

    def run(self, count, work):
        def failing_second(position):
            if position == 1:
                raise TerokError("cannot read the tasks: disk broke")
            work(position)
        return real_run(self, count, failing_second)

    monkeypatch.setattr(ItemPool, "run", run)
    context, _runner = make_runtime()
    context.podman.runner = SlowPodman({"logs": 0.05})
    results = Results(3)
    with pytest.raises(TerokError) as err:
        converge_many(context, running(3), results=results, concurrency=3)
    assert "disk broke" in err.value.msg
    assert results.tasks[1]["failed"] is True and "disk broke" in results.tasks[1]["msg"]
    assert "failed" not in results.tasks[0]
