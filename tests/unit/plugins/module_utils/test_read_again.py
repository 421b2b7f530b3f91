# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""After a wait the world is read again: another run that changed a task meanwhile is seen.

Another run is played by a thread that takes the project lock while this run waits with it
let go, and changes the fake podman's containers and the task's metadata as that run would.
"""

from __future__ import annotations

import threading
import time

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils._converge import Results, converge_many
from ansible_collections.terok.lifecycle.plugins.module_utils._lock import ProjectLock
from ansible_collections.terok.lifecycle.plugins.module_utils._project_tasks import ProjectTasks
from ansible_collections.terok.lifecycle.plugins.module_utils._spec import specs_from_items
from ansible_collections.terok.lifecycle.tests.support.fake_podman import FakePodman

IMAGE = "localhost/terok-agent:latest"
READY = "2026-11-28T09:16:00+00:00"
Y = "demo-cli-k7m2q"


class OtherRun(FakePodman):
    """A fake podman during one of whose streaming calls another run changes the project.

    ``during(argv)``: whether it is that call; ``change(fake)``: what the other run does, under the
    project lock; ``after()``: waits for the moment the other run begins (true when it came).
    """

    def __init__(self, layout, during, change, after=None, **fields):
        super().__init__(**fields)
        self.layout = layout
        self.during = during
        self.change = change
        self.after = after
        self.done = False
        self.failures = []

    def stream(self, argv, needle, timeout):
        if not self.done and self.during(argv):
            self.done = True
            other = threading.Thread(target=self._other_run)
            other.start()
            other.join()
            assert not self.failures, self.failures
        return super().stream(argv, needle, timeout)

    def _other_run(self):
        try:
            if self.after is not None:
                assert self.after(), "the other run's moment never came"
            with ProjectLock(self.layout.meta_dir("demo"), timeout=5):  # only while this run has let it go
                self.change(self)
        except BaseException as exc:  # pylint: disable=broad-exception-caught
            self.failures.append(exc)


def rewrite_meta(layout, task_id, changes, drop=()):
    tasks = ProjectTasks(layout, "demo").load()
    task = tasks.tasks[task_id]
    meta = {key: value for key, value in task.meta.items() if key not in drop}
    meta.update(changes)
    tasks.write_meta(task, meta)


def until(predicate, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_task_another_run_stopped_while_this_one_waited_is_not_reported_running(
    make_runtime, layout, write_task, concurrency
):
    # x is new (its readiness is waited for); y runs already. While x waits, another run stops y.
    write_task("demo", "k7m2q", "y", meta={"mode": "cli", "ready_at": READY, "created_at": READY})
    results = Results(2)

    def stop_y(fake):
        fake.containers[Y].update(State="exited", ExitCode=143)
        rewrite_meta(layout, "k7m2q", {"stopped_at": "2026-11-28T09:20:00+00:00"})

    # side by side, y is decided (it needs nothing) before x's wait ends: the other run comes after
    after = (lambda: until(lambda: results.tasks[1] is not None)) if concurrency > 1 else None

    def x_follow(argv):
        return argv[1] == "logs" and "--follow" in argv and argv[-1] != Y

    runner = OtherRun(layout, x_follow, stop_y, after, containers={Y: {"State": "running", "Id": "id-y"}})
    context, _runner = make_runtime()
    context.podman.runner = runner
    specs = specs_from_items([dict(project="demo", name="x", state="running"),
                              dict(project="demo", name="y", state="running")], {"image": IMAGE})
    converge_many(context, specs, results=results, concurrency=concurrency)
    assert runner.done
    y = results.tasks[1]
    # what podman says of y when the run returns
    assert y["container_state"] == runner.containers[Y]["State"], y
    if runner.containers[Y]["State"] == "running":  # y decided after the other run: started again
        assert concurrency == 1 and y["changed"] is True
    else:  # y decided before it: reported as it is now, changed, with a warning
        assert y["status"] == "stopped" and y["changed"] is True
        assert any("k7m2q" in w and "another run" in w for w in context.warnings), context.warnings


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_job_whose_container_another_run_replaced_during_the_wait_reports_the_new_one(
    make_runtime, layout, concurrency
):
    # wait: true on a job; meanwhile another run replaces its container (recreate) and records
    # its own readiness: the waiter must not report the old container's exit for the new one
    def replace(fake):
        (name,) = [n for n in fake.containers if n.startswith("demo-run-")]
        fake.containers[name] = dict(fake.containers[name], State="running", Id="id-replacement")
        (task_id,) = [t.task_id for t in ProjectTasks(layout, "demo").load().by_name("job")]
        rewrite_meta(layout, task_id, {"ready_at": "2026-11-28T10:00:00+00:00"}, drop=("exit_code",))

    runner = OtherRun(layout, lambda argv: argv[1] == "wait", replace)
    context, _runner = make_runtime()
    context.podman.runner = runner
    items = [dict(project="demo", name="job", state="running", mode="run", wait=True),
             dict(project="demo", name="other", state="stopped")]
    results = Results(2)
    converge_many(context, specs_from_items(items, {"image": IMAGE}), results=results, concurrency=concurrency)
    assert runner.done
    job = results.tasks[0]
    assert job["container_state"] == "running", job
    assert job["exit_code"] is None and job["status"] != "completed", job
    assert any("another run" in w for w in context.warnings), context.warnings
