# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A CommandRunner over real processes for tests that use the library without a module.

The modules run podman through ``AnsibleModule.run_command`` (``ModuleRunner``); the
library itself starts no process. Tests and benchmarks that drive the library in-process
with a real podman (or a podman script) use this runner instead: the same contract,
built on ``subprocess``.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import time

from ansible_collections.terok.lifecycle.plugins.module_utils._podman import CommandRunner, PodmanError


def _text(data):
    return data.decode("utf-8", "surrogateescape")


class ProcessRunner(CommandRunner):
    """``run`` and ``stream`` with subprocess."""

    def run(self, argv, data=None, timeout=None):
        try:
            proc = subprocess.run(
                argv, input=None if data is None else data.encode("utf-8", "surrogateescape"),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False, timeout=timeout,
            )
        except subprocess.TimeoutExpired:  # subprocess.run has killed and reaped it
            raise PodmanError("%s did not end within its deadline of %ss: it was killed"
                              % (" ".join([os.path.basename(argv[0])] + argv[1:2]), timeout))
        except OSError as exc:  # as ModuleRunner: a call that cannot start is a PodmanError
            raise PodmanError("%s could not be run: %s" % (" ".join([os.path.basename(argv[0])] + argv[1:2]),
                                                           exc.strerror or exc))
        return proc.returncode, _text(proc.stdout), _text(proc.stderr)

    def stream(self, argv, needle, timeout):
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        chunks = {proc.stdout: b"", proc.stderr: b""}
        selector = selectors.DefaultSelector()
        for pipe in chunks:
            selector.register(pipe, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        outcome = "ended"
        try:
            while selector.get_map():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    outcome = "timeout"
                    break
                for key, _event in selector.select(min(remaining, 0.5)):
                    chunk = os.read(key.fileobj.fileno(), 65536)
                    if not chunk:
                        selector.unregister(key.fileobj)
                    chunks[key.fileobj] += chunk
                if needle and needle.encode("utf-8") in chunks[proc.stdout]:
                    outcome = "found"
                    break
        finally:
            selector.close()
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()
            proc.stderr.close()
        return outcome, (proc.returncode, _text(chunks[proc.stdout]), _text(chunks[proc.stderr]))
