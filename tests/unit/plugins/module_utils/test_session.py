# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The task session's primitives on one task: create, rename, update metadata, capture logs, remove."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from ansible_collections.terok.lifecycle.plugins.module_utils import _project_tasks
from ansible_collections.terok.lifecycle.plugins.module_utils._archive import TASK_JSON, list_entries
from ansible_collections.terok.lifecycle.plugins.module_utils._converge import ensure_absent
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._project_tasks import (
    MARKER,
    MARKER_TEXT,
    README_TEXT,
    ProjectTasks,
)
from ansible_collections.terok.lifecycle.plugins.module_utils._podman import CommandRunner, Podman
from ansible_collections.terok.lifecycle.plugins.module_utils._run_context import RunContext
from ansible_collections.terok.lifecycle.plugins.module_utils._session import TaskSession
from ansible_collections.terok.lifecycle.plugins.module_utils._spec import Spec


def create_task(context, tasks, name):
    return TaskSession(context, tasks).create(name)


def rename_task(context, tasks, task, name):
    return TaskSession(context, tasks).rename(task, name)


def update_meta(context, tasks, task, changes, drop=()):
    return TaskSession(context, tasks).update_meta(task, changes, drop)


def remove_task(context, tasks, task, archive=True, require_archive=False):
    """Remove ``task`` as state=absent (or archived, with ``require_archive``) does; the archive path."""
    spec = Spec(task.project, task_id=task.task_id, state="archived" if require_archive else "absent", archive=archive)
    session = TaskSession(context, tasks)
    return session.drive(ensure_absent(session, spec, task)).archive_path


def load(layout, project="demo"):
    return ProjectTasks(layout, project).load()


def read_meta_file(layout, task_id):
    with open(layout.meta_path("demo", task_id)) as handle:
        return yaml.safe_load(handle)


def test_marker_text_is_three_comment_lines():
    lines = MARKER_TEXT.splitlines()
    assert len(lines) == 3
    assert all(line.startswith("# ") for line in lines)
    assert MARKER_TEXT.endswith("\n")
    text = MARKER_TEXT.lower()
    assert "reset" in text and "remote head" in text  # what it signals
    assert "init-ssh-and-repo.sh" in text  # who removes it
    assert "went wrong" in text  # seeing it in an initialized workspace


def test_readme_warns_about_the_workspace():
    assert "workspace-dangerous/" in README_TEXT
    assert "Do not run code" in README_TEXT


def test_create_task(make_runtime, layout):
    runtime, _runner = make_runtime()
    tasks = load(layout)
    task = create_task(runtime, tasks, "fix-auth")
    assert task.task_id in tasks.taken
    assert tasks.tasks[task.task_id] is task
    assert task.name == "fix-auth"
    assert task.managed
    workspace = layout.workspace("demo", task.task_id)
    assert os.stat(workspace).st_mode & 0o777 == 0o700
    with open(os.path.join(workspace, MARKER)) as handle:
        assert handle.read() == MARKER_TEXT
    with open(os.path.join(layout.task_dir("demo", task.task_id), "README.md")) as handle:
        assert handle.read() == README_TEXT


def test_create_task_cleans_up_when_the_metadata_cannot_be_written(make_runtime, layout):
    runtime, _runner = make_runtime()
    tasks = load(layout)
    os.makedirs(os.path.dirname(layout.meta_dir("demo")))
    with open(layout.meta_dir("demo"), "w") as handle:
        handle.write("in the way")
    with pytest.raises(TerokError) as err:
        create_task(runtime, tasks, "fix-auth")
    assert "fix-auth" in err.value.msg
    assert os.listdir(layout.tasks_root("demo")) == []  # no orphan workspace left
    assert tasks.tasks == {}


def test_create_task_cleans_up_when_the_meta_write_fails(make_runtime, layout, monkeypatch):
    runtime, _runner = make_runtime()
    tasks = load(layout)

    def broken(path, meta, mode=0o644):
        raise OSError(28, "No space left on device", path)

    monkeypatch.setattr(_project_tasks, "write_meta", broken)
    with pytest.raises(TerokError) as err:
        create_task(runtime, tasks, "fix-auth")
    assert "No space left" in err.value.msg
    assert os.listdir(layout.tasks_root("demo")) == []
    # neither file of a half-made task stays behind for terok to trip over
    assert os.listdir(layout.meta_dir("demo")) == []


