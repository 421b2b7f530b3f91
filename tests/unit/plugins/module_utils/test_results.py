# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils._metadata import MANAGED_BY, MANAGED_KEY
from ansible_collections.terok.lifecycle.plugins.module_utils._podman import Container
from ansible_collections.terok.lifecycle.plugins.module_utils._project_tasks import ProjectTasks, Task, read_work_status
from ansible_collections.terok.lifecycle.plugins.module_utils._results import (
    TASK_KEYS,
    diff_state,
    gone_result,
    login_commands,
    task_result,
)


def task_view(layout, task, live, archive_path=None, work_status=True):
    """A task's result as a module returns it: the work status read the way sessions read it."""
    status = ProjectTasks(layout, task.project).read_work_status(task) if (work_status and task.task_id) else None
    return task_result(layout, task, live, archive_path, status)


READY = "2026-11-28T09:16:00+00:00"
CREATED = "2026-11-28T09:15:02.118470+00:00"


def make_task(meta=None, task_id="k7m2q", name="fix-auth"):
    return Task("demo", task_id, {"project": "demo", "task": task_id, "name": name}, meta or {})


def containers(*items):
    return {c.name: c for c in items}


def write_work_status(layout, text, task_id="k7m2q"):
    path = layout.work_status_file("demo", task_id)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)
    return path


def test_view_of_a_fresh_task(layout):
    view = task_view(layout, make_task({"mode": None, "created_at": CREATED, MANAGED_KEY: MANAGED_BY}), {})
    assert list(view) == list(TASK_KEYS)
    assert view == {
        "task_id": "k7m2q",
        "name": "fix-auth",
        "project": "demo",
        "mode": None,
        "status": "created",
        "container_name": None,
        "container_state": None,
        "exit_code": None,
        "workspace": layout.workspace("demo", "k7m2q"),
        "created_at": CREATED,
        "ready_at": None,
        "finished_at": None,
        "archive_path": None,
        "login_command": None,
        "tmux_login_command": None,
        "managed": True,
        "work_status": None,
        "confinement": None,
        "health": None,
        "restart_count": None,
        "image_id": None,
        "image_outdated": None,
    }


def test_view_of_a_running_task(layout):
    task = make_task({"mode": "cli", "ready_at": READY, "created_at": CREATED})
    live = containers(Container("demo-cli-k7m2q", "running", 0))
    view = task_view(layout, task, live)
    assert view["status"] == "running"
    assert view["container_name"] == "demo-cli-k7m2q"
    assert view["container_state"] == "running"
    assert view["login_command"] == "podman exec -it demo-cli-k7m2q bash"
    # terok 0.9.1's login: attach to the session "main", or start it
    assert view["tmux_login_command"] == "podman exec -it demo-cli-k7m2q tmux new-session -A -s main"
    assert view["ready_at"] == READY
    assert view["managed"] is False


def test_view_of_an_initializing_task(layout):
    view = task_view(layout, make_task({"mode": "web"}), containers(Container("demo-web-k7m2q", "running")))
    assert view["status"] == "init"
    assert view["login_command"] == "podman exec -it demo-web-k7m2q bash"


def test_view_of_an_exited_task(layout):
    task = make_task({"mode": "run", "ready_at": READY, "exit_code": 124})
    view = task_view(layout, task, containers(Container("demo-run-k7m2q", "exited", 124)))
    assert (view["status"], view["exit_code"], view["login_command"]) == ("failed", 124, None)
    assert view["tmux_login_command"] is None


EXITED_AT = 1796691880.0


@pytest.mark.parametrize("podman_exit, status, exit_code", [
    (3, "failed", 3),  # crashed, no restart policy: failed, with its own exit code
    (1, "failed", 1),
    (0, "stopped", None),  # ended by itself, or a graceful stop: as terok says it
    (143, "stopped", None),  # podman stop's SIGTERM ended it
    (137, "stopped", None),  # podman stop's SIGKILL after the grace
    (None, "stopped", None),  # podman told no exit code
])
def test_a_container_that_crashed_has_its_own_exit_code(layout, podman_exit, status, exit_code):
    task = make_task({"mode": "cli", "ready_at": READY})
    live = containers(Container("demo-cli-k7m2q", "exited", podman_exit, exited_at=EXITED_AT, restart_count=0))
    view = task_view(layout, task, live)
    assert (view["status"], view["exit_code"], view["restart_count"]) == (status, exit_code, 0)


def test_a_recorded_exit_code_wins_and_a_container_that_never_ran_has_none(layout):
    waited = make_task({"mode": "run", "ready_at": READY, "exit_code": 0})
    view = task_view(layout, waited, containers(Container("demo-run-k7m2q", "exited", 3, exited_at=EXITED_AT)))
    assert (view["status"], view["exit_code"]) == ("completed", 0)
    created = make_task({"mode": "cli"})  # podman lists a created container with exit code 0 and no exit time
    view = task_view(layout, created, containers(Container("demo-cli-k7m2q", "created", 0)))
    assert (view["status"], view["exit_code"]) == ("stopped", None)


def test_a_container_podman_restarted_is_running_with_its_count(layout):
    task = make_task({"mode": "cli", "ready_at": READY})
    view = task_view(layout, task, containers(Container("demo-cli-k7m2q", "running", 3, restart_count=1)))
    assert (view["status"], view["exit_code"], view["restart_count"]) == ("running", None, 1)


@pytest.mark.parametrize("state", ["paused", "created", "stopping", "exited"])
def test_no_login_into_a_container_that_does_not_run(layout, state):
    view = task_view(layout, make_task({"mode": "cli", "ready_at": READY}), containers(Container("demo-cli-k7m2q", state)))
    assert (view["login_command"], view["tmux_login_command"]) == (None, None)


