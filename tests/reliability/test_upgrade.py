# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""An upgrade keeps running agents: containers made by the collection before the option table are ``ok``.

The collection as it was at ``BEFORE`` (the last commit whose options hash covered every option,
set or not) is taken from git history into a temp directory and starts real containers; this
work tree then converges them with the same options and must find nothing to do: ``ok``, no
warning, the same container (id and start time).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tarfile
import tempfile

import pytest

import _support as S
from ansible_collections.terok.lifecycle.plugins.module_utils._container_spec import ContainerSpec
from ansible_collections.terok.lifecycle.plugins.module_utils._task_options import argument_spec

# the last commit before options were hashed only when set (issue 18)
BEFORE = "6ce7a78"
IMAGE = "localhost/terok-task:latest"


@pytest.fixture
def old_collection():
    """An ansible_collections directory holding the collection at BEFORE (from git history)."""
    base = tempfile.mkdtemp(prefix="terok-upgrade-")
    target = os.path.join(base, "ansible_collections", "terok", "lifecycle")
    os.makedirs(target)
    archive = os.path.join(base, "before.tar")
    proc = subprocess.run(["git", "-C", S.REPO, "archive", "--format", "tar", "-o", archive, BEFORE],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    assert proc.returncode == 0, "commit %s must be in this clone's history: %s" % (BEFORE, proc.stderr)
    with tarfile.open(archive) as tar:
        tar.extractall(target, members=[m for m in tar.getmembers() if m.name.startswith(("plugins/", "meta/",
                                                                                          "galaxy.yml"))])
    with open(os.path.join(base, "ansible.cfg"), "w", encoding="utf-8") as handle:
        handle.write("[defaults]\n")
    yield base
    shutil.rmtree(base)
    assert not os.path.exists(base)


@pytest.fixture
def project(tmp_path):
    name = "up" + secrets.token_hex(3)
    yield name
    names = subprocess.run(["podman", "ps", "-a", "--format", "{{.Names}}"], stdout=subprocess.PIPE,
                           universal_newlines=True, env=S.ansible_env(), check=False).stdout.split()
    mine = [entry for entry in names if entry.startswith(name + "-")]
    if mine:
        subprocess.run(["podman", "rm", "--force", "--time", "0"] + mine, env=S.ansible_env(), check=False,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    left = subprocess.run(["podman", "ps", "-a", "--format", "{{.Names}}"], stdout=subprocess.PIPE,
                          universal_newlines=True, env=S.ansible_env(), check=False).stdout.split()
    assert not [entry for entry in left if entry.startswith(name + "-")]


def _inspect(name):
    proc = subprocess.run(["podman", "inspect", "--format", "json", name], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, env=S.ansible_env(), check=False)
    assert proc.returncode == 0, proc.stderr
    item = json.loads(proc.stdout)[0]
    return item["Id"], item["State"]["StartedAt"], item["Config"]["Labels"]["io.terok.lifecycle.spec"]


def test_agents_made_before_the_option_table_are_ok_after_the_upgrade(old_collection, project, tmp_path):
    root = str(tmp_path / "root")
    script = tmp_path / "init.sh"
    script.write_text('#!/bin/bash\necho ">> init complete"\nexec "$@"\n')
    script.chmod(0o755)
    common = {"image": IMAGE, "init_script": str(script), "network": "none"}
    items = [
        dict(project=project, name="defaults", state="running"),
        dict(project=project, name="tuned", state="running", memory="512m", cpus=1, cap_add=["SYS_PTRACE"],
             env={"LOG_LEVEL": "debug", "N": 3}, code_repo="", git_branch="main", command=["sleep", "600"],
             secret_env={"API_TOKEN": "s3cr3t-" + secrets.token_hex(8)}),
    ]
    for item in items:
        item.update(common)
    old_env = S.ansible_env({"ANSIBLE_COLLECTIONS_PATH": old_collection,
                             "ANSIBLE_CONFIG": os.path.join(old_collection, "ansible.cfg")})
    made = S.adhoc("terok_tasks", {"tasks": items, "root": root}, env=old_env, timeout=240)
    assert not made.failed and made.result["changed"], made
    before = {task["container_name"]: _inspect(task["container_name"]) for task in made.result["tasks"]}

    for module, args in (("terok_tasks", {"tasks": items, "root": root}),
                         ("terok_task", dict(items[1], root=root))):
        rerun = S.adhoc(module, args, timeout=240)
        assert not rerun.failed, rerun
        assert rerun.status == "SUCCESS" and rerun.result["changed"] is False, rerun
        assert rerun.warnings == [], rerun.warnings
    after = {name: _inspect(name) for name in before}
    assert after == before  # the same containers, never restarted, their labels as the old code wrote them

    # recreate=true replaces only a container made from other options: these are the same
    recreated = S.adhoc("terok_task", dict(items[0], root=root, recreate=True), timeout=240)
    assert not recreated.failed and recreated.result["changed"] is False, recreated
    assert _inspect(made.result["tasks"][0]["container_name"]) == before[made.result["tasks"][0]["container_name"]]

    # what was accepted is the old form: this tree's own hash of the same options is another
    defaults = {name: entry.get("default") for name, entry in argument_spec().items()}
    plain = ContainerSpec.from_params(dict(defaults, **items[0]))
    label = before[made.result["tasks"][0]["container_name"]][2]
    assert label == plain.legacy_digest(lambda: b"") != plain.digest(lambda: b"")

    # their removal by this tree takes the secret the old code made (named after the container) with it
    tuned = made.result["tasks"][1]["container_name"]
    assert tuned + "-API_TOKEN" in _secret_names()
    gone = S.adhoc("terok_tasks", {"root": root, "tasks": [dict(project=project, name=item["name"], state="absent")
                                                           for item in items]}, timeout=240)
    assert not gone.failed and gone.result["changed"], gone
    assert not [name for name in _secret_names() if name.startswith(project + "-")]


def _secret_names():
    return subprocess.run(["podman", "secret", "ls", "--format", "{{.Name}}"], stdout=subprocess.PIPE,
                          universal_newlines=True, env=S.ansible_env(), check=True).stdout.split()
