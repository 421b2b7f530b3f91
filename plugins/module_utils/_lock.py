# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to terok.lifecycle: not a public API, it may change in any release.
"""The project lock: the one place a lock is taken, an advisory ``fcntl.flock`` per project.

A task session (``_session.py``) holds it from reading a project's tasks to writing them."""

from __future__ import annotations

import errno
import fcntl
import os
import time

from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._fileio import make_dirs

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Any, Optional

LOCK_NAME = ".terok-lifecycle.lock"
_POLL = 0.05


class ProjectLock:
    """Exclusive lock on one project's meta directory.

    With ``create=False`` (check mode) nothing is written: the lock is taken only when its
    file already exists, which is enough to wait for a run that is writing. With
    ``create_dir=False`` a missing meta directory is not made (the project has no task that a
    run could change, so there is nothing to lock) and the lock file is only made beside tasks.
    """

    def __init__(self, meta_dir: str, timeout: float = 30.0, create: bool = True, create_dir: bool = True) -> None:
        self.path = os.path.join(meta_dir, LOCK_NAME)
        self.meta_dir = meta_dir
        self.timeout = timeout
        self.create = create
        self.create_dir = create_dir
        self._fd: Optional[int] = None

    def acquire(self) -> "ProjectLock":
        """Take the lock, waiting up to ``timeout`` seconds for another run to release it."""
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
            raise TerokError("cannot open lock file %s: %s" % (self.path, exc.strerror or exc), path=self.path)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise TerokError("cannot lock %s: %s" % (self.path, exc.strerror or exc), path=self.path)
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

    def release(self) -> None:
        """Drop the lock (closing the file drops the flock)."""
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> "ProjectLock":
        return self.acquire()

    def __exit__(self, *exc_info: Any) -> None:
        self.release()
