# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to terok.lifecycle: not a public API, it may change in any release.
"""terok's two task metadata files: ``<id>_dossier.json`` and ``<id>_meta.yml``."""

from __future__ import annotations

import errno
import json
import os
import stat
import traceback

from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._fileio import atomic_write

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Any, Dict, Optional

try:
    import yaml

    HAS_YAML = True
    YAML_IMPORT_ERROR = None
    _Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    _Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    class _NoAliasLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        """For files an agent writes: no aliases, so no exponential 'billion laughs' document."""

        def compose_node(self, parent: Optional[yaml.Node], index: int) -> Optional[yaml.Node]:
            if self.check_event(yaml.events.AliasEvent):
                raise yaml.YAMLError("YAML aliases are not accepted here")
            return super().compose_node(parent, index)

except ImportError:
    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()

MANAGED_BY = "terok.lifecycle"
MANAGED_KEY = "managed_by"
# What a metadata file may hold at the most; anything larger is not terok's.
MAX_BYTES = 1024 * 1024


def load_yaml(data: Any, untrusted: bool = False) -> Any:
    """Parse YAML text or bytes with the safe loader (``untrusted``: and no aliases)."""
    return yaml.load(data, Loader=_NoAliasLoader if untrusted else _Loader)


def dump_yaml(data: Any) -> str:
    """YAML text of ``data`` in block style, keys in their order."""
    return yaml.dump(data, Dumper=_Dumper, default_flow_style=False, sort_keys=False, allow_unicode=True)


def read_regular(path: str) -> Optional[bytes]:
    """The bytes of the regular file ``path`` (not through a symlink, never a FIFO); None if missing."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise TerokError("%s is a symbolic link; refusing to read through it" % path, path=path)
        raise TerokError("cannot read %s: %s" % (path, exc.strerror or exc), path=path)
    handle = None  # once set, it owns fd
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise TerokError("%s is not a regular file" % path, path=path)
        handle = os.fdopen(fd, "rb")
        with handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise TerokError("cannot read %s: %s" % (path, exc.strerror or exc), path=path)
    finally:
        if handle is None:
            os.close(fd)
    return data


def _read(path: str) -> Optional[bytes]:
    """Return the bytes of ``path``, or None when there is no such file."""
    data = read_regular(path)
    if data is None:
        return None
    if len(data) > MAX_BYTES:
        raise TerokError("%s is larger than %d bytes; not a terok metadata file" % (path, MAX_BYTES), path=path)
    return data


def read_dossier(path: str) -> Optional[Dict[str, Any]]:
    """The dossier mapping, or None when the file is missing; raise on a malformed one."""
    data = _read(path)
    if data is None:
        return None
    try:
        text = data.decode("utf-8")
        value = json.loads(text) if text.strip() else {}  # terok reads an empty dossier as {}
    except ValueError as exc:
        raise TerokError("%s is not valid JSON: %s" % (path, exc), path=path)
    if not isinstance(value, dict):
        raise TerokError("%s does not hold a JSON object" % path, path=path)
    return value


def read_meta(path: str, untrusted: bool = False) -> Optional[Dict[str, Any]]:
    """The ``_meta.yml`` mapping, or None when the file is missing; raise on a malformed one.

    An empty file reads as an empty mapping, as terok reads it. ``untrusted`` for files that
    an agent writes (no YAML aliases).
    """
    data = _read(path)
    if data is None:
        return None
    try:
        value = load_yaml(data, untrusted)
    except yaml.YAMLError as exc:
        raise TerokError("%s is not valid YAML: %s" % (path, str(exc).replace("\n", " ")), path=path)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TerokError("%s does not hold a YAML mapping" % path, path=path)
    return value


def new_dossier(
    project: str, task_id: Optional[str], name: Optional[str], existing: Optional[Dict[str, Any]] = None
) -> Dict[str, Any]:
    """The dossier mapping: terok's three keys first, any other keys of ``existing`` after them."""
    dossier = {"project": project, "task": task_id, "name": name}
    for key, value in (existing or {}).items():
        if key not in dossier:
            dossier[key] = value
    return dossier


def dossier_bytes(project: str, task_id: str, name: Optional[str], existing: Optional[Dict[str, Any]] = None) -> bytes:
    """The dossier text, as terok writes it (``json.dumps`` with indent 2 and a newline)."""
    return (json.dumps(new_dossier(project, task_id, name, existing), indent=2, ensure_ascii=False) + "\n").encode(
        "utf-8"
    )


def meta_bytes(meta: Dict[str, Any]) -> bytes:
    """The ``_meta.yml`` text of ``meta``."""
    return dump_yaml(meta).encode("utf-8")


def write_dossier(
    path: str,
    project: str,
    task_id: str,
    name: Optional[str],
    existing: Optional[Dict[str, Any]] = None,
    mode: int = 0o644,
) -> Dict[str, Any]:
    """Write the dossier atomically; return the mapping written."""
    atomic_write(path, dossier_bytes(project, task_id, name, existing), mode)
    return new_dossier(project, task_id, name, existing)


def write_meta(path: str, meta: Dict[str, Any], mode: int = 0o644) -> None:
    """Write ``_meta.yml`` atomically."""
    atomic_write(path, meta_bytes(meta), mode)
