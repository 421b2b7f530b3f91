# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import json
import os
import re

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils._archive import (
    TASK_JSON,
    archive_stamp,
    list_entries,
    snapshot,
    write_entry,
)
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._metadata import MANAGED_BY, MANAGED_KEY
from ansible_collections.terok.lifecycle.plugins.module_utils._project_tasks import Task

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 28, 9, 15, 2, 118470, tzinfo=UTC)
STAMP = "20261128T091502118470Z"

META = {
    "mode": "cli",
    "workspace": "/r/sandbox-live/tasks/demo/k7m2q",
    "web_port": None,
    "created_at": "2026-11-28T09:00:00+00:00",
    "exit_code": 0,
    "agent": "claude",
    MANAGED_KEY: MANAGED_BY,
}


def make_task(task_id="k7m2q", name="fix-auth", meta=None, project="demo"):
    dossier = {"project": project, "task": task_id}
    if name is not None:
        dossier["name"] = name
    return Task(project, task_id, dossier, dict(META if meta is None else meta))


def read_json(path):
    with open(path, "rb") as handle:
        return json.loads(handle.read().decode("utf-8"))


def test_archive_stamp_format():
    assert archive_stamp(NOW) == STAMP
    assert re.match(r"^\d{8}T\d{12}Z$", archive_stamp())


def test_archive_stamp_defaults_to_utc_now():
    before = datetime.datetime.now(UTC).strftime("%Y%m%dT%H%M")
    stamp = archive_stamp()
    after = datetime.datetime.now(UTC).strftime("%Y%m%dT%H%M")
    assert before <= stamp[:13] <= after


def test_snapshot_is_internal_keys_plus_meta():
    data = snapshot(make_task())
    expected = {"project_name": "demo", "task_id": "k7m2q", "name": "fix-auth"}
    expected.update(META)
    assert data == expected


def test_snapshot_internal_keys_win_over_meta_keys():
    data = snapshot(make_task(meta={"task_id": "zzzzz", "project_name": "other", "mode": None}))
    assert data["task_id"] == "k7m2q"
    assert data["project_name"] == "demo"


def test_write_entry_name_and_task_json(layout):
    entry = write_entry(layout, make_task(), NOW)
    assert entry == os.path.join(layout.archive_dir("demo"), STAMP + "_k7m2q_fix-auth")
    assert os.path.dirname(entry) == os.path.join(layout.root, "archive", "demo", "tasks")
    assert os.listdir(entry) == [TASK_JSON]
    expected = {"project_name": "demo", "task_id": "k7m2q", "name": "fix-auth"}
    expected.update(META)
    assert read_json(os.path.join(entry, TASK_JSON)) == expected


def test_write_entry_without_a_name(layout):
    entry = write_entry(layout, make_task(name=None), NOW)
    assert os.path.basename(entry) == STAMP + "_k7m2q"
    assert read_json(os.path.join(entry, TASK_JSON))["name"] is None


def test_write_entry_collision_gets_a_suffix(layout):
    first = write_entry(layout, make_task(), NOW)
    second = write_entry(layout, make_task(), NOW)
    third = write_entry(layout, make_task(), NOW)
    assert os.path.basename(first) == STAMP + "_k7m2q_fix-auth"
    assert os.path.basename(second) == STAMP + "_k7m2q_fix-auth_1"
    assert os.path.basename(third) == STAMP + "_k7m2q_fix-auth_2"
    for entry in (first, second, third):
        assert os.path.isfile(os.path.join(entry, TASK_JSON))


def test_write_entry_copies_logs(layout):
    logs = os.path.join(layout.task_dir("demo", "k7m2q"), "logs")
    os.makedirs(logs)
    with open(os.path.join(logs, "container.log"), "w") as handle:
        handle.write("2026-11-28T09:15:02Z hello\n")
    entry = write_entry(layout, make_task(), NOW)
    with open(os.path.join(entry, "logs", "container.log")) as handle:
        assert handle.read() == "2026-11-28T09:15:02Z hello\n"
    assert os.path.isfile(os.path.join(logs, "container.log"))  # the original stays


def test_write_entry_leaves_no_temp_files(layout):
    entry = write_entry(layout, make_task(), NOW)
    assert os.listdir(entry) == [TASK_JSON]
    assert os.listdir(layout.archive_dir("demo")) == [os.path.basename(entry)]


