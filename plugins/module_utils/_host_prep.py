# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to terok.lifecycle: not a public API, it may change in any release.
"""Preparing a host for terok tasks in one pass: what module terok_host_prep does.

The state root and its trees (modes and owners), the in-container init script, the podman
drop-in, the unit that starts containers again at boot (``podman-restart.service``, with lingering
for a normal user, where systemd runs), and what the host lacks (podman, other commands, PyYAML for this interpreter,
packages by name), the task image's presence, and the facts the role needs to install what
is missing (the user, the OS family, the package manager). Every write goes through the
run's gate (``RunGate.writing``, as the task modules' writes do), which in check mode only
counts it; ``HostPrep`` records what each change is, for ``changes`` and the diff.
"""

from __future__ import annotations

import grp
import hashlib
import json
import os
import pwd
import re
import shutil
import stat
import sys

from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._fileio import atomic_write, make_dirs, remove_file
from ansible_collections.terok.lifecycle.plugins.module_utils._metadata import HAS_YAML, load_yaml
from ansible_collections.terok.lifecycle.plugins.module_utils._paths import SYSTEM_CONFIG, Layout
from ansible_collections.terok.lifecycle.plugins.module_utils._podman import Podman, PodmanError

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

    from ansible_collections.terok.lifecycle.plugins.module_utils._podman import CommandRunner
    from ansible_collections.terok.lifecycle.plugins.module_utils._run_context import RunGate

SCRIPT_NAME = "init-ssh-and-repo.sh"
SYSTEM_INIT_SCRIPT = "/usr/local/libexec/terok/" + SCRIPT_NAME
CONF_NAME = "50-terok-lifecycle.conf"
SYSTEM_CONTAINERS_CONF = "/etc/containers/containers.conf.d/" + CONF_NAME
DEFAULT_TREE_MODE = 0o750
SCRIPT_MODE = 0o755
CONF_MODE = 0o644
# directories made on the way to a path: 0755 for root (system paths), 0700 for a user (as
# the XDG base directory specification asks of the directories it names)
SYSTEM_PARENT_MODE = 0o755
USER_PARENT_MODE = 0o700
# a file larger than this is not shown in the diff (the init script is about 23 KB)
DIFF_MAX = 256 * 1024
CONF_HEADER = (
    "# Written by terok.lifecycle (module terok_host_prep, role terok_host): podman settings for\n"
    "# terok tasks. The next run replaces this file; change the role's variables instead.\n"
)

# podman's unit that starts the containers with restart policy always at boot (podman 4.3.1 ships it for the
# system and for users: /lib/systemd/system, /lib/systemd/user)
RESTART_UNIT = "podman-restart.service"
# systemd runs as PID 1 when this directory exists (sd_booted())
SYSTEMD_RUN_DIR = "/run/systemd/system"
# systemd-logind's record of the users who linger (their user manager runs from boot, without a login)
LINGER_DIR = "/var/lib/systemd/linger"
# what ``systemctl is-enabled`` says of a unit that starts when its target is reached
_ENABLED_STATES = ("enabled", "enabled-runtime", "linked", "linked-runtime", "alias", "indirect", "generated",
                   "static")

