# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to terok.lifecycle: not a public API, it may change in any release.
"""A project's tasks on disk: the one place their files are read and written.

``ProjectTasks`` reads a project's tasks with one directory scan (dossiers first, each
``_meta.yml`` only when needed) and performs every write of a task's own files: create,
rename, metadata updates, the deleting mark, the saved log, removal, and the sweep of a
create that a kill interrupted. It does not decide whether to write: the task session
(``_session.py``) calls it only outside check mode.
"""

from __future__ import annotations

import datetime
import os
import stat

from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._fileio import (
    TEMP_SUFFIX,
    atomic_write,
    make_dirs,
    remove_file,
    remove_tree,
)
from ansible_collections.terok.lifecycle.plugins.module_utils._metadata import (
    MANAGED_BY,
    MANAGED_KEY,
    new_dossier,
    read_dossier,
    read_meta,
    write_dossier,
    write_meta,
)
from ansible_collections.terok.lifecycle.plugins.module_utils._naming import (
    PROJECT_RE,
    RESERVED_PROJECTS,
    is_task_id,
    new_task_id,
)
from ansible_collections.terok.lifecycle.plugins.module_utils._paths import Layout
from ansible_collections.terok.lifecycle.plugins.module_utils._results import plain

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Any, Callable, Dict, Iterable, List, Optional, Set

DOSSIER_SUFFIX = "_dossier.json"
META_SUFFIX = "_meta.yml"
MARKER = ".new-task-marker"
MARKER_TEXT = (
    "# New task: the init script resets this workspace to the latest remote HEAD while this file exists.\n"
    "# The task-create step (terok task new, or terok.lifecycle) writes it; init-ssh-and-repo.sh deletes it once the reset is done.\n"
    "# Finding it in a workspace that is already initialized means that something went wrong.\n"
)
README_TEXT = (
    "# terok task directory\n"
    "\n"
    "`workspace-dangerous/` holds the task's git checkout. The task container mounts it at\n"
    "`/workspace` and can write anything into it, git hooks and scripts included.\n"
    "\n"
    "Do not run code, build, or run git commands inside `workspace-dangerous/` on the host:\n"
    "treat its contents as untrusted. Fetch the agent's work through the project's git gate\n"
    "(a bare repository that the host controls) instead.\n"
    "\n"
    "`logs/` holds the container log captured when the task stops or is deleted.\n"
)
# the keys create writes to _meta.yml; a task whose meta has no others never ran
CREATED_KEYS = frozenset(["mode", "workspace", "web_port", "created_at", MANAGED_KEY])


class Task:
    """One task of a project as its metadata files describe it.

    ``error`` is set (and ``dossier`` / ``meta`` may be empty) when a file could not be read.
    With ``meta_path`` the ``_meta.yml`` is parsed when first needed: finding one task among
    many by name needs the dossiers only. A task that check mode predicts has no ``task_id``.
    """

    __slots__ = ("project", "task_id", "dossier", "_meta", "_meta_path", "_error", "predicted_state")

    def __init__(
        self,
        project: str,
        task_id: Optional[str],
        dossier: Optional[Dict[str, Any]] = None,
        meta: Optional[Dict[str, Any]] = None,
        error: Optional[str] = None,
        meta_path: Optional[str] = None,
    ) -> None:
        self.project = project
        self.task_id = task_id
        self.dossier = dossier or {}
        self._meta = meta if meta is not None or meta_path else {}
        self._meta_path = meta_path
        self._error = error
        # check mode only: the container state predicted for a task that has no id yet
        self.predicted_state: Optional[str] = None

    @property
    def stored_id(self) -> str:
        """The id of a task on disk; a task that check mode predicts has none (asking is an error)."""
        if self.task_id is None:
            raise TerokError(
                "task %r of project %s is only predicted (check mode): it has no id and no files"
                % (self.name, self.project)
            )
        return self.task_id

    @property
    def meta(self) -> Dict[str, Any]:
        if self._meta is None:  # __init__ was given meta_path: parsed on first use
            path, self._meta_path = self._meta_path, None
            try:
                self._meta = (read_meta(path) if path else None) or {}
            except TerokError as exc:
                self._meta, self._error = {}, exc.msg
        return self._meta

    @property
    def error(self) -> Optional[str]:
        self.meta  # pylint: disable=pointless-statement  # a malformed _meta.yml shows when parsed
        return self._error

    @property
    def name(self) -> Optional[str]:
        name = self.dossier.get("name")
        if name is None:
            name = self.meta.get("name")
        return None if name is None else str(name)

    @property
    def mode(self) -> Optional[str]:
        return self.meta.get("mode")

    @property
    def managed(self) -> bool:
        return self.meta.get(MANAGED_KEY) == MANAGED_BY

    def with_name(self, name: str) -> "Task":
        """This task renamed (other dossier keys kept)."""
        return self._copy(new_dossier(self.project, self.task_id, name, self.dossier), self.meta)

    def with_meta(self, meta: Dict[str, Any]) -> "Task":
        """This task with another ``_meta.yml`` mapping."""
        return self._copy(self.dossier, meta)

    def _copy(self, dossier: Dict[str, Any], meta: Dict[str, Any]) -> "Task":
        task = Task(self.project, self.task_id, dossier, meta)
        task.predicted_state = self.predicted_state
        return task


