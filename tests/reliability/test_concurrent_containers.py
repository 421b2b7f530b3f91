# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""terok_tasks with real podman and concurrency: agents side by side, stops side by side, kill -9 mid-start."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time

import pytest

import _support as S
from ansible_collections.terok.lifecycle.plugins.module_utils._paths import Layout
from ansible_collections.terok.lifecycle.plugins.module_utils._podman import Podman
from ansible_collections.terok.lifecycle.plugins.module_utils._project_tasks import ProjectTasks
from ansible_collections.terok.lifecycle.tests.support.process_runner import ProcessRunner

IMAGE = "localhost/terok-task:latest"
READY_LINE = ">> init complete"
# ignores SIGTERM (podman stop then waits stop_timeout and kills); --init forwards TERM to it
TERM_PROOF = ["bash", "-c", "trap '' TERM; while :; do sleep 1; done"]


def _podman(*args):
    return subprocess.run(["podman"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False,
                          env=S.ansible_env(), universal_newlines=True)


def _inspect(names):
    proc = _podman("inspect", "--format", "json", *names)
    assert proc.returncode == 0, proc.stderr
    return {item["Name"].lstrip("/"): item for item in json.loads(proc.stdout)}


def _stamp(text):
    """podman's RFC 3339 time (nanoseconds, zone) as seconds since the epoch, to the microsecond."""
    import datetime

    day, clock = text.split("T")
    clock = clock.rstrip("Z").split("+")[0].split("-")[0]
    whole, _dot, fraction = clock.partition(".")
    moment = datetime.datetime.strptime(day + "T" + whole, "%Y-%m-%dT%H:%M:%S")
    return moment.replace(tzinfo=datetime.timezone.utc).timestamp() + float("0." + (fraction or "0")[:6])


@pytest.fixture
def agents(tmp_path):
    """(project, root, init script maker); every container of the project is removed afterwards."""
    project = "cc" + secrets.token_hex(3)
    root = str(tmp_path / "root")

    def init_script(seconds):
        path = tmp_path / ("init-%s.sh" % seconds)
        path.write_text('#!/bin/bash\nsleep %s\necho "%s"\nexec "$@"\n' % (seconds, READY_LINE))
        path.chmod(0o755)
        return str(path)

    yield project, root, init_script
    names = _podman("ps", "-a", "--format", "{{.Names}}").stdout.split()
    mine = [name for name in names if name.startswith(project + "-")]
    if mine:
        _podman("rm", "--force", "--time", "0", *mine)


def _items(project, count, **extra):
    return [dict(project=project, name="agent-%d" % i, **extra) for i in range(count)]


def test_agents_start_side_by_side_and_report_in_list_order(agents):
    project, root, init_script = agents
    args = {"root": root, "image": IMAGE, "concurrency": 4,
            "tasks": _items(project, 4, state="running", init_script=init_script(6))}
    run = S.adhoc("terok_tasks", args, timeout=240)
    assert not run.failed, run
    tasks = run.result["tasks"]
    assert [task["name"] for task in tasks] == ["agent-%d" % i for i in range(4)]
    assert all(task["status"] == "running" and task["ready_at"] and task["changed"] for task in tasks), tasks
    # every container was started before the first of them was ready: their inits ran side by side
    started = [_stamp(item["State"]["StartedAt"]) for item in _inspect([t["container_name"] for t in tasks]).values()]
    first_ready = min(_stamp(task["ready_at"]) for task in tasks)
    assert max(started) < first_ready, (started, first_ready)
    again = S.adhoc("terok_tasks", args, timeout=240)
    assert not again.failed and again.result["changed"] is False, again


def test_agents_that_ignore_sigterm_are_stopped_side_by_side(agents):
    project, root, init_script = agents
    base = {"root": root, "image": IMAGE, "concurrency": 3}
    items = _items(project, 3, state="running", command=TERM_PROOF, init_script=init_script(0))
    started = S.adhoc("terok_tasks", dict(base, tasks=items), timeout=240)
    assert not started.failed, started
    stopped = S.adhoc("terok_tasks", dict(base, tasks=_items(project, 3, state="stopped", stop_timeout=3)), timeout=240)
    assert not stopped.failed, stopped
    names = [task["container_name"] for task in stopped.result["tasks"]]
    assert [task["status"] for task in stopped.result["tasks"]] == ["stopped"] * 3
    finished = sorted(_stamp(item["State"]["FinishedAt"]) for item in _inspect(names).values())
    # each waited its 3 s grace; one after another they would end 3 s apart
    assert finished[-1] - finished[0] < 2.5, finished


def test_kill_9_during_a_concurrent_start_leaves_readable_tasks_and_a_rerun_converges(agents):
    project, root, init_script = agents
    args = {"root": root, "image": IMAGE, "concurrency": 4,
            "tasks": _items(project, 4, state="running", init_script=init_script(8))}
    proc = subprocess.Popen(S.adhoc_argv("terok_tasks", args), env=S.ansible_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=S.HERE, start_new_session=True)
    deadline = time.monotonic() + 120
    made = []
    while time.monotonic() < deadline and len(made) < 2:  # mid-start: some containers made, none ready
        made = [n for n in _podman("ps", "-a", "--format", "{{.Names}}").stdout.split() if n.startswith(project + "-")]
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    S.count("SIGKILLs sent")
    assert len(made) >= 2, "no container was made within 120 s"
    tasks = ProjectTasks(Layout(root), project).load().tasks
    assert all(task.error is None for task in tasks.values()), tasks
    rerun = S.adhoc("terok_tasks", args, timeout=240)
    assert not rerun.failed, rerun
    assert all(task["status"] == "running" and task["ready_at"] for task in rerun.result["tasks"]), rerun
    assert len(ProjectTasks(Layout(root), project).load().tasks) == 4  # none made twice
    final = S.adhoc("terok_tasks", args, timeout=240)
    assert not final.failed and final.result["changed"] is False, final


def test_the_logs_of_agents_removed_together_are_each_kept_in_their_own_archive(agents):
    # one `podman logs --names` captures them all; each archive must hold its own container's lines only
    project, root, init_script = agents
    base = {"root": root, "image": IMAGE, "concurrency": 3}
    items = [dict(item, command=["bash", "-c", "echo I am %s; echo to stderr %s >&2; exec sleep infinity"
                                 % (item["name"], item["name"])])
             for item in _items(project, 3, state="running", init_script=init_script(0))]
    started = S.adhoc("terok_tasks", dict(base, tasks=items), timeout=240)
    assert not started.failed, started
    names = [task["container_name"] for task in started.result["tasks"]]
    # podman's own output of one `podman logs --names` for the three, as the library splits it
    logs = Podman("podman", ProcessRunner()).logs_of(names)
    assert sorted(logs) == sorted(names)
    for index, name in enumerate(names):
        assert "I am agent-%d\n" % index in logs[name] and "to stderr agent-%d\n" % index in logs[name], logs
    removed = S.adhoc("terok_tasks", dict(base, tasks=_items(project, 3, state="absent")), timeout=240)
    assert not removed.failed, removed
    assert not removed.result.get("warnings"), removed.result.get("warnings")
    for index, task in enumerate(removed.result["tasks"]):
        log_path = os.path.join(task["archive_path"], "logs", "container.log")
        with open(log_path) as handle:
            log = handle.read()
        assert "I am agent-%d\n" % index in log and "to stderr agent-%d\n" % index in log, log
        others = [i for i in range(3) if i != index]
        assert not any("agent-%d" % other in log for other in others), log
        assert not any(name in log for name in names), log  # the name podman put before each line is gone
    left = _podman("ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert not [name for name in left if name.startswith(project + "-")]
