# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to terok.lifecycle: not a public API, it may change in any release.
"""The podman client: every podman command line the collection runs is built here.

One listing (``podman ps -a --format json``) serves a whole module run; every other call is
a typed method (run_container, start, stop, unpause, remove, logs, image_exists, wait,
follow_logs, restart_counts …), argv only, never a shell. Every process goes through one injectable
``CommandRunner``: modules pass one that uses ``AnsibleModule.run_command``, tests a fake.
No process is started here: this file imports no ``subprocess``.
"""

from __future__ import annotations

import heapq
import json
import os
import re
import shutil
import tempfile

from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

    Result = Tuple[int, str, str]


# Deadlines of the podman calls that end (a streaming call has the timeout it is given): past
# its deadline a call is killed and fails with a PodmanError naming the call and the deadline, so
# that a hung podman cannot hold a project's lock for ever. In seconds:
ENV_DIR_PREFIX = "terok-env-"  # then the pid of the run that made it (sweep_env_dirs)
CALL_TIMEOUT = 300.0  # any call without a deadline of its own (ps, start, rm, logs, info, secret …)
LONG_CALL_TIMEOUT = 1800.0  # podman run (it may pull the image) and podman unshare rm -rf (a large workspace)
STOP_MARGIN = 60.0  # podman stop: its --time (the grace before SIGKILL) plus this


class PodmanError(TerokError):
    """podman is missing or a podman call failed."""


class Container:
    """One container as ``podman ps -a --format json`` describes it."""

    __slots__ = ("name", "id", "state", "exit_code", "labels", "image", "exited_at", "image_id", "health",
                 "restart_count")

    def __init__(
        self,
        name: Optional[str],
        state: str,
        exit_code: Optional[int] = None,
        labels: Optional[Dict[str, str]] = None,
        container_id: Optional[str] = None,
        image: Optional[str] = None,
        exited_at: Optional[float] = None,
        image_id: Optional[str] = None,
        health: Optional[str] = None,
        restart_count: Optional[int] = None,
    ) -> None:
        self.name = name
        self.state = state
        self.exit_code = exit_code
        self.labels = labels or {}
        self.id = container_id
        self.image = image
        self.exited_at = exited_at  # when it last exited (seconds since the epoch), None if it never did
        self.image_id = image_id  # the id of the image it runs, whatever its name points at now
        self.health = health  # its healthcheck's last verdict (healthy, unhealthy, starting), None without one
        # how often podman restarted it by its restart policy since its last start (podman inspect's RestartCount;
        # the listing does not carry it), None when not known
        self.restart_count = restart_count

    @property
    def running(self) -> bool:
        return self.state == "running"


class RunRequest:
    """What ``podman run`` needs to make a task's container; ``run_container`` turns it into argv."""

    def __init__(
        self,
        name: str,
        image: str,
        command: Sequence[str],
        entrypoint: Sequence[str],
        labels: Sequence[Tuple[str, str]],
        annotations: Sequence[Tuple[str, str]],
        volumes: Sequence[str],
        workdir: str,
        env: Mapping[str, str],
        secrets: Sequence[Tuple[str, str]] = (),
        options: Sequence[str] = (),
        fenced: bool = False,
    ) -> None:
        self.name = name
        self.image = image
        self.command = list(command)
        self.entrypoint = list(entrypoint)
        self.labels = list(labels)
        self.annotations = list(annotations)
        self.volumes = list(volumes)
        self.workdir = workdir
        self.env = dict(env)
        self.secrets = list(secrets)  # (podman secret name, file name under /run/secrets)
        self.options = list(options)  # the flags of the task's container options (_task_options.podman_flags)
        self.fenced = fenced  # an egress fence: made with podman create, then started by Podman.start_fenced

    def argv(self, env_file: str) -> List[str]:
        """The arguments after ``podman``: a detached, interactive run with tini (``--init``); for a fenced
        container ``podman create`` with the same flags, which ``Podman.start_fenced`` starts.

        The environment is passed in ``env_file``, never on the command line.
        """
        args = (["create"] if self.fenced else ["run", "--detach"]) + ["--interactive", "--init", "--name", self.name]  # --hostname: in options
        for key, value in self.labels:
            args += ["--label", "%s=%s" % (key, value)]
        for key, value in self.annotations:
            args += ["--annotation", "%s=%s" % (key, value)]
        for volume in self.volumes:
            args += ["--volume", volume]
        for secret, target in self.secrets:
            args += ["--secret", "%s,type=mount,target=%s" % (secret, target)]
        args += self.options
        args += ["--workdir", self.workdir, "--env-file", env_file]
        args += ["--entrypoint", json.dumps(self.entrypoint), self.image]
        return args + self.command