def new_task_meta(now: datetime.datetime) -> Dict[str, Any]:
    """The ``_meta.yml`` of a task just created (its ``workspace`` is set when the id is drawn)."""
    return {"mode": None, "workspace": None, "web_port": None, "created_at": now.isoformat(), MANAGED_KEY: MANAGED_BY}


def _listdir(path: str) -> List[str]:
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        raise TerokError("%s is not a directory" % path, path=path)
    except OSError as exc:
        raise TerokError("cannot list %s: %s" % (path, exc.strerror or exc), path=path)


def _ids_from_metadata(names: Iterable[str]) -> Set[str]:
    ids = set()
    for entry in names:
        for suffix in (DOSSIER_SUFFIX, META_SUFFIX):
            if entry.endswith(suffix):
                task_id = entry[: -len(suffix)]
                if is_task_id(task_id):
                    ids.add(task_id)
    return ids


def _is_temp(entry: str) -> bool:
    return entry.startswith(".") and entry.endswith(TEMP_SUFFIX)


def _is_skeleton(task_dir: str) -> bool:
    """Whether ``task_dir`` holds nothing but what ``create`` writes before the metadata."""
    try:
        entries = set(os.listdir(task_dir))
    except OSError:
        return False
    if not {e for e in entries if not _is_temp(e)} <= {"README.md", "workspace-dangerous"} or os.path.islink(task_dir):
        return False
    readme = os.path.join(task_dir, "README.md")
    if os.path.lexists(readme):
        with open(readme, "rb") as handle:
            if handle.read() != README_TEXT.encode("utf-8"):
                return False
    workspace = os.path.join(task_dir, "workspace-dangerous")
    if os.path.lexists(workspace):
        if os.path.islink(workspace) or not os.path.isdir(workspace):
            return False
        if not {e for e in os.listdir(workspace) if not _is_temp(e)} <= {MARKER}:
            return False
    return True


def _as_created(meta: Dict[str, Any]) -> bool:
    """Whether ``meta`` is still exactly what ``create`` writes: the task never ran."""
    return meta.get("mode") is None and not set(meta) - CREATED_KEYS


