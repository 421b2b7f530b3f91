# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A full disk: create, rename and archive fail with a clear message and the old state stays whole."""

from __future__ import annotations

import errno
import os

import pytest

import _support as S


def _fill(root):
    """Fill the filesystem of ``root`` with one file until ENOSPC; return its path."""
    path = os.path.join(root, "filler")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        block = b"\0" * 4096
        while True:
            try:
                os.write(fd, block)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                break
        # the last pages too, one byte at a time
        while True:
            try:
                os.write(fd, b"\0")
            except OSError:
                break
    finally:
        os.close(fd)
    return path


class FullDisk(object):
    """A 512 KiB tmpfs state root with two tasks, then filled up."""

    def __init__(self, mount):
        self.root = mount("512k", "full")
        self.task = S.create(self.root, "demo", "existing")
        self.other = S.create(self.root, "demo", "second")
        with open(os.path.join(S.meta_dir(self.root, "demo"), self.task + "_meta.yml"), "a", encoding="utf-8") as handle:
            handle.write("agent: claude\n")
        self.filler = _fill(self.root)
        self.before = self.snapshot()

    def snapshot(self):
        files = S.fingerprint(self.root)
        files.pop("filler", None)
        files.pop(".", None)
        return files

    def assert_old_state_whole(self):
        after = self.snapshot()
        # lock files and empty directories may appear; no file that existed may change
        for rel, value in self.before.items():
            if value[0] == "file":
                assert after.get(rel) == value, "%s changed on a full disk" % rel
        problems, temps = S.half_written(self.root)
        assert problems == [] and temps == [], (problems, temps)
        tasks, archived, warnings = S.list_all(self.root, include_archived=True)
        assert warnings == []
        assert sorted((t["task_id"], t["name"]) for t in tasks) == sorted(
            [(self.task, "existing"), (self.other, "second")])
        assert archived == []
        entries = S.listdir(S.archive_dir(self.root, "demo"))
        assert entries == [], "a failed archive left an entry behind: %s" % entries
        assert S.task_dir_ids(self.root, "demo") == {self.task, self.other}, "a failed create left a task directory"
        _dossier, meta = S.read_task_files(self.root, "demo", self.task)
        assert meta["agent"] == "claude"

    def free(self):
        os.unlink(self.filler)


@pytest.fixture
def full_disk(tmpfs):
    return FullDisk(tmpfs)


def _assert_clear_failure(result, *needles):
    assert result.failed, result
    msg = result.result.get("msg", "")
    assert "No space left on device" in msg, msg
    for needle in needles:
        assert needle in msg, msg
    assert "None:" not in msg, "the message names no file: %s" % msg
    assert S.crash_signs(result.result) is None, S.crash_signs(result.result)
    assert "Traceback" not in result.output, result


def test_create_on_a_full_disk_fails_clearly_and_writes_nothing(full_disk):
    result = S.adhoc("terok_task", {"root": full_disk.root, "project": "demo", "name": "new-one"})
    _assert_clear_failure(result, "new-one")
    full_disk.assert_old_state_whole()
    bulk = S.adhoc("terok_tasks", {"root": full_disk.root, "tasks": [{"project": "demo", "name": "new-two"}]})
    _assert_clear_failure(bulk, "new-two")
    full_disk.assert_old_state_whole()
    full_disk.free()
    assert S.create(full_disk.root, "demo", "new-one")


def test_rename_on_a_full_disk_fails_clearly_and_keeps_the_old_name(full_disk):
    result = S.adhoc("terok_task", {"root": full_disk.root, "project": "demo", "task_id": full_disk.task,
                                    "name": "renamed"})
    _assert_clear_failure(result, full_disk.task)
    full_disk.assert_old_state_whole()
    assert S.names_on_disk(full_disk.root, "demo")[full_disk.task] == "existing"
    full_disk.free()
    outcome = S.converge_one(S.runtime(full_disk.root), S.spec(project="demo", task_id=full_disk.task, name="renamed"))
    assert outcome.changed and S.names_on_disk(full_disk.root, "demo")[full_disk.task] == "renamed"
    _dossier, meta = S.read_task_files(full_disk.root, "demo", full_disk.task)
    assert meta["agent"] == "claude"


def test_archive_on_a_full_disk_fails_and_removes_nothing(full_disk):
    result = S.adhoc("terok_task", {"root": full_disk.root, "project": "demo", "task_id": full_disk.task,
                                    "state": "archived"})
    _assert_clear_failure(result, full_disk.task, "nothing was removed")
    full_disk.assert_old_state_whole()
    workspace = os.path.join(S.tasks_root(full_disk.root, "demo"), full_disk.task, S.WORKSPACE)
    assert os.path.isdir(workspace)
    full_disk.free()
    outcome = S.converge_one(S.runtime(full_disk.root), S.spec(project="demo", task_id=full_disk.task, state="archived"))
    assert outcome.changed and outcome.task["archive_path"]
    entries, incomplete = S.archive_entries(full_disk.root, "demo")
    assert list(entries) == [full_disk.task] and incomplete == []


def test_bulk_archive_on_a_full_disk_stops_before_removing(full_disk):
    rt = S.runtime(full_disk.root)
    with pytest.raises(S.TerokError) as raised:
        S.converge_many(rt, S.specs_from_items(
            [{"project": "demo", "task_id": full_disk.task, "state": "archived"},
             {"project": "demo", "task_id": full_disk.other, "state": "archived"}], {}))
    assert "No space left on device" in raised.value.msg and "nothing was removed" in raised.value.msg
    full_disk.assert_old_state_whole()


def test_absent_on_a_full_disk_removes_with_a_warning(full_disk):
    """state=absent is best-effort as terok's delete: the archive failure is a warning."""
    rt = S.runtime(full_disk.root)
    outcome = S.converge_one(rt, S.spec(project="demo", task_id=full_disk.task, state="absent"))
    assert outcome.changed and outcome.task["status"] == "absent" and outcome.task["archive_path"] is None
    assert any("archive entry" in w and "No space left on device" in w for w in rt.warnings), rt.warnings
    assert S.metadata_ids(full_disk.root, "demo") == {full_disk.other}
    assert S.task_dir_ids(full_disk.root, "demo") == {full_disk.other}
    tasks, _archived, warnings = S.list_all(full_disk.root)
    assert [t["task_id"] for t in tasks] == [full_disk.other] and warnings == []
