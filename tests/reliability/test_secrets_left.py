# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""With real podman: a task's secrets and env files outlive no failure and no kill -9.

- A start that podman refuses after the secrets were made (an image it cannot find)
  removes them and puts the metadata back, and ``absent`` finds nothing left.
- kill -9 of a run (the module's process; the podman call it had started ends on its own) at
  points spread over a start with ``secret_env``: secret listing, ``secret rm``, the
  ``secret create`` calls, the env file and ``podman run``. After each kill, ``absent`` of the task
  leaves nothing in ``podman secret ls``, ``podman ps -a`` or the temp directory.
- A project name of 40 characters with ``ANTHROPIC_API_KEY`` (over podman's 64 characters in the
  old naming) starts.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import tempfile
import time

import pytest

import _support as S
from ansible_collections.terok.lifecycle.plugins.module_utils._podman import Podman
from ansible_collections.terok.lifecycle.plugins.module_utils._secrets import task_prefix
from ansible_collections.terok.lifecycle.tests.support.process_runner import ProcessRunner

IMAGE = "localhost/terok-task:latest"
KILL_POINTS = 10


def _podman(*args):
    return subprocess.run(["podman"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False,
                          universal_newlines=True)


def _secrets_starting(prefix):
    return [name for name in _podman("secret", "ls", "--format", "{{.Name}}").stdout.split() if name.startswith(prefix)]


def _containers_of(project):
    return [name for name in _podman("ps", "-a", "--format", "{{.Names}}").stdout.split()
            if name.startswith(project + "-")]


def _context(root):
    return S.RunContext(S.Layout.resolve(root), Podman("podman", ProcessRunner()))


def _converge(root, **params):
    return S.converge_one(_context(root), S.spec(**params))


def _wait_for_session_end(sid, timeout=60.0):
    """Wait until no process of session ``sid`` is left: the podman call that a killed run had started
    ends on its own, as it does after a killed playbook (killing podman itself mid-write can break
    podman's own secret store, which writes secrets.json in place: seen with podman 4.3.1)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open("/proc/%s/stat" % entry, encoding="utf-8", errors="replace") as handle:
                        fields = handle.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[3]) == sid:  # after ") ": state, ppid, pgrp, session
                    left.append(entry)
        if not left:
            return
        time.sleep(0.05)
    raise AssertionError("processes of the killed run still there after %ss: %s" % (timeout, left))


@pytest.fixture
def world(tmp_path, monkeypatch):
    """(project, root, temp dir); afterwards nothing of the project is in podman or the temp dir."""
    project = "sl" + secrets.token_hex(3)
    root = str(tmp_path / "root")
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    made = []
    yield project, root, str(temp), made
    left = _containers_of(project)
    if left:
        _podman("rm", "--force", "--time", "0", *left)
    stray = [name for task_id in made for name in _secrets_starting(task_prefix(root, project, task_id))]
    if stray:
        _podman("secret", "rm", *stray)
    assert not left, "containers left: %s" % left
    assert not stray, "secrets left: %s" % stray
    assert os.listdir(str(temp)) == [], "left in the temp dir"


def test_a_start_that_podman_refuses_leaves_no_secret_and_the_task_as_before(world):
    project, root, _temp, made = world
    missing = "localhost/terok-no-such-image-%s:latest" % project  # podman run fails after the secrets are made
    status, payload = S.run_in_child(lambda: _converge(
        root, project=project, name="big", image=missing, state="running",
        secret_env={"API_KEY": "s3cr3t", "OTHER": "x"}).changed, timeout=120)
    assert status == "terok_error" and payload["option"] == "image", (status, payload)
    tasks, _archived, _warnings = S.list_all(root)
    (task,) = tasks
    made.append(task["task_id"])
    assert task["status"] == "created" and task["mode"] is None  # the metadata as it was before the start
    assert _secrets_starting(task_prefix(root, project, task["task_id"])) == []
    assert _containers_of(project) == []
    assert _converge(root, project=project, name="big", state="absent").changed is True


def test_kill_9_anywhere_in_a_start_with_secrets_leaves_nothing_after_absent(world):
    project, root, temp, made = world
    task_id = _converge(root, project=project, name="k", image=IMAGE).task["task_id"]
    made.append(task_id)
    prefix = task_prefix(root, project, task_id)
    params = dict(project=project, name="k", image=IMAGE, state="running", wait_ready=False,
                  secret_env={"API_KEY": "s3cr3t", "TOKEN": "t0ken", "THIRD": "3"})
    # how long an uninterrupted start takes, so that the kills spread over it
    started = time.monotonic()
    assert _converge(root, **params).changed is True
    whole = time.monotonic() - started
    assert len(_secrets_starting(prefix)) == 3
    assert _converge(root, project=project, name="k", state="absent").changed is True
    seen = {"secrets": 0, "containers": 0, "env dirs": 0}
    for point in range(KILL_POINTS):
        task_id = _converge(root, project=project, name="k", image=IMAGE).task["task_id"]
        made.append(task_id)
        prefix = task_prefix(root, project, task_id)
        pid = os.fork()
        if pid == 0:  # the run, in a session of its own
            code = 1
            try:
                os.setsid()
                _converge(root, **params)
                code = 0
            finally:
                os._exit(code)  # pylint: disable=protected-access
        time.sleep(whole * (point + 0.5) / KILL_POINTS)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        _wait_for_session_end(pid)
        seen["secrets"] += bool(_secrets_starting(prefix))
        seen["containers"] += bool(_containers_of(project))
        seen["env dirs"] += bool(os.listdir(temp))
        # the rerun: the task goes, and with it everything the killed run made
        assert _converge(root, project=project, name="k", state="absent").changed is True
        assert _secrets_starting(prefix) == [], "kill %d: secrets left" % point
        assert _containers_of(project) == [], "kill %d: containers left" % point
        assert os.listdir(temp) == [], "kill %d: left in the temp dir" % point
    S.count("secret kill points tried", KILL_POINTS)
    for what, times in seen.items():
        S.count("secret kill points that left %s for the rerun" % what, times)
    # the kills landed where something was left to clean: secrets and an env directory at least once
    assert seen["secrets"] > 0 and seen["env dirs"] + seen["containers"] > 0, seen


def test_a_long_project_name_with_an_ordinary_key_starts(world):
    _project, root, _temp, made = world
    project = world[0] + "-" + "p" * (40 - len(world[0]) - 1)
    assert len(project) == 40
    outcome = _converge(root, project=project, name="long", image=IMAGE, state="running", wait_ready=False,
                        secret_env={"ANTHROPIC_API_KEY": "sk-test"})
    task = outcome.task
    try:
        assert task["container_state"] == "running", task
        names = _secrets_starting(task_prefix(root, project, task["task_id"]))
        assert [len(name) <= 64 for name in names] == [True]
    finally:
        _converge(root, project=project, name="long", state="absent")
    made.append(task["task_id"])
    assert _containers_of(project) == []
