# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Converging one task: present (create, adopt, rename), absent and archived, check mode."""

from __future__ import annotations

import datetime
import json
import os
import re
import stat

import pytest
import yaml

from ansible_collections.terok.lifecycle.plugins.module_utils._archive import TASK_JSON, list_entries, write_entry
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._converge import converge_one, find_task
from ansible_collections.terok.lifecycle.plugins.module_utils._lock import LOCK_NAME, ProjectLock
from ansible_collections.terok.lifecycle.plugins.module_utils._metadata import MANAGED_BY, MANAGED_KEY
from ansible_collections.terok.lifecycle.plugins.module_utils._spec import Spec
from ansible_collections.terok.lifecycle.plugins.module_utils._project_tasks import ProjectTasks

ID_RE = re.compile(r"^[ghjkmnp-tv-z][0-9][0-9a-hjkmnp-tv-z]{3}$")
READY = "2026-11-28T09:16:00+00:00"


def run(runtime, **params):
    params.setdefault("project", "demo")
    return converge_one(runtime, Spec.from_params(params))


def data_only(snapshot):
    """A tree snapshot without the lock file and the directories that only lead to it."""
    return {
        path: entry
        for path, entry in snapshot.items()
        if os.path.basename(path) != LOCK_NAME and not (entry[0] == "dir" and path.startswith("core"))
    }


def read_text(path):
    with open(path) as handle:
        return handle.read()


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# present: create ------------------------------------------------------------------------------------


def test_create_makes_workspace_marker_readme_and_metadata(make_runtime, layout):
    runtime, runner = make_runtime()
    old_umask = os.umask(0o077)
    try:
        outcome = run(runtime, name="Fix Auth")
    finally:
        os.umask(old_umask)
    assert outcome.changed is True
    task = outcome.task
    task_id = task["task_id"]
    assert ID_RE.match(task_id)
    assert (task["name"], task["project"], task["status"], task["managed"]) == ("fix-auth", "demo", "created", True)
    assert task["mode"] is None and task["container_name"] is None
    workspace = layout.workspace("demo", task_id)
    assert task["workspace"] == workspace
    assert os.path.isdir(workspace)
    assert mode_of(workspace) == 0o700
    marker = read_text(os.path.join(workspace, ".new-task-marker"))
    lines = marker.splitlines()
    assert len(lines) == 3 and all(line.startswith("#") for line in lines)
    assert "HEAD" in lines[0] and "reset" in marker
    assert "init-ssh-and-repo.sh" in marker
    assert "went wrong" in lines[2]
    assert os.listdir(workspace) == [".new-task-marker"]
    readme = read_text(os.path.join(layout.task_dir("demo", task_id), "README.md"))
    assert "workspace-dangerous" in readme
    with open(layout.dossier_path("demo", task_id), "rb") as handle:
        assert handle.read() == (
            '{\n  "project": "demo",\n  "task": "%s",\n  "name": "fix-auth"\n}\n' % task_id
        ).encode("utf-8")
    meta = yaml.safe_load(read_text(layout.meta_path("demo", task_id)))
    assert meta["mode"] is None
    assert meta["web_port"] is None
    assert meta["workspace"] == layout.task_dir("demo", task_id)
    assert meta[MANAGED_KEY] == MANAGED_BY
    created = datetime.datetime.fromisoformat(meta["created_at"])
    assert created.utcoffset() == datetime.timedelta(0)
    assert abs((datetime.datetime.now(datetime.timezone.utc) - created).total_seconds()) < 60
    assert task["created_at"] == meta["created_at"]
    assert runner.mutating_calls() == []


def test_create_leaves_no_temp_files(make_runtime, layout):
    runtime, _runner = make_runtime()
    task_id = run(runtime, name="x").task["task_id"]
    meta_files = sorted(f for f in os.listdir(layout.meta_dir("demo")) if f != LOCK_NAME)
    assert meta_files == [task_id + "_dossier.json", task_id + "_meta.yml"]
    assert sorted(os.listdir(layout.task_dir("demo", task_id))) == ["README.md", "workspace-dangerous"]


