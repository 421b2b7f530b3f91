# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import os
import re

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils import _module_support
from ansible_collections.terok.lifecycle.plugins.modules import terok_task

ID_RE = re.compile(r"^[ghjkmnp-tv-z][0-9][0-9a-hjkmnp-tv-z]{3}$")
LOCK_NAME = ".terok-lifecycle.lock"


@pytest.fixture
def args(root, podman_exe):
    def make(**extra):
        result = {"project": "demo", "root": root, "executable": str(podman_exe)}
        result.update(extra)
        return result

    return make


def data_only(snapshot):
    return {p: e for p, e in snapshot.items() if os.path.basename(p) != LOCK_NAME and e[0] != "dir"}


def test_create_then_rerun_is_ok(run_module, args, root, tree_snapshot, podman_log):
    first = run_module(terok_task, args(name="Fix Auth"))
    assert first["_rc"] == 0
    assert first["changed"] is True
    task = first["task"]
    assert ID_RE.match(task["task_id"])
    assert task["name"] == "fix-auth"
    assert task["project"] == "demo"
    assert task["status"] == "created"
    assert task["managed"] is True
    assert task["workspace"] == os.path.join(
        root, "sandbox-live", "tasks", "demo", task["task_id"], "workspace-dangerous"
    )
    assert os.path.isfile(os.path.join(task["workspace"], ".new-task-marker"))
    assert "diff" not in first
    before = tree_snapshot(root)
    again = run_module(terok_task, args(name="fix-auth"))
    assert again["changed"] is False
    assert again["task"]["task_id"] == task["task_id"]
    assert tree_snapshot(root) == before
    assert all(line.startswith("ps ") for line in podman_log())


def test_result_keys_are_the_documented_ones(run_module, args):
    task = run_module(terok_task, args(name="a"))["task"]
    documented = re.findall(r"^    (\w+):\n      description:", terok_task.RETURN, re.M)
    assert set(task) == set(documented)
    top = set(re.findall(r"^(\w+):\n  description:", terok_task.RETURN, re.M))
    failure = run_module(terok_task, args(name="a", project="../etc"))
    assert failure.get("failed") and failure["option"] == "project", failure
    assert set(failure) - {"_rc", "_warnings", "invocation", "failed", "changed", "msg"} <= top


def test_rename_via_task_id(run_module, args, layout):
    task_id = run_module(terok_task, args(name="old"))["task"]["task_id"]
    renamed = run_module(terok_task, args(task_id=task_id, name="New Name"))
    assert renamed["changed"] is True
    assert renamed["task"]["name"] == "new-name"
    with open(layout.dossier_path("demo", task_id)) as handle:
        assert json.load(handle)["name"] == "new-name"
    assert run_module(terok_task, args(task_id=task_id, name="new-name"))["changed"] is False
    assert run_module(terok_task, args(name="new-name"))["task"]["task_id"] == task_id


def test_check_mode_create_writes_nothing(run_module, args, tmp_path, tree_snapshot, podman_log):
    before = data_only(tree_snapshot(str(tmp_path)))
    result = run_module(terok_task, args(name="fix-auth", _ansible_check_mode=True))
    assert result["changed"] is True
    assert result["task"]["task_id"] is None
    assert result["task"]["name"] == "fix-auth"
    assert data_only(tree_snapshot(str(tmp_path))) == before
    assert not os.path.exists(os.path.join(str(tmp_path), "root"))
    # only reads: the container listing, and the secret listing of a removal (a task's left-over secrets)
    assert all(line.split()[:2] in (["ps", "-a"], ["secret", "ls"]) for line in podman_log()), podman_log()


