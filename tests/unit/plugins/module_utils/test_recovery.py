# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the library does with tasks that a fault left half made or half removed."""

from __future__ import annotations

import os

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils import _project_tasks
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._converge import converge_one
from ansible_collections.terok.lifecycle.plugins.module_utils._spec import Spec
from ansible_collections.terok.lifecycle.plugins.module_utils._project_tasks import ProjectTasks

MANAGED = {"mode": None, "workspace": "/x", "web_port": None, "created_at": "2026-11-28T09:15:02+00:00",
           "managed_by": "terok.lifecycle"}


def test_a_killed_create_is_swept(make_runtime, write_task, layout):
    task_dir = write_task("demo", "k7m2q", meta=MANAGED, dossier=False)
    with open(os.path.join(task_dir, "README.md"), "w") as handle:
        handle.write(_project_tasks.README_TEXT)
    runtime, _runner = make_runtime()
    tasks = ProjectTasks(layout, "demo").load()
    tasks.sweep_incomplete(runtime.warn)
    assert not os.path.exists(task_dir)
    assert not os.path.exists(layout.meta_path("demo", "k7m2q"))


@pytest.mark.parametrize(
    "meta, work",
    [
        (dict(MANAGED, mode="cli", ready_at="2026-11-28T09:16:00+00:00"), None),  # it ran
        (MANAGED, "agent-notes.txt"),  # its workspace holds work
    ],
)
def test_a_task_that_lost_its_dossier_but_holds_more_is_kept(make_runtime, write_task, layout, meta, work):
    task_dir = write_task("demo", "k7m2q", meta=meta, dossier=False)
    if work:
        with open(os.path.join(layout.workspace("demo", "k7m2q"), work), "w") as handle:
            handle.write("uncommitted work")
    runtime, _runner = make_runtime()
    tasks = ProjectTasks(layout, "demo").load()
    tasks.sweep_incomplete(runtime.warn)
    assert os.path.isdir(task_dir)
    assert os.path.exists(layout.meta_path("demo", "k7m2q"))
    assert any("k7m2q" in warning and "left as it is" in warning for warning in runtime.warnings)


def test_a_workspace_that_cannot_be_removed_keeps_the_task_as_deleting(make_runtime, write_task, layout, monkeypatch):
    write_task("demo", "k7m2q", "a", meta={"mode": "cli"})
    runtime, _runner = make_runtime()
    real_remove_tree = _project_tasks.remove_tree

    def refuse_task_dir(path):
        if path == layout.task_dir("demo", "k7m2q"):
            raise PermissionError(13, "Permission denied", path)
        real_remove_tree(path)

    monkeypatch.setattr(_project_tasks, "remove_tree", refuse_task_dir)
    outcome = converge_one(runtime, Spec("demo", name="a", state="absent"))
    assert outcome.changed
    assert outcome.task["status"] == "deleting"  # never "absent" while its files remain
    assert any("kept as deleting" in warning for warning in runtime.warnings)
    task = ProjectTasks(layout, "demo").load().tasks["k7m2q"]
    assert task.meta["deleting"] is True
    assert os.path.exists(layout.dossier_path("demo", "k7m2q"))


@pytest.mark.parametrize("state", ["present", "running", "stopped"])
def test_a_task_being_deleted_is_not_used_again(make_runtime, write_task, layout, state):
    write_task("demo", "k7m2q", "a", meta={"mode": "cli", "deleting": True})
    runtime, runner = make_runtime()
    with pytest.raises(TerokError) as err:
        converge_one(runtime, Spec.from_params({"project": "demo", "name": "a", "state": state, "image": "img"}))
    assert err.value.option == "state"
    assert "state=absent" in err.value.msg
    assert [sub for sub in runner.subcommands() if sub != "ps"] == []


def test_a_task_being_deleted_is_finished_by_absent(make_runtime, write_task, layout):
    write_task("demo", "k7m2q", "a", meta={"mode": "cli", "deleting": True})
    runtime, _runner = make_runtime()
    outcome = converge_one(runtime, Spec("demo", name="a", state="absent"))
    assert outcome.changed
    assert "k7m2q" not in ProjectTasks(layout, "demo").load().tasks


def test_a_rootless_users_subordinate_uid_files_are_removed_through_podman_unshare(
    make_runtime, write_task, layout, monkeypatch
):
    from ansible_collections.terok.lifecycle.plugins.module_utils import _session

    write_task("demo", "k7m2q", "a", meta={"mode": "cli"})
    runtime, runner = make_runtime()
    real_remove_tree = _project_tasks.remove_tree
    refused = []

    def refuse_once(path):
        if path == layout.task_dir("demo", "k7m2q") and not refused:
            refused.append(path)
            raise PermissionError(13, "Permission denied", path)
        real_remove_tree(path)

    monkeypatch.setattr(_project_tasks, "remove_tree", refuse_once)
    monkeypatch.setattr(_session.os, "geteuid", lambda: 1000)
    outcome = converge_one(runtime, Spec("demo", name="a", state="absent"))
    assert outcome.task["status"] == "absent"
    assert ["unshare", "rm", "-rf", "--", layout.task_dir("demo", "k7m2q")] in [argv[1:] for argv in runner.calls]
    assert not os.path.exists(layout.meta_path("demo", "k7m2q"))