def test_create_diff(make_runtime):
    runtime, _runner = make_runtime()
    outcome = run(runtime, name="fix-auth")
    assert outcome.diff["before"] == {}
    after = outcome.diff["after"]
    assert after["task_id"] == outcome.task["task_id"]
    assert after["name"] == "fix-auth"
    assert after["dossier"]["name"] == "fix-auth"
    assert after["meta"][MANAGED_KEY] == MANAGED_BY


def test_rerun_is_not_changed_and_writes_nothing(make_runtime, root, tree_snapshot):
    runtime, _runner = make_runtime()
    first = run(runtime, name="fix-auth")
    before = tree_snapshot(root)
    runtime2, runner2 = make_runtime()
    again = run(runtime2, name="  Fix Auth ")
    assert again.changed is False
    assert again.task["task_id"] == first.task["task_id"]
    assert again.diff["before"] == again.diff["after"]
    assert tree_snapshot(root) == before
    assert runner2.mutating_calls() == []


def test_rerun_by_task_id_is_not_changed(make_runtime):
    runtime, _runner = make_runtime()
    task_id = run(runtime, name="fix-auth").task["task_id"]
    outcome = run(runtime, task_id=task_id)
    assert outcome.changed is False
    assert outcome.task["name"] == "fix-auth"
    assert run(runtime, task_id=task_id, name="fix-auth").changed is False


def test_each_name_gets_its_own_task_and_projects_are_separate(make_runtime, layout):
    runtime, _runner = make_runtime()
    a = run(runtime, name="a").task["task_id"]
    b = run(runtime, name="b").task["task_id"]
    other = run(runtime, project="other", name="a").task["task_id"]
    assert len({a, b, other}) == 3
    assert sorted(ProjectTasks(layout, "demo").load().tasks) == sorted([a, b])
    assert list(ProjectTasks(layout, "other").load().tasks) == [other]


def test_create_avoids_ids_of_orphan_task_dirs(make_runtime, layout, monkeypatch):
    from ansible_collections.terok.lifecycle.plugins.module_utils import _naming

    os.makedirs(os.path.join(layout.tasks_root("demo"), "g0000"))
    draws = iter(["g", "0", "0", "0", "0", "h", "1", "1", "1", "1"])
    monkeypatch.setattr(_naming.secrets, "choice", lambda seq: next(draws))
    runtime, _runner = make_runtime()
    assert run(runtime, name="x").task["task_id"] == "h1111"


def test_terok_made_task_is_adopted_unchanged(make_runtime, write_task, root, tree_snapshot):
    write_task("demo", "k7m2q", "by-terok", meta={"mode": "cli", "ready_at": READY, "agent": "claude"})
    before = tree_snapshot(root)
    runtime, _runner = make_runtime(containers={"demo-cli-k7m2q": {"State": "running", "ExitCode": 0}})
    outcome = run(runtime, name="by-terok")
    assert outcome.changed is False
    assert outcome.task["task_id"] == "k7m2q"
    assert outcome.task["managed"] is False
    assert outcome.task["status"] == "running"
    assert data_only(tree_snapshot(root)) == data_only(before)


def test_unknown_task_id_fails_naming_task_id(make_runtime, write_task, root, tree_snapshot):
    write_task("demo", "k7m2q", "a")
    before = tree_snapshot(root)
    runtime, _runner = make_runtime()
    with pytest.raises(TerokError) as err:
        run(runtime, task_id="h3abc")
    assert err.value.option == "task_id"
    assert "h3abc" in err.value.msg
    assert data_only(tree_snapshot(root)) == data_only(before)


