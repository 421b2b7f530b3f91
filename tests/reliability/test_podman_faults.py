# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""podman missing or failing: each state ends as documented and the metadata tells the truth.

Documented (DESIGN section 5): ``absent`` and ``archived`` are best-effort about containers (a
failed step is a warning); ``running`` and ``stopped`` fail when podman does; the info
module lists tasks with a warning. "Tells the truth": a failed podman call leaves the task's
metadata as it was (no recorded exit code or readiness is dropped for a start that did not
happen); a removal that went ahead removed the task and kept its archive entry.
"""

from __future__ import annotations

import os

import pytest

import _support as S

MISSING = "/nonexistent/terok-reliability/podman"
FAIL = (125, "Error: the fake podman was told to fail")


class Ran(object):
    """A task that ran in mode cli: ready, exit code 3 recorded, its container in ``state``."""

    def __init__(self, root, container_state="exited", name="ran"):
        self.root = root
        self.task_id = S.create(root, "demo", name)
        self.container = "demo-cli-" + self.task_id
        self.meta_path = os.path.join(S.meta_dir(root, "demo"), self.task_id + "_meta.yml")
        with open(self.meta_path, "a", encoding="utf-8") as handle:
            handle.write("mode: cli\nready_at: '2026-11-28T00:00:00+00:00'\nexit_code: 3\nagent: claude\n")
        self.meta = S.load_yaml(S.read_bytes(self.meta_path))
        self.container_state = container_state

    def runner(self, fail=None, stuck=(), **containers):
        listing = {self.container: {"State": self.container_state, "ExitCode": 3}} if self.container_state else {}
        listing.update(containers)
        return S.FakePodman(listing, fail=fail, stuck=stuck)

    def converge(self, runner, executable=None, **params):
        params.setdefault("project", "demo")
        params.setdefault("task_id", self.task_id)
        rt = S.runtime(self.root, runner, executable=executable)
        try:
            outcome = S.converge_one(rt, S.spec(**params))
        except S.TerokError as exc:
            return None, exc, rt.warnings
        return outcome, None, rt.warnings

    def meta_unchanged(self):
        """The metadata says what it said before (the same keys and values)."""
        return os.path.isfile(self.meta_path) and S.load_yaml(S.read_bytes(self.meta_path)) == self.meta

    def gone_with_archive(self):
        entries, _incomplete = S.archive_entries(self.root, "demo")
        return (self.task_id not in S.metadata_ids(self.root, "demo")
                and not os.path.lexists(os.path.join(S.tasks_root(self.root, "demo"), self.task_id))
                and len(entries.get(self.task_id, [])) == 1)

    def log_file(self):
        return os.path.join(S.tasks_root(self.root, "demo"), self.task_id, "logs", "container.log")


@pytest.fixture
def root(shm_tmp):
    return os.path.join(shm_tmp, "root")


# --------------------------------------------------------------------------------------
# podman missing
# --------------------------------------------------------------------------------------
def test_podman_missing_present_and_info_work_with_a_warning(root):
    task = Ran(root)
    outcome, error, warnings = task.converge(S.FakePodman(), executable=MISSING, name="new-one", task_id=None)
    assert error is None and outcome.changed
    # a new task never ran: it has no container to look up, so podman is not asked
    assert not any(MISSING in w for w in warnings), warnings
    rt = S.runtime(root, executable=MISSING)
    tasks, _archived = S._query.list_tasks(rt, S._query.Query())
    assert sorted(t["name"] for t in tasks) == ["new-one", "ran"]
    assert any("container states are unknown" in w for w in rt.warnings), rt.warnings
    assert task.meta_unchanged()


@pytest.mark.parametrize("state", ["running", "stopped"])
def test_podman_missing_running_and_stopped_fail_and_change_nothing(root, state):
    task = Ran(root, container_state=None)
    outcome, error, _warnings = task.converge(S.FakePodman(), executable=MISSING, state=state, image="img")
    assert outcome is None and error is not None, "state=%s without podman did not fail" % state
    assert error.option == "executable" and MISSING in error.msg, error.msg
    assert task.meta_unchanged(), "state=%s without podman changed the metadata" % state


@pytest.mark.parametrize("state", ["absent", "archived"])
def test_podman_missing_absent_and_archived_remove_with_warnings(root, state):
    task = Ran(root, container_state=None)
    outcome, error, warnings = task.converge(S.FakePodman(), executable=MISSING, state=state)
    assert error is None and outcome.changed, error
    assert any("container removal failed" in w for w in warnings), warnings
    assert task.gone_with_archive()


def test_podman_missing_through_real_modules(tmp_path):
    root = str(tmp_path / "root")
    task = Ran(root, container_state=None)
    info = S.adhoc("terok_task_info", {"root": root, "executable": MISSING})
    assert not info.failed and [t["task_id"] for t in info.result["tasks"]] == [task.task_id], info
    assert any("container states are unknown" in w for w in info.warnings), info.warnings
    run = S.adhoc("terok_task", {"root": root, "executable": MISSING, "project": "demo", "task_id": task.task_id,
                                 "state": "running", "image": "img"})
    assert run.failed and "was not found" in run.result["msg"] and S.crash_signs(run.result) is None, run
    assert task.meta_unchanged()
    gone = S.adhoc("terok_task", {"root": root, "executable": MISSING, "project": "demo", "task_id": task.task_id,
                                  "state": "archived"})
    assert not gone.failed and gone.result["changed"], gone
    assert any("container removal failed" in w for w in gone.warnings), gone.warnings
    assert task.gone_with_archive()


# --------------------------------------------------------------------------------------
# podman rm / stop / logs / start failing
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("state", ["absent", "archived"])
def test_rm_failing_is_a_warning_and_the_task_is_archived(root, state):
    task = Ran(root)
    runner = task.runner(fail={"rm": FAIL})
    outcome, error, warnings = task.converge(runner, state=state)
    assert error is None and outcome.changed
    assert any("container removal failed" in w and "podman rm" in w for w in warnings), warnings
    assert task.gone_with_archive()
    entries, _incomplete = S.archive_entries(root, "demo")
    assert os.path.isfile(os.path.join(entries[task.task_id][0], "logs", "container.log")), "the log was not archived"


def test_rm_failing_on_recreate_fails_and_keeps_the_metadata(root):
    task = Ran(root, container_state="running")
    # a container this collection made from other options (an options hash label that differs)
    made = {"State": "running", "ExitCode": 3, "Labels": {"io.terok.lifecycle.spec": "0" * 32}}
    runner = task.runner(fail={"rm": FAIL}, **{task.container: made})
    outcome, error, _warnings = task.converge(runner, state="running", image="img", recreate=True, wait_ready=False)
    assert outcome is None and "podman rm" in error.msg, error
    assert task.meta_unchanged(), "a recreate that could not remove the container dropped ready_at/exit_code: %s" % (
        S.read_task_files(root, "demo", task.task_id)[1])


def test_start_failing_keeps_the_recorded_exit_code_and_readiness(root):
    task = Ran(root, container_state="exited")
    runner = task.runner(fail={"start": FAIL})
    outcome, error, _warnings = task.converge(runner, state="running", image="img", wait_ready=False)
    assert outcome is None and "podman start" in error.msg, error
    _dossier, meta = S.read_task_files(root, "demo", task.task_id)
    assert task.meta_unchanged(), "a start that failed changed the metadata: %s" % meta
    tasks, _archived, _warnings = S.list_all(root, task.runner())
    assert tasks[0]["status"] == "failed" and tasks[0]["exit_code"] == 3


def test_stop_failing_fails_and_changes_nothing(root):
    task = Ran(root, container_state="running")
    runner = task.runner(fail={"stop": FAIL})
    outcome, error, _warnings = task.converge(runner, state="stopped")
    assert outcome is None and "podman stop" in error.msg, error
    assert task.meta_unchanged()
    assert runner.containers[task.container]["State"] == "running"
    assert not os.path.exists(task.log_file())


def test_logs_failing_on_stop_is_a_warning(root):
    task = Ran(root, container_state="running")
    runner = task.runner(fail={"logs": FAIL})
    outcome, error, warnings = task.converge(runner, state="stopped")
    assert error is None and outcome.changed and outcome.task["container_state"] == "exited"
    assert any("log capture" in w and task.container in w for w in warnings), warnings
    assert runner.containers[task.container]["State"] == "exited"
    # the stop is recorded (stopped_at), nothing else of the metadata changed
    meta = S.load_yaml(S.read_bytes(task.meta_path))
    assert meta.pop("stopped_at") and meta == task.meta
    assert not os.path.exists(task.log_file())


@pytest.mark.parametrize("state", ["absent", "archived"])
def test_logs_failing_on_removal_is_a_warning_and_the_rest_is_done(root, state):
    task = Ran(root, container_state="exited")
    runner = task.runner(fail={"logs": FAIL})
    outcome, error, warnings = task.converge(runner, state=state)
    assert error is None and outcome.changed
    assert any("log capture" in w for w in warnings), warnings
    assert task.gone_with_archive()
    assert task.container not in runner.containers


# --------------------------------------------------------------------------------------
# a container stuck in "stopping"
# --------------------------------------------------------------------------------------
def test_stuck_in_stopping_stopped_fails_and_changes_nothing(root):
    task = Ran(root, container_state="stopping")
    runner = task.runner(fail={"stop": (125, "Error: container is stuck in state stopping")}, stuck=[task.container])
    outcome, error, _warnings = task.converge(runner, state="stopped")
    assert outcome is None and "podman stop" in error.msg and "stopping" in error.msg, error
    assert task.meta_unchanged()


def test_stuck_in_stopping_running_fails_and_keeps_the_metadata(root):
    task = Ran(root, container_state="stopping")
    runner = task.runner(fail={"start": (125, "Error: container is stopping")}, stuck=[task.container])
    outcome, error, _warnings = task.converge(runner, state="running", image="img", wait_ready=False)
    assert outcome is None and error is not None
    assert task.meta_unchanged(), "a failed start on a stopping container changed the metadata: %s" % (
        S.read_task_files(root, "demo", task.task_id)[1])


@pytest.mark.parametrize("state", ["absent", "archived"])
def test_stuck_in_stopping_removal_warns_and_archives(root, state):
    task = Ran(root, container_state="stopping")
    runner = task.runner(fail={"rm": (125, "Error: container is stopping")}, stuck=[task.container])
    outcome, error, warnings = task.converge(runner, state=state)
    assert error is None and outcome.changed
    assert any("container removal failed" in w and "stopping" in w for w in warnings), warnings
    assert task.gone_with_archive()


def test_ps_failing_info_lists_with_a_warning_and_running_fails(root):
    task = Ran(root)
    runner = task.runner(fail={"ps": (125, "Error: cannot connect to the podman socket")})
    tasks, _archived, warnings = S.list_all(root, runner)
    assert [t["task_id"] for t in tasks] == [task.task_id]
    assert tasks[0]["container_state"] is None
    assert any("container states are unknown" in w and "podman ps" in w for w in warnings), warnings
    outcome, error, _warnings = task.converge(runner, state="running", image="img")
    assert outcome is None and "podman ps" in error.msg
    assert task.meta_unchanged()


def test_faults_through_real_modules(tmp_path, fake_podman):
    """The documented results as a playbook sees them: warnings on stderr, failures with a message."""
    root = str(tmp_path / "root")
    task = Ran(root, container_state="running")
    other = Ran(root, container_state="running", name="other")
    base = {"root": root, "executable": fake_podman.path, "project": "demo"}

    fake_podman.set(containers={task.container: {"State": "stopping", "ExitCode": 3},
                                other.container: {"State": "running"}},
                    fail={"stop": [125, "Error: container is stuck in state stopping"]}, stuck=[task.container])
    stop = S.adhoc("terok_task", dict(base, task_id=task.task_id, state="stopped"))
    assert stop.failed and "podman stop" in stop.result["msg"] and S.crash_signs(stop.result) is None, stop
    assert task.meta_unchanged()

    fake_podman.set(containers={task.container: {"State": "stopping", "ExitCode": 3},
                                other.container: {"State": "running"}},
                    fail={"rm": [125, "Error: container is stuck in state stopping"], "logs": [125, "Error: no logs"]},
                    stuck=[task.container])
    items = [{"project": "demo", "task_id": task.task_id, "state": "archived"},
             {"project": "demo", "task_id": other.task_id, "state": "absent"}]
    gone = S.adhoc("terok_tasks", {"root": root, "executable": fake_podman.path, "tasks": items})
    assert not gone.failed and gone.result["changed"], gone
    assert any("container removal failed" in w for w in gone.warnings), gone.warnings
    assert any("log capture" in w for w in gone.warnings), gone.warnings
    assert task.gone_with_archive() and other.gone_with_archive()
