# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A project's items side by side (concurrency > 1): order, overlap, failures, the lock during waits."""

from __future__ import annotations

import os
import threading
import time

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils._converge import Results, converge_many
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._phases import Act, Phases, Wait
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


def phases(log, refresh=None, reacquire=None, checkpoint=None):
    return Phases(lambda item: log.append(("enter", item.position)), lambda: log.append("release"),
                  reacquire or (lambda: log.append("reacquire")), refresh or (lambda: log.append("refresh")),
                  checkpoint or (lambda: None))


def test_after_a_failure_no_further_item_starts():
    log = []

    def item(position):
        def steps():
            log.append(("decide", position))
            if position == 1:
                raise TerokError("item 1 fails")
            yield Act(lambda: log.append(("act", position)))
        return steps

    errors = phases(log).run([item(position) for position in range(5)], limit=2)
    assert list(errors) == [1]
    decided = [entry for entry in log if entry[0] == "decide"]
    assert decided == [("decide", 0), ("decide", 1)]  # each item decides in turn; none after the failure
    assert ("act", 0) in log  # the item started before the failure finishes


def test_rounds_decide_in_list_order_then_act_then_wait_with_the_lock_let_go():
    log = []

    def item(position):
        def steps():
            log.append(("decide", position))
            got = yield Act(lambda: position * 10)
            log.append(("acted", position, got))
            seen = yield Wait(lambda: "seen %d" % position)
            log.append(("record", position, seen))
            return position
        return steps

    driver = phases(log)
    assert driver.run([item(position) for position in range(3)], limit=3) == {}
    events = [entry for entry in log if not (isinstance(entry, tuple) and entry[0] == "enter")]
    assert events == [
        ("decide", 0), ("decide", 1), ("decide", 2),
        ("acted", 0, 0), ("acted", 1, 10), ("acted", 2, 20),
        "release", "reacquire", "refresh",  # the world read afresh once, before the first record
        ("record", 0, "seen 0"), ("record", 1, "seen 1"), ("record", 2, "seen 2"),
    ]
    assert driver.released


def test_an_action_that_raises_is_thrown_into_the_item_that_asked():
    log = []

    def failing():
        raise TerokError("podman said no")

    def steps():
        try:
            yield Act(failing)
        except TerokError as exc:
            log.append(("caught", exc.msg))
            raise

    def other():
        log.append(("other got", (yield Act(lambda: "ok"))))

    errors = phases(log).run([steps, other], limit=2)
    assert [str(error) for error in errors.values()] == ["podman said no"] and list(errors) == [0]
    assert ("caught", "podman said no") in log and ("other got", "ok") in log


def test_a_failed_read_afresh_fails_the_first_waiting_item_and_the_next_reads_again():
    log, reads = [], []

    def refresh():
        reads.append(1)
        if len(reads) == 1:
            raise TerokError("disk broke")

    def item():
        seen = yield Wait(lambda: "seen")
        log.append(("record", seen))

    errors = phases(log, refresh=refresh).run([item, item], limit=2)
    assert list(errors) == [0] and "disk broke" in str(errors[0])
    assert len(reads) == 2 and ("record", "seen") in log


def test_a_lock_that_cannot_be_taken_again_fails_every_waiting_item():
    log = []

    def reacquire():
        raise TerokError("held by another run")

    def item():
        yield Wait(lambda: "seen")
        log.append("recorded")

    errors = phases(log, reacquire=reacquire).run([item, item], limit=2)
    assert sorted(errors) == [0, 1] and "recorded" not in log
    assert "refresh" not in log


def test_an_interrupted_run_unwinds_every_item_after_its_action():
    log = []

    def checkpoint():
        raise TerokError("the run was interrupted by SIGTERM")

    def item():
        yield Act(lambda: None)
        log.append("went on")

    errors = phases(log, checkpoint=checkpoint).run([item, item, item], limit=1)
    assert sorted(errors) == [0, 1, 2] and "went on" not in log


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


