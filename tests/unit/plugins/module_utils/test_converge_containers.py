# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""state=running and state=stopped: the container of a task, with a recording fake podman."""

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.terok.lifecycle.plugins.module_utils._container_spec import SPEC_LABEL
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._converge import converge_one, plan_running, require_first_mode
from ansible_collections.terok.lifecycle.plugins.module_utils._spec import Spec
from ansible_collections.terok.lifecycle.plugins.module_utils._project_tasks import ProjectTasks, Task

IMAGE = "localhost/terok-agent:latest"
READY = "2026-11-28T09:16:00+00:00"


def running_spec(**params):
    params.setdefault("project", "demo")
    params.setdefault("state", "running")
    params.setdefault("image", IMAGE)
    return Spec.from_params(params)


def read_meta(layout, task_id):
    with open(layout.meta_path("demo", task_id)) as handle:
        return yaml.safe_load(handle)


def the_run_call(runner):
    (argv,) = [argv for argv in runner.calls if argv[1] == "run"]
    return argv


# planning ---------------------------------------------------------------------------------------------


def test_a_task_keeps_its_first_mode():
    task = Task("demo", "k7m2q", {"name": "a"}, {"mode": "web"})
    require_first_mode(task, "web")
    require_first_mode(Task("demo", "k7m2q", {}, {"mode": None}), "cli")
    with pytest.raises(TerokError) as err:
        require_first_mode(task, "cli")
    assert err.value.option == "mode"
    assert "web" in err.value.msg


@pytest.mark.parametrize(
    "container, recreate, action, warns",
    [
        (None, False, "create", False),
        ({"State": "running", "same": True}, False, "none", False),
        ({"State": "exited", "same": True}, False, "start", False),
        ({"State": "created", "same": True}, False, "start", False),
        ({"State": "paused", "same": True}, False, "unpause", False),
        ({"State": "running", "same": False}, True, "recreate", False),
        ({"State": "exited", "same": False}, True, "recreate", False),
        ({"State": "running", "same": False}, False, "none", True),
        ({"State": "exited", "same": False}, False, "start", True),
    ],
)
def test_plan_running(make_runtime, container, recreate, action, warns):
    spec = running_spec(name="a", recreate=recreate)
    containers = {}
    if container is not None:
        digest = spec.container.digest(lambda: b"unused") if container["same"] else "0" * 32
        containers["demo-cli-k7m2q"] = {"State": container["State"], "Labels": {SPEC_LABEL: digest}}
    runtime, runner = make_runtime(containers=containers)
    task = Task("demo", "k7m2q", {"name": "a"}, {"mode": None})
    got_action, name, warning = plan_running(runtime, task, spec)
    assert (got_action, name) == (action, "demo-cli-k7m2q")
    assert bool(warning) is warns
    if warns:
        assert "recreate" in warning
    assert runner.mutating_calls() == []


def test_plan_running_needs_podman(make_runtime):
    runtime, _runner = make_runtime(executable="terok-test-no-such-podman")
    with pytest.raises(TerokError) as err:
        plan_running(runtime, Task("demo", "k7m2q", {"name": "a"}, {}), running_spec(name="a"))
    assert "terok-test-no-such-podman" in err.value.msg


# state=running ---------------------------------------------------------------------------------------


def test_running_creates_the_task_and_its_container(make_runtime, layout):
    runtime, runner = make_runtime()
    outcome = converge_one(runtime, running_spec(name="fix-auth", code_repo="https://git.example/r.git"))
    assert outcome.changed is True
    task = outcome.task
    task_id = task["task_id"]
    assert task["status"] == "running"
    assert task["mode"] == "cli"
    assert task["container_name"] == "demo-cli-" + task_id
    assert task["login_command"] == "podman exec -it demo-cli-%s bash" % task_id
    argv = the_run_call(runner)
    assert argv[argv.index("--name") + 1] == "demo-cli-" + task_id
    volumes = [argv[i + 1] for i, a in enumerate(argv) if a == "--volume"]
    assert any(v.startswith(layout.workspace("demo", task_id) + ":/workspace") for v in volumes)
    assert IMAGE in argv
    # the env file with the init script's inputs is gone once podman has read it
    assert not os.path.exists(argv[argv.index("--env-file") + 1])
    meta = read_meta(layout, task_id)
    assert meta["mode"] == "cli"
    assert "ready_at" in meta
    assert meta["managed_by"] == "terok.lifecycle"


