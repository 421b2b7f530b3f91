# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The podman command line: one listing for all containers, and argv-only calls."""

from __future__ import annotations

import json
import os
import selectors
import shutil
import subprocess
import time

from ansible_collections.terok.lifecycle.plugins.module_utils.errors import TerokError


class PodmanError(TerokError):
    """podman is missing or a podman call failed."""


class Container(object):
    """One container as ``podman ps -a --format json`` describes it."""

    __slots__ = ("name", "id", "state", "exit_code", "labels", "image")

    def __init__(self, name, state, exit_code=None, labels=None, container_id=None, image=None):
        self.name = name
        self.state = state
        self.exit_code = exit_code
        self.labels = labels or {}
        self.id = container_id
        self.image = image

    @property
    def running(self):
        return self.state == "running"


def subprocess_runner(argv):
    """Run ``argv`` without a shell; return (rc, stdout, stderr) as text."""
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    return (
        proc.returncode,
        proc.stdout.decode("utf-8", "surrogateescape"),
        proc.stderr.decode("utf-8", "surrogateescape"),
    )


class Podman(object):
    """podman, called with argv lists through ``runner`` (``module.run_command`` in modules)."""

    def __init__(self, executable="podman", runner=None):
        self.executable = executable
        self.runner = runner or subprocess_runner
        self._path = None
        self.calls = 0

    def path(self):
        """The podman executable's full path; raise PodmanError when it cannot be found."""
        if self._path is None:
            found = shutil.which(self.executable)
            if not found or not os.access(found, os.X_OK):
                raise PodmanError(
                    "podman executable %r was not found on the target (PATH=%s); install podman "
                    "or set the executable option" % (self.executable, os.environ.get("PATH", "")),
                    option="executable",
                )
            self._path = found
        return self._path

    def run(self, *args):
        """Run ``podman args…``; return (rc, stdout, stderr)."""
        argv = [self.path()] + list(args)
        self.calls += 1
        return self.runner(argv)

    def check(self, *args):
        """Run ``podman args…`` and return stdout; raise PodmanError naming the call on failure."""
        rc, out, err = self.run(*args)
        if rc != 0:
            raise PodmanError(
                "podman %s failed (rc=%s): %s" % (" ".join(args[:2]), rc, (err or out).strip()[-2000:])
            )
        return out

    def list_containers(self):
        """Every container on the host by name, from one ``podman ps -a --format json``."""
        out = self.check("ps", "-a", "--format", "json")
        try:
            items = json.loads(out or "[]")
        except ValueError as exc:
            raise PodmanError("podman ps returned output that is not JSON: %s" % exc)
        containers = {}
        for item in items or []:
            names = item.get("Names") or []
            if isinstance(names, str):
                names = [names]
            exit_code = item.get("ExitCode")
            container = Container(
                name=None,
                state=str(item.get("State") or "unknown").lower(),
                exit_code=exit_code if isinstance(exit_code, int) else None,
                labels=item.get("Labels") or {},
                container_id=item.get("Id"),
                image=item.get("Image"),
            )
            for name in names:
                containers[name] = Container(
                    name, container.state, container.exit_code, container.labels, container.id, container.image
                )
        return containers

    def logs(self, name):
        """``podman logs --timestamps`` of a container, as text."""
        rc, out, err = self.run("logs", "--timestamps", name)
        if rc != 0:
            raise PodmanError("podman logs %s failed (rc=%s): %s" % (name, rc, (err or out).strip()[-2000:]))
        # podman logs writes the container's stderr stream to its own stderr
        return out + err if out and err else out or err

    def remove(self, names):
        """Force-remove containers by name; containers that are not there are not an error."""
        if names:
            self.check("rm", "--force", "--ignore", "--", *names)

    def start(self, name):
        self.check("start", name)

    def stop(self, name, timeout):
        self.check("stop", "--time", str(int(timeout)), name)

    def _spawn(self, *args):
        self.calls += 1
        return subprocess.Popen(
            [self.path()] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )

    def wait(self, name, timeout):
        """Wait for the container to exit and return its exit code; None when ``timeout`` ran out.

        The container's own exit code is returned as it is, 124 included: the timeout is
        this call's, not a ``timeout`` command's.
        """
        proc = self._spawn("wait", name)
        try:
            out, _err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return None
        text = out.decode("utf-8", "replace").strip()
        if proc.returncode != 0:
            raise PodmanError("podman wait %s failed (rc=%s): %s" % (name, proc.returncode, text[-2000:]))
        try:
            return int(text.splitlines()[-1])
        except (ValueError, IndexError):
            raise PodmanError("podman wait %s printed no exit code: %r" % (name, text[-200:]))

    def follow_logs(self, name, needle, timeout, since=None, keep=20):
        """Follow the container's log until a line holds ``needle``.

        Returns (outcome, last_lines) where outcome is ``found``, ``exited`` (the log ended:
        the container stopped first) or ``timeout``.
        """
        args = ["logs", "--follow"]
        if since:
            args += ["--since", since]
        proc = self._spawn(*(args + [name]))
        tail = []
        buffer = b""
        deadline = time.monotonic() + timeout
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        outcome = "timeout"
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if not selector.select(min(remaining, 1.0)):
                    continue
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    outcome = "exited"
                    break
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for raw in lines:
                    line = raw.decode("utf-8", "replace").rstrip("\r")
                    tail = (tail + [line])[-keep:]
                    if needle in line:
                        outcome = "found"
                if outcome == "found":
                    break
        finally:
            selector.close()
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
        if buffer:
            tail = (tail + [buffer.decode("utf-8", "replace")])[-keep:]
        return outcome, tail