class ProjectTasks:
    """The tasks of one project, read once; also the ids that a new task must not take."""

    def __init__(self, layout: Layout, project: str) -> None:
        self.layout = layout
        self.project = project
        self.tasks: Dict[str, Task] = {}
        self.taken: Set[str] = set()
        self._names: Optional[Dict[Optional[str], Set[str]]] = None  # name -> ids, built on the first lookup
        self._dirs_made = False  # whether this run made sure the project's two directories exist
        # ids of creates that a kill stopped between _meta.yml and the dossier (see sweep_incomplete)
        self.incomplete: Set[str] = set()

    # Reading -------------------------------------------------------------------------------
    def load(self) -> "ProjectTasks":
        """Scan the project's metadata directory and tasks root; read every task's dossier."""
        meta_dir = self.layout.meta_dir(self.project)
        if os.path.islink(meta_dir):
            raise TerokError("%s is a symbolic link; refusing to read tasks through it" % meta_dir, path=meta_dir)
        ids = _ids_from_metadata(_listdir(meta_dir))
        self.taken = set(ids)
        self.taken.update(entry for entry in _listdir(self.layout.tasks_root(self.project)) if is_task_id(entry))
        self.tasks = {}
        self._names = None
        self.incomplete = set()
        for task_id in sorted(ids):
            task = self.read(task_id)
            if task is None:  # its files went between the listing and the reading
                continue
            if self._unfinished(task):
                self.incomplete.add(task_id)
                continue
            self.tasks[task_id] = task
        return self

    def _unfinished(self, task: Task) -> bool:
        """A create this collection began and did not finish: its ``_meta.yml`` and no dossier.

        The create writes the dossier last, so until then the task is not one; terok's own
        tasks (no ``managed_by``) and half-deleted ones (``deleting``) are never taken for it.
        """
        if task.dossier or os.path.lexists(self.layout.dossier_path(self.project, task.stored_id)):
            return False  # the common case, decided without parsing the _meta.yml
        return not task.error and task.managed and not task.meta.get("deleting")

    def read(self, task_id: str) -> Optional[Task]:
        """Read one task's dossier (its ``_meta.yml`` when needed); None when it has neither file.

        A malformed file gives a Task with ``error`` set.
        """
        meta_path = self.layout.meta_path(self.project, task_id)
        try:
            dossier = read_dossier(self.layout.dossier_path(self.project, task_id))
        except TerokError as exc:
            return Task(self.project, task_id, error=exc.msg)
        if dossier is None and not os.path.lexists(meta_path):
            return None
        return Task(self.project, task_id, dossier, meta_path=meta_path)

    def by_name(self, name: Optional[str]) -> List[Task]:
        """The tasks that carry ``name``, by id."""
        if self._names is None:
            self._names = {}
            for task_id, task in self.tasks.items():
                self._names.setdefault(task.name, set()).add(task_id)
        return [self.tasks[task_id] for task_id in sorted(self._names.get(name, ()))]

    def read_work_status(self, task: Task) -> Optional[Dict[str, Any]]:
        """The agent's ``agent-config/work-status.yml`` mapping, or None when absent or unreadable."""
        try:
            path = self.layout.work_status_file(task.project, task.stored_id)
        except TerokError:  # a symlink on the way out of the state root
            return None
        return read_work_status(path)

    def file_state(self, task: Task) -> Dict[str, Any]:
        """What of the task's own files is there: the workspace's mode (None: missing; ``symlink``: a
        symbolic link, never followed) and the README."""
        workspace = self.layout.workspace(task.project, task.stored_id, guard=False)
        self.layout.guard(os.path.dirname(workspace))
        try:
            st = os.lstat(workspace)
            mode = "%04o" % stat.S_IMODE(st.st_mode) if stat.S_ISDIR(st.st_mode) else None
            if stat.S_ISLNK(st.st_mode):
                mode = "symlink"
        except FileNotFoundError:
            mode = None
        readme = os.path.lexists(os.path.join(self.layout.task_dir(task.project, task.stored_id), "README.md"))
        return {"workspace_mode": mode, "readme": readme}

    # The in-memory model -------------------------------------------------------------------
    def _put(self, task_id: str, task: Optional[Task]) -> Optional[Task]:
        """Replace (or with None drop) one task, keeping the name index right."""
        old = self.tasks.pop(task_id, None)
        if self._names is not None and old is not None:
            self._names.get(old.name, set()).discard(task_id)
        if task is not None:
            self.tasks[task_id] = task
            self.taken.add(task_id)
            if self._names is not None:
                self._names.setdefault(task.name, set()).add(task_id)
        return task

    def add(self, task: Task) -> Task:
        """Record a task as this run wrote it or would write it (nothing is read back)."""
        if task.task_id is not None:
            self._put(task.task_id, task)
        return task

    def drop(self, task_id: str) -> None:
        """Forget a task that this run removed or would remove."""
        self._put(task_id, None)

    def refresh(self, task_id: str) -> Optional[Task]:
        """Read one task again from disk."""
        return self._put(task_id, self.read(task_id))

    # Writing -------------------------------------------------------------------------------
    def create(self, name: str, meta: Dict[str, Any]) -> Task:
        """Make a new task: task dir, workspace (0700) with marker, README, then the metadata.

        The dossier is written last: it is what makes the task one (see ``sweep_incomplete``).
        """
        layout, project = self.layout, self.project
        task_id = new_task_id(self.taken)
        task_dir = layout.task_dir(project, task_id)
        meta = dict(meta, workspace=task_dir)
        written: List[str] = []
        try:
            if not self._dirs_made:
                make_dirs(layout.tasks_root(project))
                make_dirs(layout.meta_dir(project))
                self._dirs_made = True
            os.mkdir(task_dir, 0o755)
            written.append(task_dir)
            os.chmod(task_dir, 0o755)
            workspace = layout.workspace(project, task_id)
            os.mkdir(workspace, 0o700)
            os.chmod(workspace, 0o700)
            # whole after a kill; the metadata written next (synced) is what makes the task
            atomic_write(os.path.join(workspace, MARKER), MARKER_TEXT.encode("utf-8"), sync=False)
            atomic_write(os.path.join(task_dir, "README.md"), README_TEXT.encode("utf-8"), sync=False)
            written.append(layout.meta_path(project, task_id))
            write_meta(written[-1], meta)
            written.append(layout.dossier_path(project, task_id))
            dossier = write_dossier(written[-1], project, task_id, name)
        except (OSError, TerokError) as exc:
            for path in reversed(written):
                try:
                    remove_tree(path)
                except OSError:
                    pass
            detail = exc.msg if isinstance(exc, TerokError) else "%s: %s" % (getattr(exc, "filename", ""), exc.strerror)
            raise TerokError(
                "cannot create task %r in project %s: %s" % (name, project, detail),
                path=getattr(exc, "filename", None) or getattr(exc, "path", None),
            )
        return self.add(Task(project, task_id, dossier, meta))

    def repair_files(self, task: Task, state: Dict[str, Any]) -> None:
        """Make the task's files what create makes, from ``state`` (see file_state): a missing workspace
        again (0700, with the marker, so the next start clones afresh), its mode 0700, the README."""
        layout = self.layout
        task_dir = layout.task_dir(task.project, task.stored_id)
        workspace = layout.workspace(task.project, task.stored_id)
        if state["workspace_mode"] is None:
            make_dirs(task_dir)
            os.mkdir(workspace, 0o700)
            atomic_write(os.path.join(workspace, MARKER), MARKER_TEXT.encode("utf-8"))
        os.chmod(workspace, 0o700)
        if not state["readme"]:
            atomic_write(os.path.join(task_dir, "README.md"), README_TEXT.encode("utf-8"))

    def write_name(self, task: Task, name: str) -> None:
        """Rewrite the dossier with another name (terok's other dossier keys kept)."""
        path = self.layout.dossier_path(task.project, task.stored_id)
        try:
            write_dossier(path, task.project, task.stored_id, name, existing=task.dossier)
        except OSError as exc:
            raise TerokError("cannot rename task %s: %s: %s" % (task.task_id, path, exc.strerror), path=path)

    def write_meta(self, task: Task, meta: Dict[str, Any]) -> None:
        """Replace the task's ``_meta.yml`` with ``meta``."""
        path = self.layout.meta_path(task.project, task.stored_id)
        try:
            write_meta(path, meta)
        except OSError as exc:
            raise TerokError("cannot write %s: %s" % (path, exc.strerror or exc), path=path)

    def save_log(self, task: Task, text: str) -> None:
        """Write ``logs/container.log`` (mode 0640)."""
        path = self.layout.log_file(task.project, task.stored_id)
        make_dirs(os.path.dirname(path))
        atomic_write(path, text.encode("utf-8", "surrogateescape"), 0o640)

    def remove_task_dir(self, task: Task) -> None:
        """Remove the task directory (workspace, logs, agent config); raise when it resists."""
        remove_tree(self.layout.task_dir(task.project, task.stored_id))

    def remove_metadata(self, task: Task) -> List[str]:
        """Remove the dossier and ``_meta.yml``; return a message for each that could not go."""
        failures = []
        for path in (
            self.layout.dossier_path(task.project, task.stored_id),
            self.layout.meta_path(task.project, task.stored_id),
        ):
            try:
                remove_file(path)
            except OSError as exc:
                failures.append("metadata removal failed for %s: %s" % (path, exc.strerror))
        return failures

    def sweep_incomplete(self, warn: Callable[[str], None]) -> None:
        """Remove what a create killed before its dossier left: skeleton task directories without
        metadata, and collection-made ``_meta.yml`` files without a dossier. Call under the lock.

        Only what the create itself writes goes; a task that has more (it ran, or its workspace
        holds work) and lost its dossier is left alone with a warning.
        """
        layout, project = self.layout, self.project
        for task_id in sorted(self.incomplete):
            task = self.read(task_id)
            task_dir = layout.task_dir(project, task_id)
            if task is None or not _as_created(task.meta) or (os.path.lexists(task_dir) and not _is_skeleton(task_dir)):
                warn(
                    "task %s of project %s has a _meta.yml but no dossier, and holds more than a new task; "
                    "left as it is" % (task_id, project)
                )
                continue
            for path in (layout.meta_path(project, task_id), task_dir):
                try:
                    remove_tree(path)
                except OSError:
                    pass
            self.taken.discard(task_id)
        try:
            entries = os.listdir(layout.tasks_root(project))
        except OSError:
            return
        for entry in sorted(entries):
            if not is_task_id(entry) or entry in self.tasks or entry in self.incomplete:
                continue
            if os.path.lexists(layout.meta_path(project, entry)) or os.path.lexists(layout.dossier_path(project, entry)):
                continue
            task_dir = layout.task_dir(project, entry)
            if _is_skeleton(task_dir):
                try:
                    remove_tree(task_dir)
                except OSError:
                    pass


def read_work_status(path: str) -> Optional[Dict[str, Any]]:
    """The agent's ``work-status.yml`` at ``path`` as a mapping, or None when absent or unreadable."""
    if not os.path.isfile(path) or os.path.islink(path):
        return None
    try:
        value = read_meta(path, untrusted=True)
    except TerokError:
        return None
    return plain(value) if isinstance(value, dict) else None


def list_projects(layout: Layout) -> List[str]:
    """Project names that have a task metadata directory, sorted."""
    projects = []
    for entry in _listdir(layout.projects_dir()):
        if PROJECT_RE.fullmatch(entry) and entry not in RESERVED_PROJECTS:
            if os.path.isdir(os.path.join(layout.projects_dir(), entry, "tasks")):
                projects.append(entry)
    return sorted(projects)
