# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to terok.lifecycle: not a public API, it may change in any release.
"""Converging tasks to what their specs ask: a map from each state to how it is reached.

``converge_many`` is the one loop, for one spec (terok_task) and for many (terok_tasks):
project by project in name order, one task session each (one lock, one read), every spec
through ``converge``, which finds the task and calls ``ENSURE[spec.state]``. With
``concurrency`` above 1 a project's items go by phases (``_phases``): decided in list order,
their podman actions and waits side by side. The ensure functions decide, as generators of
steps; the session's primitives act (yielding each podman action and wait to the driver), or
in check mode only predict, so nothing here depends on check mode.
"""

from __future__ import annotations

from ansible_collections.terok.lifecycle.plugins.module_utils._container_spec import SPEC_LABEL
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._naming import MODES, container_name, container_names
from ansible_collections.terok.lifecycle.plugins.module_utils._podman import PodmanError
from ansible_collections.terok.lifecycle.plugins.module_utils._project_tasks import ProjectTasks, Task
from ansible_collections.terok.lifecycle.plugins.module_utils._results import diff_state, gone_result
from ansible_collections.terok.lifecycle.plugins.module_utils._run_context import RunContext
from ansible_collections.terok.lifecycle.plugins.module_utils._session import TaskSession, open_session
from ansible_collections.terok.lifecycle.plugins.module_utils._spec import Spec

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Any, Callable, Dict, Generator, List, Optional, Sequence, Set, Tuple, Union

    from ansible_collections.terok.lifecycle.plugins.module_utils._phases import Steps

# States in which a container still runs its processes and `podman stop` applies.
ACTIVE_STATES = ("running", "paused", "stopping")
# States whose spec may create a task (and so the project's directories).
CREATING_STATES = ("present", "running", "stopped")


class Outcome:
    """What converging one spec did: ``changed``, the task result and the diff; ``reached``: the task
    as it was left (None when it is gone)."""

    def __init__(self, changed: bool, task: Dict[str, Any], before: Dict[str, Any], after: Dict[str, Any],
                 reached: Optional[Task] = None) -> None:
        self.changed = changed
        self.task = task
        self.diff = {"before": before, "after": after}
        self.reached = reached
        self.generation = 0  # the session's generation when converging began (see _report_as_now)


class Gone:
    """What ``absent`` / ``archived`` leave: the task's identity and its archive entry."""

    def __init__(self, project: str, task_id: Optional[str], name: Optional[str], archive_path: Optional[str]) -> None:
        self.project = project
        self.task_id = task_id
        self.name = name
        self.archive_path = archive_path


# Finding and deciding ------------------------------------------------------------------------
def find_task(tasks: ProjectTasks, spec: Spec) -> Optional[Task]:
    """The task a spec means, or None; raise on an ambiguous name or an unreadable task."""
    if spec.task_id:
        task = tasks.tasks.get(spec.task_id)
    else:
        matches = tasks.by_name(spec.name)
        if len(matches) > 1:
            raise TerokError(
                "name %r is ambiguous in project %s: tasks %s all carry it; give task_id to pick one"
                % (spec.name, spec.project, ", ".join(sorted(t.stored_id for t in matches))),
                option="name",
            )
        task = matches[0] if matches else None
    if task is not None and task.error:
        raise TerokError("task %s of project %s is unreadable: %s" % (task.task_id, task.project, task.error))
    if task is not None and task.meta.get("deleting") and spec.state not in ("absent", "archived"):
        raise TerokError(
            "task %s of project %s is being deleted (deleting: true in its metadata): finish with "
            "state=absent or state=archived before using it again" % (task.task_id, task.project),
            option="state",
        )
    return task


def require_first_mode(task: Task, mode: str) -> None:
    """A task keeps the container mode it first ran in, as terok enforces."""
    if task.mode and task.mode != mode:
        raise TerokError(
            "task %s already ran in mode %s; a task keeps its first mode, so it cannot run in mode %s"
            % (task.task_id, task.mode, mode),
            option="mode",
        )