def test_rename_task_keeps_other_dossier_keys_and_meta(make_runtime, write_task, layout):
    write_task("demo", "k7m2q", "old", dossier={"project": "demo", "task": "k7m2q", "name": "old", "x": [1]})
    with open(layout.meta_path("demo", "k7m2q"), "rb") as handle:
        meta_before = handle.read()
    runtime, _runner = make_runtime()
    tasks = load(layout)
    renamed = rename_task(runtime, tasks, tasks.tasks["k7m2q"], "new")
    assert renamed.name == "new"
    with open(layout.dossier_path("demo", "k7m2q")) as handle:
        text = handle.read()
    assert json.loads(text) == {"project": "demo", "task": "k7m2q", "name": "new", "x": [1]}
    assert list(json.loads(text)) == ["project", "task", "name", "x"]
    with open(layout.meta_path("demo", "k7m2q"), "rb") as handle:
        assert handle.read() == meta_before


def test_update_meta_keeps_unknown_keys(make_runtime, write_task, layout):
    write_task("demo", "k7m2q", "a", meta={"mode": None, "future": {"k": 1}, "ready_at": "t"})
    runtime, _runner = make_runtime()
    tasks = load(layout)
    task = update_meta(runtime, tasks, tasks.tasks["k7m2q"], {"mode": "cli"}, drop=("ready_at",))
    assert task.meta == {"mode": "cli", "future": {"k": 1}}
    assert read_meta_file(layout, "k7m2q") == {"mode": "cli", "future": {"k": 1}}


def test_update_meta_without_change_writes_nothing(make_runtime, write_task, layout):
    write_task("demo", "k7m2q", "a", meta={"mode": "cli"})
    before = os.stat(layout.meta_path("demo", "k7m2q"))
    runtime, _runner = make_runtime()
    tasks = load(layout)
    update_meta(runtime, tasks, tasks.tasks["k7m2q"], {"mode": "cli"})
    after = os.stat(layout.meta_path("demo", "k7m2q"))
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)


def test_remove_task_order_and_result(make_runtime, write_task, layout):
    write_task("demo", "k7m2q", "a", meta={"mode": "cli", "agent": "claude"})
    runtime, runner = make_runtime(containers={"demo-cli-k7m2q": {"State": "running"}})
    tasks = load(layout)
    entry = remove_task(runtime, tasks, tasks.tasks["k7m2q"])
    assert runner.subcommands() == ["ps", "logs", "secret", "rm"]  # secret: ls, to find the task's secrets
    with open(os.path.join(entry, TASK_JSON)) as handle:
        data = json.load(handle)
    assert data["agent"] == "claude"
    assert "deleting" not in data  # the entry is written before the task is marked deleting
    assert os.path.isfile(os.path.join(entry, "logs", "container.log"))
    assert "k7m2q" not in tasks.tasks
    assert not os.path.exists(layout.task_dir("demo", "k7m2q"))
    assert sorted(os.listdir(layout.meta_dir("demo"))) == []


def test_remove_task_require_archive_raises_before_removing(make_runtime, write_task, layout, root):
    write_task("demo", "k7m2q", "a", meta={"mode": "cli"})
    with open(os.path.join(root, "archive"), "w") as handle:
        handle.write("x")
    runtime, runner = make_runtime(containers={"demo-cli-k7m2q": {"State": "exited"}})
    tasks = load(layout)
    with pytest.raises(TerokError) as err:
        remove_task(runtime, tasks, tasks.tasks["k7m2q"], require_archive=True)
    assert "nothing was removed" in err.value.msg
    assert "rm" not in runner.subcommands()
    assert read_meta_file(layout, "k7m2q") == {"mode": "cli"}
    assert os.path.isdir(layout.workspace("demo", "k7m2q"))


def test_remove_task_without_archive(make_runtime, write_task, layout):
    write_task("demo", "k7m2q", "a")
    runtime, _runner = make_runtime()
    tasks = load(layout)
    assert remove_task(runtime, tasks, tasks.tasks["k7m2q"], archive=False) is None
    assert list_entries(layout, "demo") == []
    assert not os.path.exists(layout.meta_path("demo", "k7m2q"))


