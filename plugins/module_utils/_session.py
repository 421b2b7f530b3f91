# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to terok.lifecycle: not a public API, it may change in any release.
"""A task session: one project's tasks, locked and loaded, and the primitives that change them.

Every primitive (create, rename, metadata updates, the archive entry, the deleting mark,
file removal, and the container actions: create, start, unpause, stop, remove, log capture,
the waits) runs inside ``_writing``, the run's gate (``RunGate.writing``, where check mode
stops writes), which says whether I/O may happen and counts the change once the primitive
finished (a primitive that fails changed nothing); then the primitive updates the in-memory
model the same way in both modes. Converging (``_converge.py``) is built from
these primitives only, so check mode predicts with the very code that acts.

The primitives that need podman, or a wait, are generators of steps (``_phases``): they yield
the podman action (``Act``) or the wait (``Wait``) instead of making it, so that a project's
items can act and wait side by side while every decision and write stays on the caller's thread;
``drive`` takes steps through one at a time. The changes are counted per item (``changes``).
"""

from __future__ import annotations

import contextlib
import os

from ansible_collections.terok.lifecycle.plugins.module_utils._container_spec import READY_LINE, ContainerSpec, label_confinement
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._lock import ProjectLock
from ansible_collections.terok.lifecycle.plugins.module_utils._metadata import new_dossier
from ansible_collections.terok.lifecycle.plugins.module_utils._phases import Act, Item, Phases, Wait, no_steps
from ansible_collections.terok.lifecycle.plugins.module_utils._podman import PodmanError
from ansible_collections.terok.lifecycle.plugins.module_utils._project_tasks import ProjectTasks, Task, new_task_meta
from ansible_collections.terok.lifecycle.plugins.module_utils._results import task_result
from ansible_collections.terok.lifecycle.plugins.module_utils._run_context import RunContext
from ansible_collections.terok.lifecycle.plugins.module_utils._secrets import SECRETS_LABEL, legacy_secret_name, task_prefix

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Any, Callable, Iterable, Iterator, List, Optional, Sequence, Tuple

    from ansible_collections.terok.lifecycle.plugins.module_utils._phases import Steps


@contextlib.contextmanager
def open_session(context: RunContext, project: str, may_create: bool) -> Iterator["TaskSession"]:
    """Lock ``project``, read its tasks, sweep what a killed create left; unlock on leaving.

    ``may_create``: whether the run may create a task, and so the project's directories.
    In check mode the lock file is not made (an existing one is still waited for).
    """
    lock = ProjectLock(
        context.layout.meta_dir(project), context.lock_timeout, create=context.acting, create_dir=may_create
    )
    with lock:
        session = TaskSession(context, ProjectTasks(context.layout, project).load(), lock)
        session.sweep_incomplete()
        yield session


# What ensure_files makes of a task's own files (see ProjectTasks.file_state).
WANTED_FILES = {"workspace_mode": "0700", "readme": True}


class WaitOutcome:
    """What waiting for a container saw: the ready line and when, the exit code, or podman's error."""

    def __init__(self, ready_timeout: Optional[int], exit_timeout: Optional[int],
                 container_id: Optional[str] = None) -> None:
        self.container_id = container_id  # the container waited for (None: unknown)
        self.ready_timeout = ready_timeout  # None: readiness was not waited for
        self.exit_timeout = exit_timeout  # None: the exit was not waited for
        self.ready: Optional[str] = None  # found, exited or timeout
        self.ready_at: Optional[str] = None
        self.tail: List[str] = []
        self.exited = False
        self.exit_code: Optional[int] = None
        self.error: Optional[TerokError] = None


