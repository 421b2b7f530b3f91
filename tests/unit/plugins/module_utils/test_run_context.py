# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import os

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils._podman import PodmanError
from ansible_collections.terok.lifecycle.plugins.module_utils._run_context import RunContext
from ansible_collections.terok.lifecycle.plugins.module_utils._session import open_session


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
