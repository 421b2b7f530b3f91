# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._lock import LOCK_NAME, ProjectLock

HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
sys.stdout.write("locked\\n")
sys.stdout.flush()
sys.stdin.read()
"""


@pytest.fixture
def meta_dir(tmp_path):
    return str(tmp_path / "core" / "projects" / "demo" / "tasks")


def test_acquire_creates_the_meta_dir_and_lock_file(meta_dir):
    with ProjectLock(meta_dir, timeout=1) as lock:
        assert os.path.isdir(meta_dir)
        assert os.path.isfile(os.path.join(meta_dir, LOCK_NAME))
        assert lock.path == os.path.join(meta_dir, LOCK_NAME)
    # the lock file name is not one terok takes for a task
    assert not LOCK_NAME.endswith(("_dossier.json", "_meta.yml"))


def test_second_lock_in_the_same_process_times_out_naming_lock_timeout(meta_dir):
    first = ProjectLock(meta_dir, timeout=1).acquire()
    try:
        start = time.monotonic()
        with pytest.raises(TerokError) as err:
            ProjectLock(meta_dir, timeout=0.2).acquire()
        elapsed = time.monotonic() - start
    finally:
        first.release()
    assert err.value.option == "lock_timeout"
    assert "lock_timeout" in err.value.msg
    assert LOCK_NAME in err.value.msg
    assert 0.2 <= elapsed < 3


def test_lock_held_by_another_process_times_out(meta_dir):
    os.makedirs(meta_dir)
    path = os.path.join(meta_dir, LOCK_NAME)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, universal_newlines=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(TerokError) as err:
            ProjectLock(meta_dir, timeout=0.2).acquire()
        assert err.value.option == "lock_timeout"
    finally:
        holder.stdin.close()
        holder.wait(10)
    # once the other process is gone, the lock is free
    with ProjectLock(meta_dir, timeout=1):
        pass


def test_zero_timeout_fails_at_once(meta_dir):
    with ProjectLock(meta_dir, timeout=1):
        start = time.monotonic()
        with pytest.raises(TerokError) as err:
            ProjectLock(meta_dir, timeout=0).acquire()
        assert time.monotonic() - start < 1
    assert err.value.option == "lock_timeout"


def test_release_frees_the_lock(meta_dir):
    lock = ProjectLock(meta_dir, timeout=1).acquire()
    lock.release()
    lock.release()  # twice is harmless
    with ProjectLock(meta_dir, timeout=0.1):
        pass


def test_waiter_gets_the_lock_when_it_is_released(meta_dir):
    first = ProjectLock(meta_dir, timeout=1).acquire()
    timer = threading.Timer(0.2, first.release)
    timer.start()
    try:
        with ProjectLock(meta_dir, timeout=5):
            pass
    finally:
        timer.cancel()
        first.release()


def test_exception_inside_releases_the_lock(meta_dir):
    with pytest.raises(RuntimeError):
        with ProjectLock(meta_dir, timeout=1):
            raise RuntimeError("boom")
    with ProjectLock(meta_dir, timeout=0.1):
        pass


def test_check_mode_lock_writes_nothing(tmp_path, meta_dir):
    with ProjectLock(meta_dir, timeout=1, create=False):
        pass
    assert os.listdir(str(tmp_path)) == []


def test_check_mode_lock_on_existing_dir_without_lock_file_writes_nothing(meta_dir):
    os.makedirs(meta_dir)
    with ProjectLock(meta_dir, timeout=1, create=False):
        pass
    assert os.listdir(meta_dir) == []


def test_check_mode_lock_waits_for_a_writer(meta_dir):
    with ProjectLock(meta_dir, timeout=1):
        with pytest.raises(TerokError) as err:
            ProjectLock(meta_dir, timeout=0.2, create=False).acquire()
    assert err.value.option == "lock_timeout"


def test_check_mode_lock_leaves_the_lock_file_unchanged(meta_dir):
    with ProjectLock(meta_dir, timeout=1):
        pass
    path = os.path.join(meta_dir, LOCK_NAME)
    before = os.stat(path)
    with ProjectLock(meta_dir, timeout=1, create=False):
        pass
    after = os.stat(path)
    assert (before.st_ino, before.st_size, before.st_mtime_ns) == (after.st_ino, after.st_size, after.st_mtime_ns)


def test_lock_refuses_a_symlinked_lock_file(tmp_path, meta_dir):
    os.makedirs(meta_dir)
    target = tmp_path / "elsewhere"
    target.write_text("")
    os.symlink(str(target), os.path.join(meta_dir, LOCK_NAME))
    with pytest.raises(TerokError):
        ProjectLock(meta_dir, timeout=0.1).acquire()


def test_lock_refuses_a_meta_dir_that_is_a_file(tmp_path):
    blocker = tmp_path / "tasks"
    blocker.write_text("")
    with pytest.raises(TerokError):
        ProjectLock(str(blocker), timeout=0.1).acquire()