class TaskSession:
    """The locked, loaded tasks of one project within a run, and what can be done to them."""

    def __init__(self, context: RunContext, tasks: ProjectTasks, lock: Optional[ProjectLock] = None) -> None:
        self.context = context
        self.tasks = tasks
        self.project = tasks.project
        self.lock = lock
        self.generation = 0  # how many times the world was read afresh (``refresh``)
        self._files: dict = {}  # task id -> file state after ensure_files (what check mode predicts)
        self._item = Item(0, no_steps())  # the item whose steps run now (its changes are counted)
        self.phases = Phases(
            self._enter, self._let_go if self.lock is not None and context.acting else None,
            self.reacquire, self.refresh, context.check_interrupted,
            together={"remove": self._remove_together, "logs": self._logs_together},
        )

    @property
    def released(self) -> bool:
        """Whether the lock was let go for a wait at some point (the world was read afresh)."""
        return self.phases.released

    @property
    def changes(self) -> int:
        """How many changes the item whose steps run now made so far (a mark to compare against)."""
        return self._item.changes

    def _enter(self, item: Item) -> None:
        self._item = item

    def _count(self, amount: int) -> None:
        self.context.count(amount)
        self._item.changes += amount

    def drive(self, steps: Steps) -> Any:
        """Take ``steps`` through alone, each podman action and wait made as it comes; return their result."""
        outer = self._item
        try:
            return self.phases.drive(steps)
        finally:
            outer.changes += self._item.changes if self._item is not outer else 0
            self._item = outer

    def run_items(self, steps: Sequence[Callable[[], Steps]], limit: int) -> dict:
        """Take items' steps through together, by phases (``Phases.run``); the failures by position."""
        outer = self._item
        try:
            return self.phases.run(steps, limit)
        finally:
            self._item = outer

    @contextlib.contextmanager
    def _writing(self) -> Iterator[bool]:
        """The run's gate (``RunGate.writing``), the change also counted for the calling thread's item.

        An interrupted run writes nothing more (RunInterrupted).
        """
        self.context.check_interrupted()
        ended_well = False
        try:
            with self.context.writing() as real:
                yield real
            ended_well = True
        finally:  # also when a step's generator is closed before its end: nothing is counted then
            if ended_well:
                self._item.changes += 1

    def result(self, task: Task, archive_path: Optional[str] = None) -> dict:
        """The task's result dict; a task that never ran needs no podman call."""
        containers = self.context.containers() if (task.mode and task.task_id) else {}
        work_status = self.tasks.read_work_status(task) if task.task_id else None
        return task_result(self.context.layout, task, containers, archive_path, work_status)

    # Task files ----------------------------------------------------------------------------
    def sweep_incomplete(self) -> None:
        """Remove what a killed create left, and the env-file directories of killed runs
        (housekeeping: not reported as a change)."""
        self.context.check_interrupted()
        if self.context.acting:
            self.tasks.sweep_incomplete(self.context.warn)
            self.context.sweep_env_dirs()

    def create(self, name: str) -> Task:
        """A new task named ``name``; check mode predicts it without drawing an id."""
        meta = new_task_meta(self.context.now())
        with self._writing() as real:
            if real:
                return self.tasks.create(name, meta)
            return Task(self.project, None, new_dossier(self.project, None, name), meta)

    def file_state(self, task: Optional[Task]) -> Optional[dict]:
        """The task's own files as the diff shows them (check mode: as predicted); None without an id."""
        if task is None or task.task_id is None:
            return None
        return self._files.get(task.task_id) or self.tasks.file_state(task)

    def ensure_files(self, task: Task) -> Task:
        """The task's workspace is there at 0700 and its README too: made again or set back when not.

        A workspace made again is empty, with the new-task marker, so the next start clones afresh;
        a warning says so (and that its work is gone when the task had run).
        """
        state = self.tasks.file_state(task)
        if state == WANTED_FILES:
            return task
        if state["workspace_mode"] is None:
            ran = " (the task had run: what its workspace held is gone)" if task.mode or "ready_at" in task.meta else ""
            self.context.warn(
                "task %s of project %s had no workspace: it is made again, empty and with the new-task marker, so the "
                "next start clones afresh%s" % (task.task_id, task.project, ran)
            )
        with self._writing() as real:
            if real:
                self.tasks.repair_files(task, state)
        self._files[task.task_id] = dict(WANTED_FILES)
        return task

    def rename(self, task: Task, name: str) -> Task:
        """Give ``task`` another name."""
        with self._writing() as real:
            if real:
                self.tasks.write_name(task, name)
        return self.tasks.add(task.with_name(name))

    def set_meta(self, task: Task, meta: dict) -> Task:
        """Replace the task's ``_meta.yml`` with ``meta``; nothing happens when it is the same."""
        if meta == task.meta:
            return task
        with self._writing() as real:
            if real:
                self.tasks.write_meta(task, meta)
        return self.tasks.add(task.with_meta(meta))

    def restore_meta(self, task: Task, before: Task, unchanged_since: Optional[int]) -> Task:
        """Put back ``before``'s metadata after a failed action.

        ``unchanged_since``: the change count before the metadata was last written, when nothing
        else happened since; the run then reports no change, since nothing remains changed.
        """
        task = self.set_meta(task, before.meta)
        if unchanged_since is not None:
            self._count(unchanged_since - self.changes)
        return task

    def update_meta(self, task: Task, changes: Optional[dict] = None, drop: Sequence[str] = ()) -> Task:
        """Set ``changes`` and remove the ``drop`` keys in the task's ``_meta.yml``; keep the rest."""
        meta = {key: value for key, value in task.meta.items() if key not in drop}
        meta.update(changes or {})
        return self.set_meta(task, meta)

    def claim_web_port(self, task: Task, port: int) -> None:
        """Claim the task's web port in terok's port registry, as terok does when it starts a web or toad task.

        Refused, naming ``publish``, while another user's claim file holds the port (terok refuses it
        too); nothing is written when the task holds it already.
        """
        from ansible_collections.terok.lifecycle.plugins.module_utils._terok_state import (
            claim_web_port, claimed_web_port, port_holder,
        )

        layout = self.context.layout
        holder = port_holder(layout, port)
        if holder is not None:
            raise TerokError("host port %d of publish is claimed in terok's port registry (%s) by user %s: choose "
                             "another port" % (port, layout.port_registry_dir, holder), option="publish")
        if task.task_id is not None and claimed_web_port(layout, task.project, task.stored_id) == port:
            return
        with self._writing() as real:
            if real:
                claim_web_port(layout, task.project, task.stored_id, port)

    def write_archive_entry(self, task: Task, required: bool) -> Optional[str]:
        """The task's archive entry (one a killed earlier removal left, else a new one).

        A failure raises when the entry is ``required`` and is a warning otherwise.
        """
        # imported here, as in remove_terok_state: only a removal needs it, and a module run compiles
        # what it imports (AnsiballZ has no bytecode cache)
        from ansible_collections.terok.lifecycle.plugins.module_utils import _archive

        with self._writing() as real:
            if not real:
                return None
            layout = self.context.layout
            for entry in _archive.list_entries(layout, task.project, task_id=task.task_id):
                if entry["task_id"] == task.task_id and entry["created_at"] == task.meta.get("created_at"):
                    return entry["archive_path"]
            try:
                return _archive.write_entry(layout, task, self.context.now())
            except TerokError as exc:
                if required:
                    raise TerokError("%s; nothing was removed" % exc.msg, path=exc.path)
                self.context.warn(exc.msg)
                return None

    def mark_deleting(self, task: Task) -> Task:
        """Record ``deleting: true``, so that an interrupted removal is finished by a rerun."""
        meta = dict(task.meta, deleting=True)
        with self._writing() as real:
            if real:
                try:
                    self.tasks.write_meta(task, meta)
                except TerokError as exc:
                    self.context.warn("could not mark task %s as deleting: %s" % (task.task_id, exc.msg))
        return task.with_meta(meta)

    def remove_files(self, task: Task) -> Steps:
        """Remove the task directory, then the metadata; return the task if any of it remains.

        Files that an agent made as another uid inside a rootless container belong to a
        subordinate uid on the host, which only ``podman unshare`` can remove; that is tried
        when a plain removal is refused. What still resists keeps the task, marked deleting,
        for a rerun to finish.
        """
        workspace = self.context.layout.workspace(task.project, task.stored_id, guard=False)
        with self._writing() as real:
            if not real:
                self.tasks.drop(task.stored_id)
                return None
            if os.path.islink(workspace):
                self.context.warn("the workspace %s is a symbolic link: it is removed as a link, what it points "
                                  "to is left untouched" % workspace)
            try:
                yield Act(lambda: self._remove_task_dir(task), bounded=False)
            except (OSError, TerokError) as exc:
                self.context.check_interrupted()
                # keep the metadata (marked deleting): the task stays listed and a rerun retries
                self.context.warn("workspace removal failed, the task is kept as deleting for a rerun: %s" % exc)
            else:
                for failure in self.tasks.remove_metadata(task):
                    self.context.warn(failure)
            return self.tasks.refresh(task.stored_id)

    def remove_terok_state(self, task: Task, containers: Sequence[str]) -> None:
        """What terok keeps of the task outside its files, as ``terok task delete`` removes it once the
        containers are gone: each container's sidecar and runtime directory, and the task's web-port claim.

        Each step is best-effort: a failure is a warning. Nothing there, nothing done (no change).
        """
        from ansible_collections.terok.lifecycle.plugins.module_utils._terok_state import (
            claimed_web_port, container_files, release_web_port, remove_container_files,
        )

        if task.task_id is None:
            return
        layout = self.context.layout
        paths = container_files(layout, containers)
        try:
            port = claimed_web_port(layout, task.project, task.stored_id)
        except OSError as exc:
            self.context.warn("could not read terok's port registry: %s" % exc)
            port = None
        if not paths and port is None:
            return
        with self._writing() as real:
            if not real:
                return
            for failure in remove_container_files(paths):
                self.context.warn(failure)
            if port is not None:
                try:
                    release_web_port(layout, task.project, task.stored_id)
                except TerokError as exc:
                    self.context.warn(exc.msg)

    def _remove_task_dir(self, task: Task) -> None:
        try:
            self.tasks.remove_task_dir(task)
        except PermissionError:
            if os.geteuid() == 0:
                raise
            # the user's own tree, but entries owned by subordinate uids: remove them in podman's user namespace
            self.context.podman.unshare_remove(self.context.layout.task_dir(task.project, task.stored_id))
            self.tasks.remove_task_dir(task)

    # Containers ----------------------------------------------------------------------------
    def _note(self, task: Task, name: str, state: Optional[str], labels: Optional[dict] = None,
              exit_code: Optional[int] = None, container_id: Optional[str] = None, image: Optional[str] = None,
              image_id: Optional[str] = None, started: bool = False) -> None:
        """Record a container's new state: in the run's listing, or on a task check mode predicts."""
        if task.task_id is None:
            task.predicted_state = state
        else:
            self.context.note_container(name, state, labels, exit_code, container_id, image, image_id, started)

    def container_id(self, name: str) -> Optional[str]:
        """The id of the container ``name`` as this run knows it (None: not there, or not known)."""
        current = self.context.containers().get(name)
        return current.id if current is not None else None

    def create_container(self, task: Task, spec: ContainerSpec, name: str, mode: str, image_id_now: bool = True) -> Steps:
        """``podman run`` the task's container from ``spec``, its secrets first made podman secrets.

        ``image_id_now``: note the image id of the new container from the run's image listing (one
        ``podman images`` per run); without it the next listing of the containers tells it.

        The task's secrets left by an earlier run (a kill between ``podman secret create`` and
        ``podman run``, a changed ``secret_env``) go first; a run that fails removes the secrets it made.
        """
        layout, podman = self.context.layout, self.context.podman
        prefix = task_prefix(layout.root, task.project, task.task_id) if task.task_id else ""
        request = spec.run_request(
            name,
            task.project,
            task.task_id or "",  # check mode: a new task has no id yet
            mode,
            layout.workspace(task.project, task.task_id, guard=False) if task.task_id else "",
            layout.dossier_path(task.project, task.task_id) if task.task_id else "",
            self.context.secrets_key,
            secret_prefix=prefix,
            # podman is asked whether it runs rootless only when a container is really made
            rootless=spec.values["userns"] is None and self.context.acting and self.context.rootless(),
        )
        made = [secret for secret, _target in request.secrets]
        stale: List[str] = []

        def run() -> Optional[str]:
            podman.remove_secrets(sorted(set(stale + made)))
            try:
                for secret, variable in zip(made, sorted(spec.secret_env)):
                    podman.create_secret(secret, spec.secret_env[variable])
                return podman.run_container(request, rootless=request.fenced and self.context.rootless())
            except TerokError:
                podman.remove_secrets(made)
                raise

        container_id = None
        with self._writing() as real:
            if real:
                stale += _starting_with(self.context.secret_names(), prefix) if made else []
                try:
                    container_id = yield Act(run)
                finally:
                    self.context.note_secrets(removed=stale + made)
                self.context.note_secrets(made=made)
                self.context.warn_unenforced_limits(spec.values)
        image_id = self.context.image_ids().get(spec.image) if container_id and image_id_now else None
        self._note(task, name, "running", dict(request.labels), container_id=container_id, image=spec.image,
                   image_id=image_id)

    def start_container(self, task: Task, name: str) -> Steps:
        """Start a stopped container again (its workspace keeps the local work); one the collection made with an
        egress fence (its confinement label says so) never without the fence."""
        with self._writing() as real:
            if real:
                current = self.context.containers().get(name)
                confinement = label_confinement(current.labels) if current is not None else None
                fenced = confinement is not None and confinement.get("egress") is not None
                rootless = fenced and self.context.rootless()
                yield Act(lambda: self.context.podman.start(name, fenced, rootless))
        self._note(task, name, "running", started=True)

    def confirm_running(self, task: Task, name: str) -> None:
        """After a start of a container terok made: it runs, as podman lists it afresh, or this raises.

        terok 0.9.1 judges a resumed task so (``podman start``, then the state must be ``running``) and
        waits for no log line; its ``ready_at`` stays. Check mode predicts that it runs.
        """
        if task.task_id is None or not self.context.acting:
            return
        self.context.forget_containers()
        current = self.context.containers(required=True).get(name)
        if current is None or current.state != "running":
            raise TerokError(
                "container %s (made by terok) is %s after podman start, not running; terok judges a resumed task "
                "by the same test. See podman logs %s" % (name, current.state if current else "gone", name)
            )

    def unpause_container(self, task: Task, name: str) -> Steps:
        """Unpause a paused container."""
        with self._writing() as real:
            if real:
                yield Act(lambda: self.context.podman.unpause(name))
        self._note(task, name, "running")

    def stop_container(self, task: Task, name: str, timeout: int) -> Steps:
        """``podman stop --time timeout`` one container."""
        with self._writing() as real:
            if real:
                yield Act(lambda: self.context.podman.stop(name, timeout), bounded=False)
        self._note(task, name, "exited")

    def remove_containers(self, task: Task, names: Sequence[str]) -> Steps:
        """Force-remove containers of the task, and the task's podman secrets: those named by the
        task's prefix (orphans of a killed or failed start included) and, for containers made by
        earlier versions, those their label names.

        Raise PodmanError when podman fails.
        """
        listing = self.context.containers()
        secrets = []
        if task.task_id is not None:
            existing = self.context.secret_names()
            secrets = _starting_with(existing, task_prefix(self.context.layout.root, task.project, task.task_id))
            secrets += [
                legacy_secret_name(name, variable)
                for name in names if name in listing
                for variable in filter(None, listing[name].labels.get(SECRETS_LABEL, "").split(","))
                if legacy_secret_name(name, variable) in existing
            ]
        if not names and not secrets:
            return

        def remove() -> None:
            self.context.podman.remove(names)
            self.context.podman.remove_secrets(secrets)

        with self._writing() as real:
            if real:
                try:
                    yield Act(remove, bounded=False, together=("remove", (names, secrets)))
                finally:
                    self.context.note_secrets(removed=secrets)
        for name in names:
            self._note(task, name, None)

    def capture_logs(self, task: Task, names: Sequence[str]) -> Steps:
        """Save ``podman logs --timestamps`` of ``names`` to ``logs/container.log``; failures warn."""
        if not names:
            return
        with self._writing() as real:
            if not real:
                return

            def capture() -> Tuple[List[str], List[str]]:
                chunks, failures = [], []
                for name in names:
                    try:
                        chunks.append(self.context.podman.logs(name))
                    except PodmanError as exc:
                        failures.append("log capture for %s failed: %s" % (name, exc.msg))
                return chunks, failures

            chunks, failures = yield Act(capture, bounded=False, together=("logs", names))
            for failure in failures:
                self.context.warn(failure)
            if not chunks:
                return
            try:
                self.tasks.save_log(task, "".join(chunks))
            except (OSError, TerokError) as exc:
                self.context.warn("could not save the logs of task %s: %s" % (task.task_id, exc))

    # Waiting ---------------------------------------------------------------------------------
    def _remove_together(self, parts: List[Tuple[Sequence[str], Sequence[str]]]) -> List[None]:
        """One ``podman rm`` for the containers of many items, then one ``podman secret rm`` (``Act.together``)."""
        self.context.podman.remove([name for names, _secrets in parts for name in names])
        self.context.podman.remove_secrets([secret for _names, secrets in parts for secret in secrets])
        return [None] * len(parts)

    def _logs_together(self, parts: List[Sequence[str]]) -> List[Tuple[List[str], List[str]]]:
        """One ``podman logs`` for the containers of many items' log captures (``Act.together``)."""
        logs = self.context.podman.logs_of(sorted(set(name for names in parts for name in names)))
        return [([logs[name] for name in names], []) for names in parts]

    def _let_go(self) -> None:
        """Let go of the lock for a wait (check mode waits for nothing and keeps it)."""
        if self.lock is not None:
            self.lock.release()

    def reacquire(self) -> None:
        """Take the lock again after a wait; an interrupted run leaves it let go (RunInterrupted)."""
        self.context.check_interrupted()
        if self.lock is not None:
            self.lock.acquire()

    def refresh(self) -> None:
        """Read the world afresh after the lock was let go: the tasks now, the listing when next needed."""
        self.tasks.load()
        self.context.forget_containers()
        self.generation += 1

    def await_container(
        self, name: str, since: Optional[str], ready_timeout: Optional[int], exit_timeout: Optional[int],
        container_id: Optional[str] = None,
    ) -> Steps:
        """Follow the log to the init script's ready line and/or wait for the exit; write nothing.

        The wait is a ``Wait`` step: made with the project lock let go, which covers decisions
        and writes, never a wait; afterwards the lock is taken again and the tasks and the
        container listing are read afresh (``refresh``). Check mode waits for nothing: it predicts
        that the line comes and that the container exits cleanly (with a warning: it cannot know
        the code), keeping the lock and its predicted model. A podman failure is kept in the outcome.
        ``container_id``: the container waited for (``session.container_id`` before the lock went), so
        that what the wait saw is recorded for that container only.
        """
        seen = WaitOutcome(ready_timeout, exit_timeout, container_id)
        with self._writing() as real:
            if not real:
                seen.ready = "found" if ready_timeout is not None else None
                seen.ready_at = self.context.now().isoformat()
                if exit_timeout is not None:
                    # a waited-for job ends completed or failed, never stopped: predict the clean end, and say so
                    seen.exited, seen.exit_code = True, 0
                    self.context.warn(
                        "check mode cannot know the exit code of %s; it predicts a clean exit (status completed)" % name
                    )
                return seen
            podman, now = self.context.podman, self.context.now

            def wait() -> WaitOutcome:
                try:
                    if ready_timeout is not None:
                        seen.ready, seen.tail = podman.follow_logs(name, READY_LINE, ready_timeout, since=since)
                        seen.ready_at = now().isoformat()
                    if exit_timeout is not None and seen.ready in (None, "found"):
                        seen.exit_code = podman.wait(name, exit_timeout)
                        seen.exited = seen.exit_code is not None
                except TerokError as exc:
                    seen.error = exc
                return seen

            return (yield Wait(wait))

    def _still_there(self, task: Task, name: str, container_id: Optional[str]) -> bool:
        """Whether container ``name`` (as listed now) is the one that was waited for: another run may
        have removed or replaced it meanwhile. Unknown ids (check mode) count as the same container."""
        if task.task_id is None:
            return True
        current = self.context.containers().get(name)
        if current is None:
            return False
        return container_id is None or current.id is None or current.id == container_id

    def record_wait(self, task: Task, name: str, seen: WaitOutcome) -> Steps:
        """Record what a wait saw (``ready_at``, the exit code, the log) against a fresh read.

        Returns (task, recorded). When another run changed the task meanwhile (stopped,
        restarted, renamed, archived it), nothing is written and a warning says so: the fresh
        task comes back (None: it is gone) with ``recorded`` false. A failed wait raises.
        """
        fresh = self.tasks.tasks.get(task.stored_id) if task.task_id is not None else task  # check mode: predicted
        if seen.exited and self._still_there(task, name, seen.container_id):
            # the container's state is a fact whatever the metadata now says (the container waited for only)
            self._note(task, name, "exited", exit_code=seen.exit_code)
        if fresh is None or fresh.error or fresh.meta != task.meta or fresh.name != task.name:
            self.context.warn(
                "task %s of project %s was changed by another run while container %s was waited for (stopped, "
                "restarted, renamed or removed); what the wait saw is not recorded" % (task.task_id, task.project, name)
            )
            return fresh, False
        if seen.error is not None:
            raise seen.error
        last = "\n".join(seen.tail[-20:]) or "(no output)"
        if seen.ready == "exited":
            yield from self.capture_logs(fresh, [name])
            self._note(fresh, name, "exited")
            raise TerokError(
                "container %s exited before it was ready (no %r line). Last log lines:\n%s" % (name, READY_LINE, last)
            )
        if seen.ready == "timeout":
            raise TerokError(
                "container %s was not ready within ready_timeout=%ss (no %r line yet); it is left running. "
                "Last log lines:\n%s" % (name, seen.ready_timeout, READY_LINE, last),
                option="ready_timeout",
            )
        if seen.ready == "found":
            fresh = self.update_meta(fresh, {"ready_at": seen.ready_at})
        if seen.exit_timeout is None:
            return fresh, True
        if not seen.exited:
            raise TerokError(
                "container %s did not exit within wait_timeout=%ss; it is left running and no exit code "
                "was recorded" % (name, seen.exit_timeout),
                option="wait_timeout",
            )
        with self._writing():
            pass  # the exit waited for is a change of the container's state
        yield from self.capture_logs(fresh, [name])
        if seen.exit_code is None:
            return fresh, True
        return self.update_meta(fresh, {"exit_code": seen.exit_code}), True


def _starting_with(names: Iterable[str], prefix: str) -> List[str]:
    return sorted(name for name in names if name.startswith(prefix))