def start_mode(task: Task, spec: Spec) -> str:
    """The container mode a start uses: the one asked for, else the task's own, else cli."""
    if task.mode and task.mode not in MODES:
        raise TerokError(
            "task %s of project %s has mode %r in its _meta.yml, which is none of terok's (%s); it cannot be started"
            % (task.task_id, task.project, task.mode, ", ".join(MODES)),
            option="mode",
        )
    mode = spec.mode or task.mode or "cli"
    require_first_mode(task, mode)
    return mode


def _container_name(task: Task, mode: str) -> str:
    """The task's container in ``mode``; a task that check mode predicts has no id yet (``<new>``)."""
    return container_name(task.project, mode, task.task_id or "<new>")


def plan_running(context: RunContext, task: Task, spec: Spec) -> Tuple[str, str, Optional[str]]:
    """Decide what ``state=running`` needs: (action, container name, warning or None).

    Actions: ``none`` (runs), ``done`` (a waited-for job that already ran to its end),
    ``create``, ``start``, ``unpause``, ``recreate``.
    """
    name = _container_name(task, start_mode(task, spec))
    container = spec.running_container()
    current = context.containers(required=True).get(name)
    if current is None:
        return "create", name, None
    differs = not container.matches(current.labels.get(SPEC_LABEL), context.secrets_key)
    foreign = SPEC_LABEL not in current.labels  # made by terok itself (terok-sandbox's own hardening), not by us
    if differs and spec.recreate and (not foreign or spec.recreate_foreign):
        return "recreate", name, None
    drifted = None
    if not differs and current.image_id:
        latest = context.image_ids().get(container.image)
        if latest and latest != current.image_id:
            differs, drifted = True, latest  # same options, but the image's name now points at another image
    if differs and spec.recreate and drifted:
        return "recreate", name, None
    warning = None
    if drifted:
        warning = (
            "container %s runs image %s, but %s now points at %s; it is kept as it is. Set recreate=true to replace it"
            % (name, (current.image_id or "")[:12], container.image, drifted[:12])
        )
    elif differs and foreign:
        warning = (
            "container %s was not made by this collection (terok made it, with its own confinement); it is kept as it "
            "is, recreate=true does not replace it, and its task's unrestricted and ready_at stay as terok recorded "
            "them. Set recreate_foreign=true to replace it with this collection's container" % name
        )
    elif differs:
        warning = (
            "container %s was made from other options than these (image, command, env, volumes or init "
            "script); it is kept as it is. Set recreate=true to replace it" % name
        )
    if current.state == "running":
        return "none", name, warning
    if spec.wait and current.state == "exited" and task.meta.get("exit_code") is not None:
        # the job ran to its end: it stays finished; other options or a moved image are only reported
        # (recreate=true, decided above, runs it anew)
        return "done", name, warning
    if current.state == "paused":
        return "unpause", name, warning
    return "start", name, warning


def made_by_terok(context: RunContext, name: str) -> bool:
    """Whether the container ``name`` is there and was made by terok itself, not by this collection (no options
    hash label). Its task's metadata describes it as terok ran it; only recreate_foreign replaces it."""
    current = context.containers().get(name)
    return current is not None and SPEC_LABEL not in current.labels


def active_containers(context: RunContext, task: Task) -> List[str]:
    """The task's containers (any mode) that `podman stop` applies to."""
    listing = context.containers(required=True)
    return [name for name in container_names(task.project, task.stored_id, listing)
            if name in listing and listing[name].state in ACTIVE_STATES]


# The states ----------------------------------------------------------------------------------
def ensure_present(session: TaskSession, spec: Spec, task: Optional[Task]) -> Task:
    """The task exists, named as ``spec`` asks: create it, or rename it."""
    if task is None:
        if spec.task_id or spec.name is None:
            raise TerokError(
                "task_id %s does not exist in project %s; omit task_id to create a task by name"
                % (spec.task_id, spec.project),
                option="task_id",
            )
        return session.create(spec.name)
    if spec.name and spec.name != task.name:
        clash = [t.stored_id for t in session.tasks.by_name(spec.name) if t.task_id != task.task_id]
        if clash:
            raise TerokError(
                "name %r is taken in project %s by task %s; cannot rename task %s to it"
                % (spec.name, spec.project, ", ".join(sorted(clash)), task.task_id),
                option="name",
            )
        task = session.rename(task, spec.name)
    return session.ensure_files(task)


