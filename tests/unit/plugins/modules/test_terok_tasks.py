# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import re

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils._metadata import MANAGED_BY, MANAGED_KEY
from ansible_collections.terok.lifecycle.plugins.module_utils._project_tasks import ProjectTasks
from ansible_collections.terok.lifecycle.plugins.modules import terok_tasks

ID_RE = re.compile(r"^[ghjkmnp-tv-z][0-9][0-9a-hjkmnp-tv-z]{3}$")
IMAGE = "localhost/terok-agent:latest"
LOCK_NAME = ".terok-lifecycle.lock"


@pytest.fixture
def args(root, podman_exe):
    def make(tasks, **extra):
        result = {"tasks": tasks, "root": root, "executable": str(podman_exe)}
        result.update(extra)
        return result

    return make


def item(project="demo", **params):
    params["project"] = project
    return params


@pytest.fixture
def write_managed(write_task, layout):
    def write(project, task_id, name, **extra):
        meta = {
            "mode": None,
            "workspace": layout.task_dir(project, task_id),
            "web_port": None,
            "created_at": "2026-11-28T09:15:02.118470+00:00",
            MANAGED_KEY: MANAGED_BY,
        }
        meta.update(extra)
        return write_task(project, task_id, name, meta=meta)

    return write


def test_create_many_then_rerun_is_ok(run_module, args, root, tree_snapshot, podman_log):
    items = [item(name="Fix Auth"), item("other", name="docs"), item(name="refactor-db")]
    first = run_module(terok_tasks, args(items))
    assert first["_rc"] == 0
    assert first["changed"] is True
    assert [(t["project"], t["name"], t["changed"], t["status"]) for t in first["tasks"]] == [
        ("demo", "fix-auth", True, "created"),
        ("other", "docs", True, "created"),
        ("demo", "refactor-db", True, "created"),
    ]
    assert all(ID_RE.match(t["task_id"]) and t["managed"] is True for t in first["tasks"])
    assert first["removed"] == []
    assert "diff" not in first
    assert podman_log() == []  # tasks that never ran have no container to look up
    before = tree_snapshot(root)
    again = run_module(terok_tasks, args(items))
    assert again["changed"] is False
    assert [t["changed"] for t in again["tasks"]] == [False, False, False]
    assert [t["task_id"] for t in again["tasks"]] == [t["task_id"] for t in first["tasks"]]
    assert again["removed"] == []
    assert tree_snapshot(root) == before
    assert podman_log() == []


def test_result_keys_are_the_documented_ones(run_module, args, write_managed):
    write_managed("demo", "k7m2q", "unlisted")
    result = run_module(terok_tasks, args([item(name="a")], exclusive=True))
    documented = set(re.findall(r"^    (\w+):\n      description:", terok_tasks.RETURN, re.M))
    on_failure = {"failed", "msg", "option"}  # documented as returned on an item that failed
    assert set(result["tasks"][0]) == documented - on_failure
    assert set(result["removed"][0]) == documented - on_failure
    top = set(re.findall(r"^(\w+):\n  description:", terok_tasks.RETURN, re.M))
    assert top == {"tasks", "removed", "option", "path"}  # option and path: on failure
    failure = run_module(terok_tasks, args([item(name="a"), item(name="b", state="nonsense")]))
    assert failure["option"] == "tasks[1].state"
    assert set(failure) - {"_rc", "_warnings", "invocation", "failed", "changed", "msg"} <= top


def test_one_podman_listing_for_many_items_and_projects(run_module, args, podman_log):
    items = [item("p%d" % (i % 4), name="t%d" % i, state=("present", "stopped", "absent")[i % 3]) for i in range(12)]
    result = run_module(terok_tasks, args(items))
    assert len(result["tasks"]) == 12
    assert [line.split()[0] for line in podman_log()] in ([], ["ps"])


def test_top_level_image_is_used_where_an_item_has_none(run_module, args, podman_log):
    result = run_module(
        terok_tasks,
        args(
            [item(name="a", state="running"), item(name="b", state="running", image="localhost/own:1")],
            image=IMAGE,
        ),
    )
    assert result["changed"] is True, result.get("msg")
    assert [t["status"] for t in result["tasks"]] == ["running", "running"]
    runs = [line.split() for line in podman_log() if line.startswith("run ")]
    by_name = {argv[argv.index("--name") + 1]: argv for argv in runs}
    assert IMAGE in by_name["demo-cli-" + result["tasks"][0]["task_id"]]
    assert "localhost/own:1" in by_name["demo-cli-" + result["tasks"][1]["task_id"]]
    assert IMAGE not in by_name["demo-cli-" + result["tasks"][1]["task_id"]]