def test_running_rerun_is_ok(make_runtime):
    runtime, runner = make_runtime()
    first = converge_one(runtime, running_spec(name="a"))
    runtime2, runner2 = make_runtime(containers=runner.containers)
    again = converge_one(runtime2, running_spec(name="a"))
    assert again.changed is False
    assert again.task["task_id"] == first.task["task_id"]
    assert runner2.mutating_calls() == []


def test_running_starts_a_stopped_container_without_recreating_it(make_runtime, write_task, layout):
    write_task("demo", "k7m2q", "a", meta={"mode": "cli", "ready_at": READY, "exit_code": 0})
    spec = running_spec(name="a")
    runtime, runner = make_runtime(
        containers={"demo-cli-k7m2q": {"State": "exited", "Labels": {SPEC_LABEL: spec.container.digest(lambda: b"unused")}}}
    )
    outcome = converge_one(runtime, spec)
    assert outcome.changed is True
    assert [argv[1] for argv in runner.mutating_calls()] == ["start"]
    assert outcome.task["status"] == "running"
    meta = read_meta(layout, "k7m2q")
    assert "exit_code" not in meta  # the last run's exit code does not describe this one


def test_running_refuses_another_mode(make_runtime, write_task, root, tree_snapshot):
    write_task("demo", "k7m2q", "a", meta={"mode": "web"})
    runtime, runner = make_runtime()
    with pytest.raises(TerokError) as err:
        converge_one(runtime, running_spec(name="a", mode="cli"))
    assert err.value.option == "mode"
    assert runner.mutating_calls() == []


def test_running_with_wait_records_the_exit_code(make_runtime, layout):
    runtime, _runner = make_runtime(wait=124)
    outcome = converge_one(runtime, running_spec(name="a", wait=True, wait_timeout=10))
    assert outcome.task["exit_code"] == 124  # a real 124 is the container's, recorded as such
    assert read_meta(layout, outcome.task["task_id"])["exit_code"] == 124


def test_running_in_check_mode_writes_and_starts_nothing(make_runtime, tmp_path, root, tree_snapshot):
    runtime, runner = make_runtime(check_mode=True)
    outcome = converge_one(runtime, running_spec(name="a"))
    assert outcome.changed is True
    assert not os.path.exists(root)
    assert runner.mutating_calls() == []


def test_running_in_check_mode_on_a_stopped_container(make_runtime, write_task, root, tree_snapshot):
    write_task("demo", "k7m2q", "a", meta={"mode": "cli", "ready_at": READY})
    spec = running_spec(name="a")
    before = tree_snapshot(root)
    runtime, runner = make_runtime(
        check_mode=True,
        containers={"demo-cli-k7m2q": {"State": "exited", "Labels": {SPEC_LABEL: spec.container.digest(lambda: b"unused")}}},
    )
    outcome = converge_one(runtime, spec)
    assert outcome.changed is True
    assert tree_snapshot(root) == before
    assert runner.mutating_calls() == []


# state=stopped ----------------------------------------------------------------------------------------


