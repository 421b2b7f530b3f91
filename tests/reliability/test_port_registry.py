# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A web task's host port in terok's port registry, judged by terok's own registry code: real podman, root.

The collection starts a ``web`` task publishing a free host port: its claim ``web:<project>/<id>`` is
in root's claim file, and terok-sandbox 0.6's ``PortRegistry`` (terok 0.9.1's, from ``.venv-terok``),
claiming as another user, is refused that port. A port another user holds is refused to the
collection, naming ``publish``, before any container is made. Once the task is ``absent`` the claim
is gone and terok may hand the port out again. Nothing is left in podman, the registry or the temp dir.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess

import pytest

import _support as S

TEROK_VENV = os.environ.get("TEROK_VENV") or os.path.join(S.REPO, ".venv-terok")
IMAGE = os.environ.get("TEROK_TASK_IMAGE", "localhost/terok-task:latest")
INIT_SCRIPT = os.path.join(S.REPO, "files", "init-ssh-and-repo.sh")
PROJECT = "tlports"

# terok's registry code, claiming a port as the user argv[2] (its _username is the one thing replaced)
TEROK_CLAIM = """
import sys
from pathlib import Path
import terok_sandbox.port_registry as registry
registry._username = lambda: sys.argv[2]
try:
    port = registry.PortRegistry(Path(sys.argv[1]), range(1024, 65536)).claim(sys.argv[3], int(sys.argv[4]),
                                                                              explicit=True)
    print("claimed %d" % port)
except SystemExit as exc:
    print("refused: %s" % exc)
"""


def _free_ports(count):
    """Ports in terok's range that nothing listens on now (bound and let go)."""
    found = []
    for port in range(18750, 32700):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == count:
            return found
    raise AssertionError("no free port in 18750-32699")


def _terok_claims(registry, user, key, port):
    python = os.path.join(TEROK_VENV, "bin", "python")
    if not os.access(python, os.X_OK):
        if os.path.exists(TEROK_VENV + ".skipped"):
            with open(TEROK_VENV + ".skipped", encoding="utf-8") as handle:
                pytest.skip("%s: %s" % (TEROK_VENV, handle.read().strip()))
        pytest.fail("%s is missing: run make bootstrap (it makes .venv-terok)" % python)
    env = dict(os.environ, TEROK_PORT_REGISTRY_DIR=registry)
    proc = subprocess.run([python, "-c", TEROK_CLAIM, registry, user, key, str(port)], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    return proc.stdout.decode("utf-8").strip()


def _containers():
    proc = subprocess.run(["podman", "ps", "-a", "--filter", "name=^%s-" % PROJECT, "--format", "{{.Names}}"],
                          env=S.ansible_env(), stdout=subprocess.PIPE, check=True)
    return proc.stdout.decode("utf-8").split()


def _own_claims(registry):
    with open(os.path.join(registry, "root.json"), encoding="utf-8") as handle:
        return json.load(handle)


def test_terok_s_registry_sees_the_collection_s_claim_and_the_collection_sees_terok_s(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("runs rootful podman as root")
    assert _containers() == [], "containers of project %s exist before the test" % PROJECT
    root, registry = str(tmp_path / "root"), str(tmp_path / "ports")
    env = S.ansible_env({"TEROK_PORT_REGISTRY_DIR": registry})
    ours, theirs = _free_ports(2)
    common = {"root": root, "project": PROJECT, "state": "running", "mode": "web", "image": IMAGE,
              "init_script": INIT_SCRIPT, "command": ["sleep", "300"], "wait_ready": False}
    try:
        started = S.adhoc("terok_task", dict(common, name="w", publish=["%d:8080" % ours]), env=env)
        assert not started.failed and not S.crash_signs(started.result), started
        task_id = started.result["task"]["task_id"]
        assert _own_claims(registry) == {"web:%s/%s" % (PROJECT, task_id): ours}
        assert oct(os.stat(registry).st_mode & 0o7777) == "0o1777"

        # terok, for another user, is refused the port the collection claimed
        refused = _terok_claims(registry, "someone-else", "web:theirs/a1b2c", ours)
        assert refused.startswith("refused:") and "claimed by another user" in refused, refused
        # and takes another one, which the collection is then refused, naming publish, with nothing made
        assert _terok_claims(registry, "someone-else", "web:theirs/a1b2c", theirs) == "claimed %d" % theirs
        clash = S.adhoc("terok_task", dict(common, name="v", publish=["%d:8080" % theirs]), env=env)
        assert clash.failed and not S.crash_signs(clash.result), clash
        assert clash.result.get("option") == "publish" and str(theirs) in clash.result["msg"], clash
        assert "someone-else" in clash.result["msg"]
        assert _containers() == ["%s-web-%s" % (PROJECT, task_id)]

        # a rerun claims nothing new and is ok
        again = S.adhoc("terok_task", dict(common, name="w", publish=["%d:8080" % ours]), env=env)
        assert again.status == "SUCCESS" and not again.result["changed"], again

        # absent releases it, and terok may hand the port out again
        gone = S.adhoc("terok_task", {"root": root, "project": PROJECT, "name": "w", "state": "absent"}, env=env)
        assert not gone.failed, gone
        assert _own_claims(registry) == {}
        assert _terok_claims(registry, "another-one", "web:theirs/d4e5f", ours) == "claimed %d" % ours
    finally:
        for name in _containers():
            subprocess.run(["podman", "rm", "-f", "-t", "0", name], env=S.ansible_env(), check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(str(tmp_path / "root"), ignore_errors=True)
        shutil.rmtree(registry, ignore_errors=True)
    assert _containers() == []