# present: ambiguous names ----------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["present", "absent", "archived"])
def test_ambiguous_name_fails_listing_the_ids(make_runtime, write_task, root, tree_snapshot, state):
    write_task("demo", "k7m2q", "same")
    write_task("demo", "h3abc", "same")
    before = tree_snapshot(root)
    runtime, runner = make_runtime()
    with pytest.raises(TerokError) as err:
        run(runtime, name="same", state=state)
    assert err.value.option == "name"
    assert "h3abc" in err.value.msg and "k7m2q" in err.value.msg
    assert "task_id" in err.value.msg
    assert data_only(tree_snapshot(root)) == data_only(before)
    assert runner.mutating_calls() == []


def test_ambiguous_name_can_be_resolved_by_task_id(make_runtime, write_task):
    write_task("demo", "k7m2q", "same")
    write_task("demo", "h3abc", "same")
    runtime, _runner = make_runtime()
    assert run(runtime, task_id="h3abc").task["task_id"] == "h3abc"


# rename ------------------------------------------------------------------------------------------------


def test_rename_by_task_id(make_runtime, write_task, layout):
    write_task("demo", "k7m2q", "old", dossier={"project": "demo", "task": "k7m2q", "name": "old", "extra": 1})
    meta_before = read_text(layout.meta_path("demo", "k7m2q"))
    runtime, runner = make_runtime()
    outcome = run(runtime, task_id="k7m2q", name="New Name")
    assert outcome.changed is True
    assert outcome.task["name"] == "new-name"
    assert outcome.task["task_id"] == "k7m2q"
    with open(layout.dossier_path("demo", "k7m2q")) as handle:
        dossier = json.load(handle)
    assert dossier == {"project": "demo", "task": "k7m2q", "name": "new-name", "extra": 1}
    assert read_text(layout.meta_path("demo", "k7m2q")) == meta_before
    assert outcome.diff["before"]["name"] == "old"
    assert outcome.diff["after"]["name"] == "new-name"
    assert outcome.diff["after"]["dossier"]["name"] == "new-name"
    assert runner.mutating_calls() == []
    again = run(runtime, task_id="k7m2q", name="new-name")
    assert again.changed is False
    assert run(runtime, name="new-name").task["task_id"] == "k7m2q"


def test_rename_to_a_taken_name_fails(make_runtime, write_task, root, tree_snapshot):
    write_task("demo", "k7m2q", "one")
    write_task("demo", "h3abc", "two")
    before = tree_snapshot(root)
    runtime, _runner = make_runtime()
    with pytest.raises(TerokError) as err:
        run(runtime, task_id="k7m2q", name="two")
    assert err.value.option == "name"
    assert "h3abc" in err.value.msg
    assert data_only(tree_snapshot(root)) == data_only(before)


# check mode ----------------------------------------------------------------------------------------------


def test_check_mode_create_writes_nothing(make_runtime, root, tmp_path, tree_snapshot):
    before = tree_snapshot(str(tmp_path))
    runtime, runner = make_runtime(check_mode=True)
    outcome = run(runtime, name="fix-auth")
    assert outcome.changed is True
    assert outcome.task["task_id"] is None
    assert outcome.task["workspace"] is None
    assert outcome.task["name"] == "fix-auth"
    assert outcome.task["status"] == "created"
    assert outcome.diff["before"] == {}
    assert outcome.diff["after"]["name"] == "fix-auth"
    assert tree_snapshot(str(tmp_path)) == before
    assert not os.path.exists(root)
    assert runner.mutating_calls() == []


@pytest.mark.parametrize(
    "params, changed",
    [
        ({"name": "one"}, False),
        ({"task_id": "k7m2q", "name": "renamed"}, True),
        ({"name": "fresh"}, True),
        ({"name": "one", "state": "absent"}, True),
        ({"name": "one", "state": "absent", "archive": False}, True),
        ({"name": "one", "state": "archived"}, True),
        ({"name": "never-was", "state": "absent"}, False),
    ],
)
def test_check_mode_writes_nothing_and_calls_no_mutating_podman(
    make_runtime, write_task, layout, root, tree_snapshot, params, changed
):
    write_task("demo", "k7m2q", "one", meta={"mode": "cli", "ready_at": READY})
    with ProjectLock(layout.meta_dir("demo"), 1):  # a lock file from an earlier run is there
        pass
    before = tree_snapshot(root)
    runtime, runner = make_runtime(check_mode=True, containers={"demo-cli-k7m2q": {"State": "running"}})
    outcome = run(runtime, **params)
    assert outcome.changed is changed
    assert tree_snapshot(root) == before
    assert runner.mutating_calls() == []
    assert set(runner.subcommands()) <= {"ps", "secret"}  # secret: ls (no call mutates), a removal's task secrets