def test_stopped_stops_and_captures_logs(make_runtime, write_task, layout):
    write_task("demo", "k7m2q", "a", meta={"mode": "cli", "ready_at": READY})
    runtime, runner = make_runtime(containers={"demo-cli-k7m2q": {"State": "running"}})
    outcome = converge_one(runtime, Spec.from_params({"project": "demo", "name": "a", "state": "stopped"}))
    assert outcome.changed is True
    stops = [argv for argv in runner.calls if argv[1] == "stop"]
    assert stops == [[runner.calls[0][0], "stop", "--time", "10", "demo-cli-k7m2q"]]
    with open(layout.log_file("demo", "k7m2q")) as handle:
        assert "hello" in handle.read()
    assert outcome.task["login_command"] is None
    again_runtime, again_runner = make_runtime(containers=runner.containers)
    again = converge_one(again_runtime, Spec.from_params({"project": "demo", "name": "a", "state": "stopped"}))
    assert again.changed is False
    assert again_runner.mutating_calls() == []


def test_stopped_uses_stop_timeout(make_runtime, write_task):
    write_task("demo", "k7m2q", "a", meta={"mode": "cli"})
    runtime, runner = make_runtime(containers={"demo-cli-k7m2q": {"State": "running"}})
    converge_one(runtime, Spec.from_params({"project": "demo", "name": "a", "state": "stopped", "stop_timeout": 3}))
    (stop,) = [argv for argv in runner.calls if argv[1] == "stop"]
    assert stop[2:4] == ["--time", "3"]


def test_stopped_for_a_task_that_never_ran_creates_it_only(make_runtime, layout):
    runtime, runner = make_runtime()
    outcome = converge_one(runtime, Spec.from_params({"project": "demo", "name": "a", "state": "stopped"}))
    assert outcome.changed is True
    assert runner.mutating_calls() == []
    assert list(ProjectTasks(layout, "demo").load().tasks) == [outcome.task["task_id"]]


def test_stopped_in_check_mode(make_runtime, write_task, root, tree_snapshot):
    write_task("demo", "k7m2q", "a", meta={"mode": "cli", "ready_at": READY})
    before = tree_snapshot(root)
    runtime, runner = make_runtime(check_mode=True, containers={"demo-cli-k7m2q": {"State": "running"}})
    outcome = converge_one(runtime, Spec.from_params({"project": "demo", "name": "a", "state": "stopped"}))
    assert outcome.changed is True
    assert tree_snapshot(root) == before
    assert runner.mutating_calls() == []


def test_a_failed_start_that_restored_the_metadata_reports_no_change(make_runtime, write_task, layout):
    meta = {"mode": "cli", "ready_at": READY, "exit_code": 3}
    write_task("demo", "k7m2q", "a", meta=meta)
    runtime, _runner = make_runtime(
        containers={"demo-cli-k7m2q": {"State": "exited", "ExitCode": 3}}, fail={"start": (125, "Error: boom")}
    )
    with pytest.raises(TerokError):
        converge_one(runtime, running_spec(task_id="k7m2q", wait_ready=False))
    assert read_meta(layout, "k7m2q") == meta  # put back
    assert runtime.changed is False  # so nothing remains changed


def test_a_failed_recreate_after_the_old_container_went_reports_a_change(make_runtime, write_task, layout):
    write_task("demo", "k7m2q", "a", meta={"mode": "cli", "ready_at": READY})
    runtime, _runner = make_runtime(
        containers={"demo-cli-k7m2q": {"State": "running", "Labels": {SPEC_LABEL: "old"}}},
        fail={"run": (125, "Error: boom")},
    )
    with pytest.raises(TerokError):
        converge_one(runtime, running_spec(task_id="k7m2q", recreate=True, wait_ready=False))
    assert runtime.changed is True  # the old container was removed: that stays


def test_check_mode_predicts_a_waited_job_ends_completed_not_stopped(make_runtime, root, tree_snapshot):
    before = tree_snapshot(root)
    runtime, runner = make_runtime(check_mode=True)
    outcome = converge_one(runtime, running_spec(name="job", mode="run", wait=True))
    assert outcome.changed and outcome.task["status"] == "completed"
    assert any("cannot know the exit code" in w for w in runtime.warnings), runtime.warnings
    assert tree_snapshot(root) == before
    assert runner.mutating_calls() == []