def test_check_mode_absent_and_rename_write_nothing(run_module, args, root, tree_snapshot, podman_log):
    task_id = run_module(terok_task, args(name="a"))["task"]["task_id"]
    before = tree_snapshot(root)
    renamed = run_module(terok_task, args(task_id=task_id, name="b", _ansible_check_mode=True))
    assert renamed["changed"] is True and renamed["task"]["name"] == "b"
    gone = run_module(terok_task, args(name="a", state="absent", _ansible_check_mode=True))
    assert gone["changed"] is True and gone["task"]["status"] == "absent"
    archived = run_module(terok_task, args(name="a", state="archived", _ansible_check_mode=True))
    assert archived["changed"] is True
    assert tree_snapshot(root) == before
    # only reads: the container listing, and the secret listing of a removal (a task's left-over secrets)
    assert all(line.split()[:2] in (["ps", "-a"], ["secret", "ls"]) for line in podman_log()), podman_log()


def test_diff_mode(run_module, args):
    created = run_module(terok_task, args(name="fix-auth", _ansible_diff=True))
    assert created["diff"]["before"] == {}
    after = created["diff"]["after"]
    assert after["task_id"] == created["task"]["task_id"]
    assert after["name"] == "fix-auth"
    assert after["dossier"] == {"project": "demo", "task": after["task_id"], "name": "fix-auth"}
    assert after["meta"]["managed_by"] == "terok.lifecycle"
    renamed = run_module(terok_task, args(task_id=after["task_id"], name="other", _ansible_diff=True))
    assert renamed["diff"]["before"]["name"] == "fix-auth"
    assert renamed["diff"]["after"]["name"] == "other"
    same = run_module(terok_task, args(name="other", _ansible_diff=True))
    assert same["changed"] is False
    assert same["diff"]["before"] == same["diff"]["after"]
    gone = run_module(terok_task, args(name="other", state="absent", _ansible_diff=True))
    assert gone["diff"]["before"]["name"] == "other"
    assert gone["diff"]["after"] == {}


def test_absent_and_archived(run_module, args, layout):
    task_id = run_module(terok_task, args(name="a"))["task"]["task_id"]
    gone = run_module(terok_task, args(name="a", state="archived"))
    assert gone["changed"] is True
    assert gone["task"]["status"] == "absent"
    assert os.path.isfile(os.path.join(gone["task"]["archive_path"], "task.json"))
    assert not os.path.exists(layout.task_dir("demo", task_id))
    again = run_module(terok_task, args(name="a", state="archived"))
    assert again["changed"] is False
    assert again["task"]["archive_path"] == gone["task"]["archive_path"]
    assert run_module(terok_task, args(name="a", state="absent"))["changed"] is False


def test_absent_without_archive(run_module, args, layout):
    run_module(terok_task, args(name="a"))
    gone = run_module(terok_task, args(name="a", state="absent", archive=False))
    assert gone["changed"] is True
    assert gone["task"]["archive_path"] is None
    assert not os.path.exists(layout.archive_dir("demo"))


def test_archived_fails_when_the_archive_cannot_be_written(run_module, args, layout, root):
    task_id = run_module(terok_task, args(name="a"))["task"]["task_id"]
    with open(os.path.join(root, "archive"), "w") as handle:
        handle.write("in the way")
    result = run_module(terok_task, args(name="a", state="archived"))
    assert result.get("failed") is True
    assert "nothing was removed" in result["msg"]
    assert os.path.isfile(layout.meta_path("demo", task_id))
    assert os.path.isdir(layout.workspace("demo", task_id))


@pytest.mark.parametrize(
    "extra, option",
    [
        ({"project": "Bad Project", "name": "a"}, "project"),
        ({"project": "default", "name": "a"}, "project"),
        ({"project": "demo\n", "name": "a"}, "project"),
        ({"name": "!!!"}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "-starts-with-dash"}, "name"),
        ({"task_id": "abcde"}, "task_id"),
        ({"task_id": "k7m2q\n"}, "task_id"),
        ({"name": "a", "state": "archived", "archive": False}, "archive"),
        ({"name": "a", "lock_timeout": -1}, "lock_timeout"),
        ({"name": "a", "root": "relative/root"}, "root"),
    ],
)
def test_bad_input_fails_naming_the_option_and_writes_nothing(run_module, args, tmp_path, podman_log, extra, option):
    params = args()
    params.update(extra)
    result = run_module(terok_task, params)
    assert result.get("failed") is True
    assert result["_rc"] != 0
    assert option in result["msg"]
    assert result["option"] == option
    assert not os.path.exists(str(tmp_path / "root"))
    assert podman_log() == []


