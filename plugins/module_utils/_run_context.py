# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to terok.lifecycle: not a public API, it may change in any release.
"""What one module run shares: the gate where check mode stops writes, warnings, and for the task
modules the layout, podman and the container listing."""

from __future__ import annotations

import contextlib
import datetime
import os
import signal
import threading

from ansible_collections.terok.lifecycle.plugins.module_utils._container_spec import label_confinement
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._paths import Layout
from ansible_collections.terok.lifecycle.plugins.module_utils._podman import Container, Podman, PodmanError, sweep_env_dirs
from ansible_collections.terok.lifecycle.plugins.module_utils._secrets import load_key

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Any, Dict, Iterator, List, Optional, Sequence, Set

UNKNOWN_STATES = "container states are unknown"
# the confinement options that are cgroup resource limits, in the order a warning names them
LIMITS = ("pids_limit", "memory", "cpus")


# where the cgroups hierarchy is mounted; unified (v2) when it has this file at its top
CGROUP_ROOT = "/sys/fs/cgroup"


def host_facts(cgroup_root: str = CGROUP_ROOT) -> Dict[str, Any]:
    """Whether podman runs rootless here and the cgroups version, read without asking podman (a
    ``podman info`` costs a quarter of a second): ``rootless`` when this process is not root, as
    terok decides it (podman runs as the module's user); ``cgroups`` ``v2`` when the hierarchy at
    ``cgroup_root`` is the unified one (it has ``cgroup.controllers``), else ``v1`` (podman's rule)."""
    return {
        "rootless": os.geteuid() != 0,
        "cgroups": "v2" if os.path.exists(os.path.join(cgroup_root, "cgroup.controllers")) else "v1",
    }


# the signals that end a run cleanly (``RunContext.interruptible``)
INTERRUPTS = (signal.SIGTERM, signal.SIGINT)


class RunInterrupted(TerokError):
    """SIGTERM or SIGINT came during the run: its podman calls were killed and nothing more was written."""


class RunGate:
    """**Where check mode stops writes**, for every module: ``writing`` yields whether I/O may happen
    and counts the change once the block ended well (a write that fails changed nothing); in check
    mode it only counts, so a run predicts with the very code that acts. Also the run's warnings."""

    def __init__(self, check_mode: bool = False) -> None:
        self.check_mode = check_mode
        self.warnings: List[str] = []
        self.changes = 0
        self._counting = threading.Lock()

    @property
    def changed(self) -> bool:
        """Whether this run changed anything yet: a failure after a change still reports it."""
        return self.changes > 0

    def count(self, amount: int) -> None:
        """Count ``amount`` changes (a negative one takes back changes that were undone)."""
        with self._counting:
            self.changes += amount

    @contextlib.contextmanager
    def writing(self) -> Iterator[bool]:
        """The gate: yield whether I/O may happen; count the change when the block ends well."""
        yield not self.check_mode
        self.count(1)

    @property
    def acting(self) -> bool:
        """Whether the run acts (False in check mode, which predicts): the gate for steps that are no
        change of their own, so ``writing`` does not count them: a lock file made, what a killed run
        left swept away, the secrets key drawn, the project lock let go for a wait, podman asked
        about a container it makes."""
        return not self.check_mode

    def warn(self, message: str) -> None:
        """Add a warning for the module result, once."""
        if message not in self.warnings:
            self.warnings.append(message)