def _start(session: TaskSession, task: Task, spec: Spec, action: str, name: str,
           waits: bool, foreign: bool = False) -> Generator[Any, Any, Tuple[Task, str]]:
    """Carry out ``action`` of plan_running; return the task and the time the start began. ``waits``: a
    wait follows, after which the containers are listed afresh (so a new one's image id need not be asked).
    ``foreign``: the container is terok's own, kept (started or unpaused, never replaced)."""
    # a (re)start begins a new run: mode set once, readiness, exit code and stop of the last run dropped
    before = task
    mode = start_mode(task, spec)
    mark = session.changes
    container = spec.running_container()
    if foreign:
        # terok's container is resumed as it is: its confinement and its readiness are what terok recorded (terok
        # 0.9.1's restart writes no metadata), so unrestricted, web_port and ready_at stay
        changes: Dict[str, Any] = {"mode": mode}
        drop: Tuple[str, ...] = ("exit_code", "stopped_at")
    else:
        changes = {"mode": mode, "unrestricted": not container.restricted}  # terok records it on every run
        if mode in ("web", "toad") and container.web_port() is not None:
            changes["web_port"] = container.web_port()
            session.claim_web_port(task, changes["web_port"])  # refused before anything is written here
        drop = ("ready_at", "exit_code", "stopped_at")
    task = session.update_meta(task, changes, drop=drop)
    mark_started = session.changes
    since = "%.6f" % session.context.now().timestamp()  # for `podman logs --since`
    try:
        if action == "recreate":
            yield from session.capture_logs(task, [name])  # the old container's log would go with it
            yield from session.remove_containers(task, [name])
            yield from session.create_container(task, container, name, mode, image_id_now=not waits)
        elif action == "create":
            yield from session.create_container(task, container, name, mode, image_id_now=not waits)
        elif action == "start":
            yield from session.start_container(task, name)
        elif action == "unpause":
            yield from session.unpause_container(task, name)
    except TerokError:
        # the podman action failed: the last run's readiness and exit code still hold
        session.restore_meta(task, before, mark if session.changes == mark_started else None)
        raise
    return task, since


def ensure_running(session: TaskSession, spec: Spec, task: Optional[Task]) -> Generator[Any, Any, Union[Task, "Gone"]]:
    """The task's container runs; readiness and exit are waited for as ``spec`` asks.

    The waits run with the project lock released; what they saw is recorded under the lock.
    """
    tasks_root = session.context.layout.tasks_root(spec.project)
    if ":" in tasks_root or "," in tasks_root:  # before anything is written
        raise TerokError(
            "the workspace %s cannot be mounted: podman's --volume syntax cannot carry ':' or ',' in a path; "
            "use a state root without them" % tasks_root,
            option="root",
        )
    task = ensure_present(session, spec, task)
    action, name, warning = plan_running(session.context, task, spec)
    if warning:
        session.context.warn(warning)
    if action == "done":
        return task
    # a container terok made and the collection keeps is judged ready as terok judges a resumed one: running once
    # started (its init script prints the ready line only with terok's host services up, so it is not followed)
    foreign = action in ("none", "start", "unpause") and made_by_terok(session.context, name)
    needs_ready = spec.wait_ready and not foreign and (action != "none" or "ready_at" not in task.meta)
    since = None
    if action != "none":
        task, since = yield from _start(session, task, spec, action, name, needs_ready or spec.wait, foreign)
        if foreign:
            session.confirm_running(task, name)
    # readiness is recorded before the exit is waited for: the task shows as running meanwhile
    for ready_timeout, exit_timeout in ((spec.ready_timeout, None), (None, spec.wait_timeout)):
        if (ready_timeout is not None and not needs_ready) or (exit_timeout is not None and not spec.wait):
            continue
        container_id = session.container_id(name) if task.task_id else None  # read under the lock
        seen = yield from session.await_container(name, since, ready_timeout, exit_timeout, container_id)
        fresh, recorded = yield from session.record_wait(task, name, seen)
        if fresh is None:
            return Gone(task.project, task.task_id, task.name, None)
        if not recorded:
            return fresh  # another run changed the task meanwhile: nothing more to wait for
        task = fresh
    return task


