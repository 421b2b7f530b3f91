# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to terok.lifecycle: not a public API, it may change in any release.
"""Items converged by phases: decide and write, act, wait, record.

Converging an item is a generator of *steps* (``_converge.converge_steps``): it decides and
writes on the caller's thread, under the project lock, and instead of calling podman it yields
each action (``Act``) and each wait (``Wait``); ``Phases`` makes them and sends back what they
returned, or throws in what they raised. ``drive`` takes one item through alone, every request
made at once. ``run`` takes a project's items through together, round by round:

1. **decide**: each item whose last request was answered goes on, in list order, to its next
   request or its end (the first round starts every item; after an item failed, no further one
   starts). This is the only place library code runs, always on the caller's thread;
2. **act**: the round's podman actions, side by side on worker threads that only make the call
   and return what podman said (at most ``limit`` bounded actions, the container starts, at once;
   stops, removals and log captures unbounded); the project lock stays held;
3. **wait**: once no item has an action left, the waits: the project lock is let go, every wait
   runs side by side with its own deadline (``_podman``), the lock is taken again and the world
   read afresh (``refresh``: the tasks and the container listing), and each item then records
   what its wait saw in the next round's decisions.

When the read afresh fails, the lock is held all the same: the first waiting item fails with
that error and the next one reads again. ``fail_json`` is never reached off the caller's thread:
the workers run podman through a runner that raises (``_module_support.ModuleRunner``).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Any, Callable, Dict, Generator, List, Optional, Sequence, Tuple

    Steps = Generator[Any, Any, Any]


class Act:
    """A podman action an item asks for: ``call()`` makes it (on a worker thread when items go
    side by side). ``bounded``: a container start, counted against the limit."""

    def __init__(self, call: Callable[[], Any], bounded: bool = True) -> None:
        self.call = call
        self.bounded = bounded


class Wait:
    """A wait an item asks for (readiness, an exit): ``call()`` waits, with the project lock let go."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.call = call


def no_steps() -> Steps:
    """Steps that ask for nothing: those of what only counts changes (a session's own item)."""
    yield from ()


class Item:
    """One item's steps on their way: its change count, the request it made and the reply due."""

    def __init__(self, position: int, steps: Steps) -> None:
        self.position = position
        self.steps = steps
        self.changes = 0  # what this item changed so far (``TaskSession.changes``)
        self.request: Any = None  # the Act or Wait not answered yet
        self.reply: Tuple[Any, Optional[BaseException]] = (None, None)
        self.answered = True  # the reply is due: the item may go on
        self.done = False
        self.result: Any = None
        self.error: Optional[BaseException] = None


class Phases:
    """Drives the steps of items; see the module docstring.

    ``enter(item)`` makes ``item`` the one whose changes count (before each of its steps);
    ``release`` lets go of the project lock, ``reacquire`` takes it again, ``refresh`` reads the
    world afresh; ``checkpoint`` raises when the run was interrupted (after each action and wait).
    ``released``: the lock was let go at some point.
    """

    def __init__(self, enter: Callable[[Item], None], release: Optional[Callable[[], None]],
                 reacquire: Callable[[], None], refresh: Callable[[], None],
                 checkpoint: Callable[[], None]) -> None:
        self._enter = enter
        self._release = release
        self._reacquire = reacquire
        self._refresh = refresh
        self._checkpoint = checkpoint
        self.released = False

    def drive(self, steps: Steps) -> Any:
        """Take one item through alone: each request made here and now; return what it returned."""
        item = Item(0, steps)
        while True:
            self._advance(item)
            if item.done:
                if item.error is not None:
                    raise item.error
                return item.result
            if isinstance(item.request, Wait):
                self._wait([item], self._wait_side_by_side)
            else:
                item.reply = self._call(item.request)
                self._after(item)

    def run(self, steps: Sequence[Callable[[], Steps]], limit: int) -> Dict[int, BaseException]:
        """Take the items through together; return what each failing one raised, by position."""
        items: List[Item] = []
        stopped = False
        while True:
            for item in items:
                if item.answered and not item.done:
                    self._advance(item)
                    stopped = stopped or item.error is not None
            while len(items) < len(steps) and not stopped:
                item = Item(len(items), steps[len(items)]())
                items.append(item)
                self._advance(item)
                stopped = item.error is not None
            live = [item for item in items if not item.done]
            acts = [item for item in live if isinstance(item.request, Act)]
            if acts:
                self._act(acts, limit)
            elif live:
                self._wait(live, self._wait_side_by_side)
            else:
                return {item.position: item.error for item in items if item.error is not None}

    # the phases ----------------------------------------------------------------------------------
    def _advance(self, item: Item) -> None:
        """Decide: the item goes on to its next request, or to its end."""
        self._enter(item)
        value, error = item.reply
        item.reply, item.answered = (None, None), False
        try:
            if error is not None:
                item.request = item.steps.throw(error)
            else:
                item.request = item.steps.send(value)
        except StopIteration as stop:
            item.done, item.result = True, stop.value
        except BaseException as exc:  # the item's failure (SystemExit too): kept for the caller
            item.done, item.error = True, exc

    def _after(self, item: Item) -> None:
        """An action or wait was made: an interrupted run unwinds the item instead."""
        item.answered = True
        try:
            self._checkpoint()
        except BaseException as exc:
            item.reply = (None, exc)

    @staticmethod
    def _call(request: Any) -> Tuple[Any, Optional[BaseException]]:
        try:
            return request.call(), None
        except BaseException as exc:  # thrown into the item that asked
            return None, exc

    def _act(self, items: List[Item], limit: int) -> None:
        """Act: every action side by side, the bounded ones ``limit`` at a time."""
        if len(items) == 1:
            items[0].reply = self._call(items[0].request)
            self._after(items[0])
            return
        from concurrent.futures import ThreadPoolExecutor  # only a run with items side by side needs it

        bounded = [item for item in items if item.request.bounded]
        free = [item for item in items if not item.request.bounded]
        with ThreadPoolExecutor(max(1, min(limit, len(bounded)))) as starts, \
                ThreadPoolExecutor(max(1, len(free))) as others:
            futures = [((starts if item.request.bounded else others).submit(self._call, item.request), item)
                       for item in bounded + free]
            for future, item in futures:
                item.reply = future.result()
        for item in items:
            self._after(item)

    @staticmethod
    def _wait_side_by_side(items: List[Item]) -> List[Tuple[Any, Optional[BaseException]]]:
        if len(items) == 1:
            return [Phases._call(items[0].request)]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(items)) as waits:
            futures = [waits.submit(Phases._call, item.request) for item in items]
            return [future.result() for future in futures]

    def _wait(self, items: List[Item], waits: Callable[[List[Item]], List[Tuple[Any, Optional[BaseException]]]]) -> None:
        """Wait: the lock let go while every item waits, then taken again and the world read afresh.

        A failure to take the lock again fails every waiting item (the lock stays let go, so none
        goes on writing); a failed read fails the first one, and the next reads again (the lock is
        held either way). Without a lock (``release`` None) nothing is let go or read again.
        """
        if self._release is None:
            replies, stale = waits(items), False
        else:
            self._release()
            self.released = True
            replies, stale = waits(items), True
            try:
                self._reacquire()
            except BaseException as exc:
                replies, stale = [(None, exc)] * len(items), False
        for item, reply in zip(items, replies):
            item.reply = reply
            if stale:
                try:
                    self._refresh()
                    stale = False
                except BaseException as exc:
                    item.reply = (None, exc)
            self._after(item)
