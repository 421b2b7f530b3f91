# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A task whose container terok made (no options-hash label): its metadata keeps describing that container.

terok 0.9.1 resumes such a container with ``podman start`` and judges it by its state alone
(``_start_and_report_restart``: ``_podman_start`` then ``_assert_running``); it writes no metadata, so
``unrestricted`` and ``ready_at`` stay. Its init script prints the ready line only when terok's host-side
services answer (``git fetch`` under ``set -e``), so following the log for it is no test of readiness.
"""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.terok.lifecycle.plugins.module_utils._container_spec import SPEC_LABEL
from ansible_collections.terok.lifecycle.plugins.module_utils._converge import converge_one
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._spec import Spec

IMAGE = "localhost/terok-agent:latest"
READY = "2026-11-28T09:16:00+00:00"
TEROK_META = {"mode": "cli", "ready_at": READY, "unrestricted": True, "debug": False, "web_port": None}
NAME = "demo-cli-k7m2q"


def spec(**params):
    params.setdefault("project", "demo")
    params.setdefault("task_id", "k7m2q")
    params.setdefault("state", "running")
    params.setdefault("image", IMAGE)
    return Spec.from_params(params)


def read_meta(layout):
    with open(layout.meta_path("demo", "k7m2q")) as handle:
        return yaml.safe_load(handle)


def followed(runner):
    return [argv for argv in runner.spawned if "logs" in argv]


@pytest.mark.parametrize("state, action", [("exited", "start"), ("paused", "unpause")])
def test_resuming_terok_s_container_keeps_unrestricted_and_ready_at(make_runtime, write_task, layout, state, action):
    write_task("demo", "k7m2q", "a", meta=dict(TEROK_META))
    runtime, runner = make_runtime(containers={NAME: {"State": state, "Labels": {}}})
    outcome = converge_one(runtime, spec())
    assert outcome.changed and action in runner.subcommands()
    meta = read_meta(layout)
    assert meta["unrestricted"] is True and meta["ready_at"] == READY and meta["debug"] is False
    assert followed(runner) == []  # no ready line is waited for: terok waits for none on a resume
    assert outcome.task["status"] == "running"
    assert "run" not in runner.subcommands()
    assert any("not made by this collection" in w and "unrestricted" in w for w in runtime.warnings)


def test_a_running_terok_container_without_ready_at_is_left_alone(make_runtime, write_task, layout):
    meta = dict(TEROK_META)
    del meta["ready_at"]
    write_task("demo", "k7m2q", "a", meta=meta)
    runtime, runner = make_runtime(containers={NAME: {"State": "running", "Labels": {}}})
    outcome = converge_one(runtime, spec())
    assert not outcome.changed and runner.mutating_calls() == [] and followed(runner) == []
    assert read_meta(layout) == meta


def test_a_terok_container_that_does_not_run_after_its_start_fails(make_runtime, write_task, layout):
    write_task("demo", "k7m2q", "a", meta=dict(TEROK_META))
    runtime, runner = make_runtime(containers={NAME: {"State": "exited", "Labels": {}}})
    answer = runner.answer

    def start_that_exits(args):
        result = answer(args)
        if args[:1] == ["start"]:
            runner.containers[NAME]["State"] = "exited"
        return result

    runner.answer = start_that_exits
    with pytest.raises(TerokError) as err:
        converge_one(runtime, spec())
    assert "after podman start" in err.value.msg and NAME in err.value.msg
    meta = read_meta(layout)
    assert meta["unrestricted"] is True and meta["ready_at"] == READY


def test_stop_and_start_again_keep_terok_s_metadata(make_runtime, write_task, layout):
    write_task("demo", "k7m2q", "a", meta=dict(TEROK_META, exit_code=None))
    runtime, runner = make_runtime(containers={NAME: {"State": "running", "Labels": {}}})
    converge_one(runtime, spec(state="stopped"))
    assert read_meta(layout)["unrestricted"] is True and read_meta(layout)["ready_at"] == READY
    converge_one(make_runtime(containers=runner.containers)[0], spec(wait_ready=True, ready_timeout=5))
    meta = read_meta(layout)
    assert meta["unrestricted"] is True and meta["ready_at"] == READY and "stopped_at" not in meta


def test_check_mode_predicts_the_resume_without_asking_podman_again(make_runtime, write_task, layout):
    write_task("demo", "k7m2q", "a", meta=dict(TEROK_META))
    runtime, runner = make_runtime(check_mode=True, containers={NAME: {"State": "exited", "Labels": {}}})
    outcome = converge_one(runtime, spec())
    assert outcome.changed and runner.mutating_calls() == []
    assert runner.subcommands().count("ps") == 1
    assert read_meta(layout) == TEROK_META


def test_recreate_foreign_replaces_it_and_then_records_this_collection_s_run(make_runtime, write_task, layout):
    write_task("demo", "k7m2q", "a", meta=dict(TEROK_META))
    runtime, runner = make_runtime(containers={NAME: {"State": "running", "Labels": {}}})
    converge_one(runtime, spec(recreate=True, recreate_foreign=True))
    assert "run" in runner.subcommands() and followed(runner)
    meta = read_meta(layout)
    assert meta["unrestricted"] is False and meta["ready_at"] != READY
    assert SPEC_LABEL in runner.containers[NAME]["Labels"]