def ensure_stopped(session: TaskSession, spec: Spec, task: Optional[Task]) -> Generator[Any, Any, Task]:
    """No container of the task runs; a task that never ran is stopped already."""
    task = ensure_present(session, spec, task)
    if task.task_id is None or not task.mode:
        return task
    names = active_containers(session.context, task)
    for name in names:
        yield from session.stop_container(task, name, spec.stop_timeout)
    yield from session.capture_logs(task, names)
    if names:  # recorded, so that a run waiting for this container sees that it was stopped
        task = session.update_meta(task, {"stopped_at": session.context.now().isoformat()})
    return task


def _already_gone(session: TaskSession, spec: Spec) -> Gone:
    """No such task: report its archive entry, which ``archived`` requires."""
    from ansible_collections.terok.lifecycle.plugins.module_utils import _archive  # only here: see write_archive_entry

    entries = _archive.list_entries(session.context.layout, spec.project)
    if spec.task_id:
        entries = [e for e in entries if e["task_id"] == spec.task_id]
    else:
        entries = [e for e in entries if e["name"] == spec.name]
    if spec.state == "archived" and not entries:
        raise TerokError(
            "no task %s in project %s, and no archive entry for it: nothing to archive"
            % (spec.task_id or repr(spec.name), spec.project),
            option="task_id" if spec.task_id else "name",
        )
    path = entries[0]["archive_path"] if entries else None
    task_id = spec.task_id or (entries[0]["task_id"] if entries else None)
    return Gone(spec.project, task_id, spec.name, path)


def ensure_absent(session: TaskSession, spec: Spec, task: Optional[Task]) -> Generator[Any, Any, Union[Task, Gone]]:
    """The task is gone, as terok deletes one, each step best-effort (a warning when it fails).

    Order: capture logs, write the archive entry, mark ``deleting``, remove every mode's
    container, the task directory, then the metadata. ``archived`` requires the archive
    entry: without it nothing is removed.
    """
    if task is None:
        return _already_gone(session, spec)
    if spec.only_if_status is not None:
        status = session.result(task)["status"]  # decided under the lock, so no other run changes it meanwhile
        if status not in spec.only_if_status:
            session.context.warn(
                "task %s of project %s is %s, not %s: it is kept (only_if_status)"
                % (task.task_id, task.project, status, " or ".join(spec.only_if_status))
            )
            return task
    context = session.context
    listing = context.containers()
    names = container_names(task.project, task.stored_id, listing)
    present = [name for name in names if name in listing]
    yield from session.capture_logs(task, present)
    entry = session.write_archive_entry(task, required=spec.state == "archived") if spec.archive else None
    task = session.mark_deleting(task)
    try:
        # without a listing, ask podman to remove every mode's container; it ignores missing ones
        yield from session.remove_containers(task, present if context.listing_ok else names)
    except PodmanError as exc:
        context.warn("container removal failed: %s; terok's per-container state and the task's web port are kept "
                     "while a container may still run" % exc.msg)
    else:
        # as terok's delete, once the containers are gone: every mode's sidecar and runtime directory, the web port
        session.remove_terok_state(task, names)
    remains = yield from session.remove_files(task)
    if remains is not None:
        return remains  # reported as it is (deleting), never as absent, until a rerun removes the rest
    return Gone(task.project, task.task_id, task.name, entry)


def _present_steps(session: TaskSession, spec: Spec, task: Optional[Task]) -> Generator[Any, Any, Task]:
    """``ensure_present`` as steps, like the other states (it needs no podman)."""
    return ensure_present(session, spec, task)
    yield  # a generator, though it yields nothing


