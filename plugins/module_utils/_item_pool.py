# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to terok.lifecycle: not a public API, it may change in any release.
"""The items of one project converged side by side: podman's work overlaps, decisions do not.

A thread per item (up to ``MAX_THREADS``) runs it. The library (decisions, the in-memory
model, metadata writes) is entered by one thread at a time, and in item order until each
item makes its first podman call, so the decisions come in a fixed order. A thread lets go
of the library for its podman actions (``outside``: at most ``limit`` container starts at once;
stops, removals and log captures unbounded; the project lock held) and for its waits
(``waiting``: not limited). While every item in
progress waits, the project lock is let go too; the first thread to come back takes it
again and has the tasks read afresh, so what the waits saw is recorded against the disk. The
lock and the read are kept apart: when the read fails, the lock is held all the same and the
next thread to go on reads again (it never takes the lock a second time).

After an item fails, no further item starts; those already started finish.
"""

from __future__ import annotations

import contextlib
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Callable, Dict, Iterator, Optional

# Threads of one pool: items beyond this many start as earlier ones finish.
MAX_THREADS = 64


class ItemPool:
    """Runs ``work(position)`` for positions 0…count-1 on threads; see the module docstring.

    ``release`` lets go of the project lock; ``reacquire`` takes it again; ``refresh`` then reads
    the world afresh (the tasks and the container listing). ``released`` says whether the lock
    was let go at any point, so that the caller reads the world once more at the end.
    """

    def __init__(self, limit: int, release: Callable[[], None], reacquire: Callable[[], None],
                 refresh: Optional[Callable[[], None]] = None) -> None:
        self._library = threading.Lock()
        self._turns = threading.Condition()
        self._actions = threading.BoundedSemaphore(max(1, limit))
        self._release = release
        self._reacquire = reacquire
        self._refresh = refresh
        self._local = threading.local()
        self._turn = 0  # the position whose decisions come next
        self._running = 0  # items started and not finished
        self._waiting = 0  # of those, how many wait
        self._released = False  # the project lock is let go
        self._stale = False  # the lock was taken again, and the world not read afresh since
        self.released = False  # the lock was let go at some point
        self._stopped = False  # an item failed: no further item starts

    def run(self, count: int, work: Callable[[int], None]) -> Dict[int, BaseException]:
        """Run every item; return what each failing one raised, by position."""
        errors: Dict[int, BaseException] = {}
        positions = iter(range(count))
        taking = threading.Lock()

        def worker() -> None:
            while True:
                with taking:
                    position = next(positions, None)
                if position is None:
                    return
                with self._turns:
                    while self._turn != position:
                        self._turns.wait()
                self._local.turn = position
                self._library.acquire()
                self._running += 1
                try:
                    self._lock_again()
                    if not self._stopped:
                        work(position)
                except BaseException as exc:  # kept for the caller, who raises it: this thread must go on
                    errors[position] = exc
                    self._stopped = True
                finally:
                    self._running -= 1
                    self._pass_turn()
                    self._release_when_all_wait()
                    self._library.release()

        threads = [threading.Thread(target=worker, daemon=True) for _thread in range(min(count, MAX_THREADS))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return errors

    @contextlib.contextmanager
    def outside(self, bounded: bool = True) -> Iterator[None]:
        """A podman action: other items may decide meanwhile; the project lock stays held.

        ``bounded``: it counts against ``limit`` (a container start, which keeps the CPU busy);
        a stop, a removal or a log capture mostly waits on podman and is not bounded.
        """
        self._pass_turn()
        self._library.release()
        try:
            if bounded:
                with self._actions:
                    yield
            else:
                yield
        finally:
            self._library.acquire()

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        """A wait: like ``outside``, not limited, and the project lock goes while every item waits."""
        self._pass_turn()
        self._waiting += 1
        self._release_when_all_wait()
        self._library.release()
        try:
            yield
        finally:
            self._library.acquire()
            self._waiting -= 1
            self._lock_again()

    # held: the library ---------------------------------------------------------------------------
    def _pass_turn(self) -> None:
        position = getattr(self._local, "turn", None)
        if position is None:
            return
        self._local.turn = None
        with self._turns:
            self._turn = position + 1
            self._turns.notify_all()

    def _release_when_all_wait(self) -> None:
        if not self._released and self._running and self._waiting == self._running:
            self._release()
            self._released = True
            self.released = True

    def _lock_again(self) -> None:
        if self._released:
            self._reacquire()  # when it raises, the lock stays let go and the next thread tries again
            self._released = False
            self._stale = True
        if self._stale:
            if self._refresh is not None:
                self._refresh()  # when it raises, the lock stays held and the next thread reads again
            self._stale = False