def test_a_project_too_long_for_a_hostname_is_refused_before_anything_is_written(make_runtime, root):
    with pytest.raises(TerokError) as err:
        running_spec(name="a", project="p" * 54)
    assert err.value.option == "project" and "53" in err.value.msg
    assert running_spec(name="a", project="p" * 53).project  # 53 + "-toad-" + 5 = 64 fits


@pytest.mark.parametrize("bad_root", ["with:colon", "with,comma"])
def test_a_root_podman_cannot_mount_is_refused_before_anything_is_written(tmp_path, podman_exe, bad_root):
    from ansible_collections.terok.lifecycle.plugins.module_utils._paths import Layout
    from ansible_collections.terok.lifecycle.plugins.module_utils._podman import Podman
    from ansible_collections.terok.lifecycle.plugins.module_utils._run_context import RunContext
    from ansible_collections.terok.lifecycle.tests.support.fake_podman import FakePodman

    root = str(tmp_path / bad_root)
    context = RunContext(Layout(root), Podman(str(podman_exe), FakePodman()))
    with pytest.raises(TerokError) as err:
        converge_one(context, running_spec(name="a"))
    assert err.value.option == "root"
    assert not os.path.exists(os.path.join(root, "sandbox-live"))


def test_an_unknown_mode_in_the_metadata_is_not_started_and_its_container_is_removed(make_runtime, write_task, layout):
    write_task("demo", "k7m2q", "a", meta={"mode": "bogus"})
    runtime, _runner = make_runtime(containers={"demo-bogus-k7m2q": {"State": "running"}})
    with pytest.raises(TerokError) as err:
        converge_one(runtime, running_spec(task_id="k7m2q"))
    assert err.value.option == "mode" and "bogus" in err.value.msg
    runtime, runner = make_runtime(containers={"demo-bogus-k7m2q": {"State": "running"}})
    converge_one(runtime, Spec.from_params({"project": "demo", "task_id": "k7m2q", "state": "absent"}))
    removed = [argv for argv in runner.calls if argv[1:2] == ["rm"]]
    assert removed and "demo-bogus-k7m2q" in removed[0]


def test_a_container_terok_made_is_never_replaced_without_recreate_foreign(make_runtime, write_task, layout):
    write_task("demo", "k7m2q", "a", meta={"mode": "cli", "ready_at": READY})
    terok_made = {"demo-cli-k7m2q": {"State": "running", "Labels": {}}}
    runtime, runner = make_runtime(containers=terok_made)
    outcome = converge_one(runtime, running_spec(task_id="k7m2q", recreate=True))
    assert not outcome.changed and runner.mutating_calls() == []
    assert any("not made by this collection" in w and "recreate_foreign" in w for w in runtime.warnings)
    runtime, runner = make_runtime(containers=terok_made)
    outcome = converge_one(runtime, running_spec(task_id="k7m2q", recreate=True, recreate_foreign=True, wait_ready=False))
    assert outcome.changed and "run" in runner.subcommands()


def test_a_start_records_unrestricted_and_the_web_port(make_runtime, layout):
    runtime, _runner = make_runtime()
    outcome = converge_one(runtime, running_spec(name="web", mode="web", publish=["8080:80"], restricted=False))
    meta = read_meta(layout, outcome.task["task_id"])
    assert meta["unrestricted"] is True and meta["web_port"] == 8080
    assert outcome.task["confinement"]["restricted"] is False