def test_check_mode_rename_reports_the_new_name(make_runtime, write_task):
    write_task("demo", "k7m2q", "one")
    runtime, _runner = make_runtime(check_mode=True)
    outcome = run(runtime, task_id="k7m2q", name="two")
    assert outcome.task["name"] == "two"
    assert outcome.diff["before"]["name"] == "one"
    assert outcome.diff["after"]["name"] == "two"


def test_check_mode_absent_reports_the_task_gone(make_runtime, write_task):
    write_task("demo", "k7m2q", "one")
    runtime, _runner = make_runtime(check_mode=True)
    outcome = run(runtime, name="one", state="absent")
    assert outcome.task["status"] == "absent"
    assert outcome.task["task_id"] == "k7m2q"
    assert outcome.diff["before"]["task_id"] == "k7m2q"
    assert outcome.diff["after"] == {}


# absent ----------------------------------------------------------------------------------------------------


def test_absent_archives_removes_containers_and_files(make_runtime, write_task, layout):
    write_task("demo", "k7m2q", "fix-auth", meta={"mode": "cli", "ready_at": READY, "exit_code": 0, "agent": "x"})
    runtime, runner = make_runtime(
        containers={"demo-cli-k7m2q": {"State": "exited", "ExitCode": 0}, "demo-cli-h3abc": {"State": "running"}}
    )
    outcome = run(runtime, name="fix-auth", state="absent")
    assert outcome.changed is True
    task = outcome.task
    assert (task["status"], task["task_id"], task["name"]) == ("absent", "k7m2q", "fix-auth")
    entry = task["archive_path"]
    assert os.path.dirname(entry) == layout.archive_dir("demo")
    assert re.match(r"^\d{8}T\d{12}Z_k7m2q_fix-auth$", os.path.basename(entry))
    with open(os.path.join(entry, TASK_JSON)) as handle:
        data = json.load(handle)
    assert data["project_name"] == "demo"
    assert data["task_id"] == "k7m2q"
    assert data["name"] == "fix-auth"
    assert data["agent"] == "x" and data["mode"] == "cli" and data["exit_code"] == 0
    # logs were captured before removal and went into the archive
    assert "hello" in read_text(os.path.join(entry, "logs", "container.log"))
    # the container of this task was removed, the other task's was not touched
    rm_calls = [argv for argv in runner.calls if argv[1] == "rm"]
    assert len(rm_calls) == 1
    argv = rm_calls[0]
    assert argv[argv.index("--") + 1:] == ["demo-cli-k7m2q"]
    assert ["logs" in argv for argv in runner.calls].count(True) == 1
    assert not os.path.exists(layout.task_dir("demo", "k7m2q"))
    assert not os.path.exists(layout.dossier_path("demo", "k7m2q"))
    assert not os.path.exists(layout.meta_path("demo", "k7m2q"))
    assert outcome.diff["before"]["task_id"] == "k7m2q"
    assert outcome.diff["after"] == {}


def test_absent_rerun_is_ok_and_reports_the_entry(make_runtime, write_task, root, tree_snapshot):
    write_task("demo", "k7m2q", "fix-auth")
    runtime, _runner = make_runtime()
    entry = run(runtime, name="fix-auth", state="absent").task["archive_path"]
    before = tree_snapshot(root)
    runtime2, runner2 = make_runtime()
    again = run(runtime2, name="fix-auth", state="absent")
    assert again.changed is False
    assert again.task["status"] == "absent"
    assert again.task["archive_path"] == entry
    assert again.task["task_id"] == "k7m2q"
    assert tree_snapshot(root) == before
    assert runner2.mutating_calls() == []


