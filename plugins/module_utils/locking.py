# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A per-project advisory lock (``fcntl.flock``) held from reading the tasks to writing them."""

from __future__ import annotations

import errno
import fcntl
import os
import time

from ansible_collections.terok.lifecycle.plugins.module_utils.errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils.fileio import make_dirs

LOCK_NAME = ".terok-lifecycle.lock"
_POLL = 0.05


class ProjectLock(object):
    """Exclusive lock on one project's meta directory.

    With ``create=False`` (check mode) nothing is written: the lock is taken only when its
    file already exists, which is enough to wait for a run that is writing. With
    ``create_dir=False`` a missing meta directory is not made (the project has no task that a
    run could change, so there is nothing to lock) and the lock file is only made beside tasks.
    """

    def __init__(self, meta_dir, timeout=30.0, create=True, create_dir=True):
        self.path = os.path.join(meta_dir, LOCK_NAME)
        self.meta_dir = meta_dir
        self.timeout = timeout
        self.create = create
        self.create_dir = create_dir
        self._fd = None

    def acquire(self):
        if self.create and (self.create_dir or os.path.isdir(self.meta_dir)):
            make_dirs(self.meta_dir)
            flags = os.O_RDWR | os.O_CREAT
        elif os.path.exists(self.path):
            flags = os.O_RDONLY
        else:
            return self
        flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(self.path, flags, 0o600)
        except OSError as exc:
            raise TerokError("cannot open lock file %s: %s" % (self.path, exc.strerror or exc))
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise TerokError("cannot lock %s: %s" % (self.path, exc.strerror or exc))
            if time.monotonic() >= deadline:
                os.close(fd)
                raise TerokError(
                    "timed out after %ss waiting for the lock %s, held by another run on this project; "
                    "raise lock_timeout or wait for that run" % (self.timeout, self.path),
                    option="lock_timeout",
                )
            time.sleep(_POLL)
        self._fd = fd
        return self

    def release(self):
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc_info):
        self.release()
        return False