ENSURE = {
    "present": _present_steps,
    "running": ensure_running,
    "stopped": ensure_stopped,
    "absent": ensure_absent,
    "archived": ensure_absent,
}


# Converging ----------------------------------------------------------------------------------
def _spec_digest(session: TaskSession, task: Optional[Task], spec: Spec) -> Optional[str]:
    """The options hash on the container that ``state=running`` is about, for the diff."""
    if task is None:
        return None
    if task.task_id is None:  # check mode: a new task's container would be made from these options
        return spec.running_container().digest(session.context.secrets_key)
    container = session.context.containers().get(_container_name(task, start_mode(task, spec)))
    return container.labels.get(SPEC_LABEL) if container else None


def converge(session: TaskSession, spec: Spec) -> Outcome:
    """Bring one task to ``spec`` within a session, alone: each podman action and wait made as it comes."""
    return session.drive(converge_steps(session, spec))


def converge_steps(session: TaskSession, spec: Spec) -> Generator[Any, Any, Outcome]:
    """Bring one task to ``spec`` within a session: find it, reach its state, report; as steps."""
    generation = session.generation
    outcome = yield from _converge(session, spec)
    outcome.generation = generation
    return outcome


def _converge(session: TaskSession, spec: Spec) -> Generator[Any, Any, Outcome]:
    task = find_task(session.tasks, spec)
    before_result = session.result(task) if task else None
    before = diff_state(task, before_result, session.file_state(task))
    if spec.state == "running" and before:
        before["container_spec"] = _spec_digest(session, task, spec)
    mark = session.changes
    reached: Union[Task, Gone] = yield from ENSURE[spec.state](session, spec, task)
    changed = session.changes > mark
    if isinstance(reached, Gone):
        result = gone_result(reached.project, reached.task_id, reached.name, reached.archive_path)
        return Outcome(changed, result, before, {})
    if not changed and reached is task and before_result is not None:
        return Outcome(False, before_result, before, before, reached)  # nothing changed: the result read before holds
    result = session.result(reached)
    if not changed:
        return Outcome(False, result, before, before, reached)
    after = diff_state(reached, result, session.file_state(reached))
    if spec.state == "running":
        after["container_spec"] = _spec_digest(session, reached, spec)
    return Outcome(True, result, before, after, reached)


class Results:
    """What one converge_many call did, item by item, filled in as it goes.

    ``tasks`` holds one result per spec (None for an item not reached yet), each with its
    own ``changed``; ``diffs`` one diff per spec, then one per task that ``exclusive``
    archived; ``removed`` the results of those tasks.
    """

    def __init__(self, count: int) -> None:
        self.outcomes: List[Optional[Outcome]] = [None] * count
        self.errors: Dict[int, BaseException] = {}
        self.tasks: List[Optional[Dict[str, Any]]] = [None] * count
        self.diffs: List[Optional[Dict[str, Any]]] = [None] * count
        self.removed: List[Dict[str, Any]] = []
        self.changed = False

    def record(self, index: int, spec: Spec, outcome: Outcome) -> None:
        result = dict(outcome.task, changed=outcome.changed)
        self.outcomes[index] = outcome
        self.tasks[index] = result
        label = result.get("name") or result.get("task_id") or spec.name
        self.diffs[index] = dict(outcome.diff, before_header="%s/%s" % (spec.project, label))
        self.changed = self.changed or outcome.changed

    def record_failure(self, index: int, spec: Spec, changed: bool, exc: BaseException,
                       task_id: Optional[str] = None) -> None:
        """Item ``index`` failed: its result says so (``failed``, ``msg``, ``option``) and the run fails.
        ``task_id``: the task the item found or made before it failed."""
        result: Dict[str, Any] = {"project": spec.project, "task_id": task_id or spec.task_id, "name": spec.name,
                                  "changed": changed, "failed": True, "msg": getattr(exc, "msg", None) or str(exc)}
        option = getattr(exc, "option", None)
        if option:
            result["option"] = option
        self.errors[index] = exc
        self.tasks[index] = result
        self.changed = self.changed or changed

    def record_again(self, index: int, result: Dict[str, Any], moved: bool) -> None:
        """Item ``index`` read again at the end: its result tells the task as it is now; ``moved``:
        another run changed it meanwhile, so it is reported changed."""
        outcome = self.outcomes[index]
        if outcome is not None:
            outcome.task = result
            outcome.changed = outcome.changed or moved
        previous = self.tasks[index]
        self.tasks[index] = dict(result, changed=bool(previous and previous.get("changed")) or moved)
        self.changed = self.changed or moved

    def raise_first(self) -> None:
        """Raise the first failure (by item), naming the other failed items in its message."""
        if not self.errors:
            return
        first = min(self.errors)
        exc = self.errors[first]
        others = sorted(self.errors)[1:]
        if not others or not isinstance(exc, TerokError):
            raise exc
        raise TerokError("%s (tasks %s failed too; see their results)" % (exc.msg, ", ".join(
            "tasks[%d]" % index for index in others)), option=exc.option, path=exc.path)

    def record_removed(self, task: Task, outcome: Outcome) -> None:
        self.removed.append(dict(outcome.task, changed=outcome.changed))
        self.diffs.append(dict(outcome.diff, before_header="%s/%s (not listed)" % (task.project, task.name)))
        self.changed = self.changed or outcome.changed