def test_absent_without_archive(make_runtime, write_task, layout):
    write_task("demo", "k7m2q", "fix-auth")
    runtime, _runner = make_runtime()
    outcome = run(runtime, name="fix-auth", state="absent", archive=False)
    assert outcome.changed is True
    assert outcome.task["archive_path"] is None
    assert list_entries(layout, "demo") == []
    assert not os.path.exists(layout.task_dir("demo", "k7m2q"))
    assert not os.path.exists(layout.meta_path("demo", "k7m2q"))


def test_absent_of_a_task_that_never_was(make_runtime, root):
    runtime, runner = make_runtime()
    outcome = run(runtime, name="never-was", state="absent")
    assert outcome.changed is False
    assert outcome.task["status"] == "absent"
    assert outcome.task["archive_path"] is None
    assert runner.mutating_calls() == []


def test_absent_by_task_id(make_runtime, write_task, layout):
    write_task("demo", "k7m2q", "a")
    runtime, _runner = make_runtime()
    assert run(runtime, task_id="k7m2q", state="absent").changed is True
    assert not os.path.exists(layout.meta_path("demo", "k7m2q"))
    again = run(runtime, task_id="k7m2q", state="absent")
    assert again.changed is False
    assert again.task["archive_path"] is not None


def test_absent_goes_on_with_a_warning_when_the_archive_cannot_be_written(make_runtime, write_task, layout, root):
    write_task("demo", "k7m2q", "a")
    with open(os.path.join(root, "archive"), "w") as handle:
        handle.write("in the way")
    runtime, _runner = make_runtime()
    outcome = run(runtime, name="a", state="absent")
    assert outcome.changed is True
    assert outcome.task["archive_path"] is None
    assert runtime.warnings
    assert not os.path.exists(layout.task_dir("demo", "k7m2q"))


def test_absent_without_a_container_listing_removes_every_mode(make_runtime, write_task, layout):
    write_task("demo", "k7m2q", "a", meta={"mode": "cli"})
    runtime, runner = make_runtime(fail={"ps": (125, "Error: podman is broken")})
    outcome = run(runtime, name="a", state="absent")
    assert outcome.changed is True
    (argv,) = [argv for argv in runner.calls if argv[1] == "rm"]
    assert sorted(argv[argv.index("--") + 1:]) == sorted(
        ["demo-cli-k7m2q", "demo-web-k7m2q", "demo-run-k7m2q", "demo-toad-k7m2q"]
    )
    assert any("podman is broken" in w for w in runtime.warnings)
    assert not os.path.exists(layout.meta_path("demo", "k7m2q"))


def test_absent_when_container_removal_fails_warns_and_goes_on(make_runtime, write_task, layout):
    write_task("demo", "k7m2q", "a", meta={"mode": "cli"})
    runtime, _runner = make_runtime(
        containers={"demo-cli-k7m2q": {"State": "exited"}}, fail={"rm": (1, "Error: device busy")}
    )
    outcome = run(runtime, name="a", state="absent")
    assert outcome.changed is True
    assert any("device busy" in w for w in runtime.warnings)
    assert not os.path.exists(layout.meta_path("demo", "k7m2q"))


def test_absent_without_podman_at_all(make_runtime, write_task, layout):
    write_task("demo", "k7m2q", "a")
    runtime, runner = make_runtime(executable="terok-test-no-such-podman")
    outcome = run(runtime, name="a", state="absent")
    assert outcome.changed is True
    assert runner.calls == []
    assert runtime.warnings
    assert not os.path.exists(layout.task_dir("demo", "k7m2q"))


