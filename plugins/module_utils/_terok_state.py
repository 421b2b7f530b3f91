# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to terok.lifecycle: not a public API, it may change in any release.
"""What terok keeps of a task outside its own files, and removes when it deletes the task.

terok 0.9.1's ``terok task delete`` (``terok/lib/orchestration/tasks/lifecycle.py``), once the task's
containers are gone, removes for every mode's container name terok-sandbox's sidecar
``<sandbox state dir>/sidecar/<container>.json`` and the runtime directory
``<sandbox runtime dir>/run/<container>/`` (``terok_sandbox.launch.remove_container_state``), and
releases the task's web port ``web:<project>/<task id>`` in the shared port registry
(``terok_sandbox/port_registry.py``: one JSON mapping ``{claim: port}`` per user,
``<registry dir>/<user name>.json``, rewritten whole through a temp file and a rename; no file lock).
terok claims that port when it starts a ``web`` or ``toad`` task, refusing one that another
user's claim file holds (``PortRegistry.claim``); the collection claims it the same way.
Where these live: ``_paths.Layout`` (``sandbox_state_dir``, ``sandbox_runtime_dir``, ``port_registry_dir``).

Nothing here follows a symbolic link, and nothing but those exact names is touched.
"""

from __future__ import annotations

import json
import os
import pwd
import stat

from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._fileio import atomic_write, remove_tree
from ansible_collections.terok.lifecycle.plugins.module_utils._paths import Layout, check_component

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Dict, List, Optional, Sequence

# terok-sandbox skips a claim file larger than this (``_MAX_CLAIM_FILE_BYTES``), and reads at most this many
# other users' files (``_MAX_CLAIM_FILES``)
CLAIM_FILE_MAX = 16384
CLAIM_FILES_MAX = 256


def web_port_claim(project: str, task_id: str) -> str:
    """The port registry's key for a task's web port (terok's ``assign_web_port``)."""
    return "web:%s/%s" % (project, task_id)


def container_files(layout: Layout, containers: Sequence[str]) -> List[str]:
    """The sidecar files and runtime directories of ``containers`` that are there (as links or not)."""
    found: List[str] = []
    for container in containers:
        check_component(container, "container name")
        candidates = []
        if layout.sandbox_state_dir:
            candidates.append(os.path.join(layout.sandbox_state_dir, "sidecar", container + ".json"))
        if layout.sandbox_runtime_dir:
            candidates.append(os.path.join(layout.sandbox_runtime_dir, "run", container))
        found.extend(path for path in candidates if os.path.lexists(path))
    return found


def remove_container_files(paths: Sequence[str]) -> List[str]:
    """Remove what ``container_files`` found (a link as a link); return what failed, as warnings."""
    failures: List[str] = []
    for path in paths:
        try:
            remove_tree(path)
        except OSError as exc:
            failures.append("could not remove terok's per-container state %s: %s" % (path, exc.strerror or exc))
    return failures


def claim_file(layout: Layout, user: Optional[str] = None) -> Optional[str]:
    """The port registry's claim file of ``user`` (default: the effective user, as terok names it)."""
    if not layout.port_registry_dir:
        return None
    user = user if user is not None else pwd.getpwuid(os.geteuid()).pw_name
    return os.path.join(layout.port_registry_dir, check_component(user, "user name") + ".json")


def _read_claims(path: str) -> Optional[Dict[str, object]]:
    """The claims in ``path``; None when there is none to change (missing, not a regular file, too large or
    not a JSON mapping: terok skips such a file too)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size > CLAIM_FILE_MAX:
        return None
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(CLAIM_FILE_MAX + 1)
    try:
        claims = json.loads(data.decode("utf-8"))
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


def claimed_web_port(layout: Layout, project: str, task_id: str) -> Optional[object]:
    """The web port the task holds in the user's claim file, or None."""
    path = claim_file(layout)
    claims = _read_claims(path) if path else None
    return claims.get(web_port_claim(project, task_id)) if claims else None


def release_web_port(layout: Layout, project: str, task_id: str) -> bool:
    """Drop the task's web-port claim from the user's claim file, the others kept; whether one was dropped.

    Raise TerokError (naming the file) when the file cannot be rewritten.
    """
    path = claim_file(layout)
    if path is None:
        return False
    key = web_port_claim(project, task_id)
    try:
        claims = _read_claims(path)
        if not claims or key not in claims:
            return False
        del claims[key]
        atomic_write(path, json.dumps(claims).encode("utf-8"), mode=0o600)
    except OSError as exc:
        raise TerokError("could not release the web port of task %s in terok's port registry %s: %s"
                         % (task_id, path, exc.strerror or exc), path=path)
    return True


def port_holder(layout: Layout, port: int) -> Optional[str]:
    """The other user whose claim file in terok's port registry holds ``port``, or None.

    As terok-sandbox reads them: every ``<user>.json`` but the effective user's own, regular files
    only, at most ``CLAIM_FILES_MAX`` of them; a file that cannot be read or parsed is passed over.
    """
    own = claim_file(layout)
    if own is None:
        return None
    registry = os.path.dirname(own)
    try:
        names = sorted(name for name in os.listdir(registry) if name.endswith(".json"))
    except OSError:
        return None
    for name in [name for name in names if name != os.path.basename(own)][:CLAIM_FILES_MAX]:
        try:
            claims = _read_claims(os.path.join(registry, name))
        except OSError:
            continue
        if claims and port in [value for value in claims.values() if isinstance(value, int)]:
            return name[:-len(".json")]
    return None


def claim_web_port(layout: Layout, project: str, task_id: str, port: int) -> None:
    """Record the task's web port in the user's claim file, the other claims kept.

    The registry directory is made as terok-sandbox makes it (sticky, writable by all) when it is
    missing; a symbolic link there is refused. Raise TerokError (naming the file) on failure.
    """
    path = claim_file(layout)
    if path is None:
        return
    registry = os.path.dirname(path)
    try:
        if os.path.islink(registry):
            raise TerokError("terok's port registry %s is a symbolic link: refused, as terok refuses it" % registry,
                             path=registry)
        if not os.path.isdir(registry):
            os.mkdir(registry)
            os.chmod(registry, 0o1777)  # nosec B103: terok's shared registry, made as terok makes it
        claims = _read_claims(path) or {}
        claims[web_port_claim(project, task_id)] = port
        atomic_write(path, json.dumps(claims).encode("utf-8"), mode=0o600)
    except OSError as exc:
        raise TerokError("could not claim the web port %d of task %s in terok's port registry %s: %s"
                         % (port, task_id, path, exc.strerror or exc), path=path)
