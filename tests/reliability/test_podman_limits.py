# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Our up-front checks agree with real podman at its limits: each value is refused by the option's
check (before anything is written) exactly when podman refuses it later.

Each row is tried both ways: the option's check through ContainerSpec, and podman itself
(``podman run --rm`` with the flag, ``podman secret create``, an env file line, an argv word).
The table of both answers is printed (``pytest -s``).
"""

from __future__ import annotations

import os
import secrets
import subprocess

import pytest

import _support as S
from ansible_collections.terok.lifecycle.plugins.module_utils._container_spec import ContainerSpec
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._secrets import NAME_MAX

IMAGE = "localhost/terok-task:latest"

# (option, value, podman flags or None for a special trial, what podman is expected to say)
ROWS = [
    ("pids_limit", 100000000000000000000, ["--pids-limit", "100000000000000000000"], False),
    ("pids_limit", 4194305, ["--pids-limit", "4194305"], False),
    ("pids_limit", 4194304, ["--pids-limit", "4194304"], True),
    ("publish", ["99999:80"], ["--publish", "99999:80"], False),
    ("publish", ["127.0.0.1:0:80"], ["--publish", "127.0.0.1:0:80"], False),
    ("publish", ["127.0.0.1:18080:65536"], ["--publish", "127.0.0.1:18080:65536"], False),
    ("publish", ["127.0.0.1:65535:80"], ["--publish", "127.0.0.1:65535:80"], True),
    ("memory", "1b", ["--memory", "1b"], False),
    ("memory", "1m", ["--memory", "1m"], False),
    ("memory", "6m", ["--memory", "6m"], True),
    ("cpus", 1e9, ["--cpus", "1e9"], False),
    ("cpus", 175921861, ["--cpus", "175921861"], False),
    ("cpus", 175921860, ["--cpus", "175921860"], True),
    ("cpus", 0.001, ["--cpus", "0.001"], False),
    ("cpus", 0.01, ["--cpus", "0.01"], True),
    ("image", "Not A Valid Image!!", None, False),
    ("image", "UPPER/case:tag", None, False),
    ("image", IMAGE, None, True),
    ("secret_env", "", None, False),
    ("secret_env", "x" * 512000, None, False),
    ("secret_env", "x" * 511999, None, True),
    ("env", "x" * (65535 - len("E=")), None, True),
    ("env", "x" * (65536 - len("E=")), None, False),
    ("command", "x" * 131071, None, True),
    ("command", "x" * 131072, None, False),
]


def _podman(argv, data=None):
    try:
        proc = subprocess.run(["podman"] + argv, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              check=False, universal_newlines=True, timeout=120)
    except OSError as exc:  # the kernel refused to run podman with this argv
        return False, "execve: %s" % exc.strerror
    lines = (proc.stderr or proc.stdout).strip().splitlines()
    return proc.returncode == 0, (lines[-1] if lines else "ok")[:160]


def _podman_takes(option, value, flags, temp):
    """(podman accepted it, what it said)."""
    if flags is not None:
        return _podman(["run", "--rm", "--network", "none"] + flags + [IMAGE, "true"])
    if option == "image":
        name = "terok-limits-" + secrets.token_hex(4)
        taken = _podman(["create", "--name", name, value, "true"])
        _podman(["rm", "--force", "--ignore", name])
        return taken
    if option == "secret_env":
        name = "terok-limits-" + secrets.token_hex(4)
        taken = _podman(["secret", "create", name, "-"], data=value)
        _podman(["secret", "rm", name])
        return taken
    if option == "env":
        path = os.path.join(temp, "env")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("E=%s\n" % value)
        return _podman(["run", "--rm", "--network", "none", "--env-file", path, IMAGE, "true"])
    return _podman(["run", "--rm", "--network", "none", IMAGE, "echo", value])


def _params(option, value):
    if option in ("secret_env", "env"):
        return {option: {"E": value}}
    if option == "command":
        return {option: ["echo", value]}
    return {option: value}


def _we_take(option, value):
    """(our check accepted it, what it said)."""
    params = dict({"image": IMAGE}, **_params(option, value))
    try:
        ContainerSpec.from_params(params)
    except TerokError as exc:
        assert exc.option == option, (exc.option, exc.msg)
        return False, exc.msg[:160]
    return True, "ok"


def _shown(value):
    text = repr(value)
    return text if len(text) <= 30 else "%s… (%d characters)" % (text[:12], len(text))


def test_our_checks_refuse_exactly_what_podman_refuses(tmp_path):
    rows, disagree = [], []
    for option, value, flags, expected in ROWS:
        podman_ok, podman_said = _podman_takes(option, value, flags, str(tmp_path))
        ours_ok, ours_said = _we_take(option, value)
        rows.append("| %s | %s | %s | %s |" % (option, _shown(value), ours_said, podman_said))
        if podman_ok != expected or ours_ok != podman_ok:
            disagree.append((option, _shown(value), expected, podman_ok, podman_said, ours_ok, ours_said))
    table = "\n".join(["| option | value | our check | podman |", "| --- | --- | --- | --- |"] + rows)
    print("\n" + table)
    S.count("podman limits compared with our checks", len(ROWS))
    assert not disagree, disagree


@pytest.mark.parametrize("length, taken", [(NAME_MAX, True), (NAME_MAX + 1, False)])
def test_podman_takes_secret_names_of_64_characters_and_no_more(length, taken):
    name = ("terok-limits-" + secrets.token_hex(32))[:length]
    ok, said = _podman(["secret", "create", name, "-"], data="v")
    _podman(["secret", "rm", name])
    assert ok is taken, said
