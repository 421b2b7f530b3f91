# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one tree snapshot of every test suite: what is on disk under a directory, to compare."""

from __future__ import annotations

import hashlib
import os
import stat


def snapshot(top, mtimes=False):
    """Every entry under ``top``, and ``top`` itself as ``.``, without following a symlink.

    Relative path -> ``("dir", mode)``, ``("file", mode, size, sha256)``, ``("link", target)``
    or ``("other", mode)`` (a FIFO, a socket …). With ``mtimes`` a directory and a file also
    carry their mtime in nanoseconds, so that a rewrite with the same content shows. A ``top``
    that does not exist is ``{}``.
    """
    result = {}
    if not os.path.lexists(top):
        return result
    result["."] = _entry(top, mtimes)
    for dirpath, dirnames, filenames in os.walk(top):
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            result[os.path.relpath(path, top)] = _entry(path, mtimes)
    return result


def _entry(path, mtimes):
    st = os.lstat(path)
    mode = stat.S_IMODE(st.st_mode)
    mtime = (st.st_mtime_ns,) if mtimes else ()
    if stat.S_ISLNK(st.st_mode):
        return ("link", os.readlink(path))
    if stat.S_ISDIR(st.st_mode):
        return ("dir", mode) + mtime
    if stat.S_ISREG(st.st_mode):
        with open(path, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        return ("file", mode, st.st_size, digest) + mtime
    return ("other", st.st_mode)


def diff(before, after):
    """One line per path whose entry differs between two snapshots: ``path: before -> after``."""
    changed = sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))
    return ["%s: %r -> %r" % (key, before.get(key), after.get(key)) for key in changed]
