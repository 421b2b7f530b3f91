# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to terok.lifecycle: not a public API, it may change in any release.
"""Atomic file writes and guarded directory creation and removal."""

from __future__ import annotations

import os
import shutil
import tempfile

from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError

TEMP_SUFFIX = ".tmp"


def atomic_write(path: str, data: bytes, mode: int = 0o644, sync: bool = True) -> None:
    """Write ``data`` (bytes) to ``path`` through a temp file in the same directory and a rename.

    A reader sees the old file or the new one, never a part; a fault leaves the old file.
    ``sync=False`` skips the fsync: still whole after a kill, not necessarily after a power loss.
    """
    directory = os.path.dirname(path)
    fd, temp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=TEMP_SUFFIX, dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            if sync:
                os.fsync(handle.fileno())
        os.rename(temp, path)
    except BaseException as exc:
        try:
            os.unlink(temp)
        except OSError:
            pass
        if isinstance(exc, OSError) and not exc.filename:
            raise OSError(exc.errno, exc.strerror, path)
        raise


def make_dirs(path: str, mode: int = 0o755) -> None:
    """Create ``path`` and missing parents with ``mode`` (not masked by the umask); refuse symlinks."""
    missing = []
    current = path
    while not os.path.lexists(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    if os.path.lexists(current) and not os.path.isdir(current):
        raise TerokError("%s exists and is not a directory" % current, path=current)
    for directory in reversed(missing):
        try:
            os.mkdir(directory, mode)
        except FileExistsError:
            pass  # another run made it meanwhile
        else:
            os.chmod(directory, mode)
    if os.path.islink(path):
        raise TerokError("%s is a symbolic link; refusing to use it" % path, path=path)


def remove_tree(path: str) -> None:
    """Remove a directory tree (or a file) if it is there; never follows a symlink out."""
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)


def remove_file(path: str) -> None:
    """Remove the file ``path``; a missing one is not an error."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