class RunContext(RunGate):
    """Shared by every task session of one module run.

    The container listing is taken once and reused; when podman is missing or fails it is
    empty and a warning says so, unless the caller needs it. ``changes`` counts what the
    run's sessions changed (or, in check mode, would change).
    """

    def __init__(self, layout: Layout, podman: Podman, check_mode: bool = False, lock_timeout: float = 30.0) -> None:
        super().__init__(check_mode)
        self.layout = layout
        self.podman = podman
        self.lock_timeout = lock_timeout
        self._containers: Optional[Dict[str, Container]] = None
        self.listing_ok = False
        self._secrets_key: Optional[bytes] = None
        self._host: Optional[Dict[str, Any]] = None
        self._image_ids: Optional[Dict[str, str]] = None
        self._secret_names: Optional[Set[str]] = None
        self._env_swept = False
        self.interrupted: Optional[str] = None  # the signal that interrupted the run, by name

    # Interruption ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """SIGTERM and SIGINT end the run cleanly while the block runs: ``interrupt`` kills podman's
        processes, every write and every retaking of a lock checks ``check_interrupted`` first,
        and the block ends with RunInterrupted (whatever else was raised meanwhile). Handlers are
        installed from the main thread only (elsewhere the block just runs).
        """
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {number: signal.getsignal(number) for number in INTERRUPTS}
        for number in INTERRUPTS:
            signal.signal(number, self._on_signal)
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
            self.check_interrupted()

    def _on_signal(self, number: int, _frame: Any) -> None:
        self.interrupt(signal.Signals(number).name)

    def interrupt(self, name: str) -> None:
        """End the run: kill the podman processes running; what follows only unwinds (``check_interrupted``)."""
        self.interrupted = self.interrupted or name
        self.podman.runner.kill_all()

    def check_interrupted(self) -> None:
        """Raise RunInterrupted when the run was interrupted: called before every write and lock."""
        if self.interrupted:
            raise RunInterrupted(
                "the run was interrupted by %s: its podman calls were killed and nothing more was written; "
                "run it again to converge" % self.interrupted
            )

    def forget_containers(self) -> None:
        """Drop the listing: the next ``containers()`` asks podman again (after a wait, another
        run may have changed any container)."""
        self._containers = None
        self.listing_ok = False
        self._secret_names = None

    def containers(self, required: bool = False) -> Dict[str, Container]:
        """Every container by name, listed once per run and again after ``forget_containers``.

        When podman is missing or fails: raise with ``required``, else warn and return {}.
        """
        if self._containers is None or (required and not self.listing_ok):
            try:
                self._containers = self.podman.list_containers()
                self._count_restarts(self._containers)
                self.listing_ok = True
                self.warnings = [w for w in self.warnings if not w.startswith(UNKNOWN_STATES)]
            except PodmanError as exc:
                if required:
                    raise
                self.warn("%s: %s" % (UNKNOWN_STATES, exc.msg))
                self._containers = {}
        return self._containers

    def _count_restarts(self, containers: Dict[str, Container]) -> None:
        """Each container's ``restart_count``: asked of podman (one ``podman container inspect``) for those this
        collection made with a restart policy; 0 for those it made without one (podman restarts no other); None
        (not known) for a container it did not make, or when podman cannot tell (a warning says so)."""
        asked: List[str] = []
        for name, container in containers.items():
            confinement = label_confinement(container.labels)
            if confinement is None:
                continue
            if confinement.get("restart_policy") in (None, "no"):
                container.restart_count = 0
            else:
                asked.append(name)
        try:
            counts = self.podman.restart_counts(asked)
        except PodmanError as exc:
            self.warn("restart counts are unknown: %s" % exc.msg)
            return
        for name, count in counts.items():
            containers[name].restart_count = count

    def note_container(
        self,
        name: str,
        state: Optional[str],
        labels: Optional[Dict[str, str]] = None,
        exit_code: Optional[int] = None,
        container_id: Optional[str] = None,
        image: Optional[str] = None,
        image_id: Optional[str] = None,
        started: bool = False,
    ) -> None:
        """Record what a podman call did (or would do) to a container, so no second listing is needed.

        ``labels``, ``container_id``, ``image`` and ``image_id``: those of a container just made;
        without ``labels`` it is the one listed, which keeps its own.
        """
        containers = self.containers()
        if state is None:
            containers.pop(name, None)
        else:
            old = containers.get(name) if labels is None else None
            containers[name] = Container(
                name,
                state,
                exit_code,
                labels if labels is not None else (old.labels if old else {}),
                container_id or (old.id if old else None),
                image or (old.image if old else None),
                exited_at=self.now().timestamp() if state == "exited" else None,
                image_id=image_id or (old.image_id if old else None),
                # a new container, or one podman start just started (``started``), has not been restarted:
                # podman counts from its last start; a stop or an unpause keeps the count
                restart_count=0 if labels is not None or started else (old.restart_count if old else None),
            )

    def secret_names(self) -> Set[str]:
        """The names of the podman secrets, from one ``podman secret ls`` per run, asked again after
        ``forget_containers`` and kept up to date by ``note_secrets``; empty, with a warning, if podman fails."""
        if self._secret_names is None:
            try:
                self._secret_names = set(self.podman.secret_names())
            except PodmanError as exc:
                self.warn("the podman secrets are unknown, so no secret left by an earlier run is removed: %s" % exc.msg)
                self._secret_names = set()
        return self._secret_names

    def note_secrets(self, removed: Sequence[str] = (), made: Sequence[str] = ()) -> None:
        """Record what a step did to the podman secrets, so that no second listing is needed."""
        if self._secret_names is not None:
            self._secret_names.difference_update(removed)
            self._secret_names.update(made)

    def sweep_env_dirs(self) -> None:
        """Once per run: remove the env-file directories that killed runs left (``_podman.sweep_env_dirs``)."""
        if not self._env_swept:
            self._env_swept = True
            sweep_env_dirs()

    def secrets_key(self) -> bytes:
        """The host's key for hashing secrets, read once (drawn and kept when missing, outside check mode)."""
        if self._secrets_key is None:
            self._secrets_key = load_key(self.layout.root, create=self.acting)
        return self._secrets_key

    def image_ids(self) -> Dict[str, str]:
        """Image name -> the id it points at now, listed once per run when needed; {} with a warning if podman fails."""
        if self._image_ids is None:
            try:
                self._image_ids = self.podman.image_ids()
            except PodmanError as exc:
                self.warn("image ids are unknown: %s" % exc.msg)
                self._image_ids = {}
        return self._image_ids

    def host(self) -> Dict[str, Any]:
        """Whether podman runs rootless here and the cgroups version (``host_facts``), read once per run."""
        if self._host is None:
            self._host = host_facts()
        return self._host

    def rootless(self) -> bool:
        """Whether podman runs rootless, so that the default user namespace follows it."""
        return bool(self.host()["rootless"])

    def warn_unenforced_limits(self, confinement: Dict[str, Any]) -> None:
        """Warn when a container made with resource limits runs where podman ignores them.

        Rootless podman on cgroups v1 enforces no ``--pids-limit``, ``--memory`` or ``--cpus``
        (it says "Resource limits are not supported and ignored on cgroups V1 rootless
        systems" and makes the container without them). ``confinement`` is what the container
        was made with. Called when a container was really made, so never in check mode. One
        warning per set of limits, however many containers share it.
        """
        asked = [(key, confinement[key]) for key in LIMITS if confinement.get(key) not in (None, 0, -1)]
        if not asked:
            return
        host = self.host()
        if host["rootless"] and host["cgroups"] == "v1":
            self.warn(
                "rootless podman on cgroups v1 ignores resource limits: %s not enforced for the containers "
                "made here (cgroups v2 enforces them)" % ", ".join("%s %s" % item for item in asked)
            )

    def now(self) -> datetime.datetime:
        """The current time in UTC."""
        return datetime.datetime.now(datetime.timezone.utc)