def test_a_container_whose_image_name_moved_on_is_reported_and_recreate_replaces_it(layout, write_task, podman_exe):
    import json as json_module

    from ansible_collections.terok.lifecycle.plugins.module_utils._podman import Podman
    from ansible_collections.terok.lifecycle.plugins.module_utils._run_context import RunContext
    from ansible_collections.terok.lifecycle.tests.support.fake_podman import FakePodman

    class Rebuilt(FakePodman):
        def answer(self, args):
            if args[:1] == ["images"]:
                return 0, json_module.dumps([{"Id": "new2", "Names": [IMAGE]}]), ""
            return super().answer(args)

    write_task("demo", "k7m2q", "a", meta={"mode": "cli", "ready_at": READY})
    spec = running_spec(task_id="k7m2q")
    labels = {SPEC_LABEL: spec.container.digest(lambda: b"unused")}
    listed = {"demo-cli-k7m2q": {"State": "running", "Labels": labels, "Image": IMAGE, "ImageID": "old1"}}
    runner = Rebuilt(containers=listed)
    context = RunContext(layout, Podman(str(podman_exe), runner))
    outcome = converge_one(context, spec)
    assert not outcome.changed and outcome.task["image_id"] == "old1"
    assert any("now points at new2" in w for w in context.warnings), context.warnings
    runner = Rebuilt(containers=dict(listed))
    context = RunContext(layout, Podman(str(podman_exe), runner))
    outcome = converge_one(context, running_spec(task_id="k7m2q", recreate=True, wait_ready=False))
    assert outcome.changed and "run" in runner.subcommands()


@pytest.mark.parametrize("moved", ["image", "options"])
def test_a_finished_job_stays_finished_when_its_image_or_options_moved_on(layout, write_task, podman_exe, moved):
    import json as json_module

    from ansible_collections.terok.lifecycle.plugins.module_utils._podman import Podman
    from ansible_collections.terok.lifecycle.plugins.module_utils._run_context import RunContext
    from ansible_collections.terok.lifecycle.tests.support.fake_podman import FakePodman

    class Rebuilt(FakePodman):
        def answer(self, args):
            if args[:1] == ["images"]:
                return 0, json_module.dumps([{"Id": "new2" if moved == "image" else "old1", "Names": [IMAGE]}]), ""
            return super().answer(args)

    write_task("demo", "k7m2q", "job", meta={"mode": "run", "ready_at": READY, "exit_code": 0})
    made_with = running_spec(task_id="k7m2q", mode="run", wait=True, command=["make", "test"])
    labels = {SPEC_LABEL: made_with.container.digest(lambda: b"unused")}
    listed = {"demo-run-k7m2q": {"State": "exited", "ExitCode": 0, "Labels": labels, "Image": IMAGE, "ImageID": "old1"}}
    spec = made_with if moved == "image" else running_spec(task_id="k7m2q", mode="run", wait=True, command=["make"])
    runner = Rebuilt(containers=listed)
    context = RunContext(layout, Podman(str(podman_exe), runner))
    outcome = converge_one(context, spec)
    assert not outcome.changed and outcome.task["status"] == "completed" and outcome.task["exit_code"] == 0
    assert runner.mutating_calls() == []  # never started again
    assert any("kept as it is" in w and "recreate=true" in w for w in context.warnings), context.warnings
    # only recreate=true runs it again
    again = running_spec(task_id="k7m2q", mode="run", wait=True, wait_ready=False, recreate=True,
                         command=spec.container.values["command"])
    runner = Rebuilt(containers=dict(listed))
    context = RunContext(layout, Podman(str(podman_exe), runner))
    assert converge_one(context, again).changed and "run" in runner.subcommands()


def test_a_new_container_and_a_started_one_tell_the_id_of_their_image(make_runtime, layout):
    runtime, runner = make_runtime(images=[IMAGE])
    outcome = converge_one(runtime, running_spec(name="a", wait_ready=False))
    assert outcome.task["image_id"] == "id-" + IMAGE
    assert runner.subcommands().count("images") == 1
    listed = {name: dict(c, State="exited", ImageID="id-" + IMAGE) for name, c in runner.containers.items()}
    runtime, runner = make_runtime(containers=listed, images=[IMAGE])
    started = converge_one(runtime, running_spec(task_id=outcome.task["task_id"], wait_ready=False))
    assert started.changed and started.task["container_state"] == "running" and started.task["image_id"] == "id-" + IMAGE
    # a container waited for is listed afresh after the wait: no image listing for it
    runtime, runner = make_runtime(images=[IMAGE])
    converge_one(runtime, running_spec(name="b"))
    assert "images" not in runner.subcommands()
