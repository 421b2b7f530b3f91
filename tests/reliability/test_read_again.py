# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""With real podman: another run that stops a task while this one waits is seen in this run's result."""

from __future__ import annotations

import os
import secrets
import subprocess
import time

import pytest

import _support as S

IMAGE = "localhost/terok-task:latest"
READY_LINE = ">> init complete"


def _podman(*args):
    return subprocess.run(["podman"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False,
                          env=S.ansible_env(), universal_newlines=True)


def _mine(project):
    return [name for name in _podman("ps", "-a", "--format", "{{.Names}}").stdout.split()
            if name.startswith(project + "-")]


@pytest.fixture
def world(tmp_path):
    """(project, root, init script, environment of the runs); afterwards nothing of the project is left
    in podman or in the runs' own temp dir (TMPDIR: the modules' env files go there)."""
    project = "ra" + secrets.token_hex(3)
    root = str(tmp_path / "root")
    init = tmp_path / "init-slow.sh"
    init.write_text('#!/bin/bash\nsleep 5\necho "%s"\nexec "$@"\n' % READY_LINE)
    init.chmod(0o755)
    temp = tmp_path / "tmp"
    temp.mkdir()
    yield project, root, str(init), S.ansible_env({"TMPDIR": str(temp)})
    left = _mine(project)
    if left:
        _podman("rm", "--force", "--time", "0", *left)
    assert not _mine(project)
    assert os.listdir(str(temp)) == [], "left in the temp dir"
    secrets_left = [name for name in _podman("secret", "ls", "--format", "{{.Name}}").stdout.split()
                    if name.startswith(project + "-")]
    assert not secrets_left


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_task_stopped_by_another_run_during_a_wait_is_reported_as_podman_has_it(world, concurrency):
    project, root, init, env = world
    base = {"root": root, "image": IMAGE}
    first = S.adhoc("terok_tasks", dict(base, tasks=[dict(project=project, name="y", state="running")]), env=env)
    assert not first.failed, first
    y_name = first.result["tasks"][0]["container_name"]
    # x is new and its init takes 5 s: the run lets the project lock go while it waits
    items = [dict(project=project, name="x", state="running", init_script=init),
             dict(project=project, name="y", state="running")]
    proc = S.adhoc_popen("terok_tasks", dict(base, tasks=items, concurrency=concurrency), env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(_mine(project)) < 2:
        time.sleep(0.2)
    assert len(_mine(project)) == 2, "x's container was not made within 60 s"
    stop = S.adhoc("terok_tasks", dict(base, tasks=[dict(project=project, name="y", state="stopped", stop_timeout=2)]),
                   env=env)
    assert not stop.failed and stop.result["tasks"][0]["status"] == "stopped", stop
    run = S.adhoc_collect(proc)
    assert not run.failed, run
    y = run.result["tasks"][1]
    state = _podman("inspect", "--format", "{{.State.Status}}", y_name).stdout.strip()
    assert y["container_state"] == state, (y, state)  # what podman says when the run returned
    assert y["changed"] is True, y
    if state != "running":  # decided before the other run stopped it: told as it is now, with a warning
        assert concurrency > 1
        assert any("another run" in warning for warning in run.warnings), run.warnings