def test_stops_are_not_bounded_by_concurrency(make_runtime):
    runner = SlowPodman({"logs": 0.05})
    converge(make_runtime, runner, running(4), concurrency=4)
    runner.slow = {"stop": 0.3}
    runner.now, runner.most = {}, {}
    context, _runner = make_runtime(containers=runner.containers)
    context.podman.runner = runner
    items = [dict(project="demo", name="agent-%d" % i, state="stopped") for i in range(4)]
    results = converge_many(context, specs_from_items(items, {}), concurrency=2)
    assert all(task["changed"] for task in results.tasks)
    assert runner.most["stop"] == 4  # a stop waits out its grace: all four at once


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
    # the second podman run made, whichever item's it was (the three run side by side)
    assert [bool(task.get("failed")) for task in results.tasks].count(True) == 1, results.tasks


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


def test_actions_of_one_kind_are_made_as_one_call_and_alone_when_it_fails():
    made, alone = [], []

    def together(payloads):
        made.append(sorted(payloads))
        if "bad" in payloads:
            raise TerokError("one of them failed")
        return [None] * len(payloads)

    def item(name):
        def steps():
            def call():
                alone.append(name)
                if name == "bad":
                    raise TerokError("%s failed" % name)
            yield Act(call, bounded=False, together=("remove", name))
        return steps

    driver = Phases(lambda item: None, None, lambda: None, lambda: None, lambda: None, together={"remove": together})
    assert driver.run([item("a"), item("b"), item("c")], limit=1) == {}
    assert made == [["a", "b", "c"]] and alone == []  # one call for the three
    errors = driver.run([item("a"), item("bad"), item("c")], limit=1)
    assert [str(error) for error in errors.values()] == ["bad failed"] and list(errors) == [1]
    assert sorted(alone) == ["a", "bad", "c"]  # after the joint call failed, each alone: the failure is bad's own


def test_many_removals_are_one_podman_rm(make_runtime):
    runner = SlowPodman({"logs": 0.05})
    converge(make_runtime, runner, running(4), concurrency=4)
    context, _runner = make_runtime(containers=runner.containers)
    calls = []
    runner.probe = lambda argv: calls.append(argv[1:])
    context.podman.runner = runner
    items = [dict(project="demo", name="agent-%d" % i, state="absent") for i in range(4)]
    results = converge_many(context, specs_from_items(items, {}), concurrency=2)
    assert all(task["changed"] for task in results.tasks)
    removals = [argv for argv in calls if argv[0] == "rm"]
    assert len(removals) == 1 and len(removals[0]) == 4 + 4, removals  # rm --force --ignore -- and the four
    assert runner.containers == {}


def test_the_logs_of_many_removed_items_are_captured_by_one_podman_logs(make_runtime, layout):
    runner = SlowPodman({"logs": 0.05}, logs="2026-12-02T10:00:00.000000000Z hello\n")
    converge(make_runtime, runner, running(3), concurrency=3)
    tasks = ProjectTasks(layout, "demo").load().tasks
    calls = []
    runner.probe = lambda argv: calls.append(argv[1:])
    context, _runner = make_runtime(containers=runner.containers)
    context.podman.runner = runner
    items = [dict(project="demo", name="agent-%d" % i, state="absent") for i in range(3)]
    converge_many(context, specs_from_items(items, {}), concurrency=3)
    captures = [argv for argv in calls if argv[0] == "logs"]
    assert len(captures) == 1 and "--names" in captures[0], captures
    archive = os.path.join(layout.root, "archive")
    saved = [os.path.join(dirpath, name) for dirpath, _dirs, names in os.walk(archive) for name in names
             if name == "container.log"]
    assert len(saved) == 3 and len(tasks) == 3
    for path in saved:  # each task's own log, its name taken off again
        with open(path) as handle:
            assert handle.read() == "2026-12-02T10:00:00.000000000Z hello\n"
