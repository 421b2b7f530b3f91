# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A task's podman secrets have an owner that outlives any failure; the host key is written whole."""

from __future__ import annotations

import errno
import os
import subprocess
import tempfile

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils._container_spec import ContainerSpec
from ansible_collections.terok.lifecycle.plugins.module_utils._converge import converge_one
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._podman import ENV_DIR_PREFIX, sweep_env_dirs
from ansible_collections.terok.lifecycle.plugins.module_utils._secrets import (
    KEY_BYTES,
    KEY_FILE,
    NAME_MAX,
    load_key,
    secret_name,
    task_prefix,
)
from ansible_collections.terok.lifecycle.plugins.module_utils._spec import Spec

IMAGE = "localhost/terok-task:latest"
RUN_FAILED = (7, "Error: Error executing command.")


def run(runtime, **params):
    params.setdefault("project", "demo")
    return converge_one(runtime, Spec.from_params(params))


# names ---------------------------------------------------------------------------------------------


def test_a_secret_name_fits_podman_whatever_the_project_and_variable():
    long_project = "adv-payments-" + "x" * 27  # 40 characters: a valid project
    prefix = task_prefix("/var/lib/terok", long_project, "k7m2q")
    assert prefix.startswith("tl-") and len(prefix) == 16
    assert secret_name(prefix, "ANTHROPIC_API_KEY") == prefix + "ANTHROPIC_API_KEY"
    long_a, long_b = "A" * 60 + "_ONE", "A" * 60 + "_TWO"
    names = {secret_name(prefix, long_a), secret_name(prefix, long_b)}
    assert len(names) == 2 and all(len(name) == NAME_MAX and name.startswith(prefix) for name in names)


def test_each_task_has_a_prefix_of_its_own():
    prefixes = {task_prefix(root, project, task_id) for root in ("/r1", "/r2") for project in ("a", "b")
                for task_id in ("k7m2q", "k7m2r")}
    assert len(prefixes) == 8
    # no prefix is the start of another task's secret name
    assert not any(a != b and b.startswith(a) for a in prefixes for b in prefixes)


# left-over secrets ---------------------------------------------------------------------------------


def test_absent_removes_the_secrets_a_killed_start_left_without_a_container(make_runtime, layout):
    runtime, _runner = make_runtime()
    task_id = run(runtime, name="a", image=IMAGE).task["task_id"]
    mine = task_prefix(layout.root, "demo", task_id)
    others = ["tl-0123456789ab-TOKEN", "someone-elses"]
    runtime, runner = make_runtime(secrets=[mine + "TOKEN", mine + "OLD"] + others)
    outcome = run(runtime, name="a", state="absent")
    assert outcome.changed is True
    assert sorted(runner.secrets) == sorted(others)
    # the rerun finds nothing of the task
    runtime, runner = make_runtime(secrets=others)
    assert run(runtime, name="a", state="absent").changed is False
    assert runner.mutating_calls() == []


def test_absent_in_check_mode_reads_the_secrets_and_removes_none(make_runtime, layout):
    runtime, _runner = make_runtime()
    task_id = run(runtime, name="a", image=IMAGE).task["task_id"]
    left = [task_prefix(layout.root, "demo", task_id) + "TOKEN"]
    runtime, runner = make_runtime(check_mode=True, secrets=left)
    assert run(runtime, name="a", state="absent").changed is True
    assert runner.mutating_calls() == [] and runner.secrets == left


def test_a_start_replaces_the_secrets_an_earlier_run_left(make_runtime, layout):
    runtime, _runner = make_runtime()
    task_id = run(runtime, name="a", image=IMAGE).task["task_id"]
    mine = task_prefix(layout.root, "demo", task_id)
    runtime, runner = make_runtime(secrets=[mine + "TOKEN", mine + "GONE_KEY"])
    run(runtime, name="a", image=IMAGE, state="running", secret_env={"TOKEN": "hunter2"})
    assert runner.secrets == [mine + "TOKEN"]  # made afresh; the variable no longer given went
    assert runner.containers["demo-cli-%s" % task_id]["State"] == "running"


