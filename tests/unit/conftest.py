# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared fixtures of the unit tests: the fake podman (tests/support), tree snapshots, terok-made tasks."""

from __future__ import annotations

import contextlib
import json
import os

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils._run_context import RunContext
from ansible_collections.terok.lifecycle.plugins.module_utils._paths import Layout
from ansible_collections.terok.lifecycle.plugins.module_utils._podman import Podman
from ansible_collections.terok.lifecycle.tests.support.fake_podman import FakePodman, FakePodmanProgram
from ansible_collections.terok.lifecycle.tests.support.tree import snapshot


@pytest.fixture
def podman_program(tmp_path_factory):
    """The fake podman as a program on disk, for module runs (outside ``tmp_path``, which tests snapshot)."""
    return FakePodmanProgram(str(tmp_path_factory.mktemp("podman")))


@pytest.fixture
def podman_exe(podman_program):
    """The path of the fake podman program (Podman.path() needs an executable file)."""
    return podman_program.path


@pytest.fixture
def podman_log(podman_program):
    """The calls the podman program received, one argv after the program (space-joined) per line."""

    def read():
        return [" ".join(argv[1:]) for argv in podman_program.calls()]

    return read


@pytest.fixture
def podman_ps(podman_program):
    """Set the containers the podman program lists, from ``podman ps`` items."""

    def write(items):
        podman_program.update(containers={item["Names"][0]: {k: v for k, v in item.items() if k != "Names"} for item in items})

    return write


@pytest.fixture
def no_system_config(monkeypatch, tmp_path):
    """Never read the host's /etc/terok/config.yml (terok_host_prep's tests resolve the root as terok does)."""
    from ansible_collections.terok.lifecycle.plugins.module_utils import _host_prep, _paths

    path = str(tmp_path / "etc-terok" / "config.yml")
    monkeypatch.setattr(_paths, "SYSTEM_CONFIG", path)
    monkeypatch.setattr(_host_prep, "SYSTEM_CONFIG", path)


@pytest.fixture
def root(tmp_path):
    return str(tmp_path / "root")


@pytest.fixture
def layout(root):
    return Layout(root)


@pytest.fixture
def make_runtime(layout, podman_exe):
    """Build a RunContext on ``layout`` with a FakePodman as its runner; returns (context, runner).

    ``fields`` are FakePodman's (``stuck``, ``logs``, ``wait`` …).
    """

    def make(check_mode=False, containers=None, fail=None, lock_timeout=5.0, executable=None, **fields):
        runner = FakePodman(containers, fail, **fields)
        podman = Podman(executable or podman_exe, runner)
        return RunContext(layout, podman, check_mode=check_mode, lock_timeout=lock_timeout), runner

    return make


@pytest.fixture
def tree_snapshot():
    return snapshot


@pytest.fixture
def write_task(layout):
    """Write a task the way terok 0.9 writes one (no collection mark); return its task dir."""

    def write(project, task_id, name=None, meta=None, dossier=None, task_dir=True):
        meta_dir = layout.meta_dir(project)
        os.makedirs(meta_dir, exist_ok=True)
        if dossier is None:
            dossier = {"project": project, "task": task_id}
            if name is not None:
                dossier["name"] = name
        if dossier is not False:
            with open(layout.dossier_path(project, task_id), "w") as handle:
                handle.write(json.dumps(dossier, indent=2) + "\n")
        if meta is None:
            meta = {
                "mode": None,
                "workspace": layout.task_dir(project, task_id),
                "web_port": None,
                "created_at": "2026-11-28T09:15:02.118470+00:00",
            }
        if meta is not False:
            import yaml

            with open(layout.meta_path(project, task_id), "w") as handle:
                handle.write(yaml.safe_dump(meta, sort_keys=False))
        if task_dir:
            os.makedirs(layout.workspace(project, task_id), mode=0o700, exist_ok=True)
            os.chmod(layout.workspace(project, task_id), 0o700)
            with open(os.path.join(layout.task_dir(project, task_id), "README.md"), "w") as handle:
                handle.write("# terok task\n")  # terok writes one too (its own text)
        return layout.task_dir(project, task_id)

    return write


# Running a module in-process ---------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fresh_ansible_warnings():
    """AnsibleModule keeps warnings in process globals; one module run must not see another's."""
    try:
        from ansible.module_utils.common import warnings as ansible_warnings
    except ImportError:  # pragma: no cover
        yield
        return
    for name in ("_global_warnings", "_global_deprecations"):
        store = getattr(ansible_warnings, name, None)
        if hasattr(store, "clear"):
            store.clear()
    yield


def _warning_texts(result):
    texts = []
    for item in result.get("warnings") or []:
        if isinstance(item, dict):
            event = item.get("event") or {}
            texts.append(event.get("msg") or item.get("msg") or json.dumps(item))
        else:
            texts.append(str(item))
    return texts


@contextlib.contextmanager
def module_args(args):
    """``args`` as the arguments an AnsibleModule made inside the block reads (any ansible-core)."""
    try:
        from ansible.module_utils.testing import patch_module_args
    except ImportError:  # ansible-core before 2.19: the arguments are a global of basic
        from ansible.module_utils import basic

        saved = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode("utf-8")
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved
        return
    with patch_module_args(args):
        yield


@pytest.fixture
def run_module(capsys):
    """Run a module's ``main()`` with ``args``; return its result dict (``failed`` set on failure)."""

    def run(module, args):
        capsys.readouterr()  # drop anything printed before
        with module_args(args):
            with pytest.raises(SystemExit) as exit_info:
                module.main()
        out = capsys.readouterr().out
        result = json.loads(out)
        result["_rc"] = exit_info.value.code
        result["_warnings"] = _warning_texts(result)
        return result

    return run