def test_absent_of_an_unreadable_task_fails_and_removes_nothing(make_runtime, write_task, layout, root, tree_snapshot):
    write_task("demo", "k7m2q", "a")
    with open(layout.meta_path("demo", "k7m2q"), "w") as handle:
        handle.write("mode: [broken\n")
    before = tree_snapshot(root)
    runtime, _runner = make_runtime()
    with pytest.raises(TerokError) as err:
        run(runtime, task_id="k7m2q", state="absent")
    assert layout.meta_path("demo", "k7m2q") in err.value.msg
    assert data_only(tree_snapshot(root)) == data_only(before)


def test_absent_reuses_the_entry_of_an_interrupted_removal(make_runtime, write_task, layout):
    write_task("demo", "k7m2q", "a", meta={"mode": None, "deleting": True})
    tasks = ProjectTasks(layout, "demo").load()
    entry = write_entry(layout, tasks.tasks["k7m2q"])
    runtime, _runner = make_runtime()
    outcome = run(runtime, name="a", state="absent")
    assert outcome.task["archive_path"] == entry
    assert [e["archive_path"] for e in list_entries(layout, "demo")] == [entry]


# archived ----------------------------------------------------------------------------------------------------


def test_archived_writes_the_entry_and_rerun_is_ok(make_runtime, write_task, layout):
    write_task("demo", "k7m2q", "a")
    runtime, _runner = make_runtime()
    outcome = run(runtime, name="a", state="archived")
    assert outcome.changed is True
    entry = outcome.task["archive_path"]
    assert os.path.isfile(os.path.join(entry, TASK_JSON))
    assert not os.path.exists(layout.task_dir("demo", "k7m2q"))
    again = run(runtime, name="a", state="archived")
    assert again.changed is False
    assert again.task["archive_path"] == entry
    assert again.task["status"] == "absent"


def test_archived_without_task_or_entry_fails(make_runtime, root, tree_snapshot):
    runtime, _runner = make_runtime()
    with pytest.raises(TerokError) as err:
        run(runtime, name="never-was", state="archived")
    assert err.value.option == "name"
    assert "never-was" in err.value.msg
    with pytest.raises(TerokError) as err:
        run(runtime, task_id="k7m2q", state="archived")
    assert err.value.option == "task_id"


def test_archived_fails_and_removes_nothing_when_the_archive_cannot_be_written(
    make_runtime, write_task, layout, root, tree_snapshot
):
    write_task("demo", "k7m2q", "a", meta={"mode": "cli", "ready_at": READY})
    with open(os.path.join(root, "archive"), "w") as handle:
        handle.write("in the way")
    before = tree_snapshot(root)
    runtime, runner = make_runtime()
    with pytest.raises(TerokError) as err:
        run(runtime, name="a", state="archived")
    assert "nothing was removed" in err.value.msg
    assert data_only(tree_snapshot(root)) == data_only(before)
    assert runner.mutating_calls() == []


def test_archived_with_a_container_fails_without_removing_it(make_runtime, write_task, layout, root):
    write_task("demo", "k7m2q", "a", meta={"mode": "cli", "ready_at": READY})
    meta_before = read_text(layout.meta_path("demo", "k7m2q"))
    with open(os.path.join(root, "archive"), "w") as handle:
        handle.write("in the way")
    runtime, runner = make_runtime(containers={"demo-cli-k7m2q": {"State": "running"}})
    with pytest.raises(TerokError):
        run(runtime, name="a", state="archived")
    assert runner.mutating_calls() == []
    assert read_text(layout.meta_path("demo", "k7m2q")) == meta_before  # not marked deleting
    assert os.path.isfile(layout.dossier_path("demo", "k7m2q"))
    assert os.path.isdir(layout.workspace("demo", "k7m2q"))
    assert list_entries(layout, "demo") == []


# locking -------------------------------------------------------------------------------------------------------


def test_a_held_project_lock_makes_the_run_fail_naming_lock_timeout(make_runtime, layout):
    runtime, _runner = make_runtime(lock_timeout=0.2)
    with ProjectLock(layout.meta_dir("demo"), timeout=1):
        with pytest.raises(TerokError) as err:
            run(runtime, name="a")
    assert err.value.option == "lock_timeout"
    assert ProjectTasks(layout, "demo").load().tasks == {}


