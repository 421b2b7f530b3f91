# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils import _fileio
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._fileio import (
    atomic_write,
    make_dirs,
    remove_file,
    remove_tree,
)


def mode_of(path):
    return stat.S_IMODE(os.lstat(str(path)).st_mode)


@pytest.fixture
def umask_077():
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


# atomic_write ------------------------------------------------------------------------------------


def test_atomic_write_writes_bytes_with_the_mode(tmp_path, umask_077):
    path = tmp_path / "f.json"
    atomic_write(str(path), b"hello\n", 0o640)
    assert path.read_bytes() == b"hello\n"
    assert mode_of(path) == 0o640
    assert os.listdir(str(tmp_path)) == ["f.json"]


def test_atomic_write_default_mode_is_0644(tmp_path, umask_077):
    path = tmp_path / "f"
    atomic_write(str(path), b"x")
    assert mode_of(path) == 0o644


def test_atomic_write_replaces_and_resets_the_mode(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"old content that is longer")
    os.chmod(str(path), 0o666)
    atomic_write(str(path), b"new", 0o600)
    assert path.read_bytes() == b"new"
    assert mode_of(path) == 0o600
    assert os.listdir(str(tmp_path)) == ["f"]


def test_atomic_write_replaces_by_rename(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"old")
    before = os.stat(str(path)).st_ino
    atomic_write(str(path), b"new")
    assert os.stat(str(path)).st_ino != before  # a new inode: readers of the old one see it whole


def test_atomic_write_failure_while_writing_keeps_the_old_file_and_no_temp(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"old")
    with pytest.raises(TypeError):
        atomic_write(str(path), "text is not bytes")
    assert path.read_bytes() == b"old"
    assert os.listdir(str(tmp_path)) == ["f"]


def test_atomic_write_failure_at_rename_leaves_no_temp(tmp_path):
    target = tmp_path / "adir"
    target.mkdir()
    (target / "keep").write_bytes(b"k")
    with pytest.raises(OSError):
        atomic_write(str(target), b"data")
    assert sorted(os.listdir(str(tmp_path))) == ["adir"]
    assert os.listdir(str(target)) == ["keep"]


def test_atomic_write_failure_at_fsync_leaves_no_temp(tmp_path, monkeypatch):
    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    path = tmp_path / "f"
    path.write_bytes(b"old")
    monkeypatch.setattr(_fileio.os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        atomic_write(str(path), b"new")
    assert path.read_bytes() == b"old"
    assert os.listdir(str(tmp_path)) == ["f"]


def test_atomic_write_into_missing_directory_raises(tmp_path):
    with pytest.raises(OSError):
        atomic_write(str(tmp_path / "missing" / "f"), b"x")
    assert os.listdir(str(tmp_path)) == []


def test_atomic_write_temp_name_is_hidden_and_in_the_same_directory(tmp_path, monkeypatch):
    seen = []
    real_rename = os.rename

    def spy(src, dst):
        seen.append((src, dst))
        return real_rename(src, dst)

    monkeypatch.setattr(_fileio.os, "rename", spy)
    atomic_write(str(tmp_path / "g1abc_meta.yml"), b"x")
    (src, dst), = seen
    assert os.path.dirname(src) == str(tmp_path)
    assert os.path.basename(src).startswith(".")
    assert not os.path.basename(src).endswith("_meta.yml")  # terok never takes it for a task
    assert dst == str(tmp_path / "g1abc_meta.yml")


# make_dirs -------------------------------------------------------------------------------------------


def test_make_dirs_creates_parents_with_the_mode_whatever_the_umask(tmp_path, umask_077):
    path = tmp_path / "a" / "b" / "c"
    make_dirs(str(path), 0o755)
    for sub in (tmp_path / "a", tmp_path / "a" / "b", path):
        assert sub.is_dir()
        assert mode_of(sub) == 0o755


def test_make_dirs_mode_0700(tmp_path):
    old = os.umask(0)
    try:
        make_dirs(str(tmp_path / "x"), 0o700)
    finally:
        os.umask(old)
    assert mode_of(tmp_path / "x") == 0o700


def test_make_dirs_leaves_an_existing_directory_alone(tmp_path):
    path = tmp_path / "exists"
    path.mkdir()
    os.chmod(str(path), 0o711)
    (path / "file").write_bytes(b"keep")
    make_dirs(str(path), 0o755)
    assert mode_of(path) == 0o711
    assert (path / "file").read_bytes() == b"keep"


def test_make_dirs_refuses_a_symlink(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(TerokError) as err:
        make_dirs(str(link))
    assert "symbolic link" in err.value.msg


def test_make_dirs_refuses_a_dangling_symlink(tmp_path):
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "nowhere")
    with pytest.raises(TerokError):
        make_dirs(str(link))
    assert not (tmp_path / "nowhere").exists()


def test_make_dirs_refuses_a_file_in_the_way(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_bytes(b"x")
    with pytest.raises(TerokError) as err:
        make_dirs(str(blocker / "sub" / "dir"))
    assert str(blocker) in err.value.msg
    assert blocker.read_bytes() == b"x"


def test_make_dirs_refuses_when_path_is_a_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_bytes(b"x")
    with pytest.raises(TerokError):
        make_dirs(str(blocker))


# remove_tree / remove_file ------------------------------------------------------------------------------


def test_remove_tree_removes_a_directory_tree(tmp_path):
    tree = tmp_path / "t"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "b" / "f").write_bytes(b"x")
    remove_tree(str(tree))
    assert not tree.exists()


def test_remove_tree_removes_a_symlink_not_its_target(tmp_path):
    target = tmp_path / "precious"
    target.mkdir()
    (target / "data").write_bytes(b"keep")
    link = tmp_path / "link"
    link.symlink_to(target)
    remove_tree(str(link))
    assert not os.path.lexists(str(link))
    assert (target / "data").read_bytes() == b"keep"


def test_remove_tree_removes_a_file_and_ignores_a_missing_path(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x")
    remove_tree(str(path))
    assert not path.exists()
    remove_tree(str(tmp_path / "missing"))  # no error


def test_remove_tree_does_not_follow_symlinks_inside(tmp_path):
    target = tmp_path / "precious"
    target.mkdir()
    (target / "data").write_bytes(b"keep")
    tree = tmp_path / "t"
    tree.mkdir()
    (tree / "link").symlink_to(target)
    remove_tree(str(tree))
    assert not tree.exists()
    assert (target / "data").read_bytes() == b"keep"


def test_remove_file(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x")
    remove_file(str(path))
    assert not path.exists()
    remove_file(str(path))  # missing is fine
