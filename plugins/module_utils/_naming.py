# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to terok.lifecycle: not a public API, it may change in any release.
"""Task ids, task names, project names and container names, as terok 0.9 defines them."""

from __future__ import annotations

import re
import secrets

from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Container, Iterable, List

# Lowercase Crockford base32: digits and letters without i, l, o, u.
ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
# The first character is a letter that is not a hex digit, so an id never reads as a number
# or a hex prefix; the second is a digit.
ID_HEAD = "ghjkmnpqrstvwxyz"
ID_LENGTH = 5
ID_PATTERN = "[ghjkmnp-tv-z][0-9][0-9a-hjkmnp-tv-z]{3}"
ID_RE = re.compile(ID_PATTERN)

PROJECT_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")
RESERVED_PROJECTS = frozenset(["default"])

NAME_MAX = 60
MODES = ("cli", "web", "run", "toad")

_NAME_DROP = re.compile(r"[^a-z0-9_-]")
_DASHES = re.compile(r"-{2,}")


def new_task_id(taken: Container[str]) -> str:
    """Return a fresh random task id that is not in ``taken`` (a container of ids)."""
    for _attempt in range(1000):
        task_id = secrets.choice(ID_HEAD) + secrets.choice("0123456789")
        while len(task_id) < ID_LENGTH:
            task_id += secrets.choice(ID_ALPHABET)
        if task_id not in taken:
            return task_id
    raise TerokError("could not find a free task id after 1000 attempts")


def is_task_id(value: object) -> bool:
    return isinstance(value, str) and ID_RE.fullmatch(value) is not None


def check_task_id(value: object, option: str = "task_id") -> str:
    """Return ``value`` if it is a well-formed task id, else raise naming ``option``."""
    if isinstance(value, str) and is_task_id(value):
        return value
    raise TerokError(
        "%s %r is not a terok task id: 5 characters of lowercase Crockford base32, "
        "a letter g-z (not i, l, o, u) then a digit, matching %s" % (option, value, ID_PATTERN),
        option=option,
    )


def sanitize_name(value: str) -> str:
    """Normalise a task name the way terok does; the result may be invalid (see check_name)."""
    name = value.strip().lower().replace(" ", "-")
    name = _NAME_DROP.sub("", name)
    name = _DASHES.sub("-", name).rstrip("-")
    return name[:NAME_MAX].rstrip("-")


def check_name(value: object, option: str = "name") -> str:
    """Return the sanitized form of ``value``, or raise if it is empty or starts with ``-``."""
    if not isinstance(value, str):
        raise TerokError("%s must be a string" % option, option=option)
    if "\x00" in value:
        raise TerokError("%s must not contain a NUL character" % option, option=option)
    name = sanitize_name(value)
    if not name:
        raise TerokError(
            "%s %r is empty once sanitized: a task name needs at least one of a-z, 0-9, _ or -"
            % (option, value),
            option=option,
        )
    if name.startswith("-"):
        raise TerokError(
            "%s %r sanitizes to %r, which starts with '-': a task name must start with a-z, 0-9 or _"
            % (option, value, name),
            option=option,
        )
    return name


def check_project(value: object, option: str = "project") -> str:
    """Return ``value`` if it is a valid terok project name, else raise naming ``option``."""
    if value is None:
        raise TerokError("%s is required" % option, option=option)
    if not isinstance(value, str) or not PROJECT_RE.fullmatch(value):
        raise TerokError(
            "%s %r is not a valid project name: it must match [a-z0-9][a-z0-9_-]* "
            "(lowercase letters, digits, '_' and '-', starting with a letter or digit)" % (option, value),
            option=option,
        )
    if len(value) > 64:
        raise TerokError("%s %r is longer than 64 characters" % (option, value[:80]), option=option)
    if value in RESERVED_PROJECTS:
        raise TerokError("%s %r is reserved by terok and cannot be used" % (option, value), option=option)
    return value


def check_container_mode(value: object, option: str = "mode") -> str:
    """Return ``value`` if it is one of terok's container modes (option ``mode``), else raise."""
    if isinstance(value, str) and value in MODES:
        return value
    raise TerokError("%s %r is not a terok mode: use one of %s" % (option, value, ", ".join(MODES)), option=option)


def container_name(project: str, mode: str, task_id: str) -> str:
    """The name terok gives the container of ``task_id`` in ``mode``."""
    return "%s-%s-%s" % (project, mode, task_id)


def container_names(project: str, task_id: str, listed: Iterable[str] = ()) -> List[str]:
    """The container names of a task in every mode, and any ``listed`` name of the form
    ``<project>-<word>-<task_id>`` (a mode that is none of terok's, e.g. from a hand-edited ``_meta.yml``)."""
    names = [container_name(project, mode, task_id) for mode in MODES]
    prefix, suffix = project + "-", "-" + task_id
    for name in sorted(listed):
        middle = name[len(prefix):-len(suffix)] if name.startswith(prefix) and name.endswith(suffix) else ""
        if middle and "-" not in middle and name not in names:
            names.append(name)
    return names


# podman refuses a hostname of more than 64 characters (sethostname); terok's hostname is the container name
HOSTNAME_MAX = 64
LONGEST_MODE = max(len(mode) for mode in MODES)


def check_container_fits(project: str, option: str = "project") -> str:
    """Refuse a project whose containers' names (and so hostnames) would be longer than podman takes."""
    longest = len(container_name(project, "x" * LONGEST_MODE, "x" * ID_LENGTH))
    if longest > HOSTNAME_MAX:
        raise TerokError(
            "%s %r is too long to run a container: its container name and hostname <project>-<mode>-<id> would "
            "be %d characters, more than the %d podman accepts; use a project name of at most %d characters"
            % (option, project, longest, HOSTNAME_MAX, HOSTNAME_MAX - (longest - len(project))),
            option=option,
        )
    return project