def test_the_login_commands_split_into_podman_argv():
    import shlex

    login = login_commands("demo-toad-k7m2q")
    assert shlex.split(login["tmux_login_command"]) == [
        "podman", "exec", "-it", "demo-toad-k7m2q", "tmux", "new-session", "-A", "-s", "main"]
    assert shlex.split(login["login_command"]) == ["podman", "exec", "-it", "demo-toad-k7m2q", "bash"]
    assert login_commands(None) == {"login_command": None, "tmux_login_command": None}


def test_view_uses_only_the_task_mode_container(layout):
    # a container of another mode, or of another task, is not this task's
    live = containers(Container("demo-web-k7m2q", "running"), Container("demo-cli-h3abc", "running"))
    view = task_view(layout, make_task({"mode": "cli", "ready_at": READY}), live)
    assert view["container_state"] is None
    assert view["status"] == "not found"


def test_view_of_a_non_int_exit_code(layout):
    assert task_view(layout, make_task({"exit_code": "oops"}), {})["exit_code"] is None


def test_view_texts_are_strings(layout):
    import datetime

    stamp = datetime.datetime(2026, 11, 28, 9, 15, tzinfo=datetime.timezone.utc)
    view = task_view(layout, make_task({"created_at": stamp}), {})
    assert isinstance(view["created_at"], str)
    assert view["created_at"].startswith("2026-11-28")


def test_view_carries_the_archive_path(layout):
    assert task_view(layout, make_task(), {}, archive_path="/a/b")["archive_path"] == "/a/b"


def test_view_reads_the_work_status(layout):
    write_work_status(layout, "status: working\nmessage: fixing the auth bug\n")
    view = task_view(layout, make_task(), {})
    assert view["work_status"] == {"status": "working", "message": "fixing the auth bug"}
    assert task_view(layout, make_task(), {}, work_status=False)["work_status"] is None


def test_view_of_a_predicted_task_without_id(layout):
    view = task_view(layout, make_task(task_id=None), {})
    assert view["task_id"] is None
    assert view["workspace"] is None
    assert view["work_status"] is None


@pytest.mark.parametrize("text", ["status: [broken\n", "- a list\n", "just text\n"])
def test_read_work_status_unreadable_is_none(layout, text):
    path = write_work_status(layout, text)
    assert read_work_status(path) is None


def test_read_work_status_missing_or_symlink_is_none(layout, tmp_path):
    path = layout.work_status_file("demo", "k7m2q")
    assert read_work_status(path) is None
    secret = tmp_path / "secret.yml"
    secret.write_text("token: hunter2\n")
    os.makedirs(os.path.dirname(path))
    os.symlink(str(secret), path)
    assert read_work_status(path) is None


def test_read_work_status_never_writes(layout):
    path = write_work_status(layout, "status: done\n")
    before = os.stat(path).st_mtime_ns
    assert read_work_status(path) == {"status": "done"}
    assert os.stat(path).st_mtime_ns == before
    assert os.listdir(os.path.dirname(path)) == ["work-status.yml"]


def test_gone_result():
    view = gone_result("demo", "k7m2q", "fix-auth", "/r/archive/demo/tasks/x")
    assert set(view) == set(TASK_KEYS)
    assert view["task_id"] == "k7m2q"
    assert view["name"] == "fix-auth"
    assert view["project"] == "demo"
    assert view["status"] == "absent"
    assert view["archive_path"] == "/r/archive/demo/tasks/x"
    assert view["managed"] is False
    for key in set(TASK_KEYS) - {"task_id", "name", "project", "status", "archive_path", "managed"}:
        assert view[key] is None, key


def test_diff_state(layout):
    task = make_task({"mode": None, MANAGED_KEY: MANAGED_BY})
    view = task_view(layout, task, {})
    assert diff_state(task, view) == {
        "task_id": "k7m2q",
        "name": "fix-auth",
        "status": "created",
        "container_state": None,
        "image_id": None,
        "confinement": None,
        "dossier": {"project": "demo", "task": "k7m2q", "name": "fix-auth"},
        "meta": {"mode": None, MANAGED_KEY: MANAGED_BY},
    }
    assert diff_state(None, None) == {}


def test_diff_state_is_a_copy(layout):
    task = make_task({"mode": None})
    state = diff_state(task, task_view(layout, task, {}))
    state["meta"]["mode"] = "cli"
    state["dossier"]["name"] = "changed"
    assert task.meta == {"mode": None}
    assert task.name == "fix-auth"


def test_work_status_with_yaml_aliases_is_refused(layout):
    path = write_work_status(layout, "a: &a [x, x, x]\nb: [*a, *a, *a]\nstatus: coding\n")
    assert read_work_status(path) is None


def test_work_status_dates_come_back_as_text(layout):
    path = write_work_status(layout, "status: done\nupdated: 2026-11-28\n")
    assert read_work_status(path) == {"status": "done", "updated": "2026-11-28"}


def test_an_outdated_image_is_told_only_when_the_image_ids_were_listed(layout):
    task = make_task({"mode": "cli", "ready_at": READY})
    live = containers(Container("demo-cli-k7m2q", "running", image="localhost/img:latest", image_id="old1"))
    assert task_view(layout, task, live)["image_outdated"] is None
    assert task_result(layout, task, live, image_ids={"localhost/img:latest": "new2"})["image_outdated"] is True
    assert task_result(layout, task, live, image_ids={"localhost/img:latest": "old1"})["image_outdated"] is False
    assert task_result(layout, task, live)["image_id"] == "old1"
