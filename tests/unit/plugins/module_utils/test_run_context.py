# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import json
import os

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils._converge import converge_many
from ansible_collections.terok.lifecycle.plugins.module_utils._podman import Podman, PodmanError
from ansible_collections.terok.lifecycle.plugins.module_utils import _run_context
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


def _made(policy):
    """The labels of a container this collection made, with restart policy ``policy``."""
    return {"io.terok.lifecycle.confinement": json.dumps({"restart_policy": policy})}


def test_restart_counts_are_asked_of_podman_only_for_containers_made_with_a_policy(make_runtime):
    runtime, runner = make_runtime(containers={
        "demo-cli-aaaaa": {"State": "running", "Labels": _made("on-failure"), "RestartCount": 2},
        "demo-cli-bbbbb": {"State": "running", "Labels": _made("always"), "RestartCount": 0},
        "demo-cli-ccccc": {"State": "exited", "Labels": _made(None), "RestartCount": 0},
        "demo-cli-ddddd": {"State": "exited", "Labels": _made("no")},
        "demo-cli-eeeee": {"State": "running"},  # terok made it: no label, the count is not known
    })
    counts = {name: container.restart_count for name, container in runtime.containers().items()}
    assert counts == {"demo-cli-aaaaa": 2, "demo-cli-bbbbb": 0, "demo-cli-ccccc": 0, "demo-cli-ddddd": 0,
                      "demo-cli-eeeee": None}
    assert [argv[1:] for argv in runner.calls] == [
        ["ps", "-a", "--format", "json"],
        ["container", "inspect", "--format", "{{.Name}} {{.RestartCount}}", "--", "demo-cli-aaaaa", "demo-cli-bbbbb"]]


def test_no_container_with_a_policy_costs_no_inspect(make_runtime):
    runtime, runner = make_runtime(containers={"demo-cli-ccccc": {"State": "running", "Labels": _made(None)}})
    assert runtime.containers()["demo-cli-ccccc"].restart_count == 0
    assert runner.subcommands() == ["ps"]


def test_restart_counts_podman_cannot_tell_are_unknown_with_a_warning(make_runtime):
    runtime, _runner = make_runtime(containers={"demo-cli-aaaaa": {"State": "running", "Labels": _made("always")}},
                                    fail={"container": (125, "Error: boom")})
    assert runtime.containers()["demo-cli-aaaaa"].restart_count is None
    assert runtime.listing_ok and runtime.warnings == ["restart counts are unknown: podman container inspect failed "
                                                       "(rc=125): Error: boom"]


def test_a_start_counts_restarts_from_zero_and_a_stop_keeps_the_count(make_runtime):
    runtime, _runner = make_runtime(containers={
        "demo-cli-aaaaa": {"State": "running", "Labels": _made("on-failure"), "RestartCount": 1}})
    runtime.note_container("demo-cli-aaaaa", "exited")
    assert runtime.containers()["demo-cli-aaaaa"].restart_count == 1
    runtime.note_container("demo-cli-aaaaa", "running", started=True)
    assert runtime.containers()["demo-cli-aaaaa"].restart_count == 0


def test_note_container_updates_the_listing_without_podman(make_runtime):
    runtime, runner = make_runtime(containers={"demo-cli-k7m2q": {"State": "running", "Labels": {"a": "1"}}})
    runtime.note_container("demo-cli-k7m2q", "exited", exit_code=3)
    container = runtime.containers()["demo-cli-k7m2q"]
    assert (container.state, container.exit_code, container.labels) == ("exited", 3, {"a": "1"})
    runtime.note_container("demo-cli-k7m2q", None)
    assert "demo-cli-k7m2q" not in runtime.containers()
    assert runner.subcommands() == ["ps"]


# podman's host: rootless and the cgroups version, from one podman info ------------------------------------


@pytest.fixture
def host_runtime(layout, podman_exe, monkeypatch):
    """A RunContext on a host whose facts (rootless, cgroups version) are given; ``reads`` counts their readings."""
    reads = []

    def make(rootless=True, cgroups="v1", check_mode=False, **fields):
        def facts():
            reads.append(1)
            return {"rootless": rootless, "cgroups": cgroups}

        monkeypatch.setattr(_run_context, "host_facts", facts)
        runner = FakePodman(**fields)
        return RunContext(layout, Podman(podman_exe, runner), check_mode=check_mode), runner

    make.reads = reads
    return make