def test_concurrent_runs_create_one_task_for_one_name(make_runtime, layout):
    import threading

    results, errors = [], []

    def worker():
        runtime, _runner = make_runtime(lock_timeout=20)
        try:
            results.append(run(runtime, name="race"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(results) == 6
    assert sum(1 for r in results if r.changed) == 1
    assert len({r.task["task_id"] for r in results}) == 1
    assert len(ProjectTasks(layout, "demo").load().tasks) == 1


def test_another_project_lock_does_not_block(make_runtime, layout):
    runtime, _runner = make_runtime(lock_timeout=0.2)
    with ProjectLock(layout.meta_dir("other"), timeout=1):
        assert run(runtime, name="a").changed is True


# find_task --------------------------------------------------------------------------------------------------------


def test_find_task(write_task, layout):
    write_task("demo", "k7m2q", "a")
    tasks = ProjectTasks(layout, "demo").load()
    assert find_task(tasks, Spec("demo", name="a")).task_id == "k7m2q"
    assert find_task(tasks, Spec("demo", task_id="k7m2q")).task_id == "k7m2q"
    assert find_task(tasks, Spec("demo", name="b")) is None
    assert find_task(tasks, Spec("demo", task_id="h3abc")) is None


# present converges the task's own files ----------------------------------------------------------


def break_files(layout, how):
    workspace = layout.workspace("demo", "k7m2q")
    if how == "no workspace":
        import shutil

        shutil.rmtree(workspace)
    elif how == "workspace 0777":
        os.chmod(workspace, 0o777)
    elif how == "no readme":
        os.unlink(os.path.join(layout.task_dir("demo", "k7m2q"), "README.md"))


@pytest.mark.parametrize("how", ["no workspace", "workspace 0777", "no readme"])
def test_present_makes_the_task_files_whole_again(make_runtime, write_task, layout, root, tree_snapshot, how):
    write_task("demo", "k7m2q", "a", meta={"mode": "cli", "ready_at": "2026-11-28T09:16:00+00:00"})
    break_files(layout, how)
    broken = tree_snapshot(root)
    predicted_runtime, _runner = make_runtime(check_mode=True)
    predicted = run(predicted_runtime, task_id="k7m2q")
    assert predicted.changed and tree_snapshot(root) == broken  # check mode predicts, writes nothing
    runtime, _runner = make_runtime()
    outcome = run(runtime, task_id="k7m2q")
    assert outcome.changed
    assert outcome.diff["after"]["files"] == {"workspace_mode": "0700", "readme": True}
    assert outcome.diff["before"]["files"] != outcome.diff["after"]["files"]
    assert predicted.diff["after"]["files"] == outcome.diff["after"]["files"]
    assert mode_of(layout.workspace("demo", "k7m2q")) == 0o700
    assert os.path.isfile(os.path.join(layout.task_dir("demo", "k7m2q"), "README.md"))
    marker = os.path.join(layout.workspace("demo", "k7m2q"), ".new-task-marker")
    if how == "no workspace":
        assert os.path.isfile(marker)  # the next start clones afresh
        assert any("had no workspace" in w and "had run" in w for w in runtime.warnings), runtime.warnings
    else:
        assert not os.path.exists(marker)
    again, _runner = make_runtime()
    assert not run(again, task_id="k7m2q").changed  # converged


def test_running_on_a_task_without_workspace_makes_it_first(make_runtime, write_task, layout):
    write_task("demo", "k7m2q", "a")
    break_files(layout, "no workspace")
    runtime, runner = make_runtime()
    run(runtime, task_id="k7m2q", state="running", image="img", wait_ready=False)
    assert os.path.isdir(layout.workspace("demo", "k7m2q"))
    assert "run" in runner.subcommands()  # the container was made with its workspace there


@pytest.mark.parametrize("state", ["absent", "archived"])
def test_only_if_status_keeps_a_task_in_another_status(make_runtime, write_task, layout, root, tree_snapshot, state):
    write_task("demo", "k7m2q", "a", meta={"mode": "cli", "ready_at": READY})
    before = tree_snapshot(root)
    runtime, runner = make_runtime(containers={"demo-cli-k7m2q": {"State": "running"}})
    outcome = run(runtime, task_id="k7m2q", state=state, only_if_status=["completed", "failed"])
    assert not outcome.changed and outcome.task["status"] == "running"
    assert any("only_if_status" in w and "running" in w for w in runtime.warnings), runtime.warnings
    assert data_only(tree_snapshot(root)) == data_only(before)
    assert runner.mutating_calls() == []


def test_only_if_status_removes_a_task_in_one_of_them(make_runtime, write_task, layout):
    write_task("demo", "k7m2q", "a", meta={"mode": "run", "ready_at": READY, "exit_code": 0})
    runtime, _runner = make_runtime(containers={"demo-run-k7m2q": {"State": "exited", "ExitCode": 0}})
    outcome = run(runtime, task_id="k7m2q", state="archived", only_if_status=["completed"])
    assert outcome.changed and outcome.task["status"] == "absent" and outcome.task["archive_path"]


@pytest.mark.parametrize(
    "params",
    [{"state": "present", "only_if_status": ["completed"]}, {"state": "absent", "only_if_status": []},
     {"state": "absent", "only_if_status": ["finished"]}, {"state": "absent", "only_if_status": "completed"}],
)
def test_only_if_status_refuses_what_it_cannot_mean(make_runtime, params):
    with pytest.raises(TerokError) as err:
        Spec.from_params(dict(params, project="demo", name="a"))
    assert err.value.option == "only_if_status"


def test_finished_at_is_the_containers_exit_time(make_runtime, write_task, layout):
    write_task("demo", "k7m2q", "a", meta={"mode": "run", "ready_at": READY, "exit_code": 0})
    exited = datetime.datetime(2026, 11, 28, 10, 0, 0, tzinfo=datetime.timezone.utc).timestamp()
    runtime, _runner = make_runtime(
        containers={"demo-run-k7m2q": {"State": "exited", "ExitCode": 0, "ExitedAt": int(exited), "Exited": True}}
    )
    assert run(runtime, task_id="k7m2q").task["finished_at"] == "2026-11-28T10:00:00+00:00"
    running, _runner = make_runtime(containers={"demo-run-k7m2q": {"State": "running", "ExitedAt": 0}})
    assert run(running, task_id="k7m2q").task["finished_at"] is None


@pytest.mark.parametrize("state", ["absent", "archived"])
def test_a_symlinked_workspace_is_removed_as_a_link_its_target_untouched_and_the_task_goes(make_runtime, layout, tmp_path, state):
    runtime, runner = make_runtime()
    task_id = run(runtime, name="a", state="running", image="img", wait_ready=False).task["task_id"]
    workspace = layout.workspace("demo", task_id)
    os.rename(workspace, str(tmp_path / "elsewhere"))
    (tmp_path / "elsewhere" / "keep").write_text("kept")
    os.symlink(str(tmp_path / "elsewhere"), workspace)
    runtime, _runner = make_runtime(containers=runner.containers)
    outcome = run(runtime, name="a", state=state)
    assert outcome.changed is True and outcome.task["status"] == "absent"
    assert any("symbolic link" in warning and workspace in warning for warning in runtime.warnings), runtime.warnings
    assert not os.path.lexists(layout.task_dir("demo", task_id))
    assert (tmp_path / "elsewhere" / "keep").read_text() == "kept"  # never followed
    assert sorted(os.listdir(str(tmp_path / "elsewhere"))) == [".new-task-marker", "keep"]
    runtime, _runner = make_runtime()
    assert run(runtime, name="a", state=state).changed is False
