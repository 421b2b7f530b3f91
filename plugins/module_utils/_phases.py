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
    Reply = Tuple[Any, Optional[BaseException]]


class Act:
    """A podman action an item asks for: ``call()`` makes it (on a worker thread when items go
    side by side). ``bounded``: a container start, counted against the limit.

    ``together``: (kind, payload) when actions of that kind can be made as one podman call (one
    ``podman rm`` or ``podman logs`` for many containers): the driver's ``together[kind]`` takes
    the payloads of a round's actions of that kind and returns what each action would have
    returned, in order; when it fails, each action is made alone, so that a failure is the item's own.
    """

    def __init__(self, call: Callable[[], Any], bounded: bool = True, together: Optional[Tuple[str, Any]] = None) -> None:
        self.call = call
        self.bounded = bounded
        self.together = together


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
        self.reply: Reply = (None, None)
        self.answered = True  # the reply is due: the item may go on
        self.done = False
        self.result: Any = None
        self.error: Optional[BaseException] = None


class Phases:
    """Drives the steps of items; see the module docstring.

    ``enter(item)`` makes ``item`` the one whose changes count (before each of its steps);
    ``release`` lets go of the project lock, ``reacquire`` takes it again, ``refresh`` reads the
    world afresh; ``checkpoint`` raises when the run was interrupted (after each action and wait).
    ``together``: by kind, the one call that makes many actions of that kind (see ``Act``).
    ``released``: the lock was let go at some point.
    """

    def __init__(self, enter: Callable[[Item], None], release: Optional[Callable[[], None]],
                 reacquire: Callable[[], None], refresh: Callable[[], None],
                 checkpoint: Callable[[], None], together: Optional[Dict[str, Callable[[List[Any]], List[Any]]]] = None) -> None:
        self._together = together or {}
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
    def _call(request: Any) -> Reply:
        try:
            return request.call(), None
        except BaseException as exc:  # thrown into the item that asked
            return None, exc

    def _act(self, items: List[Item], limit: int) -> None:
        """Act: every action side by side, the bounded ones ``limit`` at a time; actions that can be
        made together (``Act.together``) as one call each kind."""
        groups: Dict[str, List[Item]] = {}
        for item in items:
            together = item.request.together
            if together is not None and together[0] in self._together:
                groups.setdefault(together[0], []).append(item)
        jobs: List[Tuple[bool, Callable[[], List[Reply]], List[Item]]] = []
        for kind, group in groups.items():
            if len(group) > 1:
                jobs.append((False, self._call_together(kind, group), group))
        merged = set(id(item) for _bounded, _call, group in jobs for item in group)
        for item in items:
            if id(item) not in merged:
                jobs.append((item.request.bounded, self._call_alone(item), [item]))
        if len(jobs) == 1:
            replies = [jobs[0][1]()]
        else:
            from concurrent.futures import ThreadPoolExecutor  # only a run with items side by side needs it

            bounded = sum(1 for job in jobs if job[0])
            with ThreadPoolExecutor(max(1, min(limit, bounded))) as starts, \
                    ThreadPoolExecutor(max(1, len(jobs) - bounded)) as others:
                futures = [(starts if job[0] else others).submit(job[1]) for job in jobs]
                replies = [future.result() for future in futures]
        for (_bounded, _call, group), answers in zip(jobs, replies):
            for item, reply in zip(group, answers):
                item.reply = reply
                self._after(item)

    def _call_alone(self, item: Item) -> Callable[[], List[Reply]]:
        return lambda: [self._call(item.request)]

    def _call_together(self, kind: str, group: List[Item]) -> Callable[[], List[Reply]]:
        def call() -> List[Reply]:
            try:
                values = self._together[kind]([item.request.together[1] for item in group])
                return [(value, None) for value in values]
            except BaseException:  # each alone, so that a failure is its own item's
                try:
                    self._checkpoint()
                except BaseException as exc:  # interrupted: nothing more is started
                    return [(None, exc)] * len(group)
                return [self._call(item.request) for item in group]
        return call

    @staticmethod
    def _wait_side_by_side(items: List[Item]) -> List[Reply]:
        if len(items) == 1:
            return [Phases._call(items[0].request)]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(items)) as waits:
            futures = [waits.submit(Phases._call, item.request) for item in items]
            return [future.result() for future in futures]

    def _wait(self, items: List[Item], waits: Callable[[List[Item]], List[Reply]]) -> None:
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