def running(name, **params):
    return Spec.from_params(dict(params, project="demo", name=name, state="running", image="localhost/terok-task-dev:latest"))


V1_ROOTLESS = "rootless podman on cgroups v1 ignores resource limits"


@pytest.mark.parametrize("euid, rootless", [(0, False), (1000, True)])
@pytest.mark.parametrize("unified, cgroups", [(True, "v2"), (False, "v1")])
def test_host_facts_come_from_the_process_and_the_cgroup_mount(tmp_path, monkeypatch, euid, rootless, unified, cgroups):
    # rootless as terok decides it (not root); v2 where the hierarchy's top has cgroup.controllers (podman's rule)
    monkeypatch.setattr(_run_context.os, "geteuid", lambda: euid)
    if unified:
        (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    else:
        (tmp_path / "unified").mkdir()
        (tmp_path / "unified" / "cgroup.controllers").write_text("")  # hybrid: v2 only beside v1
    assert _run_context.host_facts(str(tmp_path)) == {"rootless": rootless, "cgroups": cgroups}


def test_host_facts_are_read_once_per_run_and_ask_podman_nothing(host_runtime):
    runtime, runner = host_runtime(True, "v1")
    assert runtime.rootless() is True and runtime.host() == {"rootless": True, "cgroups": "v1"}
    runtime.warn_unenforced_limits({"pids_limit": 4096})
    assert len(host_runtime.reads) == 1 and runner.calls == []


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
def test_no_limit_asked_needs_no_host_facts_and_no_warning(host_runtime, confinement):
    runtime, runner = host_runtime(True, "v1")
    runtime.warn_unenforced_limits(confinement)
    assert runtime.warnings == [] and runner.calls == [] and host_runtime.reads == []


def test_tasks_made_on_rootless_cgroups_v1_warn_once_per_set_of_limits(host_runtime):
    """Three containers made in one bulk run, two with the same limits: the facts read once, one warning per set."""
    runtime, runner = host_runtime(True, "v1")
    results = converge_many(runtime, [running("a"), running("b"), running("c", memory="1g", pids_limit=100)])
    assert [outcome.task["container_state"] for outcome in results.outcomes] == ["running"] * 3
    assert len(host_runtime.reads) == 1 and "info" not in runner.subcommands()
    assert runner.subcommands().count("run") == 3
    limits = [w for w in runtime.warnings if V1_ROOTLESS in w]
    assert len(limits) == 2, runtime.warnings
    assert "pids_limit 4096 not enforced" in limits[0]
    assert "pids_limit 100, memory 1g not enforced" in limits[1]
    # the same facts chose the rootless user namespace
    assert all("--userns=keep-id:uid=1000,gid=1000" in argv for argv in runner.calls if argv[1] == "run")


def test_an_explicit_userns_still_warns_of_the_limits(host_runtime):
    runtime, _runner = host_runtime(True, "v1")
    converge_many(runtime, [running("a", userns="auto"), running("b", userns="auto")])
    assert len(host_runtime.reads) == 1
    assert any(V1_ROOTLESS in w for w in runtime.warnings)


def test_check_mode_reads_nothing_of_its_host(host_runtime, layout):
    runtime, _runner = host_runtime(True, "v1")
    converge_many(runtime, [running("a")])
    del host_runtime.reads[:]
    check, _check_runner = host_runtime(True, "v1", check_mode=True)
    # a recreate of an existing task, predicted: no facts read, no warning
    converge_many(check, [running("a", memory="2g", recreate=True)])
    assert host_runtime.reads == []
    assert not any(V1_ROOTLESS in w for w in check.warnings)


def test_a_rootful_host_runs_without_the_warning(host_runtime):
    runtime, runner = host_runtime(False, "v1")
    converge_many(runtime, [running("a", memory="1g")])
    assert len(host_runtime.reads) == 1
    assert not any(V1_ROOTLESS in w for w in runtime.warnings)
    assert all("--userns" not in " ".join(argv) for argv in runner.calls if argv[1] == "run")
