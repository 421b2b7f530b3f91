# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one fake podman of every test suite: in-process, or as a program on disk.

``FakePodman`` plays podman from a dict of containers. Hand it to ``Podman(executable, fake)``
as its ``CommandRunner``: ``run`` answers the calls that end, and ``stream`` (``logs --follow``,
``wait``) answers the same way, ``found`` when the answer holds the line waited for and
``ended`` otherwise (this podman never keeps a stream open).

``FakePodmanProgram`` writes an executable ``podman`` stub for real module runs (AnsibleModule
in another process): each call loads a ``FakePodman`` from a JSON state file, answers, and
writes the state back. The state file holds the same fields and records as the class.

Fields (constructor arguments, and keys of the state file):

``containers``  {name: {"State": …, "ExitCode": …, "Labels": {…}}}, listed by ``ps`` (State
                running unless given); ``run`` adds the container it names, running, with its
                labels; ``start``/``unpause`` set it running, ``stop`` exited, ``rm`` removes it;
                ``container inspect --format '{{.Name}} {{.RestartCount}}'`` prints each one's
                "RestartCount" (0 unless given)
``stuck``       names that ``stop`` and ``rm`` leave as they are (a container stuck in stopping)
``fail``        {subcommand: (rc, stderr)}: every call of that subcommand fails so
``logs``        what ``podman logs`` prints
``follow``      what ``podman logs --follow`` prints (the init script's ready line by default)
``wait``        the exit code ``podman wait`` prints
``images``      the images ``podman image exists`` finds; None: every image
``echo_env_on_failure``  a failing ``run`` also prints its env file (a podman that leaks it)

An egress fence (``Podman.start_fenced``): ``create`` adds the container as ``run`` does, but
``created``; ``init`` makes it ``initialized``; ``inspect --format {{.State.Pid}}`` prints 4242; and
``nsenter --net=… nft list table …`` (the runner's call as root, or after ``unshare``) prints a
loaded fence, unless ``fail`` has ``nsenter``.

Records: ``calls`` (argv of every ``run``, the program first; a program records every call
here), ``spawned`` (argv of every ``stream``), ``env_files`` (for each ``podman run``: the path,
mode, directory mode and text of its ``--env-file`` while the call ran) and ``mounts`` (for each
``--volume`` of a ``podman run``: the argument and the real path of its source then).

Only the standard library is imported: the program stub loads this file by its path.
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
import sys

# podman subcommands that only read
READ_ONLY = frozenset(["ps", "logs", "inspect", "version", "info", "images", "image", "container"])

LOGS = "2026-11-28T09:15:02Z hello\n"
# what ``nft list table inet terok_lifecycle_egress`` prints in a fenced container's network namespace
FENCE_LISTING = ("table inet terok_lifecycle_egress {\n\tchain output {\n\t\ttype filter hook output priority filter; "
                 "policy drop;\n\t\toifname \"lo\" accept\n\t\treject with icmpx admin-prohibited\n\t}\n}\n")
FOLLOW = ">> cloning\n>> init complete\n"

FIELDS = ("containers", "fail", "stuck", "logs", "follow", "wait", "images", "echo_env_on_failure", "secrets")
RECORDS = ("calls", "spawned", "env_files", "mounts")


def _env_file(args):
    """What the ``--env-file`` of a ``run`` call holds now: path, mode, directory mode, text."""
    if "--env-file" not in args[:-1]:
        return None
    path = args[args.index("--env-file") + 1]
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        return {
            "path": path,
            "mode": stat.S_IMODE(os.stat(path).st_mode),
            "dir_mode": stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode),
            "text": text,
        }
    except OSError as exc:
        return {"path": path, "error": str(exc)}


class FakePodman:
    """A podman that answers from ``containers`` and records every call (see the module docstring)."""

    def __init__(self, containers=None, fail=None, stuck=(), logs=LOGS, follow=FOLLOW, wait=0, images=None,
                 echo_env_on_failure=False, secrets=()):
        self.containers = {name: dict(value) for name, value in (containers or {}).items()}
        self.fail = {sub: tuple(value) for sub, value in (fail or {}).items()}
        self.stuck = set(stuck)
        self.logs = logs
        self.follow = follow
        self.wait = wait
        self.images = None if images is None else set(images)
        self.echo_env_on_failure = echo_env_on_failure
        self.secrets = sorted(secrets)  # the names of the podman secrets there are
        self.calls = []
        self.timeouts = []  # the deadline of every ``run`` call, in order (not in the state file)
        self.spawned = []
        self.env_files = []
        self.mounts = []

    # the CommandRunner interface -------------------------------------------------------------
    def run(self, argv, data=None, timeout=None):
        """Answer ``argv`` (the program first): (rc, stdout, stderr); ``timeout`` is recorded."""
        self.calls.append(list(argv))
        self.timeouts.append(timeout)
        return self.answer(list(argv[1:]))

    def stream(self, argv, needle, timeout):
        """Answer a streaming call: (``found`` or ``ended``, (rc, stdout, stderr))."""
        self.spawned.append(list(argv))
        rc, out, err = self.answer(list(argv[1:]))
        return ("found" if needle and needle in out else "ended"), (rc, out, err)

    # what the tests ask ------------------------------------------------------------------------
    def subcommands(self):
        """The subcommand of every ``run`` call, in order."""
        return [argv[1] for argv in self.calls if len(argv) > 1]

    def mutating_calls(self):
        """The ``run`` calls whose subcommand may change something."""
        return [argv for argv in self.calls if len(argv) < 2 or (argv[1] not in READ_ONLY and argv[1:3] != ["secret", "ls"])]

    # podman ------------------------------------------------------------------------------------
    def answer(self, args):
        """What podman would answer to ``podman args…``; updates ``containers`` like podman."""
        sub = args[0] if args else ""
        if sub == "unshare" and len(args) > 1 and args[1].endswith("nsenter"):
            args = args[1:]
            sub = "nsenter"
        if sub.startswith("--net="):  # nsenter, run by the runner itself (argv[0] is its path)
            sub = "nsenter"
        if sub in ("run", "create"):
            self.env_files.append(_env_file(args))
            for index, arg in enumerate(args[:-1]):
                if arg == "--volume":
                    volume = args[index + 1]
                    self.mounts.append((volume, os.path.realpath(volume.split(":")[0])))
        if sub in self.fail:
            rc, err = self.fail[sub]
            if sub == "run" and self.echo_env_on_failure and self.env_files[-1]:
                err += "\nenv file was:\n" + self.env_files[-1].get("text", "")
            return rc, "", err
        names = [arg for arg in args[1:] if arg in self.containers]
        if sub == "ps":
            return 0, json.dumps([self._listed(name) for name in sorted(self.containers)]), ""
        if sub == "logs" and "--names" in args and "--follow" not in args:  # each line after its container's name
            asked = [arg for arg in args[1:] if not arg.startswith("-")]
            return 0, "".join("%s %s" % (name, line) for name in asked for line in self.logs.splitlines(True)), ""
        if sub == "logs":
            return 0, self.follow if "--follow" in args else self.logs, ""
        if sub == "wait":
            return 0, "%d\n" % self.wait, ""
        if sub == "nsenter":
            return 0, FENCE_LISTING, ""
        if sub == "inspect" and "{{.State.Pid}}" in args:
            return 0, "4242\n", ""
        if args[:2] == ["container", "inspect"]:  # the restart counts (Podman.restart_counts)
            asked = args[args.index("--") + 1:] if "--" in args else names
            found = [name for name in asked if name in self.containers]
            out = "".join("%s %d\n" % (name, self.containers[name].get("RestartCount", 0)) for name in found)
            missing = [name for name in asked if name not in self.containers]
            return (125 if missing else 0), out, "".join("Error: no such container %s\n" % name for name in missing)
        if sub == "secret":
            return self._secret(args[1:])
        if sub == "images":  # each image's id is "id-" and its name
            return 0, json.dumps([{"Id": "id-" + name, "Names": [name]} for name in sorted(self.images or ())]), ""
        if sub == "image" and args[1:2] == ["exists"]:
            return (0 if self.images is None or args[2] in self.images else 1), "", ""
        if sub in ("run", "create"):
            labels = {}
            for index, arg in enumerate(args[:-1]):
                if arg == "--label":
                    key, _sep, value = args[index + 1].partition("=")
                    labels[key] = value
            name = args[args.index("--name") + 1]
            container_id = "%016x" % (len(self.calls) or len(self.containers) + 1)  # a new id for each container
            self.containers[name] = {"State": "running" if sub == "run" else "created", "Labels": labels,
                                     "Id": container_id}
            return 0, container_id + "\n", ""
        for name in names:
            if sub in ("start", "unpause"):
                self.containers[name]["State"] = "running"
            elif sub == "init":
                self.containers[name]["State"] = "initialized"
            elif sub == "stop" and name not in self.stuck:
                self.containers[name]["State"] = "exited"
            elif sub == "rm" and name not in self.stuck:
                del self.containers[name]
        return 0, "", ""

    def _secret(self, args):
        """``podman secret create NAME -``, ``rm NAME...`` (each missing one an error, the rest removed), ``ls``."""
        if args[:1] == ["ls"]:
            return 0, "".join(name + "\n" for name in self.secrets), ""
        if args[:1] == ["create"]:
            if args[1] in self.secrets:
                return 125, "", "Error: %s: secret name in use" % args[1]
            self.secrets = sorted(self.secrets + [args[1]])
            return 0, "%016x\n" % len(self.calls), ""
        missing = [name for name in args[1:] if name not in self.secrets]
        self.secrets = [name for name in self.secrets if name not in args[1:]]
        return (1 if missing else 0), "", "".join("Error: no such secret: %s\n" % name for name in missing)

    def _listed(self, name):
        """The container as ``podman ps -a --format json`` lists it."""
        item = {"Names": [name], "Id": "id-" + name, "Image": "img", "State": "running", "Labels": {}}
        item.update(self.containers[name])
        return item

    # the state file ----------------------------------------------------------------------------
    def state(self):
        """The fields and records as JSON values."""
        state = {key: getattr(self, key) for key in FIELDS + RECORDS}
        state["stuck"] = sorted(self.stuck)
        if self.images is not None:
            state["images"] = sorted(self.images)
        return state

    @classmethod
    def from_state(cls, state):
        fake = cls(**{key: state[key] for key in FIELDS if key in state})
        for key in RECORDS:
            setattr(fake, key, list(state.get(key, [])))
        return fake


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _write(path, state):
    with open(path + ".new", "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=1)
    os.replace(path + ".new", path)


class _Locked:
    """The state file's lock: one call of the program at a time changes the state."""

    def __init__(self, path):
        self.path = path + ".lock"
        self.handle = None

    def __enter__(self):
        self.handle = open(self.path, "w", encoding="utf-8")  # pylint: disable=consider-using-with
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc_info):
        self.handle.close()


def main(argv, state_path):
    """The program: answer ``argv`` (the program first) from the state file and record the call."""
    with _Locked(state_path):
        fake = FakePodman.from_state(_read(state_path))
        rc, out, err = fake.run(argv)
        _write(state_path, fake.state())
    sys.stdout.write(out)
    sys.stderr.write(err)
    return rc


STUB = """#!{python} -IS
# A stand-in for podman written by tests/support/fake_podman.py: it answers from {state}.
import importlib.util
import sys

spec = importlib.util.spec_from_file_location("terok_test_fake_podman", {source!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
sys.exit(module.main(sys.argv, {state!r}))
"""


class FakePodmanProgram:
    """An executable ``podman`` in ``directory`` (``path``) that plays FakePodman from a state file."""

    def __init__(self, directory, **fields):
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, "podman")
        self.state_path = os.path.join(directory, "fake-podman-state.json")
        with open(self.path, "w", encoding="utf-8") as handle:
            handle.write(STUB.format(python=sys.executable, source=os.path.abspath(__file__), state=self.state_path))
        os.chmod(self.path, 0o755)
        self.set(**fields)

    def set(self, **fields):
        """Start over: a FakePodman with these fields and no records."""
        with _Locked(self.state_path):
            _write(self.state_path, FakePodman(**fields).state())

    def update(self, **fields):
        """Change some fields and keep the rest, records included."""
        with _Locked(self.state_path):
            state = _read(self.state_path)
            state.update((key, value) for key, value in FakePodman(**fields).state().items() if key in fields)
            _write(self.state_path, state)

    def fake(self):
        """The FakePodman the state file describes now (containers as the calls left them)."""
        return FakePodman.from_state(_read(self.state_path))

    def calls(self):
        """argv of every call so far, the program first."""
        return self.fake().calls

    def subcommands(self):
        return self.fake().subcommands()

    def env_files(self):
        return self.fake().env_files
