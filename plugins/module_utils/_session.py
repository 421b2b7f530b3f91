# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to terok.lifecycle: not a public API, it may change in any release.
"""A task session: one project's tasks, locked and loaded, and the primitives that change them.

This is where check mode stops writes. Every primitive (create, rename, metadata updates,
the archive entry, the deleting mark, file removal, and the container actions: create,
start, unpause, stop, remove, log capture, the waits) runs inside ``_writing``, which says
whether I/O may happen and counts the change once the primitive finished (a primitive that
fails changed nothing); then the primitive updates the in-memory model the same way in
both modes. Converging (``_converge.py``) is built from
these primitives only, so check mode predicts with the very code that acts.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Optional, Sequence

from ansible_collections.terok.lifecycle.plugins.module_utils import _archive
from ansible_collections.terok.lifecycle.plugins.module_utils._container_spec import READY_LINE, SPEC_LABEL, ContainerSpec
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._lock import ProjectLock
from ansible_collections.terok.lifecycle.plugins.module_utils._metadata import new_dossier
from ansible_collections.terok.lifecycle.plugins.module_utils._podman import PodmanError
from ansible_collections.terok.lifecycle.plugins.module_utils._project_tasks import ProjectTasks, Task, new_task_meta
from ansible_collections.terok.lifecycle.plugins.module_utils._results import task_result
from ansible_collections.terok.lifecycle.plugins.module_utils._run_context import RunContext


@contextlib.contextmanager
def open_session(context: RunContext, project: str, may_create: bool) -> Iterator["TaskSession"]:
    """Lock ``project``, read its tasks, sweep what a killed create left; unlock on leaving.

    ``may_create``: whether the run may create a task, and so the project's directories.
    In check mode the lock file is not made (an existing one is still waited for).
    """
    lock = ProjectLock(
        context.layout.meta_dir(project), context.lock_timeout, create=not context.check_mode, create_dir=may_create
    )
    with lock:
        session = TaskSession(context, ProjectTasks(context.layout, project).load())
        session.sweep_incomplete()
        yield session


class TaskSession:
    """The locked, loaded tasks of one project within a run, and what can be done to them."""

    def __init__(self, context: RunContext, tasks: ProjectTasks) -> None:
        self.context = context
        self.tasks = tasks
        self.project = tasks.project

    @contextlib.contextmanager
    def _writing(self) -> Iterator[bool]:
        """The check-mode gate: yield whether I/O may happen; count the change when the block ends well."""
        yield not self.context.check_mode
        self.context.changes += 1

    def result(self, task: Task, archive_path: Optional[str] = None) -> dict:
        """The task's result dict; a task that never ran needs no podman call."""
        containers = self.context.containers() if (task.mode and task.task_id) else {}
        work_status = self.tasks.read_work_status(task) if task.task_id else None
        return task_result(self.context.layout, task, containers, archive_path, work_status)

    # Task files ----------------------------------------------------------------------------
    def sweep_incomplete(self) -> None:
        """Remove what a killed create left (housekeeping: not reported as a change)."""
        if not self.context.check_mode:
            self.tasks.sweep_incomplete(self.context.warn)

    def create(self, name: str) -> Task:
        """A new task named ``name``; check mode predicts it without drawing an id."""
        meta = new_task_meta(self.context.now())
        with self._writing() as real:
            if real:
                return self.tasks.create(name, meta)
            return Task(self.project, None, new_dossier(self.project, None, name), meta)

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

    def update_meta(self, task: Task, changes: Optional[dict] = None, drop: Sequence[str] = ()) -> Task:
        """Set ``changes`` and remove the ``drop`` keys in the task's ``_meta.yml``; keep the rest."""
        meta = {key: value for key, value in task.meta.items() if key not in drop}
        meta.update(changes or {})
        return self.set_meta(task, meta)

    def write_archive_entry(self, task: Task, required: bool) -> Optional[str]:
        """The task's archive entry (one a killed earlier removal left, else a new one).

        A failure raises when the entry is ``required`` and is a warning otherwise.
        """
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

    def remove_files(self, task: Task) -> None:
        """Remove the task directory, then the metadata; a directory that resists keeps the task."""
        with self._writing() as real:
            if not real:
                self.tasks.drop(task.task_id)
                return
            try:
                self.tasks.remove_task_dir(task)
            except (OSError, TerokError) as exc:
                # keep the metadata (marked deleting): the task stays listed and a rerun retries
                self.context.warn("workspace removal failed, the task is kept as deleting for a rerun: %s" % exc)
            else:
                for failure in self.tasks.remove_metadata(task):
                    self.context.warn(failure)
            self.tasks.refresh(task.task_id)

    # Containers ----------------------------------------------------------------------------
    def _note(self, task: Task, name: str, state: Optional[str], labels: Optional[dict] = None,
              exit_code: Optional[int] = None) -> None:
        """Record a container's new state: in the run's listing, or on a task check mode predicts."""
        if task.task_id is None:
            task.predicted_state = state
        else:
            self.context.note_container(name, state, labels, exit_code)

    def create_container(self, task: Task, spec: ContainerSpec, name: str, mode: str) -> None:
        """``podman run`` the task's container from ``spec``."""
        with self._writing() as real:
            if real:
                layout = self.context.layout
                self.context.podman.run_container(
                    spec.run_request(
                        name,
                        task.project,
                        task.task_id,
                        mode,
                        layout.workspace(task.project, task.task_id),
                        layout.dossier_path(task.project, task.task_id),
                    )
                )
        self._note(task, name, "running", {SPEC_LABEL: spec.digest()})

    def start_container(self, task: Task, name: str) -> None:
        """Start a stopped container again (its workspace keeps the local work)."""
        with self._writing() as real:
            if real:
                self.context.podman.start(name)
        self._note(task, name, "running")

    def unpause_container(self, task: Task, name: str) -> None:
        """Unpause a paused container."""
        with self._writing() as real:
            if real:
                self.context.podman.unpause(name)
        self._note(task, name, "running")

    def stop_container(self, task: Task, name: str, timeout: int) -> None:
        """``podman stop --time timeout`` one container."""
        with self._writing() as real:
            if real:
                self.context.podman.stop(name, timeout)
        self._note(task, name, "exited")

    def remove_containers(self, task: Task, names: Sequence[str]) -> None:
        """Force-remove containers of the task; raise PodmanError when podman fails."""
        if not names:
            return
        with self._writing() as real:
            if real:
                self.context.podman.remove(names)
        for name in names:
            self._note(task, name, None)

    def capture_logs(self, task: Task, names: Sequence[str]) -> None:
        """Save ``podman logs --timestamps`` of ``names`` to ``logs/container.log``; failures warn."""
        if not names:
            return
        with self._writing() as real:
            if not real:
                return
            chunks = []
            for name in names:
                try:
                    chunks.append(self.context.podman.logs(name))
                except PodmanError as exc:
                    self.context.warn("log capture for %s failed: %s" % (name, exc.msg))
            if not chunks:
                return
            try:
                self.tasks.save_log(task, "".join(chunks))
            except (OSError, TerokError) as exc:
                self.context.warn("could not save the logs of task %s: %s" % (task.task_id, exc))

    def wait_ready(self, task: Task, name: str, timeout: int, since: Optional[str]) -> Task:
        """Follow the log until the init script's last line, then record ``ready_at``.

        Check mode predicts that the line comes.
        """
        with self._writing() as real:
            if real:
                self._follow_to_ready(task, name, timeout, since)
        return self.update_meta(task, {"ready_at": self.context.now().isoformat()})

    def _follow_to_ready(self, task: Task, name: str, timeout: int, since: Optional[str]) -> None:
        """Follow the log until the ready line; raise when the container exits first or time runs out."""
        outcome, tail = self.context.podman.follow_logs(name, READY_LINE, timeout, since=since)
        last = "\n".join(tail[-20:]) or "(no output)"
        if outcome == "exited":
            self.capture_logs(task, [name])
            self._note(task, name, "exited")
            raise TerokError(
                "container %s exited before it was ready (no %r line). Last log lines:\n%s" % (name, READY_LINE, last)
            )
        if outcome != "found":
            raise TerokError(
                "container %s was not ready within ready_timeout=%ss (no %r line yet); it is left running. "
                "Last log lines:\n%s" % (name, timeout, READY_LINE, last),
                option="ready_timeout",
            )

    def wait_exit(self, task: Task, name: str, timeout: int) -> Task:
        """Wait for the container to exit; record its exit code and capture its log.

        Check mode predicts an exit whose code it cannot know.
        """
        with self._writing() as real:
            if not real:
                self._note(task, name, "exited")
                return task
            exit_code = self.context.podman.wait(name, timeout)
            if exit_code is None:
                raise TerokError(
                    "container %s did not exit within wait_timeout=%ss; it is left running and no exit code "
                    "was recorded" % (name, timeout),
                    option="wait_timeout",
                )
        self._note(task, name, "exited", exit_code=exit_code)
        self.capture_logs(task, [name])
        return self.update_meta(task, {"exit_code": exit_code})
