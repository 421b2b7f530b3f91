# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared fixtures of the unit tests: a fake podman, tree snapshots, terok-made tasks."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils._run_context import RunContext
from ansible_collections.terok.lifecycle.plugins.module_utils._paths import Layout
from ansible_collections.terok.lifecycle.plugins.module_utils._podman import CommandRunner, Podman

# podman subcommands that only read
READ_ONLY_PODMAN = frozenset(["ps", "logs", "inspect", "version", "info", "images", "image", "container"])

FAKE_PODMAN_SCRIPT = """#!/bin/sh
# a stand-in for podman: log the call, answer `ps` from a file
printf '%s\\n' "$*" >> "{log}"
case "$1" in
  ps) cat "{ps}" ;;
  logs)
    if [ "$2" = "--follow" ]; then
      echo ">> cloning"
      echo ">> init complete"
    else
      echo "2026-11-28T09:15:02Z fake log line"
    fi ;;
  wait) if [ -f "{wait}" ]; then cat "{wait}"; else echo 0; fi ;;
esac
exit 0
"""


class FakePodmanRunner(CommandRunner):
    """A CommandRunner whose ``run(argv) -> (rc, out, err)`` plays podman and records every call.

    Streaming calls (``logs --follow``, ``wait``) are spawned for real, from the podman_exe script.

    ``containers`` maps a container name to a dict with ``State`` and ``ExitCode``.
    ``fail`` maps a podman subcommand (``ps``, ``rm``, ``logs`` …) to (rc, err).
    """

    def __init__(self, containers=None, fail=None, logs="2026-11-28T09:15:02Z hello\n"):
        self.containers = dict(containers or {})
        self.fail = dict(fail or {})
        self.logs = logs
        self.calls = []

    def run(self, argv):
        argv = list(argv)
        self.calls.append(argv)
        sub = argv[1] if len(argv) > 1 else ""
        if sub in self.fail:
            rc, err = self.fail[sub]
            return rc, "", err
        if sub == "ps":
            items = []
            for name, info in sorted(self.containers.items()):
                item = {"Names": [name], "Id": "id-" + name, "Image": "img", "Labels": {}}
                item.update(info)
                items.append(item)
            return 0, json.dumps(items), ""
        if sub == "logs":
            return 0, self.logs, ""
        if sub == "run":
            name = argv[argv.index("--name") + 1]
            labels = {}
            for i, arg in enumerate(argv):
                if arg == "--label":
                    key, _sep, value = argv[i + 1].partition("=")
                    labels[key] = value
            self.containers[name] = {"State": "running", "Labels": labels}
            return 0, "0123abcd\n", ""
        if sub in ("start", "unpause"):
            self.containers.setdefault(argv[-1], {})["State"] = "running"
            return 0, argv[-1] + "\n", ""
        if sub == "stop":
            self.containers.setdefault(argv[-1], {})["State"] = "exited"
            return 0, argv[-1] + "\n", ""
        if sub == "rm":
            for name in argv[argv.index("--") + 1:] if "--" in argv else []:
                self.containers.pop(name, None)
            return 0, "", ""
        return 0, "", ""

    def subcommands(self):
        return [argv[1] for argv in self.calls if len(argv) > 1]

    def mutating_calls(self):
        return [argv for argv in self.calls if len(argv) < 2 or argv[1] not in READ_ONLY_PODMAN]


@pytest.fixture
def podman_exe(tmp_path):
    """An executable file that stands in for podman on disk (Podman.path() needs one)."""
    directory = tmp_path / "bin"
    directory.mkdir(exist_ok=True)
    log = tmp_path / "podman-calls.log"
    ps = tmp_path / "podman-ps.json"
    ps.write_text("[]\n")
    exe = directory / "podman"
    exe.write_text(FAKE_PODMAN_SCRIPT.format(log=log, ps=ps, wait=tmp_path / "podman-wait-exit-code"))
    exe.chmod(0o755)
    return exe


@pytest.fixture
def podman_log(tmp_path):
    """The calls the podman_exe script received, one argv (space-joined) per line."""

    def read():
        path = tmp_path / "podman-calls.log"
        return path.read_text().splitlines() if path.exists() else []

    return read


@pytest.fixture
def podman_ps(tmp_path):
    """Set what the podman_exe script answers to ``ps``."""

    def write(items):
        (tmp_path / "podman-ps.json").write_text(json.dumps(items))

    return write


@pytest.fixture
def fake_runner():
    return FakePodmanRunner


@pytest.fixture
def root(tmp_path):
    return str(tmp_path / "root")


@pytest.fixture
def layout(root):
    return Layout(root)


@pytest.fixture
def make_runtime(layout, podman_exe):
    """Build a RunContext on ``layout`` with a recording fake podman; returns (context, runner)."""

    def make(check_mode=False, containers=None, fail=None, lock_timeout=5.0, executable=None):
        runner = FakePodmanRunner(containers, fail)
        podman = Podman(executable or str(podman_exe), runner)
        return RunContext(layout, podman, check_mode=check_mode, lock_timeout=lock_timeout), runner

    return make


def _snapshot(path):
    """Everything under ``path``: relative path -> (kind, mode, content or link target)."""
    result = {}
    if not os.path.lexists(path):
        return result
    for dirpath, dirnames, filenames in os.walk(path):
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, path)
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                result[rel] = ("link", None, os.readlink(full))
            elif stat.S_ISDIR(st.st_mode):
                result[rel] = ("dir", stat.S_IMODE(st.st_mode), None)
            else:
                with open(full, "rb") as handle:
                    result[rel] = ("file", stat.S_IMODE(st.st_mode), handle.read())
    return result


@pytest.fixture
def tree_snapshot():
    return _snapshot


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


@pytest.fixture
def run_module(capsys):
    """Run a module's ``main()`` with ``args``; return its result dict (``failed`` set on failure)."""
    from ansible.module_utils.testing import patch_module_args

    def run(module, args):
        capsys.readouterr()  # drop anything printed before
        with patch_module_args(args):
            with pytest.raises(SystemExit) as exit_info:
                module.main()
        out = capsys.readouterr().out
        result = json.loads(out)
        result["_rc"] = exit_info.value.code
        result["_warnings"] = _warning_texts(result)
        return result

    return run
