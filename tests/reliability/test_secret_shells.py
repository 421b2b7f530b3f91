# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""``secret_env`` reaches every process of the agent, not only the container's command: real podman, root.

A ``cli`` task is started with two secrets (as root; the dev image's user ``dev`` on rootless
podman is checked by ``test_rootless.py``, whose tmux login and ``terok login`` see the secret too).
Then, as a person or terok would come in later: ``podman exec … bash -lc``, ``podman exec … bash
-ic`` (the module's ``login_command`` is ``podman exec -it … bash``) and a shell in the tmux session
that ``tmux_login_command`` and ``terok login`` attach to. Each sees both values, while neither value
is in ``podman inspect``, in the module's result or in a file of the container's home (the init
script's hook reads podman's secret mounts when a shell starts). The task, its container and its
podman secrets are gone at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

import _support as S

IMAGE = os.environ.get("TEROK_TASK_IMAGE", "localhost/terok-task:latest")
INIT_SCRIPT = os.path.join(S.REPO, "files", "init-ssh-and-repo.sh")
PROJECT = "tlshells"
SECRETS = {"API_KEY": "sk-test value with spaces", "GH_TOKEN": "ghp_0123456789abcdef"}
PRINT = 'printf "%s|%s" "$API_KEY" "$GH_TOKEN"'
EXPECTED = "%s|%s" % (SECRETS["API_KEY"], SECRETS["GH_TOKEN"])
# the environment of the container's command (sleep 300, which the init script exec'd, under podman's init)
COMMAND_ENV = ("for p in /proc/[0-9]*; do [ \"$(tr '\\0' ' ' < $p/cmdline)\" = 'sleep 300 ' ] "
               "&& tr '\\0' '\\n' < $p/environ; done; true")


def _podman(*args, check=True, timeout=60):
    proc = subprocess.run(["podman"] + list(args), env=S.ansible_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, check=False)
    out = proc.stdout.decode("utf-8", "replace")
    if check:
        assert proc.returncode == 0, "podman %s: %s" % (" ".join(args), proc.stderr.decode("utf-8", "replace"))
    return out


def _containers():
    return _podman("ps", "-a", "--filter", "name=^%s-" % PROJECT, "--format", "{{.Names}}").split()


def _tmux_shell_sees(container):
    """A shell in the tmux session ``main``, as tmux_login_command makes it (a login shell), runs PRINT."""
    _podman("exec", container, "tmux", "new-session", "-d", "-s", "main")
    _podman("exec", container, "tmux", "send-keys", "-t", "main", "%s > /tmp/tl-probe" % PRINT, "Enter")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        out = _podman("exec", container, "cat", "/tmp/tl-probe", check=False)
        if out:
            return out
        time.sleep(0.2)
    return None


def test_login_shells_and_tmux_see_secret_env_which_podman_inspect_does_not_show(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("runs rootful podman as root")
    assert _containers() == [], "containers of project %s exist before the test" % PROJECT
    root = str(tmp_path / "root")
    task = {"root": root, "project": PROJECT, "name": "shells", "state": "running", "mode": "cli",
            "image": IMAGE, "init_script": INIT_SCRIPT, "command": ["sleep", "300"],
            "secret_env": SECRETS}
    try:
        started = S.adhoc("terok_task", task)
        assert not started.failed and not S.crash_signs(started.result), started
        container = started.result["task"]["container_name"]
        assert started.result["task"]["login_command"] == "podman exec -it %s bash" % container

        assert _podman("exec", container, "bash", "-lc", PRINT) == EXPECTED
        # -i without a terminal: bash says it has no job control on stderr; stdout holds the values
        assert _podman("exec", container, "bash", "-ic", PRINT).endswith(EXPECTED)
        assert _tmux_shell_sees(container) == EXPECTED
        # the container's command had them from the init script, as before
        command_env = _podman("exec", container, "sh", "-c", COMMAND_ENV)
        assert "API_KEY=%s" % SECRETS["API_KEY"] in command_env.splitlines(), command_env

        inspected = _podman("inspect", container)
        homes = _podman("exec", container, "sh", "-c", "cat $HOME/.terok-secret-env.sh $HOME/.bashrc $HOME/.profile")
        for value in SECRETS.values():
            assert value not in inspected, "a secret value is in podman inspect"
            assert value not in json.dumps(started.result), "a secret value is in the module's result"
            assert value not in homes, "a secret value was written to the home"
        assert "terok.lifecycle: secret_env" in homes

    finally:
        # absent also removes the task's podman secrets
        gone = S.adhoc("terok_task", {"root": root, "project": PROJECT, "name": task["name"], "state": "absent"})
        for name in _containers():
            _podman("rm", "-f", "-t", "0", name, check=False)
    assert not gone.failed, gone
    assert _containers() == []