def sweep_env_dirs() -> None:
    """Remove the env-file directories (``terok-env-<pid>-*`` in the temp directory) of runs that
    are gone: a run killed during ``podman run`` leaves its directory behind. Only this user's."""
    base = tempfile.gettempdir()
    try:
        entries = [entry for entry in os.scandir(base) if entry.name.startswith(ENV_DIR_PREFIX)]
    except OSError:
        return
    for entry in entries:
        pid = entry.name[len(ENV_DIR_PREFIX):].split("-", 1)[0]
        try:
            if not pid.isdigit() or not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != os.geteuid() or _alive(int(pid)):
                continue
        except OSError:
            continue
        shutil.rmtree(entry.path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class CommandRunner:
    """How podman's processes are run: the modules pass ``ModuleRunner`` (``AnsibleModule.run_command``).

    ``run`` is a call that ends, by its deadline at the latest; ``stream`` one that may not
    (``podman wait``, ``podman logs --follow``), bounded by a timeout and, for a log, by the line it waits for.
    """

    def run(self, argv: List[str], data: Optional[str] = None, timeout: Optional[float] = None) -> Result:
        """Run ``argv`` without a shell, ``data`` on its standard input; return (rc, stdout, stderr) as text.

        ``timeout``: the call's deadline in seconds; past it the process is killed and PodmanError
        raised, naming the call and the deadline (None: no deadline).
        """
        raise NotImplementedError

    def kill_all(self) -> None:
        """The run is interrupted: kill every process this runner has running, start no further one.

        A runner that cannot (a test's fake) does nothing: its calls end by themselves.
        """

    def stream(self, argv: List[str], needle: Optional[str], timeout: float) -> Tuple[str, Result]:
        """Run ``argv`` until one of: its stdout holds ``needle`` (``found``: the process is then
        ended), it ends by itself (``ended``), or ``timeout`` seconds pass (``timeout``: it is
        killed). Return (outcome, (rc, stdout, stderr)); rc means something only when ``ended``.
        """
        raise NotImplementedError


_STAMPED = re.compile(r"\d{4}-\d\d-\d\dT\S+ ")
_STAMP = re.compile(r"(\S*T\d\d:\d\d:\d\d)(?:\.(\d+))?(\S*)")


def _stamp_key(line: str) -> Tuple[str, str, str]:
    """A line's timestamp as a sortable key (RFC 3339 with its fraction padded: podman trims zeros)."""
    match = _STAMP.match(line)
    if not match:
        return (line, "", "")
    return (match.group(1), (match.group(2) or "").ljust(9, "0"), match.group(3))


def _interleave(out: str, err: str) -> str:
    """Both streams of ``podman logs --timestamps`` as one log in time order.

    Each stream is in order already; their lines are merged by timestamp (a stable merge,
    so lines of one instant keep their stream's order). Lines without a timestamp: out, then err.
    """
    streams = [out.splitlines(True), err.splitlines(True)]
    if not all(_STAMPED.match(line) for lines in streams for line in lines):
        return out + err
    for lines in streams:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
    return "".join(heapq.merge(*streams, key=_stamp_key))


_HEALTH = re.compile(r"\((healthy|unhealthy|starting)\)\s*$")


def _health(status: Any) -> Optional[str]:
    """A healthcheck's verdict from podman ps's ``Status`` (``Up 5 minutes (healthy)``); None without one."""
    match = _HEALTH.search(status) if isinstance(status, str) else None
    return match.group(1) if match else None


def _detail(out: str, err: str) -> str:
    return (err or out).strip()[-2000:]


class Podman:
    """The podman program on the target, called with argv lists through one ``CommandRunner``."""

    def __init__(self, executable: str, runner: CommandRunner) -> None:
        self.executable = executable
        self.runner = runner
        self._path: Optional[str] = None
        self.calls = 0

    def path(self) -> str:
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

    def _command(self, *args: str, data: Optional[str] = None, timeout: float = CALL_TIMEOUT) -> Result:
        """Run ``podman args…`` (``data`` on its standard input) with a deadline of ``timeout``
        seconds; return (rc, stdout, stderr)."""
        argv = [self.path()] + list(args)
        self.calls += 1
        if data is None:
            return self.runner.run(argv, timeout=timeout)
        return self.runner.run(argv, data=data, timeout=timeout)

    def _checked(self, *args: str, timeout: float = CALL_TIMEOUT) -> str:
        """Run ``podman args…`` and return stdout; raise PodmanError naming the call on failure."""
        rc, out, err = self._command(*args, timeout=timeout)
        if rc != 0:
            raise PodmanError("podman %s failed (rc=%s): %s" % (" ".join(args[:2]), rc, _detail(out, err)))
        return out

    def _stream(self, needle: Optional[str], timeout: float, *args: str) -> Tuple[str, Result]:
        self.calls += 1
        return self.runner.stream([self.path()] + list(args), needle, timeout)

    def list_containers(self) -> Dict[str, Container]:
        """Every container on the host by name, from one ``podman ps -a --format json``."""
        out = self._checked("ps", "-a", "--format", "json")
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
            exited_at = item.get("ExitedAt")
            exited = isinstance(exited_at, (int, float)) and exited_at > 0 and item.get("Exited", True)
            for name in names:
                containers[name] = Container(
                    name,
                    str(item.get("State") or "unknown").lower(),
                    exit_code if isinstance(exit_code, int) else None,
                    item.get("Labels") or {},
                    item.get("Id"),
                    item.get("Image"),
                    float(exited_at) if exited else None,
                    item.get("ImageID") or None,
                    _health(item.get("Status")),
                )
        return containers

    def restart_counts(self, names: Sequence[str]) -> Dict[str, int]:
        """How often podman restarted each container by its restart policy since its last start, by name, from one
        ``podman container inspect`` (``podman ps`` of podman 4.3.1 does not carry it). A container that is gone
        by now is left out; raise PodmanError when podman answers for none of them."""
        if not names:
            return {}
        rc, out, err = self._command("container", "inspect", "--format", "{{.Name}} {{.RestartCount}}", "--", *names)
        counts = {}
        for line in out.splitlines():
            name, _space, count = line.strip().rpartition(" ")
            if name in names and count.isdigit():
                counts[name] = int(count)
        if rc != 0 and not counts:
            raise PodmanError("podman container inspect failed (rc=%s): %s" % (rc, _detail(out, err)))
        return counts

    def run_container(self, request: RunRequest, rootless: bool = False) -> Optional[str]:
        """``podman run`` a detached container and return its id (None if podman printed none);
        on failure remove what it made and say why. A fenced container (option egress) is made with
        ``podman create`` and started by ``start_fenced`` (``rootless``: whether podman runs rootless).

        The environment goes through a 0600 file in a private temp directory, removed
        right after the call (and, after a kill, by the next run: ``sweep_env_dirs``). A missing image is told apart from other failures
        (``option`` image).
        """
        directory = tempfile.mkdtemp(prefix="%s%d-" % (ENV_DIR_PREFIX, os.getpid()))
        try:
            env_file = os.path.join(directory, "env")
            fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                for key, value in request.env.items():
                    handle.write("%s=%s\n" % (key, value))
            rc, out, err = self._command(*request.argv(env_file), timeout=LONG_CALL_TIMEOUT)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        if rc == 0 and request.fenced:
            try:
                self.start_fenced(request.name, rootless)
            except PodmanError:
                self._command("rm", "--force", "--ignore", "--", request.name)
                raise
        if rc == 0:
            lines = out.strip().splitlines()
            return lines[-1].strip() if lines else None
        detail = (err or out).strip()
        self._command("rm", "--force", "--ignore", "--", request.name)  # what a failed run may have made
        if self.image_exists(request.image) is False:
            raise PodmanError(
                "image %s is not on the target and could not be pulled: %s"
                % (request.image, detail.splitlines()[-1] if detail else "no detail"),
                option="image",
            )
        raise PodmanError("podman run of image %s for container %s failed (rc=%s): %s" % (request.image, request.name, rc, detail[-2000:]))

    def unshare_remove(self, path: str) -> None:
        """``podman unshare rm -rf -- path``: remove a tree that holds files of subordinate uids (rootless only)."""
        self._checked("unshare", "rm", "-rf", "--", path, timeout=LONG_CALL_TIMEOUT)

    def create_secret(self, name: str, value: str) -> None:
        """``podman secret create NAME -`` with the value on standard input, never on a command line
        (the caller removes a secret of that name first)."""
        rc, out, err = self._command("secret", "create", name, "-", data=value)
        if rc != 0:
            raise PodmanError("podman secret create %s failed (rc=%s): %s" % (name, rc, _detail(out, err)))

    def remove_secrets(self, names: Sequence[str]) -> None:
        """``podman secret rm`` by name; secrets that are not there are not an error."""
        if not names:
            return
        rc, out, err = self._command("secret", "rm", *names)
        detail = _detail(out, err)
        if rc != 0 and any("no such secret" not in line for line in detail.splitlines() if line.startswith("Error")):
            raise PodmanError("podman secret rm failed (rc=%s): %s" % (rc, detail))

    def secret_names(self) -> List[str]:
        """The names of every podman secret, from one ``podman secret ls`` (4.3.1 has no JSON format for it)."""
        return self._checked("secret", "ls", "--format", "{{.Name}}").split()

    def image_ids(self) -> Dict[str, str]:
        """Every local image name (``repo:tag``) and the id it points at, from one ``podman images --format json``."""
        out = self._checked("images", "--format", "json")
        try:
            items = json.loads(out or "[]")
        except ValueError as exc:
            raise PodmanError("podman images returned output that is not JSON: %s" % exc)
        return {name: item.get("Id") for item in items or [] for name in item.get("Names") or [] if item.get("Id")}

    def image_exists(self, image: str, strict: bool = False) -> Optional[bool]:
        """Whether ``podman image exists`` finds ``image``; None when podman could not tell
        (``strict``: raise PodmanError with podman's answer instead)."""
        rc, out, err = self._command("image", "exists", image)
        if rc not in (0, 1) and strict:
            raise PodmanError("podman image exists %s failed (rc=%s): %s" % (image, rc, _detail(out, err)))
        return {0: True, 1: False}.get(rc)

    def logs(self, name: str) -> str:
        """``podman logs --timestamps`` of a container, as text, stdout and stderr in time order."""
        rc, out, err = self._command("logs", "--timestamps", name)
        if rc != 0:
            raise PodmanError("podman logs %s failed (rc=%s): %s" % (name, rc, _detail(out, err)))
        # podman logs writes the container's stderr stream to its own stderr
        return _interleave(out, err) if out and err else out or err

    def logs_of(self, names: Sequence[str]) -> Dict[str, str]:
        """``logs`` of many containers from one ``podman logs --names`` (a process per container costs
        more than the logs); by name. Raise PodmanError when podman fails for any of them, or when a
        line does not name one of them."""
        if len(names) == 1:
            return {names[0]: self.logs(names[0])}
        rc, out, err = self._command("logs", "--timestamps", "--names", *names)
        if rc != 0:
            raise PodmanError("podman logs %s failed (rc=%s): %s" % (" ".join(names), rc, _detail(out, err)))
        streams: Dict[str, Tuple[List[str], List[str]]] = {name: ([], []) for name in names}
        for stream, text in ((0, out), (1, err)):
            for line in text.splitlines(True):
                name, _space, rest = line.partition(" ")
                if name not in streams:
                    raise PodmanError("podman logs --names printed a line of no container asked for: %r" % line[:200])
                streams[name][stream].append(rest)
        return {name: _interleave("".join(o), "".join(e)) if o and e else "".join(o) or "".join(e)
                for name, (o, e) in streams.items()}

    def remove(self, names: Sequence[str]) -> None:
        """Force-remove containers by name; containers that are not there are not an error."""
        if names:
            self._checked("rm", "--force", "--ignore", "--", *names)

    def start(self, name: str, fenced: bool = False, rootless: bool = False) -> None:
        """``podman start`` a stopped container (one each: a ``podman start`` of many starts them one
        after another, slower than starts side by side); a fenced one through ``start_fenced``."""
        if fenced:
            self.start_fenced(name, rootless)
        else:
            self._checked("start", name)

    def start_fenced(self, name: str, rootless: bool) -> None:
        """Start a container with an egress fence (option egress), never without it: ``podman init`` makes
        its network namespace and runs the OCI hooks, among them the collection's, which loads the fence
        there before any process of the container runs; the fence is then looked for in that namespace
        (``nft list table``, through ``podman unshare`` when ``rootless``), and only when it is there does
        ``podman start`` let the container's command run. Otherwise the container is stopped again and
        PodmanError names option egress."""
        rc, out, err = self._command("init", name)
        if rc != 0:
            detail = _detail(out, err)
            raise PodmanError("podman init %s failed (rc=%s): %s" % (name, rc, detail),
                              option="egress" if "egress hook" in detail else None)
        try:
            problem = self.fence_problem(name, rootless)
        except PodmanError as exc:  # podman inspect failed: no fence seen
            problem = exc.msg
        if problem:
            self._command("stop", "--time", "0", name)
            raise PodmanError("egress: container %s was not started, because %s" % (name, problem), option="egress")
        self._checked("start", name)

    def fence_problem(self, name: str, rootless: bool) -> Optional[str]:
        """What is wrong with the egress fence of an initialized or running container (None: it is loaded in
        the container's network namespace), from ``nft list table`` there."""
        from ansible_collections.terok.lifecycle.plugins.module_utils import _egress  # pylint: disable=import-outside-toplevel

        pid = self._checked("inspect", "--format", "{{.State.Pid}}", name).strip()
        nsenter, nft = _egress.find_tool("nsenter"), _egress.find_tool("nft")
        if not pid.isdigit() or int(pid) <= 0:
            return "podman knows no process of it (pid %r)" % pid
        if not nsenter or not nft:
            return "%s is not installed on the target" % ("nsenter" if not nsenter else "nft (nftables)")
        argv = [nsenter, "--net=/proc/%s/ns/net" % pid, "--", nft, "list", "table"] + _egress.TABLE.split()
        if rootless:  # the container's network namespace belongs to podman's user namespace
            rc, out, err = self._command("unshare", *argv)
        else:
            rc, out, err = self.runner.run(argv, timeout=CALL_TIMEOUT)
        if rc != 0 or not _egress.loaded(out):
            return ("the fence is not in its network namespace (%s): is the collection's OCI hook %s in podman's "
                    "hooks directory? (terok_host_prep egress_hook=true)"
                    % (_detail(out, err) or "no table %s" % _egress.TABLE, _egress.DESCRIPTOR_NAME))
        return None

    def unpause(self, name: str) -> None:
        """``podman unpause`` a paused container."""
        self._checked("unpause", name)

    def stop(self, name: str, timeout: int) -> None:
        """``podman stop --time`` a container: SIGTERM, then SIGKILL after ``timeout`` seconds.

        The call's deadline is that grace plus ``STOP_MARGIN``.
        """
        self._checked("stop", "--time", str(int(timeout)), name, timeout=int(timeout) + STOP_MARGIN)

    def wait(self, name: str, timeout: float) -> Optional[int]:
        """Wait for the container to exit and return its exit code; None when ``timeout`` ran out.

        The container's own exit code is returned as it is, 124 included: the timeout is
        this call's, not a ``timeout`` command's.
        """
        outcome, (rc, out, err) = self._stream(None, timeout, "wait", name)
        if outcome == "timeout":
            return None
        if rc != 0:
            raise PodmanError("podman wait %s failed (rc=%s): %s" % (name, rc, _detail(out, err)))
        try:
            return int(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise PodmanError("podman wait %s printed no exit code: %r" % (name, out.strip()[-200:]))

    def follow_logs(
        self, name: str, needle: str, timeout: float, since: Optional[str] = None, keep: int = 20
    ) -> Tuple[str, List[str]]:
        """Follow the container's log until a line holds ``needle``.

        Returns (outcome, last_lines) where outcome is ``found``, ``exited`` (the log ended:
        the container stopped first) or ``timeout``. The last lines are the log's standard
        output, then its standard error (podman gives them apart).
        """
        args = ["logs", "--follow"]
        if since:
            args += ["--since", since]
        outcome, (_rc, out, err) = self._stream(needle, timeout, *(args + [name]))
        tail = [line.rstrip("\r") for line in (out + err).splitlines()][-keep:]
        return {"found": "found", "ended": "exited"}.get(outcome, "timeout"), tail