def test_remove_task_log_capture_failure_is_a_warning(make_runtime, write_task, layout):
    write_task("demo", "k7m2q", "a", meta={"mode": "cli"})
    runtime, _runner = make_runtime(
        containers={"demo-cli-k7m2q": {"State": "exited"}}, fail={"logs": (125, "Error: no logs")}
    )
    tasks = load(layout)
    entry = remove_task(runtime, tasks, tasks.tasks["k7m2q"])
    assert os.path.isfile(os.path.join(entry, TASK_JSON))
    assert any("no logs" in w for w in runtime.warnings)


def test_a_required_archive_that_fails_changes_nothing(make_runtime, write_task, layout, root, tree_snapshot):
    write_task("demo", "k7m2q", "a", meta={"mode": None})
    with open(os.path.join(root, "archive"), "w") as handle:
        handle.write("x")
    before = tree_snapshot(root)
    runtime, runner = make_runtime()
    tasks = load(layout)
    with pytest.raises(TerokError):
        remove_task(runtime, tasks, tasks.tasks["k7m2q"], require_archive=True)
    assert runtime.changed is False  # a primitive that fails counts no change
    assert tree_snapshot(root) == before
    assert runner.mutating_calls() == []


def test_check_mode_primitives_predict_without_writing(make_runtime, write_task, layout, root, tree_snapshot):
    write_task("demo", "k7m2q", "old", meta={"mode": None})
    before = tree_snapshot(root)
    runtime, runner = make_runtime(check_mode=True)
    session = TaskSession(runtime, load(layout))
    renamed = session.rename(session.tasks.tasks["k7m2q"], "new")
    updated = session.update_meta(renamed, {"mode": "cli"})
    created = session.create("fresh")
    assert (renamed.name, updated.meta["mode"], created.task_id, created.name) == ("new", "cli", None, "fresh")
    assert session.tasks.tasks["k7m2q"].meta["mode"] == "cli"  # the in-memory model follows
    assert runtime.changes == 3
    assert tree_snapshot(root) == before
    assert runner.calls == []


class SecretRecorder(CommandRunner):
    """Records argv and standard input of every podman call; every call succeeds."""

    def __init__(self):
        self.calls = []

    def run(self, argv, data=None, timeout=None):
        self.calls.append((list(argv[1:]), data))
        return 0, "[]" if argv[1:2] == ["ps"] else "", ""


def test_secrets_reach_podman_on_standard_input_only_and_go_with_the_container(layout, write_task, podman_exe):
    from ansible_collections.terok.lifecycle.plugins.module_utils._container_spec import ContainerSpec
    from ansible_collections.terok.lifecycle.plugins.module_utils._secrets import task_prefix

    write_task("demo", "k7m2q", "a", meta={"mode": "cli"})
    runner = SecretRecorder()
    context = RunContext(layout, Podman(str(podman_exe), runner))
    session = TaskSession(context, load(layout))
    task = session.tasks.tasks["k7m2q"]
    spec = ContainerSpec.from_params({"image": "img", "secret_env": {"TOKEN": "hunter2"}})
    session.drive(session.create_container(task, spec, "demo-cli-k7m2q", "cli"))
    argvs = [argv for argv, _data in runner.calls]
    secret = task_prefix(layout.root, "demo", "k7m2q") + "TOKEN"
    assert secret.startswith("tl-") and len(secret) == len("tl-") + 12 + len("-TOKEN")
    assert ["secret", "create", secret, "-"] in argvs
    assert [data for argv, data in runner.calls if argv[:2] == ["secret", "create"]] == ["hunter2"]
    assert not any("hunter2" in " ".join(argv) for argv in argvs)
    key_file = os.path.join(layout.root, ".terok-lifecycle-secrets.key")
    assert oct(os.stat(key_file).st_mode & 0o777) == "0o600" and os.path.getsize(key_file) == 32
    runner.calls.clear()
    session.drive(session.remove_containers(task, ["demo-cli-k7m2q"]))
    assert [argv for argv, _data in runner.calls] == [
        ["rm", "--force", "--ignore", "--", "demo-cli-k7m2q"], ["secret", "rm", secret]
    ]