_ULIMIT = re.compile(r"^[a-z_]+=(-1|[0-9]+)(:(-1|[0-9]+))?$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_PACKAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+:~-]*$")
_OCTAL = re.compile(r"^0?[0-7]{3,4}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# /etc/os-release ID and ID_LIKE words -> Ansible's os_family, and each family's package manager
_FAMILIES = (
    (("debian", "ubuntu"), "Debian"),
    (("rhel", "fedora", "centos", "rocky", "almalinux", "ol", "amzn"), "RedHat"),
    (("suse", "opensuse", "sles"), "Suse"),
    (("alpine",), "Alpine"),
    (("arch",), "Archlinux"),
)
_FAMILY_PKG_MGR = {"Debian": ["apt"], "RedHat": ["dnf", "yum"], "Suse": ["zypper"], "Alpine": ["apk"],
                   "Archlinux": ["pacman"]}
_PKG_MGR_COMMAND = {"apt": "apt-get", "dnf": "dnf", "yum": "yum", "zypper": "zypper", "apk": "apk", "pacman": "pacman"}


def _fail(option: str, msg: str) -> TerokError:
    return TerokError("%s: %s" % (option, msg), option=option)


def _absolute(option: str, value: Any) -> Optional[str]:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or _CONTROL.search(value):
        raise _fail(option, "must be an absolute path without control characters, got %r" % (value,))
    path = os.path.expanduser(value)
    if not os.path.isabs(path):
        raise _fail(option, "must be an absolute path, got %r" % value)
    return os.path.normpath(path)


def parse_mode(value: Any, option: str = "root_mode") -> int:
    """An octal mode such as ``0750`` (a string, or an int as YAML reads ``0750``)."""
    if isinstance(value, bool):
        raise _fail(option, "must be an octal mode such as '0750', got %r" % (value,))
    if isinstance(value, int):
        if 0 <= value <= 0o7777:
            return value
        raise _fail(option, "must be an octal mode such as '0750', got %r" % (value,))
    text = str(value).strip()
    if not _OCTAL.match(text):
        raise _fail(option, "must be an octal mode such as '0750' (3 or 4 octal digits), got %r" % (value,))
    return int(text, 8)


def _account_id(value: Any, option: str, kind: str) -> Optional[int]:
    """A uid (``kind`` user) or gid (``kind`` group) given as a number or a name; None when unset."""
    if value is None or value == "":
        return None
    text = str(value)
    if text.isdigit():
        return int(text)
    try:
        return pwd.getpwnam(text).pw_uid if kind == "user" else grp.getgrnam(text).gr_gid
    except KeyError:
        raise _fail(option, "there is no %s %r on the target" % (kind, text))


def _string_list(value: Any, option: str, pattern: Any, what: str) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise _fail(option, "must be a list of %s, got %r" % (what, value))
    for index, item in enumerate(value):
        if not isinstance(item, str) or not pattern(item):
            raise _fail("%s[%d]" % (option, index), "must be %s, got %r" % (what, item))
    return list(value)


def _command_name(item: str) -> bool:
    return bool(_NAME.match(item)) or (item.startswith("/") and not _CONTROL.search(item))


class HostUser:
    """The user the module runs as: the owner of what it writes and whose defaults apply."""

    def __init__(self, uid: int, gid: int, name: str, home: str) -> None:
        self.uid = uid
        self.gid = gid
        self.name = name
        self.home = home

    @classmethod
    def current(cls, environ: Mapping[str, str], euid: int, egid: int) -> "HostUser":
        try:
            entry = pwd.getpwuid(euid)
            name, pw_home = entry.pw_name, entry.pw_dir
        except KeyError:
            name, pw_home = str(euid), ""
        home = environ.get("HOME") or pw_home or os.path.expanduser("~")
        return cls(euid, egid, name, home)

    @property
    def privileged(self) -> bool:
        return self.uid == 0

    def as_dict(self) -> Dict[str, Any]:
        return {"uid": self.uid, "gid": self.gid, "name": self.name, "home": self.home, "privileged": self.privileged}


def default_init_script(user: HostUser) -> str:
    """``/usr/local/libexec/terok/…`` for root, ``~/.local/libexec/terok/…`` for a user."""
    if user.privileged:
        return SYSTEM_INIT_SCRIPT
    return os.path.join(user.home, ".local", "libexec", "terok", SCRIPT_NAME)


def default_containers_conf(user: HostUser, environ: Mapping[str, str]) -> str:
    """The drop-in directory podman reads: the system's for root, ``${XDG_CONFIG_HOME:-~/.config}``'s for a user."""
    if user.privileged:
        return SYSTEM_CONTAINERS_CONF
    config_home = environ.get("XDG_CONFIG_HOME")
    if not config_home or not os.path.isabs(config_home):  # the XDG spec ignores a relative one
        config_home = os.path.join(user.home, ".config")
    return os.path.join(config_home, "containers", "containers.conf.d", CONF_NAME)


def render_containers_conf(runtime: Optional[str], ulimits: List[str], hooks_dirs: Optional[List[str]] = None
                           ) -> Optional[str]:
    """The drop-in's text, or None when no setting is asked for (then no drop-in is wanted). ``hooks_dirs``: the
    OCI hooks directories podman is to read (the egress hook's, where podman would not read it otherwise)."""
    if not runtime and not ulimits and not hooks_dirs:
        return None
    text = CONF_HEADER
    if ulimits:
        text += "\n[containers]\ndefault_ulimits = [%s]\n" % ", ".join(json.dumps(item) for item in ulimits)
    if runtime or hooks_dirs:
        text += "\n[engine]\n"
    if runtime:
        text += "runtime = %s\n" % json.dumps(runtime)
    if hooks_dirs:
        text += "hooks_dir = [%s]\n" % ", ".join(json.dumps(item) for item in hooks_dirs)
    return text


def default_egress_hook(user: HostUser, environ: Mapping[str, str]) -> Tuple[str, str]:
    """(the egress hook's program, the directory of its descriptor): for root the program beside the init script
    and podman's default hooks directory (which root and rootless podman read); for a user
    ``~/.local/libexec/terok/`` and ``${XDG_CONFIG_HOME:-~/.config}/containers/oci/hooks.d``."""
    from ansible_collections.terok.lifecycle.plugins.module_utils import _egress  # pylint: disable=import-outside-toplevel

    program = os.path.join(os.path.dirname(default_init_script(user)), _egress.HOOK_NAME)
    if user.privileged:
        return program, _egress.DEFAULT_HOOKS_DIR
    conf_dir = os.path.dirname(os.path.dirname(default_containers_conf(user, environ)))
    return program, os.path.join(conf_dir, "oci", "hooks.d")


def _runnable_by_all(path: str) -> bool:
    """Whether every user can run ``path``: it and each directory above it (the link's and its target's) are
    executable for others."""
    for candidate in (path, os.path.realpath(path)):
        directory = candidate
        while True:
            try:
                if not os.stat(directory).st_mode & stat.S_IXOTH:
                    return False
            except OSError:
                return False
            if directory == "/":
                break
            directory = os.path.dirname(directory)
    return True


def hook_python(user: HostUser, python: Optional[str] = None) -> str:
    """The Python that runs the egress hook: the one running this module; for root, whose hook podman runs for
    every user's containers, one that every user can run, so ``/usr/bin/python3`` when this one is private."""
    python = python or sys.executable
    if user.privileged and not _runnable_by_all(python) and _runnable_by_all("/usr/bin/python3"):
        return "/usr/bin/python3"
    return python


class Request:
    """The validated options of one terok_host_prep run; every error names its option."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.root = _absolute("root", params.get("root"))
        mode = params.get("root_mode")
        self.root_mode = DEFAULT_TREE_MODE if mode is None or mode == "" else parse_mode(mode)
        self.root_uid = _account_id(params.get("root_owner"), "root_owner", "user")
        self.root_gid = _account_id(params.get("root_group"), "root_group", "group")
        self.executable = params.get("executable") or "podman"
        self.init_script_path = _absolute("init_script_path", params.get("init_script_path"))
        if self.init_script_path and re.search(r"[:,]", self.init_script_path):
            # terok_task bind-mounts the script with -v SRC:DST:ro, which cannot carry these
            raise _fail("init_script_path", "cannot contain ':' or ',' (podman's -v syntax), got %r" % self.init_script_path)
        content = params.get("init_script_content")
        if content is not None and not isinstance(content, str):
            raise _fail("init_script_content", "must be a string, got %s" % type(content).__name__)
        self.init_script_content = content.encode("utf-8", "surrogateescape") if content is not None else None
        if self.init_script_path and self.init_script_content is None:
            raise _fail("init_script_path", "is set, so init_script_content must be set too (the script's text)")
        self.containers_conf_path = _absolute("containers_conf_path", params.get("containers_conf_path"))
        runtime = params.get("podman_runtime") or None
        if runtime is not None and (not isinstance(runtime, str) or not _command_name(runtime)):
            raise _fail("podman_runtime", "must be a runtime name such as runc or crun, or an absolute path, got %r" % (runtime,))
        self.podman_runtime = runtime
        self.podman_ulimits = _string_list(params.get("podman_ulimits"), "podman_ulimits", _ULIMIT.match,
                                           "a ulimit such as nofile=20000:20000")
        self.commands = _string_list(params.get("commands"), "commands", _command_name,
                                     "a command name or an absolute path")
        self.packages = _string_list(params.get("packages"), "packages", _PACKAGE.match, "a package name")
        image = params.get("image") or None
        if image is not None and (not isinstance(image, str) or _CONTROL.search(image) or image.startswith("-")):
            raise _fail("image", "must be an image name such as localhost/terok-task:latest, got %r" % (image,))
        self.image = image
        self.restart_on_boot = bool(params.get("restart_on_boot", True))
        self.egress_hook = bool(params.get("egress_hook"))
        self.egress_hook_path = _absolute("egress_hook_path", params.get("egress_hook_path"))
        self.egress_hooks_dir = _absolute("egress_hooks_dir", params.get("egress_hooks_dir"))
        if self.egress_hook:  # what the hook runs
            self.commands += [name for name in ("nft", "nsenter") if name not in self.commands]


class _CommandFailed(Exception):
    """A command that makes a change failed (``HostPrep._try``): reported, not raised."""


class HostPrep:
    """One pass over the host: decide, write (unless check mode), report.

    ``runner`` runs podman and the package database queries; ``which`` finds commands on
    ``PATH``, as the other modules find podman.
    """

    def __init__(
        self,
        request: Request,
        runner: CommandRunner,
        gate: RunGate,
        environ: Optional[Mapping[str, str]] = None,
        euid: Optional[int] = None,
        egid: Optional[int] = None,
        which: Callable[[str], Optional[str]] = shutil.which,
        os_release: str = "/etc/os-release",
        systemd_dir: str = SYSTEMD_RUN_DIR,
        linger_dir: str = LINGER_DIR,
    ) -> None:
        self.request = request
        self.runner = runner
        self.gate = gate
        self.environ = os.environ if environ is None else environ
        self.user = HostUser.current(self.environ, os.geteuid() if euid is None else euid,
                                     os.getegid() if egid is None else egid)
        self.which = which
        self.os_release = os_release
        self.systemd_dir = systemd_dir
        self.linger_dir = linger_dir
        self.podman = Podman(request.executable, runner)
        self.changes: List[str] = []
        self.diffs: List[Dict[str, str]] = []
        self.parent_mode = SYSTEM_PARENT_MODE if self.user.privileged else USER_PARENT_MODE

    @property
    def warnings(self) -> List[str]:
        return self.gate.warnings

    # -- every change goes through the run's gate (RunGate.writing), as the task modules' do -----
    def _change(self, what: str, before: str, after: str, path: str, action: Callable[[], None]) -> None:
        self.changes.append(what)
        self.diffs.append({"before_header": path, "after_header": path, "before": before, "after": after})
        with self.gate.writing() as real:
            if real:
                action()

    def _try(self, what: str, before: str, after: str, path: str, argv: List[str]) -> Optional[str]:
        """A change that ``argv`` makes, through ``_change``; when the command fails the change is not
        recorded and its failure is returned (None: done, or in check mode predicted)."""
        def act() -> None:
            rc, out, err = self.runner.run(argv)
            if rc != 0:
                raise _CommandFailed("`%s` failed (rc=%s): %s" % (" ".join(argv), rc, (err or out).strip()[-500:]))
        try:
            self._change(what, before, after, path, act)
        except _CommandFailed as exc:
            self.changes.pop()
            self.diffs.pop()
            return str(exc)
        return None

    # -- directories -------------------------------------------------------------------------
    def _describe_dir(self, st: Any) -> str:
        return "directory, mode %04o, owner %d:%d\n" % (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)

    def directory(self, path: str, mode: int, uid: Optional[int], gid: Optional[int]) -> None:
        """``path`` is a directory with ``mode`` (and owner/group when given); a symlink to one is followed."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            st = None
        if st is not None and not stat.S_ISDIR(st.st_mode):
            raise TerokError("%s exists and is not a directory" % path, path=path)
        want_owner = "%s:%s" % (uid if uid is not None else self.user.uid, gid if gid is not None else self.user.gid)
        if st is None:

            def create() -> None:
                parent = os.path.dirname(path)
                if not os.path.isdir(parent):
                    make_dirs(parent, self.parent_mode)
                make_dirs(path, mode)
                if uid is not None or gid is not None:
                    os.chown(path, -1 if uid is None else uid, -1 if gid is None else gid)

            self._change("created directory %s (mode %04o)" % (path, mode), "absent\n",
                         "directory, mode %04o, owner %s\n" % (mode, want_owner), path, create)
            return
        before = self._describe_dir(st)
        if stat.S_IMODE(st.st_mode) != mode:
            self._change("changed the mode of %s from %04o to %04o" % (path, stat.S_IMODE(st.st_mode), mode), before,
                         "directory, mode %04o, owner %d:%d\n" % (mode, st.st_uid, st.st_gid), path,
                         lambda: os.chmod(path, mode))
        if (uid is not None and st.st_uid != uid) or (gid is not None and st.st_gid != gid):
            new_uid = st.st_uid if uid is None else uid
            new_gid = st.st_gid if gid is None else gid
            self._change("changed the owner of %s from %d:%d to %d:%d" % (path, st.st_uid, st.st_gid, new_uid, new_gid),
                         before, "directory, mode %04o, owner %d:%d\n" % (mode, new_uid, new_gid), path,
                         lambda: os.chown(path, new_uid, new_gid))

    # -- files -------------------------------------------------------------------------------
    def file(self, path: str, content: bytes, mode: int) -> bool:
        """``path`` is a regular file holding ``content`` with ``mode``; True when that needs a change."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            st = None
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise TerokError("%s is a directory, not a file" % path, path=path)
        current = None
        if st is not None and stat.S_ISREG(st.st_mode) and st.st_size <= max(len(content), DIFF_MAX):
            with open(path, "rb") as handle:
                current = handle.read()
        after = _text(content)

        def write() -> None:
            parent = os.path.dirname(path)
            if not os.path.isdir(parent):
                make_dirs(parent, self.parent_mode)
            atomic_write(path, content, mode=mode)

        if st is None:
            self._change("wrote %s (mode %04o)" % (path, mode), "", after, path, write)
            return True
        if current != content:
            before = _text(current) if current is not None else "(%s)\n" % _kind(st)
            self._change("replaced %s (mode %04o)" % (path, mode), before, after, path, write)
            return True
        if stat.S_IMODE(st.st_mode) != mode:
            self._change("changed the mode of %s from %04o to %04o" % (path, stat.S_IMODE(st.st_mode), mode),
                         "mode %04o\n" % stat.S_IMODE(st.st_mode), "mode %04o\n" % mode, path,
                         lambda: os.chmod(path, mode))
            return True
        return False

    def absent(self, path: str) -> bool:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            raise TerokError("%s is a directory, not the drop-in file this module writes" % path, path=path)
        before = "(%s)\n" % _kind(st)
        if stat.S_ISREG(st.st_mode) and st.st_size <= DIFF_MAX:
            with open(path, "rb") as handle:
                before = _text(handle.read())
        self._change("removed %s (no podman setting is asked for)" % path, before, "", path, lambda: remove_file(path))
        return True

    # -- the steps ---------------------------------------------------------------------------
    def layout(self) -> Layout:
        request = self.request
        if request.root is None and not HAS_YAML:
            unread = [path for path in (self.environ.get("TEROK_CONFIG_FILE") or SYSTEM_CONFIG,
                                        os.path.join(self.user.home, ".config", "terok", "config.yml"))
                      if os.path.isfile(path)]
            if unread and not self.environ.get("TEROK_ROOT"):
                self.gate.warn(
                    "PyYAML is missing, so the terok config file %s was not read: the state root is the default "
                    "(%s); run again once PyYAML is installed, or set the root option" % (
                        unread[0], "/var/lib/terok" if self.user.privileged else "the XDG data home's terok"))
        layout = Layout.resolve(request.root, environ=self.environ, load_yaml=load_yaml if HAS_YAML else None,
                                euid=self.user.uid)
        for warning in layout.warnings:
            self.gate.warn(warning)
        return layout

    def trees(self, layout: Layout) -> List[str]:
        request = self.request
        paths = [layout.root, layout.state_dir, layout.live_dir, os.path.join(layout.root, "archive")]
        for index, path in enumerate(paths):
            if index:
                layout.guard(path)  # no symlink below the root (the root itself may be one)
            self.directory(path, request.root_mode, request.root_uid, request.root_gid)
        return paths

    def missing(self) -> List[str]:
        found = []
        try:
            self.podman.path()
        except PodmanError:
            found.append("podman")
        for command in self.request.commands:
            if command.startswith("/"):
                present = os.path.isfile(command) and os.access(command, os.X_OK)
            else:
                present = bool(self.which(command))
            if not present and command not in found:
                found.append(command)
        if not HAS_YAML:
            found.append("PyYAML")
        return found

    def missing_packages(self) -> List[str]:
        names = self.request.packages
        if not names:
            return []
        dpkg, rpm = self.which("dpkg-query"), self.which("rpm")
        if dpkg:
            rc, out, err = self.runner.run([dpkg, "-W", "-f", "${Package}\\t${db:Status-Abbrev}\\n"] + names)
            if rc not in (0, 1):
                raise _fail("packages", "dpkg-query failed (rc=%s): %s" % (rc, (err or out).strip()))
            installed = set()
            for line in out.splitlines():
                package, _tab, status = line.partition("\t")
                if status.startswith("ii"):
                    installed.add(package)
            return [name for name in names if name.split(":")[0] not in installed]
        if rpm:
            rc, out, err = self.runner.run([rpm, "-q"] + names)
            gone = set(re.findall(r"^package (\S+) is not installed$", out + "\n" + err, re.M))
            if rc != 0 and not gone:
                raise _fail("packages", "rpm -q failed (rc=%s): %s" % (rc, (err or out).strip()))
            return [name for name in names if name in gone]
        raise _fail("packages", "cannot tell which packages are installed: neither dpkg-query nor rpm is on the target")

    def image_exists(self) -> Optional[bool]:
        image = self.request.image
        if not image:
            return None
        try:
            self.podman.path()
        except PodmanError:
            return None  # reported in missing; the role asks again once podman is installed
        try:
            return self.podman.image_exists(image, strict=True)
        except PodmanError as exc:
            raise _fail("image", exc.msg)

    def os_family(self) -> Optional[str]:
        try:
            with open(self.os_release, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except OSError:
            return None
        fields = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                fields[key.strip()] = value.strip().strip("'\"")
        words = (fields.get("ID", "") + " " + fields.get("ID_LIKE", "")).lower().split()
        for ids, family in _FAMILIES:
            if any(word in ids for word in words):
                return family
        return None

    def pkg_mgr(self, family: Optional[str]) -> Optional[str]:
        for name in _FAMILY_PKG_MGR.get(family or "", []):
            found = self.which(_PKG_MGR_COMMAND[name])
            if found:
                if name == "dnf" and os.path.basename(os.path.realpath(found)) == "dnf5":
                    return "dnf5"
                return name
        if family == "RedHat" and self.which("dnf5"):
            return "dnf5"
        return None

    # -- coming back after a reboot ------------------------------------------------------------
    def _systemctl(self, systemctl: str) -> List[str]:
        """``systemctl`` for this user's units: the system's for root, ``--user`` for others, with the user's
        runtime directory when the environment lacks it (``become_user`` through su sets none), where the user
        manager's bus is."""
        if self.user.privileged:
            return [systemctl]
        prefix: List[str] = []
        if not self.environ.get("XDG_RUNTIME_DIR"):
            prefix = ["env", "XDG_RUNTIME_DIR=/run/user/%d" % self.user.uid]
        return prefix + [systemctl, "--user"]

    def _unit_state(self, systemctl: List[str]) -> Tuple[Optional[str], str]:
        """(``systemctl is-enabled`` of the unit, or None when it says nothing, its error text). It reads the
        unit files, so it answers without systemd as PID 1 too."""
        rc, out, err = self.runner.run(systemctl + ["is-enabled", RESTART_UNIT])
        words = out.split()
        return (words[0] if words else None), (err or out).strip()[-500:]

    def restart_on_boot(self) -> Optional[Dict[str, Any]]:
        """The containers with restart policy always come back after a reboot: ``podman-restart.service``
        enabled (root: the system's; a normal user: the user unit, and lingering, so that the user's manager
        starts at boot without a login). Enabled only, not started: starting it now would start every
        container with policy always that was stopped. What cannot be done (no systemd as PID 1, a masked
        or missing unit, lingering refused) is reported in ``not_done`` and a warning, never a failure."""
        if not self.request.restart_on_boot:
            return None
        user = self.user
        booted = os.path.isdir(self.systemd_dir)
        found = self.which("systemctl")
        systemctl = self._systemctl(found) if found else None
        report: Dict[str, Any] = {"scope": "system" if user.privileged else "user", "unit": RESTART_UNIT,
                                  "systemd": booted, "enabled": None, "linger": None, "changed": False,
                                  "not_done": []}
        not_done: List[str] = report["not_done"]
        if not user.privileged:
            report["linger"] = os.path.exists(os.path.join(self.linger_dir, user.name))
        state, detail = self._unit_state(systemctl) if systemctl else (None, "systemctl is not on PATH")
        report["enabled"] = state in _ENABLED_STATES if state else None
        if not booted:
            unit = RESTART_UNIT if user.privileged else "the user unit " + RESTART_UNIT
            what = [("%s is enabled, but nothing runs it" % unit) if report["enabled"] else "%s was not enabled" % unit]
            if not user.privileged and not report["linger"]:
                what.append("lingering was not enabled for %s" % user.name)
            not_done.append(
                "%s: systemd is not PID 1 on this host (no %s), so no unit runs at boot; after a reboot the containers "
                "with restart policy always come back only if something runs `podman start --all --filter "
                "restart-policy=always`%s then" % (" and ".join(what), self.systemd_dir,
                                                   "" if user.privileged else " as " + user.name))
        else:
            if not user.privileged and not report["linger"]:
                loginctl = self.which("loginctl")
                failure = self._try(
                    "enabled lingering for %s (loginctl enable-linger): its user manager starts at boot" % user.name,
                    "linger: no\n", "linger: yes\n", os.path.join(self.linger_dir, user.name),
                    [loginctl, "enable-linger", user.name]) if loginctl else "loginctl is not on PATH"
                if failure:
                    not_done.append("lingering was not enabled for %s (%s): the user's containers come back only "
                                    "once the user logs in; an administrator can run `loginctl enable-linger %s`"
                                    % (user.name, failure, user.name))
                else:
                    report["linger"] = report["changed"] = True
            if systemctl is None or state is None:
                not_done.append("%s was not enabled: %s" % (RESTART_UNIT, detail or "systemctl is-enabled said nothing"))
            elif state == "masked":
                not_done.append("%s is masked: left as it is (`systemctl%s unmask %s` lifts it)"
                                % (RESTART_UNIT, "" if user.privileged else " --user", RESTART_UNIT))
            elif not report["enabled"]:
                failure = self._try("enabled %s (%s)" % (RESTART_UNIT, report["scope"]), "%s\n" % state, "enabled\n",
                                    RESTART_UNIT, systemctl + ["enable", RESTART_UNIT])
                if failure:
                    not_done.append("%s was not enabled: %s" % (RESTART_UNIT, failure))
                else:
                    report["enabled"] = report["changed"] = True
        for text in not_done:
            self.gate.warn(text)
        return report

    # -- the egress fence's OCI hook --------------------------------------------------------------
    def egress_hook(self) -> Optional[Dict[str, Any]]:
        """With ``egress_hook``: the collection's OCI hook that loads a task's egress fence (``_egress``: this
        module's own copy of that file is the program) and its descriptor, in a hooks directory podman reads; a
        directory other than podman's default is added to the drop-in's ``hooks_dir``, after the default. Never
        removed by a run without it: a fenced container would then start again without its fence."""
        request = self.request
        if not request.egress_hook:
            return None
        # imported here: only a run that installs the hook needs it (a module run compiles what it imports)
        from ansible_collections.terok.lifecycle.plugins.module_utils import _egress  # pylint: disable=import-outside-toplevel

        default_program, default_dir = default_egress_hook(self.user, self.environ)
        program = request.egress_hook_path or default_program
        hooks_dir = request.egress_hooks_dir or default_dir
        python = hook_python(self.user)
        header = ("# Installed by terok.lifecycle (module terok_host_prep, egress_hook): the OCI hook that loads a "
                  "task's egress\n# fence, run by podman for containers with the annotation %s. The next run "
                  "replaces it.\n" % _egress.ANNOTATION).encode("utf-8")
        changed = self.file(program, header + _egress.program_text(), SCRIPT_MODE)
        descriptor = os.path.join(hooks_dir, _egress.DESCRIPTOR_NAME)
        changed = self.file(descriptor, _egress.descriptor(python, program).encode("utf-8"), CONF_MODE) or changed
        dirs = None if hooks_dir == _egress.DEFAULT_HOOKS_DIR else [_egress.DEFAULT_HOOKS_DIR, hooks_dir]
        return {"program": program, "descriptor": descriptor, "python": python, "podman_hooks_dirs": dirs,
                "changed": changed}

    def run(self) -> Dict[str, Any]:
        request = self.request
        layout = self.layout()
        trees = self.trees(layout)

        script = None
        if request.init_script_content is not None:
            script_path = request.init_script_path or default_init_script(self.user)
            script_changed = self.file(script_path, request.init_script_content, SCRIPT_MODE)
            script = {"path": script_path, "checksum": hashlib.sha256(request.init_script_content).hexdigest(),
                      "changed": script_changed}

        conf_path = request.containers_conf_path or default_containers_conf(self.user, self.environ)
        hook = self.egress_hook()
        conf_text = render_containers_conf(request.podman_runtime, request.podman_ulimits,
                                           hook["podman_hooks_dirs"] if hook else None)
        if conf_text is None:
            conf_changed = self.absent(conf_path)
        else:
            conf_changed = self.file(conf_path, conf_text.encode("utf-8"), CONF_MODE)
        restart = self.restart_on_boot()
        family = self.os_family()
        return {
            "changed": self.gate.changed,
            "changes": list(self.changes),
            "root": layout.root,
            "state_dir": layout.state_dir,
            "live_dir": layout.live_dir,
            "archive_dir": trees[3],
            "init_script": script,
            "containers_conf": {"path": conf_path, "state": "absent" if conf_text is None else "present",
                                "changed": conf_changed},
            "restart_on_boot": restart,
            "egress_hook": hook,
            "missing": self.missing(),
            "missing_packages": self.missing_packages(),
            "image_exists": self.image_exists(),
            "user": self.user.as_dict(),
            "os_family": family,
            "pkg_mgr": self.pkg_mgr(family),
        }


def _kind(st: Any) -> str:
    if stat.S_ISLNK(st.st_mode):
        return "a symbolic link"
    if stat.S_ISREG(st.st_mode):
        return "a file of %d bytes" % st.st_size
    return "not a regular file"


def _text(data: Optional[bytes]) -> str:
    if data is None:
        return ""
    if len(data) > DIFF_MAX or b"\x00" in data:
        return "(%d bytes)\n" % len(data)
    return data.decode("utf-8", "replace")