def test_check_mode_writes_nothing(run_module, args, tmp_path, root, tree_snapshot, podman_log, write_managed):
    write_managed("demo", "k7m2q", "existing")
    write_managed("demo", "h3abc", "unlisted")
    before = tree_snapshot(str(tmp_path))
    items = [
        item(name="new"),
        item(task_id="k7m2q", name="renamed"),
        item("other", name="b", state="running"),
        item(name="gone", state="absent"),
    ]
    result = run_module(terok_tasks, args(items, image=IMAGE, exclusive=True, _ansible_check_mode=True))
    assert result["_rc"] == 0
    assert result["changed"] is True
    assert [t["changed"] for t in result["tasks"]] == [True, True, True, False]
    assert result["tasks"][0]["task_id"] is None
    assert result["tasks"][1]["name"] == "renamed"
    assert [r["task_id"] for r in result["removed"]] == ["h3abc"]
    assert tree_snapshot(str(tmp_path)) == before
    assert not os.path.exists(os.path.join(root, "core", "projects", "other"))
    # only reads: the container listing, and the secret listing of a removal (a task's left-over secrets)
    assert all(line.split()[:2] in (["ps", "-a"], ["secret", "ls"]) for line in podman_log()), podman_log()


def test_check_mode_on_a_fresh_root_creates_nothing(run_module, args, root):
    result = run_module(terok_tasks, args([item(name="a"), item("other", name="b")], _ansible_check_mode=True))
    assert result["changed"] is True
    assert not os.path.exists(root)


def test_diff_is_a_list_of_per_item_diffs(run_module, args, write_managed):
    write_managed("demo", "k7m2q", "same")
    write_managed("demo", "h3abc", "old-name")
    write_managed("demo", "m4xyz", "unlisted")
    result = run_module(
        terok_tasks,
        args(
            [item(name="same"), item(name="fresh"), item(task_id="h3abc", name="new-name"), item("other", name="x")],
            exclusive=True,
            _ansible_diff=True,
        ),
    )
    diff = result["diff"]
    assert isinstance(diff, list)
    for entry in diff:
        assert set(entry) >= {"before", "after", "before_header"}
        assert entry["before"] != entry["after"]
    headers = [entry["before_header"] for entry in diff]
    # the unchanged item shows no diff; changed items in item order, then what exclusive archived
    assert headers == ["demo/fresh", "demo/new-name", "other/x", "demo/unlisted (not listed)"]
    created, renamed, other, archived = diff
    assert created["before"] == {}
    assert created["after"]["name"] == "fresh"
    assert created["after"]["task_id"] == result["tasks"][1]["task_id"]
    assert renamed["before"]["name"] == "old-name" and renamed["after"]["name"] == "new-name"
    assert other["after"]["dossier"]["project"] == "other"
    assert archived["before"]["task_id"] == "m4xyz" and archived["after"] == {}


def test_diff_of_an_unchanged_run_is_empty(run_module, args):
    run_module(terok_tasks, args([item(name="a")]))
    result = run_module(terok_tasks, args([item(name="a")], _ansible_diff=True))
    assert result["changed"] is False
    assert result["diff"] == []


def test_diff_in_check_mode(run_module, args, root):
    result = run_module(terok_tasks, args([item(name="a")], _ansible_diff=True, _ansible_check_mode=True))
    assert [entry["before_header"] for entry in result["diff"]] == ["demo/a"]
    assert result["diff"][0]["after"]["name"] == "a"
    assert not os.path.exists(root)