def _check_distinct(tasks: ProjectTasks, specs: Sequence[Spec], indexes: Sequence[int]) -> None:
    """Every item finds its task (or none) before any is converged; no task is named twice."""
    seen: Dict[str, int] = {}
    for index in indexes:
        try:
            task = find_task(tasks, specs[index])
        except TerokError as exc:
            raise TerokError("tasks[%d]: %s" % (index, exc.msg), option="tasks[%d]" % index)
        if task is None:
            continue
        if task.task_id in seen:
            raise TerokError(
                "tasks[%d] and tasks[%d] both name task %s of project %s (one by id, one by name); "
                "give each task once" % (seen[task.task_id], index, task.task_id, task.project),
                option="tasks[%d]" % index,
            )
        seen[task.stored_id] = index


def _archive_unlisted(session: TaskSession, kept: Set[str], results: Results) -> None:
    """``exclusive``: archive the collection-made tasks of the project that no item names."""
    for task_id in sorted(session.tasks.tasks):
        task = session.tasks.tasks.get(task_id)
        if task is None or task.error or not task.managed or task_id in kept:
            continue
        results.record_removed(task, converge(session, Spec(task.project, task_id=task_id, state="archived")))


def _converge_items(session: TaskSession, specs: Sequence[Spec], indexes: Sequence[int], results: Results,
                    concurrency: int) -> Set[str]:
    """Converge the project's items, side by side when ``concurrency`` allows and containers are
    involved; return the ids of the tasks they name. After a failure no further item starts."""
    kept: Set[str] = set()

    def one(index: int) -> None:
        mark = session.changes
        try:
            outcome = converge(session, specs[index])
        except BaseException as exc:  # recorded for this item, then raised by results.raise_first (SystemExit too)
            results.record_failure(index, specs[index], session.changes > mark, exc, _task_id_now(session, specs[index]))
            raise
        results.record(index, specs[index], outcome)
        if outcome.task.get("task_id"):
            kept.add(outcome.task["task_id"])  # named by the list, whatever its state

    with_containers = [index for index in indexes if specs[index].state != "present"]
    if concurrency <= 1 or len(with_containers) < 2:
        for index in indexes:
            one(index)
        return kept

    def steps(index: int) -> Callable[[], Steps]:
        def item() -> Steps:
            try:
                outcome = yield from converge_steps(session, specs[index])
            except GeneratorExit:  # never resumed: the run ended before it
                raise
            except BaseException as exc:  # recorded for this item, then raised by results.raise_first
                results.record_failure(index, specs[index], session.changes > 0, exc, _task_id_now(session, specs[index]))
                raise
            results.record(index, specs[index], outcome)
            if outcome.task.get("task_id"):
                kept.add(outcome.task["task_id"])
        return item

    if session.run_items([steps(index) for index in indexes], concurrency):
        results.raise_first()
    return kept


