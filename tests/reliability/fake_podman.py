# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A stand-in for the podman program, for real module runs of the reliability suite.

conftest.py copies this file behind a ``#!<python>`` line and hands the copy to the modules
as ``executable``. Its behaviour comes from a JSON state file (``FAKE_PODMAN_STATE``, or the
path that conftest writes in place of ``STATE_PATH``):

``containers``  {name: {"State": ..., "ExitCode": ..., "Labels": {...}}} as ``podman ps`` lists them
``fail``        {subcommand: [rc, stderr]}: that subcommand fails
``stuck``       [names]: ``stop`` and ``rm`` leave these containers as they are (a container stuck in stopping)
``logs``        what ``podman logs`` prints

``run`` adds the container it names (running); ``logs`` prints ``logs``, which should hold the init
script's ``>> init complete`` line when a module waits for readiness.

Every call is appended to ``calls`` (argv after the program name); a ``run`` call also records
the mode of its ``--env-file`` and the file's text, so that tests can check both.
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
import sys

STATE_PATH = os.environ.get("FAKE_PODMAN_STATE", "@STATE@")


def _env_file_info(args):
    for index, arg in enumerate(args):
        if arg == "--env-file" and index + 1 < len(args):
            path = args[index + 1]
            try:
                st = os.stat(path)
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
                parent = os.stat(os.path.dirname(path))
                return {"path": path, "mode": stat.S_IMODE(st.st_mode), "dir_mode": stat.S_IMODE(parent.st_mode),
                        "text": text}
            except OSError as exc:
                return {"path": path, "error": str(exc)}
    return None


def main(args):
    with open(STATE_PATH + ".lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with open(STATE_PATH, encoding="utf-8") as handle:
            state = json.load(handle)
        call = {"argv": args}
        sub = args[0] if args else ""
        if sub == "run":
            call["env_file"] = _env_file_info(args)
        state.setdefault("calls", []).append(call)
        containers = state.setdefault("containers", {})
        rc, out, err = 0, "", ""
        failure = state.get("fail", {}).get(sub)
        names = [a for a in args[1:] if a in containers]
        if failure:
            rc, err = failure[0], failure[1]
            if sub == "run" and state.get("echo_env_on_failure") and call["env_file"]:
                err += "\nenv file was:\n" + call["env_file"].get("text", "")
        elif sub == "ps":
            items = []
            for name, value in sorted(containers.items()):
                item = {"Names": [name], "State": value.get("State", "running"), "Labels": value.get("Labels", {})}
                if "ExitCode" in value:
                    item["ExitCode"] = value["ExitCode"]
                items.append(item)
            out = json.dumps(items)
        elif sub == "logs":
            out = state.get("logs", "2026-11-28T00:00:00Z fake log line\n")
        elif sub == "rm":
            for name in names:
                if name not in state.get("stuck", []):
                    del containers[name]
        elif sub == "stop":
            for name in names:
                if name not in state.get("stuck", []):
                    containers[name]["State"] = "exited"
        elif sub == "start":
            for name in names:
                containers[name]["State"] = "running"
        elif sub == "wait":
            out = "0\n"
        elif sub == "run":
            name = args[args.index("--name") + 1] if "--name" in args else None
            if name:
                containers[name] = {"State": "running", "Labels": {}}
            out = "0123456789abcdef\n"
        with open(STATE_PATH + ".new", "w", encoding="utf-8") as handle:
            json.dump(state, handle, indent=1)
        os.replace(STATE_PATH + ".new", STATE_PATH)
    sys.stdout.write(out)
    sys.stderr.write(err)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
