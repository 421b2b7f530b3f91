# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import os

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils._converge import converge_many
from ansible_collections.terok.lifecycle.plugins.module_utils._podman import Podman, PodmanError
from ansible_collections.terok.lifecycle.plugins.module_utils._run_context import RunContext
from ansible_collections.terok.lifecycle.plugins.module_utils._session import open_session
from ansible_collections.terok.lifecycle.plugins.module_utils._spec import Spec
from ansible_collections.terok.lifecycle.tests.support.fake_podman import FakePodman


def test_containers_are_listed_once(make_runtime):
    runtime, runner = make_runtime(containers={"demo-cli-k7m2q": {"State": "running"}})
    first = runtime.containers()
    second = runtime.containers()
    assert first is second
    assert first["demo-cli-k7m2q"].running
    assert runner.subcommands() == ["ps"]
    assert runtime.listing_ok is True
    assert runtime.warnings == []


def test_a_failed_listing_warns_once_and_is_empty(make_runtime):
    runtime, runner = make_runtime(fail={"ps": (125, "Error: no socket")})
    assert runtime.containers() == {}
    assert runtime.containers() == {}
    assert runtime.listing_ok is False
    assert len(runtime.warnings) == 1
    assert "no socket" in runtime.warnings[0]


def test_a_required_listing_raises(make_runtime):
    runtime, _runner = make_runtime(executable="terok-test-no-such-podman")
    with pytest.raises(PodmanError) as err:
        runtime.containers(required=True)
    assert err.value.option == "executable"


def test_warn_deduplicates(make_runtime):
    runtime, _runner = make_runtime()
    runtime.warn("a")
    runtime.warn("b")
    runtime.warn("a")
    assert runtime.warnings == ["a", "b"]


def test_a_session_in_check_mode_writes_nothing(make_runtime, layout, root):
    runtime, _runner = make_runtime(check_mode=True)
    with open_session(runtime, "demo", may_create=True):
        pass
    assert not os.path.exists(root)


def test_a_session_outside_check_mode_makes_the_meta_dir(make_runtime, layout):
    runtime, _runner = make_runtime(lock_timeout=0.1)
    with open_session(runtime, "demo", may_create=True):
        assert os.path.isdir(layout.meta_dir("demo"))


def test_now_is_utc():
    now = RunContext(None, None).now()
    assert now.utcoffset() == datetime.timedelta(0)


def test_note_container_updates_the_listing_without_podman(make_runtime):
    runtime, runner = make_runtime(containers={"demo-cli-k7m2q": {"State": "running", "Labels": {"a": "1"}}})
    runtime.note_container("demo-cli-k7m2q", "exited", exit_code=3)
    container = runtime.containers()["demo-cli-k7m2q"]
    assert (container.state, container.exit_code, container.labels) == ("exited", 3, {"a": "1"})
    runtime.note_container("demo-cli-k7m2q", None)
    assert "demo-cli-k7m2q" not in runtime.containers()
    assert runner.subcommands() == ["ps"]


# podman's host: rootless and the cgroups version, from one podman info ------------------------------------


class HostPodman(FakePodman):
    """The fake podman, answering ``podman info --format …`` as podman 4.3.1 on a given host."""

    def __init__(self, rootless, cgroups, **fields):
        super().__init__(**fields)
        self.host_answer = "%s %s\n" % ("true" if rootless else "false", cgroups)

    def answer(self, args):
        if args[:1] == ["info"] and "info" not in self.fail:
            assert args[1:] == ["--format", "{{.Host.Security.Rootless}} {{.Host.CgroupsVersion}}"], args
            return 0, self.host_answer, ""
        return super().answer(args)


@pytest.fixture
def host_runtime(layout, podman_exe):
    def make(rootless=True, cgroups="v1", check_mode=False, **fields):
        runner = HostPodman(rootless, cgroups, **fields)
        return RunContext(layout, Podman(podman_exe, runner), check_mode=check_mode), runner

    return make


def running(name, **params):
    return Spec.from_params(dict(params, project="demo", name=name, state="running", image="localhost/terok-task-dev:latest"))


V1_ROOTLESS = "rootless podman on cgroups v1 ignores resource limits"


@pytest.mark.parametrize("rootless, cgroups", [(True, "v1"), (False, "v1"), (True, "v2"), (False, "v2")])
def test_one_podman_info_tells_rootless_and_the_cgroups_version(host_runtime, rootless, cgroups):
    runtime, runner = host_runtime(rootless, cgroups)
    assert runtime.host() == {"rootless": rootless, "cgroups": cgroups}
    assert runtime.rootless() is rootless
    runtime.warn_unenforced_limits({"pids_limit": 4096})
    assert runner.subcommands() == ["info"]