def test_a_failure_about_a_file_returns_its_path(run_module, args, root):
    lock = os.path.join(root, "core", "projects", "demo", "tasks", LOCK_NAME)
    os.makedirs(lock)  # a lock file that cannot be opened
    result = run_module(terok_task, args(name="a"))
    assert result.get("failed") is True
    assert result["path"] == lock
    assert lock in result["msg"]
    assert "option" not in result


def test_missing_name_and_task_id_fails(run_module, args):
    result = run_module(terok_task, args())
    assert result.get("failed") is True
    assert "name" in result["msg"] and "task_id" in result["msg"]


def test_unknown_task_id_fails_naming_task_id(run_module, args):
    result = run_module(terok_task, args(task_id="k7m2q"))
    assert result.get("failed") is True
    assert "task_id" in result["msg"]
    assert "k7m2q" in result["msg"]


def test_ambiguous_name_fails_listing_ids(run_module, args, write_task):
    write_task("demo", "k7m2q", "same")
    write_task("demo", "h3abc", "same")
    result = run_module(terok_task, args(name="same"))
    assert result.get("failed") is True
    assert "k7m2q" in result["msg"] and "h3abc" in result["msg"]


def test_missing_podman_creates_without_a_warning(run_module, args):
    result = run_module(terok_task, args(name="a", executable="terok-test-no-such-podman"))
    assert result["changed"] is True
    assert not any("terok-test-no-such-podman" in w for w in result.get("_warnings", []))


def test_missing_podman_warns_for_a_task_that_ran(run_module, args, write_task):
    write_task("demo", "k7m2q", "a", meta={"mode": "cli"})
    result = run_module(terok_task, args(name="a", executable="terok-test-no-such-podman"))
    assert result["changed"] is False
    assert any("terok-test-no-such-podman" in w for w in result["_warnings"])


def test_container_state_comes_from_podman(run_module, args, write_task, podman_ps):
    write_task("demo", "k7m2q", "a", meta={"mode": "cli", "ready_at": "2026-11-28T09:16:00+00:00"})
    podman_ps([{"Names": ["demo-cli-k7m2q"], "State": "running", "ExitCode": 0}])
    task = run_module(terok_task, args(name="a"))["task"]
    assert task["status"] == "running"
    assert task["container_name"] == "demo-cli-k7m2q"
    assert task["login_command"] == "podman exec -it demo-cli-k7m2q bash"


def test_missing_pyyaml_is_reported(run_module, args, monkeypatch):
    monkeypatch.setattr(_module_support, "HAS_YAML", False)
    monkeypatch.setattr(_module_support, "YAML_IMPORT_ERROR", "ImportError: No module named 'yaml'")
    result = run_module(terok_task, args(name="a"))
    assert result.get("failed") is True
    assert "PyYAML" in result["msg"]


def test_a_task_whose_workspace_is_a_symlink_is_removed_with_a_warning(run_module, args, tmp_path):
    task = run_module(terok_task, args(name="a"))["task"]
    workspace = task["workspace"]
    os.rename(workspace, str(tmp_path / "elsewhere"))
    os.symlink(str(tmp_path / "elsewhere"), workspace)
    present = run_module(terok_task, args(name="a", _ansible_diff=True))  # never followed to fix its mode
    assert present["failed"] is True and present["path"] == workspace and "symbolic link" in present["msg"]
    result = run_module(terok_task, args(name="a", state="absent", _ansible_diff=True))
    assert result["changed"] is True and result["task"]["status"] == "absent", result
    assert result["diff"]["before"]["files"]["workspace_mode"] == "symlink"
    assert any("symbolic link" in warning for warning in result["_warnings"]), result["_warnings"]
    assert not os.path.lexists(workspace) and os.listdir(str(tmp_path / "elsewhere")) == [".new-task-marker"]