@pytest.mark.parametrize(
    "bad, option",
    [
        ({"project": "Bad Project", "name": "a"}, "project"),
        ({"project": "default", "name": "a"}, "project"),
        ({"name": "!!!"}, "name"),
        ({"name": "-dash"}, "name"),
        ({"task_id": "abcde"}, "task_id"),
        ({"name": "a", "state": "archived", "archive": False}, "archive"),
        ({"name": "a", "state": "running"}, "image"),
        ({"name": "a", "state": "running", "image": IMAGE, "volumes": ["rel:/x"]}, "volumes"),
        ({"name": "a", "stop_timeout": -1}, "stop_timeout"),
        # the options AnsibleModule checks itself: the message must still say which item
        ({}, "name"),
        ({"name": "a", "state": "gone"}, "state"),
        ({"name": "a", "mode": "tty"}, "mode"),
        # wrong types: Ansible's own conversion would only say "found in tasks"
        ({"name": "a", "wait": "perhaps"}, "tasks[2].wait"),
        ({"name": "a", "ready_timeout": "soon"}, "tasks[2].ready_timeout"),
        ({"name": "a", "env": "not a mapping"}, "tasks[2].env"),
        ({"name": "a", "state": "absent", "only_if_status": ["finished"]}, "tasks[2].only_if_status"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_bad_item_fails_naming_its_index_and_nothing_is_written(run_module, args, tmp_path, podman_log, bad, option):
    params = {"project": "demo"}
    params.update(bad)
    result = run_module(terok_tasks, args([item(name="good"), item("other", name="fine"), params]))
    assert result.get("failed") is True
    assert result["_rc"] != 0
    assert "tasks[2]" in result["msg"]
    assert option in result["msg"]
    assert result["option"] == (option if option.startswith("tasks[") else "tasks[2]." + option)
    assert not os.path.exists(str(tmp_path / "root"))
    assert podman_log() == []


def test_an_item_given_twice_fails_naming_both_and_nothing_is_written(run_module, args, root, podman_log):
    result = run_module(terok_tasks, args([item(name="Fix Auth"), item("other", name="fix-auth"), item(name="fix-auth ")]))
    assert result.get("failed") is True
    assert "tasks[2]" in result["msg"] and "tasks[0]" in result["msg"]
    assert not os.path.exists(root)
    assert podman_log() == []


def test_tasks_is_required(run_module, args):
    params = args([])
    del params["tasks"]
    result = run_module(terok_tasks, params)
    assert result.get("failed") is True
    assert "tasks" in result["msg"]


def test_an_empty_list_is_ok(run_module, args, root):
    result = run_module(terok_tasks, args([]))
    assert result["changed"] is False
    assert result["tasks"] == []
    assert result["removed"] == []
    assert not os.path.exists(root)


def test_exclusive_archives_unlisted_managed_tasks_only(run_module, args, layout, write_managed, write_task):
    write_managed("demo", "k7m2q", "keep")
    write_managed("demo", "h3abc", "drop")
    write_task("demo", "m4xyz", "by-hand")
    write_managed("other", "n5abc", "elsewhere")
    result = run_module(terok_tasks, args([item(name="keep")], exclusive=True))
    assert result["changed"] is True
    assert [t["changed"] for t in result["tasks"]] == [False]
    assert [(r["task_id"], r["name"], r["status"], r["changed"]) for r in result["removed"]] == [
        ("h3abc", "drop", "absent", True)
    ]
    assert os.path.isfile(os.path.join(result["removed"][0]["archive_path"], "task.json"))
    assert sorted(ProjectTasks(layout, "demo").load().tasks) == ["k7m2q", "m4xyz"]
    assert sorted(ProjectTasks(layout, "other").load().tasks) == ["n5abc"]
    again = run_module(terok_tasks, args([item(name="keep")], exclusive=True))
    assert again["changed"] is False
    assert again["removed"] == []


def test_without_exclusive_nothing_is_removed(run_module, args, layout, write_managed):
    write_managed("demo", "h3abc", "unlisted")
    result = run_module(terok_tasks, args([item(name="keep")]))
    assert result["removed"] == []
    assert "h3abc" in ProjectTasks(layout, "demo").load().tasks


def test_a_failing_item_fails_the_call(run_module, args, write_task):
    write_task("demo", "k7m2q", "same")
    write_task("demo", "h3abc", "same")
    result = run_module(terok_tasks, args([item("alpha", name="a"), item(name="same")]))
    assert result.get("failed") is True
    assert "k7m2q" in result["msg"] and "h3abc" in result["msg"]


def test_missing_podman_creates_without_a_warning(run_module, args):
    result = run_module(terok_tasks, args([item(name="a"), item("other", name="b")], executable="terok-test-no-such-podman"))
    assert result["changed"] is True
    assert [t["changed"] for t in result["tasks"]] == [True, True]
    assert not [w for w in result.get("_warnings", []) if "terok-test-no-such-podman" in w]


def test_missing_podman_warns_once_for_tasks_that_ran(run_module, args, write_task):
    write_task("demo", "k7m2q", "a", meta={"mode": "cli"})
    write_task("other", "h3abc", "b", meta={"mode": "run"})
    result = run_module(terok_tasks, args([item(name="a"), item("other", name="b")], executable="terok-test-no-such-podman"))
    assert result["changed"] is False
    warnings = [w for w in result["_warnings"] if "terok-test-no-such-podman" in w]
    assert len(warnings) == 1


def test_item_values_are_converted_as_terok_task_converts_them(run_module, args, root):
    result = run_module(terok_tasks, args([item(name="a", archive="no", state="absent", stop_timeout="5")]))
    assert result.get("failed") is not True, result
    assert result["tasks"][0]["status"] == "absent"


def test_concurrency_below_one_is_refused_before_anything_is_written(run_module, args, root):
    result = run_module(terok_tasks, args([item(name="a")], concurrency=0))
    assert result.get("failed") is True
    assert result["option"] == "concurrency" and "1 or more" in result["msg"]
    assert not os.path.exists(root)


def test_a_failed_item_reports_its_own_error(run_module, args, write_task):
    write_task("demo", "k7m2q", "job", meta={"mode": "run"})
    result = run_module(terok_tasks, args([item(name="fine"), item(name="job", state="running", mode="cli", image=IMAGE)]))
    assert result.get("failed") is True
    assert result["tasks"][0]["changed"] is True and "failed" not in result["tasks"][0]
    failed = result["tasks"][1]
    assert failed["failed"] is True and failed["option"] == "mode" and "keeps its first mode" in failed["msg"]
    assert failed["name"] == "job" and failed["project"] == "demo" and failed["changed"] is False


def test_a_podman_call_that_cannot_start_fails_the_run_once(run_module, args, podman_log):
    # arguments of 4 MiB in all (each under 128 KiB, which the check refuses up front): exec(2) refuses
    # podman with E2BIG in the item's worker; the module must answer with one JSON document
    # (run_command's own fail_json printed a second)
    huge = ["x" * (128 * 1024 - 1)] * 32
    items = [item(name="a%d" % i, state="running", image=IMAGE, command=["echo"] + (huge if i == 1 else ["ok"]))
             for i in range(3)]
    result = run_module(terok_tasks, args(items, concurrency=4))
    assert result.get("failed") is True and result["_rc"] == 1
    assert "podman run" in result["msg"] and "could not be run" in result["msg"], result["msg"]
    assert result["tasks"][1]["failed"] is True and "Argument list too long" in result["tasks"][1]["msg"]
    assert huge[0] not in result["msg"]


def test_an_argument_linux_cannot_pass_is_refused_before_anything_is_written(run_module, args, root, podman_log):
    items = [item(name="a", state="running", image=IMAGE),
             item(name="b", state="running", image=IMAGE, command=["sh", "-c", "x" * (128 * 1024)])]
    result = run_module(terok_tasks, args(items))
    assert result.get("failed") is True and result["option"] == "tasks[1].command"
    assert "131072 bytes" in result["msg"]
    assert podman_log() == [] and not os.path.exists(os.path.join(root, "core"))


@pytest.mark.parametrize("concurrency", [1, 2])
def test_sigterm_during_the_waits_kills_podman_and_fails_writing_nothing_more(
    run_module, args, root, layout, tmp_path_factory, podman_program, tree_snapshot, concurrency
):
    # podman logs --follow never ends here: both items wait (the lock let go) until SIGTERM comes
    import signal
    import threading
    import time

    from ansible_collections.terok.lifecycle.plugins.module_utils._lock import ProjectLock

    directory = tmp_path_factory.mktemp("podman-wrapper")
    pids = directory / "follow-pids"
    pids.mkdir()
    wrapper = directory / "podman"
    wrapper.write_text(
        '#!/bin/sh\ncase "$*" in\n  "logs --follow"*) echo $$ > "%s/$$"; exec sleep 60;;\nesac\nexec "%s" "$@"\n'
        % (pids, podman_program.path)
    )
    wrapper.chmod(0o755)
    seen = {}

    def interrupt():
        deadline = time.monotonic() + 20
        while len(os.listdir(str(pids))) < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # both items wait now (side by side), the lock let go
        seen["tree"] = tree_snapshot(root)
        seen["pids"] = [int(name) for name in os.listdir(str(pids))]
        os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    items = [item(name="a%d" % i, state="running", image=IMAGE) for i in range(2)]
    killer = threading.Thread(target=interrupt)
    killer.start()
    started = time.monotonic()
    result = run_module(terok_tasks, dict(args(items, concurrency=concurrency), executable=str(wrapper)))
    killer.join()
    assert time.monotonic() - started < 15
    assert result.get("failed") is True and "interrupted by SIGTERM" in result["msg"], result
    assert signal.getsignal(signal.SIGTERM) == before  # the module's handler is gone again
    assert seen["pids"]
    for pid in seen["pids"]:  # the streaming podman calls were killed and reaped
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert tree_snapshot(root) == seen["tree"]  # nothing written after the lock was let go
    with ProjectLock(layout.meta_dir("demo"), timeout=0):  # and the lock is not held
        pass


def test_a_failed_item_carries_the_id_of_the_task_it_made(run_module, args, layout, podman_program):
    podman_program.update(fail={"run": [125, "Error: the runtime failed"]})
    items = [item(name="new-one", state="running", image=IMAGE)]
    result = run_module(terok_tasks, args(items))
    assert result.get("failed") is True and result["changed"] is True
    (task_id,) = os.listdir(layout.tasks_root("demo"))
    assert result["tasks"][0]["task_id"] == task_id and result["tasks"][0]["failed"] is True