def test_a_failed_start_removes_the_secrets_it_made_and_reports_what_it_wrote(make_runtime, layout):
    runtime, runner = make_runtime(fail={"run": RUN_FAILED}, images=[IMAGE])
    with pytest.raises(TerokError):
        run(runtime, name="a", image=IMAGE, state="running", secret_env={"TOKEN": "hunter2", "OTHER": "x"})
    assert ["secret", "create"] in [argv[1:3] for argv in runner.calls]
    assert runner.secrets == [] and runner.containers == {}
    assert runtime.changed  # the task was created before the run failed, and it stays
    (task_id,) = os.listdir(layout.tasks_root("demo"))
    # the task's metadata is put back as it was before the start: no mode of a container that never ran
    runtime, runner = make_runtime()
    listed = run(runtime, task_id=task_id, name="a").task
    assert listed["mode"] is None and listed["status"] == "created"
    # a second failed start on the task that exists changes nothing that remains
    runtime, runner = make_runtime(fail={"run": RUN_FAILED}, images=[IMAGE])
    with pytest.raises(TerokError):
        run(runtime, name="a", image=IMAGE, state="running", secret_env={"TOKEN": "hunter2"})
    assert not runtime.changed and runner.secrets == []


# the host key ----------------------------------------------------------------------------------------


def test_an_empty_key_left_by_a_full_disk_is_replaced(tmp_path):
    root = str(tmp_path)
    path = os.path.join(root, KEY_FILE)
    open(path, "wb").close()
    key = load_key(root, create=True)
    assert len(key) == KEY_BYTES
    with open(path, "rb") as handle:
        assert handle.read() == key
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert load_key(root, create=True) == key  # kept from now on
    assert os.listdir(root) == [KEY_FILE]


def test_check_mode_leaves_an_empty_key_alone(tmp_path):
    path = os.path.join(str(tmp_path), KEY_FILE)
    open(path, "wb").close()
    assert len(load_key(str(tmp_path), create=False)) == KEY_BYTES
    assert os.path.getsize(path) == 0


def test_a_full_disk_leaves_no_key_and_names_the_path(tmp_path, monkeypatch):
    def full(_fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(TerokError) as err:
        load_key(str(tmp_path), create=True)
    assert err.value.path == os.path.join(str(tmp_path), KEY_FILE)
    assert "No space left on device" in err.value.msg and str(tmp_path) in err.value.msg
    assert os.listdir(str(tmp_path)) == []  # neither the key nor its temp file
    monkeypatch.undo()
    assert len(load_key(str(tmp_path), create=True)) == KEY_BYTES  # space again: the next run draws it


def test_the_first_writer_of_the_key_wins(tmp_path):
    root = str(tmp_path)
    theirs = os.urandom(KEY_BYTES)
    real_link = os.link

    def race(src, dst):  # another run writes its key between our read and our link
        with open(dst, "wb") as handle:
            handle.write(theirs)
        real_link(src, dst)

    os.link = race
    try:
        assert load_key(root, create=True) == theirs
    finally:
        os.link = real_link
    assert os.listdir(root) == [KEY_FILE]


# the env file's directory ----------------------------------------------------------------------------


def test_the_env_directories_of_runs_that_are_gone_are_swept(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = os.path.join(str(tmp_path), "%s%d-abc" % (ENV_DIR_PREFIX, _a_dead_pid()))
    live = os.path.join(str(tmp_path), "%s%d-def" % (ENV_DIR_PREFIX, os.getpid()))
    other = os.path.join(str(tmp_path), "terok-envelope")
    for path in (dead, live, other):
        os.mkdir(path)
    with open(os.path.join(dead, "env"), "w") as handle:
        handle.write("A=b\n")
    sweep_env_dirs()
    assert sorted(os.listdir(str(tmp_path))) == sorted([os.path.basename(live), os.path.basename(other)])


def _a_dead_pid():
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_container_spec_refuses_what_podman_would_refuse_later():
    for secret_env in ({"EMPTY": ""}, {"HUGE": "x" * 512000}):
        with pytest.raises(TerokError) as err:
            ContainerSpec.from_params({"image": IMAGE, "secret_env": secret_env})
        assert err.value.option == "secret_env" and "podman takes a secret of 1 to 511999 bytes" in err.value.msg
    assert ContainerSpec.from_params({"image": IMAGE, "secret_env": {"BIG": "x" * 511999}})
    with pytest.raises(TerokError) as err:
        ContainerSpec.from_params({"image": IMAGE, "env": {"LONG": "x" * 65531}})
    assert err.value.option == "env" and "65535 bytes" in err.value.msg
    assert ContainerSpec.from_params({"image": IMAGE, "env": {"LONG": "x" * 65530}})
