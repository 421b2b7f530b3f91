# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._spec import STATES, Spec


def test_states_cover_the_contract():
    assert {"present", "absent", "archived"} <= set(STATES)


def test_defaults():
    spec = Spec.from_params({"project": "demo", "name": "  Fix Auth "})
    assert (spec.project, spec.name, spec.task_id, spec.state, spec.archive) == (
        "demo", "fix-auth", None, "present", True)


def test_task_id_only():
    spec = Spec.from_params({"project": "demo", "task_id": "k7m2q", "state": "absent", "archive": False})
    assert (spec.name, spec.task_id, spec.state, spec.archive) == (None, "k7m2q", "absent", False)


@pytest.mark.parametrize(
    "params, option, words",
    [
        ({"project": "Demo", "name": "a"}, "project", ["project"]),
        ({"project": "default", "name": "a"}, "project", ["reserved"]),
        ({"project": None, "name": "a"}, "project", ["project"]),
        ({"project": "demo", "name": "!!!"}, "name", ["empty"]),
        ({"project": "demo", "name": "-lead"}, "name", ["'-'"]),
        ({"project": "demo", "task_id": "abcde"}, "task_id", ["abcde"]),
        ({"project": "demo", "task_id": "K7M2Q"}, "task_id", ["K7M2Q"]),
        ({"project": "demo"}, "name", ["task_id"]),
        ({"project": "demo", "name": "a", "state": "gone"}, "state", ["gone"]),
        ({"project": "demo", "name": "a", "state": "archived", "archive": False}, "archive", ["archived"]),
    ],
)
def test_bad_params_name_the_option(params, option, words):
    with pytest.raises(TerokError) as err:
        Spec.from_params(params)
    assert err.value.option == option
    assert option in err.value.msg
    for word in words:
        assert word in err.value.msg


def test_prefix_names_list_items():
    with pytest.raises(TerokError) as err:
        Spec.from_params({"project": "demo", "name": "!!"}, prefix="tasks[3].")
    assert err.value.option == "tasks[3].name"
    assert "tasks[3].name" in err.value.msg
    with pytest.raises(TerokError) as err:
        Spec.from_params({"project": "demo", "name": "a", "state": "archived", "archive": False}, prefix="tasks[0].")
    assert err.value.option == "tasks[0].archive"
    assert "tasks[0].archive" in err.value.msg and "tasks[0].state" in err.value.msg


def test_archived_with_archive_true_is_fine():
    assert Spec.from_params({"project": "demo", "name": "a", "state": "archived", "archive": True}).archive is True


@pytest.mark.parametrize(
    "extra, option",
    [
        ({"mode": "shell"}, "mode"),
        ({"ready_timeout": -1}, "ready_timeout"),
        ({"wait_timeout": -5}, "wait_timeout"),
        ({"stop_timeout": -1}, "stop_timeout"),
        ({"state": "running", "image": "img", "git_reset_mode": "mixed"}, "git_reset_mode"),
        ({"state": "running"}, "image"),  # running needs an image
    ],
)
def test_bad_container_params_name_the_option(extra, option):
    params = {"project": "demo", "name": "a"}
    params.update(extra)
    with pytest.raises(TerokError) as err:
        Spec.from_params(params)
    assert err.value.option == option
    assert option in err.value.msg


def test_running_spec_carries_its_container():
    spec = Spec.from_params({"project": "demo", "name": "a", "state": "running", "image": "img:1", "mode": "web",
                             "stop_timeout": 3, "wait": True})
    assert spec.mode == "web"
    assert spec.container.image == "img:1"
    assert spec.stop_timeout == 3
    assert spec.wait is True
