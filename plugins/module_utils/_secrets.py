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

import errno
import hashlib
import hmac
import os
import secrets

from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._fileio import make_dirs
from ansible_collections.terok.lifecycle.plugins.module_utils._metadata import read_regular

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Dict, Mapping, Optional

KEY_FILE = ".terok-lifecycle-secrets.key"
KEY_BYTES = 32
# the env variable that tells the init script which /run/secrets files to export
SECRET_ENV_VAR = "TEROK_SECRET_ENV"
SECRETS_LABEL = "io.terok.lifecycle.secrets"


def secret_name(container: str, variable: str) -> str:
    """The podman secret that carries ``variable`` for ``container``."""
    return "%s-%s" % (container, variable)


def key_path(root: str) -> str:
    """Where the host's key lives: the state root itself, beside its trees."""
    return os.path.join(root, KEY_FILE)


def load_key(root: str, create: bool) -> bytes:
    """The host's key; drawn and written (0600, atomically, first writer wins) when missing and ``create``.

    Without ``create`` (check mode) a missing key is a fresh one that is not kept: no hash made
    with it matches a container's, which is the truth, since the real run would draw a new key.
    """
    path = key_path(root)
    data = read_regular(path)
    if data is not None and len(data) == KEY_BYTES:
        return data
    if data is not None:
        raise TerokError("%s is not a key of %d bytes; remove it to draw a new one" % (path, KEY_BYTES), path=path)
    key = secrets.token_bytes(KEY_BYTES)
    if not create:
        return key
    make_dirs(root)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as exc:
        if exc.errno == errno.EEXIST:  # another run drew it meanwhile
            return load_key(root, create=False)
        raise TerokError("cannot write %s: %s" % (path, exc.strerror or exc), path=path)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
        handle.flush()
        os.fsync(handle.fileno())
    return key


def secrets_digest(key: Optional[bytes], values: Mapping[str, str]) -> Optional[Dict[str, str]]:
    """HMAC-SHA256 of each secret value under ``key``, by variable; None without secrets."""
    if not values:
        return None
    if key is None:
        raise TerokError("the host's secrets key is needed to hash secret_env")
    return {name: hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest() for name, value in sorted(values.items())}
