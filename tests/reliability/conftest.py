# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the reliability suite: canaries, tmpfs mounts, a fake podman program, and the
check after every test that it left nothing in the temp dir or in podman.

Run it as ``tools/pytest.sh -q tests/reliability`` (root: the full-disk tests mount tmpfs).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile

import pytest

import _support as S

CANARY_ID = S.CANARY_ID
CANARY_TEXT = S.CANARY_TEXT


class Canary(object):
    """A directory outside every state root, shaped like a state tree so that a read through a
    symlink shows up as a task (id ``z9zzz``, name ``canary``) or as the text CANARY_TEXT."""

    def __init__(self, path):
        self.path = path
        tree = {
            "projects/demo/tasks/%s_dossier.json" % CANARY_ID: json.dumps(
                {"project": "demo", "task": CANARY_ID, "name": "canary"}) + "\n",
            "projects/demo/tasks/%s_meta.yml" % CANARY_ID: "mode: cli\ncreated_at: '2020-01-01'\nnote: %s\n" % CANARY_TEXT,
            "tasks/demo/%s/README.md" % CANARY_ID: CANARY_TEXT + "\n",
            "demo/tasks/20200101T000000000000Z_%s_canary/task.json" % CANARY_ID: json.dumps(
                {"task_id": CANARY_ID, "name": "canary", "project_name": "demo", "note": CANARY_TEXT}),
            "logs/container.log": CANARY_TEXT + "\n",
            "work-status.yml": "status: %s\n" % CANARY_TEXT,
            "secret.yml": "mode: cli\ncreated_at: '2020-01-01'\nsecret: %s\n" % CANARY_TEXT,
            "secret.json": json.dumps({"project": "demo", "task": CANARY_ID, "name": "canary", "secret": CANARY_TEXT}),
            "workspace-dangerous/precious.txt": CANARY_TEXT + "\n",
        }
        for rel, text in tree.items():
            path = os.path.join(self.path, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
        self.before = S.fingerprint(self.path)

    def changes(self):
        return S.fingerprint_diff(self.before, S.fingerprint(self.path))


@pytest.fixture(autouse=True)
def nothing_left_in_the_temp_dir(tmp_path_factory, monkeypatch):
    """Every test gets a temp dir of its own (TMPDIR, also for the module runs it starts), which must be
    empty when it ends: the env files, the children's result files, whatever a step made and removes."""
    temp = str(tmp_path_factory.mktemp("tmpdir"))
    monkeypatch.setenv("TMPDIR", temp)
    monkeypatch.setattr(tempfile, "tempdir", temp)
    yield
    left = sorted(os.listdir(temp))
    S.count("tests checked for what they left in the temp dir and podman")
    assert not left, "left in the temp dir: %s" % left


def _podman_names(*what):
    proc = subprocess.run(["podman"] + list(what) + ["--format", "{{.Names}}" if what[0] == "ps" else "{{.Name}}"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False,
                          env=S.ansible_env())
    return set(proc.stdout.split()) if proc.returncode == 0 else set()


@pytest.fixture(scope="module", autouse=True)
def nothing_left_in_podman():
    """What the tests of a file made in root's podman (containers, secrets) is gone when they end."""
    if not shutil.which("podman"):
        yield
        return
    before = (_podman_names("ps", "-a"), _podman_names("secret", "ls"))
    yield
    after = (_podman_names("ps", "-a"), _podman_names("secret", "ls"))
    assert not after[0] - before[0], "containers left in podman: %s" % sorted(after[0] - before[0])
    assert not after[1] - before[1], "secrets left in podman: %s" % sorted(after[1] - before[1])


@pytest.fixture
def canary(tmp_path):
    return Canary(str(tmp_path / "canary"))


@pytest.fixture
def fake_podman(tmp_path):
    """The fake podman as a program on disk, for real module runs (``executable``)."""
    return S.FakePodmanProgram(str(tmp_path / "fake-podman"))


@pytest.fixture
def tmpfs(tmp_path):
    """mount(size) -> a fresh tmpfs of that size (root only); unmounted afterwards."""
    mounts = []

    def mount(size, name="tmpfs"):
        path = tmp_path / ("%s-%d" % (name, len(mounts)))
        path.mkdir()
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % size, "tmpfs", str(path)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
        assert proc.returncode == 0, "cannot mount a tmpfs (the suite runs as root): %s" % proc.stdout
        mounts.append(str(path))
        return str(path)

    yield mount
    for path in reversed(mounts):
        subprocess.run(["umount", "-l", path], check=False)


@pytest.fixture(scope="session")
def shm_dir(tmp_path_factory):
    """A private tmpfs for the many-iteration tests (fast: no fsync cost); unmounted at the end."""
    path = str(tmp_path_factory.mktemp("shm"))
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512m,mode=0755", "tmpfs", path],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    assert proc.returncode == 0, "cannot mount a tmpfs (the suite runs as root): %s" % proc.stdout
    yield path
    subprocess.run(["umount", "-l", path], check=False)


@pytest.fixture
def shm_tmp(shm_dir, request):
    """A fresh directory on the private tmpfs for one test."""
    path = os.path.join(shm_dir, request.node.name[:80].replace("/", "_").replace("[", "_").replace("]", ""))
    if os.path.lexists(path):
        shutil.rmtree(path)
    os.makedirs(path)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def pytest_terminal_summary(terminalreporter):
    if S.COUNTS:
        terminalreporter.section("reliability figures")
        for key in sorted(S.COUNTS):
            terminalreporter.write_line("%-62s %s" % (key, S.COUNTS[key]))