def _task_id_now(session: TaskSession, spec: Spec) -> Optional[str]:
    """The id of the task an item names as this run knows it now (one it made before failing included)."""
    try:
        task = find_task(session.tasks, spec)
    except TerokError:  # the name is ambiguous: the item's own id, if it gave one
        return spec.task_id
    return task.task_id if task is not None else spec.task_id


def _report_as_now(session: TaskSession, indexes: Sequence[int], results: Results) -> None:
    """After the project lock was let go (for a wait), rebuild the result of every item that began
    converging before the world was last read afresh, so that each tells podman and the disk as
    they are when the run returns; a task that another run changed meanwhile is reported changed,
    with a warning.

    The last read afresh (``TaskSession.refresh``, after the lock was taken again) and this run's
    own changes since, under the lock, are the state now: no further podman listing is made
    unless none was made since that read.
    """
    for index in indexes:
        outcome = results.outcomes[index]
        reached = outcome.reached if outcome is not None and index not in results.errors else None
        if outcome is None or reached is None or reached.task_id is None:
            continue
        if outcome.generation == session.generation:
            continue  # converged after the last read afresh: its result holds
        old = outcome.task
        fresh = session.tasks.tasks.get(reached.task_id)
        if fresh is not None and fresh.error:
            continue  # unreadable now: what the item saw is all there is
        if fresh is None:
            result = gone_result(reached.project, reached.task_id, reached.name, None)
        else:
            result = session.result(fresh)
        moved = (fresh is None or fresh.meta != reached.meta or fresh.name != reached.name
                 or result["status"] != old.get("status") or result["container_state"] != old.get("container_state"))
        if moved:
            session.context.warn(
                "task %s of project %s was changed by another run while this run waited (the project lock was let "
                "go): its result tells it as it is now (%s)" % (reached.task_id, reached.project, result["status"])
            )
        results.record_again(index, result, moved)


def converge_many(
    context: RunContext, specs: Sequence[Spec], exclusive: bool = False, results: Optional[Results] = None,
    items: bool = True, concurrency: int = 1,
) -> Results:
    """Converge ``specs`` project by project (sorted, one session each).

    ``items``: the specs are items of a list (terok_tasks), checked together first and
    named ``tasks[i]`` in errors. With ``exclusive`` the collection-managed tasks of each
    listed project that no spec names are archived. Pass ``results`` to keep what was done
    when a later item fails. ``concurrency``: how many container starts of a project's items
    may run at once (1: one item after another).
    """
    results = results or Results(len(specs))
    by_project: Dict[str, List[int]] = {}
    for index, spec in enumerate(specs):
        by_project.setdefault(spec.project, []).append(index)
    with context.interruptible():
        for project in sorted(by_project):
            _converge_project(context, specs, by_project[project], results, exclusive, items, concurrency)
    return results


def _converge_project(context: RunContext, specs: Sequence[Spec], indexes: Sequence[int], results: Results,
                      exclusive: bool, items: bool, concurrency: int) -> None:
    """One project's items in one session (see ``converge_many``)."""
    project = specs[indexes[0]].project
    may_create = any(specs[i].state in CREATING_STATES and not specs[i].task_id for i in indexes)
    with open_session(context, project, may_create) as session:
        if items:
            _check_distinct(session.tasks, specs, indexes)
        try:
            kept = _converge_items(session, specs, indexes, results, concurrency)
        except TerokError:
            if session.released and not context.interrupted:
                _report_as_now(session, indexes, results)  # the items that did converge tell the state at the end
            raise
        if session.released:
            _report_as_now(session, indexes, results)
        if exclusive:
            _archive_unlisted(session, kept, results)


def converge_one(context: RunContext, spec: Spec) -> Outcome:
    """Converge one spec (terok_task): the same loop with a list of one."""
    outcome = converge_many(context, [spec], items=False).outcomes[0]
    if outcome is None:  # converge_many raises when the one spec failed
        raise TerokError("task %s of project %s was not converged" % (spec.task_id or spec.name, spec.project))
    return outcome
