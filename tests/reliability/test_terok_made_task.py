# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A task that terok ran, then managed by the collection: real podman, terok 0.9.1 (``.venv-terok``), root.

The task is made by ``terokctl task new``; its container, sidecar, runtime directory, web-port claim and
metadata by terok's own code (``terok_made_task.py``, run by terok's Python; ``terok task run`` needs
``terok setup``, a ``<project>:l2-cli`` image and a gate, which these machines cannot have), with terok's
real init script (terok-executor's ``init-ssh-and-repo.sh``) and its CLI command. Then, as after a reboot
with terok's gate down, the repository the task fetches from is gone, so terok's init script stops under
``set -e`` before its ready line while ``tail -f /dev/null`` keeps the container up: what made the
collection report "not ready within ready_timeout" and rewrite ``unrestricted``/``ready_at`` (issue 19).

The collection then starts, stops, starts the task with default options (terok's container kept),
and archives it: terok's sidecar, runtime directory and web-port claim go with it, as with
``terok task delete``. Nothing of the test is left in podman or in the temp directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest
import yaml

import _support as S

TEROK_VENV = os.environ.get("TEROK_VENV") or os.path.join(S.REPO, ".venv-terok")
IMAGE = os.environ.get("TEROK_TASK_IMAGE", "localhost/terok-task:latest")
PROJECT = "tlforeign"
INIT_SCRIPT = os.path.join(TEROK_VENV, "lib", "python3.12", "site-packages", "terok_executor", "resources", "scripts",
                           "init-ssh-and-repo.sh")


def _terok(name):
    path = os.path.join(TEROK_VENV, "bin", name)
    if not os.access(path, os.X_OK):
        if os.path.exists(TEROK_VENV + ".skipped"):
            with open(TEROK_VENV + ".skipped", encoding="utf-8") as handle:
                pytest.skip("%s: %s" % (TEROK_VENV, handle.read().strip()))
        pytest.fail("%s is missing: run make bootstrap (it makes .venv-terok)" % path)
    return path


def _run(argv, env, check=True, timeout=120):
    proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, check=False)
    out, err = proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")
    if check and proc.returncode != 0:
        raise AssertionError("%s failed (rc %s):\n%s%s" % (argv, proc.returncode, out, err))
    return out


def _podman(*args, env=None, check=True):
    return _run(["podman"] + list(args), env or S.ansible_env(), check=check)


def _logs(name, env):
    """The container's log, its standard output and error (podman gives them apart)."""
    proc = subprocess.run(["podman", "logs", name], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=60, check=False)
    return proc.stdout.decode("utf-8", "replace")


def _ours(env, **args):
    args.setdefault("project", PROJECT)
    result = S.adhoc("terok_task", args, env=env)
    assert not S.crash_signs(result.result), result
    return result


def _meta(root, task_id):
    with open(os.path.join(root, "core", "projects", PROJECT, "tasks", task_id + "_meta.yml"), encoding="utf-8") as f:
        return yaml.safe_load(f)


def _claims(base):
    path = os.path.join(base, "ports", "root.json")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _leftovers():
    out = _podman("ps", "-a", "--filter", "name=^%s-" % PROJECT, "--format", "{{.Names}}", check=False)
    return out.split()


@pytest.fixture(scope="module")
def terok_task():
    """Everything the module's steps saw, in order; the task and its files removed at the end."""
    if os.geteuid() != 0:
        pytest.skip("runs rootful podman as root")
    terokctl, terok, python = _terok("terokctl"), _terok("terok"), os.path.join(TEROK_VENV, "bin", "python")
    assert _leftovers() == [], "containers of project %s exist before the test" % PROJECT
    base = tempfile.mkdtemp(prefix="terok-foreign-", dir="/tmp")
    root = os.path.join(base, "root")
    env = S.ansible_env({
        "TEROK_ROOT": root, "TEROK_CONFIG_DIR": os.path.join(base, "etc"),
        "TEROK_CONFIG_FILE": os.path.join(base, "etc", "config.yml"), "HOME": os.path.join(base, "home"),
        "XDG_CONFIG_HOME": os.path.join(base, "home", ".config"),
        "XDG_DATA_HOME": os.path.join(base, "home", ".local", "share"),
        "XDG_STATE_HOME": os.path.join(base, "home", ".local", "state"),
        # terok-sandbox's runtime directory (root: /run/terok/sandbox) and port registry (/tmp/terok-ports),
        # relocated by terok's own variables; its state directory is <TEROK_ROOT>/sandbox
        "TEROK_SANDBOX_RUNTIME_DIR": os.path.join(base, "run"), "TEROK_PORT_REGISTRY_DIR": os.path.join(base, "ports"),
    })
    seen = {"base": base, "root": root}
    try:
        os.makedirs(os.path.join(base, "etc", "projects", PROJECT))
        os.makedirs(os.path.join(base, "home"))
        with open(os.path.join(base, "etc", "config.yml"), "w", encoding="utf-8") as handle:
            handle.write("{}\n")
        open(os.path.join(base, "etc", "projects", PROJECT, "project.yml"), "w", encoding="utf-8").close()
        # the repository the task clones; its removal later stands for terok's gate being down
        repo, seed = os.path.join(base, "repo.git"), os.path.join(base, "seed")
        _run(["git", "init", "-q", "--bare", "-b", "main", repo], env)
        _run(["git", "init", "-q", "-b", "main", seed], env)
        _run(["git", "-C", seed, "-c", "user.email=t@example.invalid", "-c", "user.name=t", "commit", "-q",
              "--allow-empty", "-m", "init"], env)
        _run(["git", "-C", seed, "push", "-q", repo, "main"], env)
        init = os.path.join(base, "init-ssh-and-repo.sh")  # terok's script, executable (site-packages keeps it 0644)
        shutil.copyfile(INIT_SCRIPT, init)
        os.chmod(init, 0o755)

        out = _run([terokctl, "task", "new", PROJECT, "--name", "by terok"], env)
        task_id = out.split("Created task ", 1)[1].split()[0]
        seen["task_id"] = task_id
        made = json.loads(_run([python, os.path.join(S.HERE, "terok_made_task.py"), PROJECT, task_id, IMAGE, init,
                                repo], env).strip().splitlines()[-1])
        seen["made"] = made
        name = made["container"]
        for _attempt in range(120):
            if "__CLI_READY__" in _logs(name, env):
                break
            time.sleep(0.5)
        seen["first_logs"] = _logs(name, env)
        seen["meta_by_terok"] = _meta(root, task_id)
        seen["inspect_before"] = json.loads(_podman("inspect", name, env=env))[0]
        seen["files_by_terok"] = [p for p in (made["sidecar"], made["runtime_dir"]) if os.path.exists(p)]
        seen["claims_by_terok"] = _claims(base)

        # as after a stop with terok's services down: the init script's fetch fails on the next start
        _podman("stop", "-t", "2", name, env=env)
        shutil.rmtree(repo)
        os.makedirs(repo)

        seen["start"] = _ours(env, task_id=task_id, state="running", image=IMAGE, ready_timeout=20)
        seen["meta_after_start"] = _meta(root, task_id)
        seen["status_after_start"] = _run([terok, "--no-emoji", "task", "status", PROJECT, task_id], env)
        seen["inspect_after_start"] = json.loads(_podman("inspect", name, env=env))[0]
        for _attempt in range(60):  # the fetch fails a moment after the start
            seen["logs_after_start"] = _logs(name, env)
            if "fatal:" in seen["logs_after_start"]:
                break
            time.sleep(0.5)
        seen["running_after_fetch"] = _podman("inspect", "--format", "{{.State.Status}}", name, env=env).strip()
        seen["stop"] = _ours(env, task_id=task_id, state="stopped")
        seen["meta_after_stop"] = _meta(root, task_id)
        seen["start_again"] = _ours(env, task_id=task_id, state="running", image=IMAGE, ready_timeout=20)
        seen["rerun"] = _ours(env, task_id=task_id, state="running", image=IMAGE, ready_timeout=20)
        seen["meta_at_end"] = _meta(root, task_id)
        seen["status_at_end"] = _run([terok, "--no-emoji", "task", "status", PROJECT, task_id], env)

        seen["archived"] = _ours(env, task_id=task_id, state="archived")
        seen["files_after"] = [p for p in (made["sidecar"], made["runtime_dir"]) if os.path.lexists(p)]
        seen["claims_after"] = _claims(base)
        seen["containers_after"] = _leftovers()
        seen["archive_list"] = _run([terok, "task", "archive", "list", PROJECT], env)
        yield seen
    finally:
        for name in _leftovers():
            _podman("rm", "-f", "-t", "0", name, check=False)
        shutil.rmtree(base, ignore_errors=True)
        left = _leftovers() + ([base] if os.path.exists(base) else [])
        assert left == [], "left in podman or the temp dir: %s" % left  # reported as the module's teardown error


def test_terok_made_the_task_and_its_container(terok_task):
    meta = terok_task["meta_by_terok"]
    assert meta["unrestricted"] is True and meta["ready_at"] and meta["mode"] == "cli"
    assert ">> init complete" in terok_task["first_logs"]
    config = terok_task["inspect_before"]
    assert "no-new-privileges" not in json.dumps(config["HostConfig"].get("SecurityOpt"))
    assert "TEROK_UNRESTRICTED=1" in config["Config"]["Env"]
    assert len(terok_task["files_by_terok"]) == 2
    assert terok_task["claims_by_terok"] == {"web:%s/%s" % (PROJECT, terok_task["task_id"]): terok_task["made"]["web_port"]}


def test_starting_it_again_keeps_terok_s_container_and_metadata(terok_task):
    start = terok_task["start"]
    assert not start.failed, start
    assert start.result["task"]["status"] == "running"
    assert any("not made by this collection" in w for w in start.warnings)
    # the init script stopped before its ready line, and the container is up: terok judges a resume so
    assert "fatal:" in terok_task["logs_after_start"]
    assert terok_task["logs_after_start"].count(">> init complete") == 1
    assert terok_task["running_after_fetch"] == "running"
    before, after = terok_task["meta_by_terok"], terok_task["meta_after_start"]
    assert after["unrestricted"] is True and after["ready_at"] == before["ready_at"]
    assert after["web_port"] == before["web_port"] and after["debug"] is False
    assert terok_task["inspect_after_start"]["Id"] == terok_task["inspect_before"]["Id"]
    status = terok_task["status_after_start"]
    assert "Permissions:     unrestricted" in status and "running" in status.split("Status:", 1)[1].splitlines()[0]


def test_stopping_and_starting_keep_it_as_terok_recorded_it(terok_task):
    assert not terok_task["stop"].failed and terok_task["stop"].result["changed"]
    assert terok_task["meta_after_stop"]["unrestricted"] is True
    assert terok_task["meta_after_stop"]["ready_at"] == terok_task["meta_by_terok"]["ready_at"]
    assert not terok_task["start_again"].failed and terok_task["start_again"].result["changed"]
    assert not terok_task["rerun"].failed and not terok_task["rerun"].result["changed"]
    end = terok_task["meta_at_end"]
    assert end["unrestricted"] is True and end["ready_at"] == terok_task["meta_by_terok"]["ready_at"]
    assert "Permissions:     unrestricted" in terok_task["status_at_end"]


def test_archiving_removes_terok_s_per_container_state_and_releases_the_port(terok_task):
    archived = terok_task["archived"]
    assert not archived.failed and archived.result["changed"], archived
    assert terok_task["files_after"] == []
    assert terok_task["claims_after"] == {}
    assert terok_task["containers_after"] == []
    assert "#%s: by-terok" % terok_task["task_id"] in terok_task["archive_list"]


def test_only_the_archive_and_the_test_s_own_files_remain_before_the_teardown(terok_task):
    base = terok_task["base"]
    left = sorted(os.path.relpath(os.path.join(d, f), base) for d, _s, fs in os.walk(base) for f in fs)
    allowed = ("etc/", "home/", "repo.git", "seed/", "init-ssh-and-repo.sh", "root/archive/", "ports/root.json",
               "root/core/projects/%s/tasks/.terok-lifecycle.lock" % PROJECT)
    assert [p for p in left if not p.startswith(allowed)] == [], left