def test_write_entry_handles_non_json_values(layout):
    meta = dict(META, created_at=datetime.datetime(2026, 11, 28, 9, 0, tzinfo=UTC))
    entry = write_entry(layout, make_task(meta=meta), NOW)
    assert read_json(os.path.join(entry, TASK_JSON))["created_at"].startswith("2026-11-28")


def test_write_entry_fails_when_the_archive_cannot_be_written(layout):
    os.makedirs(layout.root)
    with open(os.path.join(layout.root, "archive"), "w") as handle:
        handle.write("in the way")
    with pytest.raises(TerokError) as err:
        write_entry(layout, make_task(), NOW)
    assert "k7m2q" in err.value.msg


@pytest.mark.parametrize("name", ["a/b", "..", "x\x00y"])
def test_write_entry_refuses_a_name_that_is_not_a_path_component(layout, name):
    with pytest.raises(TerokError):
        write_entry(layout, make_task(name=name), NOW)
    assert not os.path.exists(os.path.join(layout.root, "archive", "demo", "tasks", "a"))


# list_entries ---------------------------------------------------------------------------------------------


def test_list_entries_of_a_project_without_archive(layout):
    assert list_entries(layout, "demo") == []


def test_list_entries_newest_first(layout):
    t0 = datetime.datetime(2026, 1, 1, tzinfo=UTC)
    old = write_entry(layout, make_task("h3abc", "old"), t0)
    new = write_entry(layout, make_task("k7m2q", "new"), t0 + datetime.timedelta(days=30))
    mid = write_entry(layout, make_task("g0000", "mid"), t0 + datetime.timedelta(seconds=1))
    again = write_entry(layout, make_task("k7m2q", "new"), t0 + datetime.timedelta(days=30))  # collision: _1
    entries = list_entries(layout, "demo")
    assert [e["archive_path"] for e in entries] == [again, new, mid, old]


def test_list_entries_fields(layout):
    entry = write_entry(layout, make_task(), NOW)
    (item,) = list_entries(layout, "demo")
    assert item == {
        "project": "demo",
        "task_id": "k7m2q",
        "name": "fix-auth",
        "mode": "cli",
        "exit_code": 0,
        "created_at": "2026-11-28T09:00:00+00:00",
        "archived_at": STAMP,
        "archive_path": entry,
        "managed": True,
    }


def test_list_entries_of_a_terok_made_entry(layout):
    # what terok's _archive_task writes: the merged dict, yml keys first
    path = os.path.join(layout.archive_dir("demo"), "20250101T000000000001Z_h3abc_by-terok")
    os.makedirs(path)
    with open(os.path.join(path, TASK_JSON), "w") as handle:
        json.dump({"mode": None, "project_name": "demo", "task_id": "h3abc", "name": "by-terok"}, handle, indent=2)
    (item,) = list_entries(layout, "demo")
    assert (item["task_id"], item["name"], item["managed"], item["archived_at"]) == (
        "h3abc", "by-terok", False, "20250101T000000000001Z")


def test_list_entries_skips_entries_without_a_readable_task_json(layout, tmp_path):
    good = write_entry(layout, make_task(), NOW)
    root = layout.archive_dir("demo")
    os.makedirs(os.path.join(root, "20991231T000000000000Z_g0000_no-json"))  # crashed before task.json
    broken = os.path.join(root, "20991231T000000000001Z_h3abc_broken")
    os.makedirs(broken)
    with open(os.path.join(broken, TASK_JSON), "w") as handle:
        handle.write("{not json")
    not_a_dict = os.path.join(root, "20991231T000000000002Z_h3abc_list")
    os.makedirs(not_a_dict)
    with open(os.path.join(not_a_dict, TASK_JSON), "w") as handle:
        handle.write("[1]")
    hidden = os.path.join(root, ".20991231T000000000003Z_h3abc_hidden")
    os.makedirs(hidden)
    with open(os.path.join(hidden, TASK_JSON), "w") as handle:
        handle.write("{}")
    with open(os.path.join(root, "20991231T000000000004Z_file"), "w") as handle:
        handle.write("{}")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / TASK_JSON).write_text('{"task_id": "z9zzz"}')
    os.symlink(str(elsewhere), os.path.join(root, "20991231T000000000005Z_z9zzz_link"))
    assert [e["archive_path"] for e in list_entries(layout, "demo")] == [good]


def test_list_entries_only_lists_its_project(layout):
    write_entry(layout, make_task(project="demo"), NOW)
    write_entry(layout, make_task(project="other"), NOW)
    assert [e["project"] for e in list_entries(layout, "other")] == ["other"]
