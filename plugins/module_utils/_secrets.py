# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to terok.lifecycle: not a public API, it may change in any release.
"""Secrets of a task's container: their podman names and the per-host key that hashes them.

``secret_env`` values reach a container as podman secrets, mounted under ``/run/secrets/``
and exported by the init script, so they are on no command line and in no environment that
``podman inspect`` shows. The container options hash covers them through an HMAC whose key is
drawn once per host and kept 0600 under the state root, so the hash, which is a container
label anyone on the host can read, does not let a weak secret be guessed offline.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile

from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._fileio import TEMP_SUFFIX, make_dirs, remove_file
from ansible_collections.terok.lifecycle.plugins.module_utils._metadata import read_regular

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Dict, Mapping, Optional

KEY_FILE = ".terok-lifecycle-secrets.key"
KEY_BYTES = 32
# the env variable that tells the init script which /run/secrets files to export
SECRET_ENV_VAR = "TEROK_SECRET_ENV"
SECRETS_LABEL = "io.terok.lifecycle.secrets"
# every secret the collection makes starts with this, then a hash of its task (task_prefix)
SECRET_PREFIX = "tl-"
NAME_MAX = 64  # the longest secret name podman takes


def task_prefix(root: str, project: str, task_id: str) -> str:
    """What the names of the task's secrets start with: ``tl-`` and 12 hex digits of a hash of the task
    (state root, project, id), so that any secret of the task, an orphan included, is found by name alone."""
    task = "\0".join((root, project, task_id)).encode("utf-8", "surrogateescape")
    return "%s%s-" % (SECRET_PREFIX, hashlib.sha256(task).hexdigest()[:12])


def secret_name(prefix: str, variable: str) -> str:
    """The podman secret that carries ``variable`` for the task of ``prefix``: the prefix and the
    variable, within podman's 64 characters (a longer variable is cut and ends in a hash of itself)."""
    name = prefix + variable
    if len(name) <= NAME_MAX:
        return name
    return "%s-%s" % (name[:NAME_MAX - 13], hashlib.sha256(variable.encode("utf-8")).hexdigest()[:12])


def legacy_secret_name(container: str, variable: str) -> str:
    """How earlier versions of the collection named the secret of ``variable`` for ``container`` (kept to remove them)."""
    return "%s-%s" % (container, variable)


def key_path(root: str) -> str:
    """Where the host's key lives: the state root itself, beside its trees."""
    return os.path.join(root, KEY_FILE)


def load_key(root: str, create: bool) -> bytes:
    """The host's key; drawn and written (0600, atomically, first writer wins) when missing and ``create``.

    A key file of another size than 32 bytes (an older version left an empty one when the disk
    was full) hashed nothing that a container carries: it is replaced. Without ``create``
    (check mode) a missing key is a fresh one that is not kept: no hash made with it matches a
    container's, which is the truth, since the real run would draw a new key.
    """
    path = key_path(root)
    data = read_regular(path)
    if data is not None and len(data) == KEY_BYTES:
        return data
    key = secrets.token_bytes(KEY_BYTES)
    if not create:
        return key
    make_dirs(root)
    temp = None
    try:
        fd, temp = tempfile.mkstemp(prefix="." + KEY_FILE + ".", suffix=TEMP_SUFFIX, dir=root)
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(key)
            handle.flush()
            os.fsync(handle.fileno())
        if data is None:
            os.link(temp, path)  # fails when another run drew its key meanwhile: first writer wins
        else:
            os.rename(temp, path)
    except FileExistsError:
        return load_key(root, create=False)
    except OSError as exc:
        raise TerokError("cannot write %s: %s" % (path, exc.strerror or exc), path=path)
    finally:
        if temp is not None:
            remove_file(temp)
    return key


def secrets_digest(key: Optional[bytes], values: Mapping[str, str]) -> Optional[Dict[str, str]]:
    """HMAC-SHA256 of each secret value under ``key``, by variable; None without secrets."""
    if not values:
        return None
    if key is None:
        raise TerokError("the host's secrets key is needed to hash secret_env")
    return {name: hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest() for name, value in sorted(values.items())}
