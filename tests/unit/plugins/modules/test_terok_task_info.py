# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import re

import pytest

from ansible_collections.terok.lifecycle.plugins.modules import terok_task, terok_task_info

READY = "2026-11-28T09:16:00+00:00"


@pytest.fixture
def args(root, podman_exe):
    def make(**extra):
        result = {"root": root, "executable": str(podman_exe)}
        result.update(extra)
        return result

    return make


@pytest.fixture
def populated(write_task, podman_ps):
    write_task("demo", "k7m2q", "fix-auth", meta={"mode": "cli", "ready_at": READY})
    write_task("demo", "h3abc", "refactor", meta={"mode": None})
    write_task("other", "z9zzz", "fix-auth", meta={"mode": "run", "ready_at": READY, "exit_code": 0})
    podman_ps([
        {"Names": ["demo-cli-k7m2q"], "State": "running", "ExitCode": 0},
        {"Names": ["other-run-z9zzz"], "State": "exited", "ExitCode": 0},
    ])


def ids(result):
    return [(t["project"], t["task_id"]) for t in result["tasks"]]


def test_lists_every_task_with_one_podman_call(run_module, args, populated, podman_log):
    result = run_module(terok_task_info, args())
    assert result["_rc"] == 0
    assert result["changed"] is False
    assert ids(result) == [("demo", "h3abc"), ("demo", "k7m2q"), ("other", "z9zzz")]
    by_id = {t["task_id"]: t for t in result["tasks"]}
    running = by_id["k7m2q"]
    assert running["status"] == "running"
    assert running["container_name"] == "demo-cli-k7m2q"
    assert running["container_state"] == "running"
    assert running["login_command"] == "podman exec -it demo-cli-k7m2q bash"
    assert by_id["h3abc"]["status"] == "created"
    assert by_id["z9zzz"]["status"] == "completed"
    assert by_id["z9zzz"]["exit_code"] == 0
    assert podman_log() == ["ps -a --format json"]
    assert "archived" not in result


def test_result_keys_are_the_documented_ones(run_module, args, populated):
    task = run_module(terok_task_info, args())["tasks"][0]
    live_part = terok_task_info.RETURN.split("archived:", maxsplit=1)[0]
    documented = re.findall(r"^    (\w+):\n      description:", live_part, re.M)
    assert set(task) == set(documented)


@pytest.mark.parametrize(
    "extra, expected",
    [
        ({"project": "demo"}, [("demo", "h3abc"), ("demo", "k7m2q")]),
        ({"name": "Fix Auth"}, [("demo", "k7m2q"), ("other", "z9zzz")]),
        ({"task_id": "z9zzz"}, [("other", "z9zzz")]),
        ({"status": ["running", "completed"]}, [("demo", "k7m2q"), ("other", "z9zzz")]),
        ({"status": ["not found"]}, []),
        ({"project": "nothing"}, []),
    ],
)
def test_filters(run_module, args, populated, extra, expected):
    assert ids(run_module(terok_task_info, args(**extra))) == expected


def test_include_archived(run_module, args, populated, root, podman_exe):
    gone = run_module(terok_task, {"project": "demo", "name": "refactor", "state": "absent", "root": root,
                                   "executable": str(podman_exe)})
    result = run_module(terok_task_info, args(project="demo", include_archived=True))
    assert ids(result) == [("demo", "k7m2q")]
    (entry,) = result["archived"]
    assert entry["task_id"] == "h3abc"
    assert entry["name"] == "refactor"
    assert entry["archive_path"] == gone["task"]["archive_path"]
    assert re.match(r"^\d{8}T\d{12}Z$", entry["archived_at"])


def test_works_with_a_warning_without_podman(run_module, args, populated):
    result = run_module(terok_task_info, args(executable="terok-test-no-such-podman"))
    assert result.get("failed") is not True
    assert len(result["tasks"]) == 3
    assert all(t["container_state"] is None for t in result["tasks"])
    assert any("terok-test-no-such-podman" in w for w in result["_warnings"])


def test_unreadable_task_is_left_out_with_a_warning(run_module, args, populated, layout):
    with open(layout.meta_path("demo", "h3abc"), "w") as handle:
        handle.write("mode: [broken\n")
    result = run_module(terok_task_info, args(project="demo"))
    assert ids(result) == [("demo", "k7m2q")]
    assert any(layout.meta_path("demo", "h3abc") in w for w in result["_warnings"])


def test_check_mode_reads_the_same(run_module, args, populated, root, tree_snapshot):
    before = tree_snapshot(root)
    result = run_module(terok_task_info, args(_ansible_check_mode=True))
    assert len(result["tasks"]) == 3
    assert tree_snapshot(root) == before


def test_an_empty_host(run_module, args, root):
    result = run_module(terok_task_info, args())
    assert result["tasks"] == []
    assert not os.path.exists(root)


@pytest.mark.parametrize(
    "extra, option",
    [
        ({"project": "Bad"}, "project"),
        ({"project": "default"}, "project"),
        ({"name": "!!!"}, "name"),
        ({"task_id": "abcde"}, "task_id"),
        ({"status": ["sleeping"]}, "status"),
    ],
)
def test_bad_filters_fail_naming_the_option(run_module, args, extra, option):
    result = run_module(terok_task_info, args(**extra))
    assert result.get("failed") is True
    assert option in result["msg"]