def test_an_old_or_empty_info_answer_means_rootful_with_an_unknown_cgroups_version(make_runtime):
    runtime, _runner = make_runtime()  # the plain fake answers info with nothing
    assert runtime.host() == {"rootless": False, "cgroups": None}


@pytest.mark.parametrize(
    "confinement, expected",
    [
        ({"pids_limit": 4096, "memory": None, "cpus": None}, "pids_limit 4096 not enforced"),
        ({"pids_limit": 64, "memory": "512m", "cpus": "1.5"}, "pids_limit 64, memory 512m, cpus 1.5 not enforced"),
        ({"cpus": "2", "memory": None, "pids_limit": None}, "cpus 2 not enforced"),
    ],
)
def test_rootless_cgroups_v1_warns_that_the_limits_asked_for_are_ignored(host_runtime, confinement, expected):
    runtime, _runner = host_runtime(True, "v1")
    runtime.warn_unenforced_limits(confinement)
    assert len(runtime.warnings) == 1 and V1_ROOTLESS in runtime.warnings[0], runtime.warnings
    assert expected in runtime.warnings[0]


@pytest.mark.parametrize("rootless, cgroups", [(False, "v1"), (True, "v2"), (False, "v2")])
def test_a_host_that_enforces_limits_gets_no_warning(host_runtime, rootless, cgroups):
    runtime, _runner = host_runtime(rootless, cgroups)
    runtime.warn_unenforced_limits({"pids_limit": 4096, "memory": "4g", "cpus": "2"})
    assert runtime.warnings == []


@pytest.mark.parametrize("confinement", [{"pids_limit": None, "memory": None, "cpus": None}, {}])
def test_no_limit_asked_needs_no_podman_info_and_no_warning(host_runtime, confinement):
    runtime, runner = host_runtime(True, "v1")
    runtime.warn_unenforced_limits(confinement)
    assert runtime.warnings == [] and runner.calls == []


def test_a_failing_podman_info_is_a_warning_here_not_a_failure(host_runtime):
    runtime, _runner = host_runtime(True, "v1", fail={"info": (125, "Error: no info")})
    runtime.warn_unenforced_limits({"pids_limit": 4096})
    assert len(runtime.warnings) == 1 and "no info" in runtime.warnings[0]


def test_tasks_made_on_rootless_cgroups_v1_warn_once_with_one_podman_info(host_runtime):
    """Three containers made in one bulk run, two with the same limits: one info call, one warning per set."""
    runtime, runner = host_runtime(True, "v1")
    results = converge_many(runtime, [running("a"), running("b"), running("c", memory="1g", pids_limit=100)])
    assert [outcome.task["container_state"] for outcome in results.outcomes] == ["running"] * 3
    assert runner.subcommands().count("info") == 1
    assert runner.subcommands().count("run") == 3
    limits = [w for w in runtime.warnings if V1_ROOTLESS in w]
    assert len(limits) == 2, runtime.warnings
    assert "pids_limit 4096 not enforced" in limits[0]
    assert "pids_limit 100, memory 1g not enforced" in limits[1]
    # the same info call chose the rootless user namespace
    assert all("--userns=keep-id:uid=1000,gid=1000" in argv for argv in runner.calls if argv[1] == "run")


def test_an_explicit_userns_still_asks_podman_info_once_for_the_limits(host_runtime):
    runtime, runner = host_runtime(True, "v1")
    converge_many(runtime, [running("a", userns="auto"), running("b", userns="auto")])
    assert runner.subcommands().count("info") == 1
    assert any(V1_ROOTLESS in w for w in runtime.warnings)


def test_check_mode_asks_podman_nothing_of_its_host(host_runtime, layout):
    runtime, _runner = host_runtime(True, "v1")
    converge_many(runtime, [running("a")])
    check, check_runner = host_runtime(True, "v1", check_mode=True)
    # a recreate of an existing task, predicted: no info call, no warning
    converge_many(check, [running("a", memory="2g", recreate=True)])
    assert "info" not in check_runner.subcommands()
    assert not any(V1_ROOTLESS in w for w in check.warnings)


def test_a_rootful_host_runs_without_the_warning(host_runtime):
    runtime, runner = host_runtime(False, "v1")
    converge_many(runtime, [running("a", memory="1g")])
    assert runner.subcommands().count("info") == 1
    assert not any(V1_ROOTLESS in w for w in runtime.warnings)
    assert all("--userns" not in " ".join(argv) for argv in runner.calls if argv[1] == "run")
