# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to terok.lifecycle: not a public API, it may change in any release.
"""Where terok keeps things: state-root resolution and every path built from it."""

from __future__ import annotations

import os
import stat

from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Callable, Dict, List, Mapping, Optional, Set

SYSTEM_CONFIG = "/etc/terok/config.yml"
SYSTEM_ROOT = "/var/lib/terok"
# terok-sandbox's shared port registry when neither TEROK_PORT_REGISTRY_DIR nor paths.port_registry_dir says otherwise
PORT_REGISTRY_DEFAULT = "/tmp/terok-ports"  # nosec B108: terok's own default, read and written as terok does


def check_component(value: object, what: str) -> str:
    """Refuse a value that would not be exactly one path component."""
    if (
        not isinstance(value, str)
        or not value
        or value in (".", "..")
        or "/" in value
        or "\x00" in value
        or "\n" in value
    ):
        raise TerokError("%s %r cannot be used as a path component" % (what, value))
    return value


def _config_paths(environ: Mapping[str, str], load_yaml: Callable, warnings: List[str]) -> Dict[str, object]:
    """The ``paths`` settings of the terok config files, layered as terok layers them.

    ``TEROK_CONFIG_FILE`` alone when set; else ``/etc/terok/config.yml`` with the user's
    ``~/.config/terok/config.yml`` over it, key by key. Like terok 0.9.1, a file that is
    missing or not a mapping is passed over, but here always with a warning in ``warnings``
    when it was named by ``TEROK_CONFIG_FILE`` or is not a mapping; a file that is not
    valid YAML fails, naming it.
    """
    explicit = environ.get("TEROK_CONFIG_FILE")
    if explicit:
        layers = [explicit]
        if not os.path.isfile(explicit):
            warnings.append(
                "TEROK_CONFIG_FILE names %s, which is not a file: no terok config file is read, so the default "
                "state root applies (terok 0.9.1 goes on the same way)" % explicit
            )
    else:
        home = environ.get("HOME") or os.path.expanduser("~")
        layers = [SYSTEM_CONFIG, os.path.join(home, ".config", "terok", "config.yml")]
    merged: Dict[str, object] = {}
    for layer in layers:
        if not os.path.isfile(layer):
            continue
        try:
            with open(layer, "rb") as handle:
                data = load_yaml(handle.read())
        except Exception as exc:  # a broken config is the user's to fix; say which file
            raise TerokError("cannot read terok config file %s: %s" % (layer, exc), path=layer)
        if data is not None and not isinstance(data, dict):
            warnings.append("terok config file %s does not hold a YAML mapping; it is ignored, as terok ignores it" % layer)
            continue
        paths = (data or {}).get("paths")
        if paths is not None and not isinstance(paths, dict):
            warnings.append("paths in terok config file %s is not a mapping; it is ignored, as terok ignores it" % layer)
        elif paths:
            merged.update((key, value) for key, value in paths.items() if value)
    return merged


def _absolute(value: object, what: str) -> str:
    path = os.path.expanduser(str(value))
    if "\x00" in path:
        raise TerokError("%s %r contains a NUL character" % (what, value), option=what if what in ("root", "config_dir") else None)
    if not os.path.isabs(path):
        raise TerokError("%s %r must be an absolute path" % (what, value), option=what if what in ("root", "config_dir") else None)
    return os.path.normpath(path)


def _sandbox_runtime_dir(environ: Mapping[str, str], euid: int, warnings: List[str]) -> Optional[str]:
    """terok-sandbox's runtime directory (terok 0.9.1 ``terok_sandbox.paths.runtime_root``), which no state
    root relocates: ``TEROK_SANDBOX_RUNTIME_DIR``, else ``/run/terok/sandbox`` for root, else
    ``$XDG_RUNTIME_DIR``, ``$XDG_STATE_HOME`` or ``~/.local/state``, then ``terok/sandbox``."""
    explicit = environ.get("TEROK_SANDBOX_RUNTIME_DIR")
    if explicit:
        return _absolute_or_warn(explicit, "TEROK_SANDBOX_RUNTIME_DIR", warnings)
    if euid == 0:
        return "/run/terok/sandbox"
    base = environ.get("XDG_RUNTIME_DIR") or environ.get("XDG_STATE_HOME")
    if not base:
        base = os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".local", "state")
    return _absolute_or_warn(os.path.join(base, "terok", "sandbox"), "the runtime directory", warnings)


def _absolute_or_warn(value: object, what: str, warnings: List[str]) -> Optional[str]:
    """An absolute path, or None with a warning: a path that only a task's removal uses never fails a run."""
    path = os.path.expanduser(str(value))
    if "\x00" in path or not os.path.isabs(path):
        warnings.append("%s %r is not an absolute path: terok's per-container files under it are not removed "
                        "with a task" % (what, value))
        return None
    return os.path.normpath(path)


class Layout:
    """The three trees of one terok installation and the paths of its tasks.

    ``state_dir`` holds ``projects/<p>/tasks/<id>_dossier.json`` and ``<id>_meta.yml``;
    ``live_dir`` holds ``tasks/<p>/<id>/`` (workspace, logs, agent config);
    ``root`` holds ``archive/<p>/tasks/``.

    terok-sandbox keeps per-container files of its own, which terok's delete removes with a task:
    ``sandbox_state_dir`` (``sidecar/<container>.json``), ``sandbox_runtime_dir`` (``run/<container>/``)
    and the shared port registry ``port_registry_dir`` (``<user>.json``). None: not known (not removed).
    """

    def __init__(self, root: str, state_dir: Optional[str] = None, live_dir: Optional[str] = None,
                 sandbox_state_dir: Optional[str] = None, sandbox_runtime_dir: Optional[str] = None,
                 port_registry_dir: Optional[str] = None) -> None:
        self.root = root
        self.state_dir = state_dir or os.path.join(root, "core")
        self.live_dir = live_dir or os.path.join(root, "sandbox-live")
        self.sandbox_state_dir: Optional[str] = sandbox_state_dir or os.path.join(root, "sandbox")
        self.sandbox_runtime_dir = sandbox_runtime_dir
        self.port_registry_dir = port_registry_dir
        self._safe: Set[str] = set()
        # what resolving the layout had to say (a config file passed over), for the module's warnings
        self.warnings: List[str] = []
        # where the guard stops: the root, and a state or live directory relocated out of it
        self._bases = set([self.root]) | set(
            d for d in (self.state_dir, self.live_dir) if not d.startswith(self.root + os.sep)
        )

    @classmethod
    def resolve(
        cls,
        root: Optional[str] = None,
        environ: Optional[Mapping[str, str]] = None,
        load_yaml: Optional[Callable] = None,
        euid: Optional[int] = None,
    ) -> "Layout":
        """Resolve the layout: option ``root``, else env and config file, else the defaults.

        An explicit ``root`` option places everything under it; the environment and the
        config file are then not consulted, but for terok-sandbox's runtime directory and port
        registry, which no root relocates (their variables are read, the config file is not).

        terok-sandbox's state directory is ``TEROK_SANDBOX_STATE_DIR`` or ``<root>/sandbox``; its
        runtime directory as ``_sandbox_runtime_dir`` says; its port registry
        ``TEROK_PORT_REGISTRY_DIR``, else ``paths.port_registry_dir``, else ``/tmp/terok-ports``
        (terok 0.9.1: ``terok_sandbox/paths.py``, ``terok_util/paths.py``).
        """
        environ = os.environ if environ is None else environ
        euid = os.geteuid() if euid is None else euid
        warnings: List[str] = []
        runtime_dir = _sandbox_runtime_dir(environ, euid, warnings)
        registry = environ.get("TEROK_PORT_REGISTRY_DIR")
        if root is not None:
            layout = cls(_absolute(root, "root"), sandbox_runtime_dir=runtime_dir, port_registry_dir=_absolute_or_warn(
                registry, "TEROK_PORT_REGISTRY_DIR", warnings) if registry else PORT_REGISTRY_DEFAULT)
            layout.warnings = warnings
            return layout
        config = {}
        if load_yaml is not None:
            config = _config_paths(environ, load_yaml, warnings)
        if environ.get("TEROK_ROOT"):
            base = _absolute(environ["TEROK_ROOT"], "TEROK_ROOT")
        elif config.get("root"):
            base = _absolute(config["root"], "paths.root in the terok config file")
        elif euid == 0:
            base = SYSTEM_ROOT
        else:
            data_home = environ.get("XDG_DATA_HOME")
            if not data_home or not os.path.isabs(data_home):  # the XDG spec ignores a relative one
                data_home = os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".local", "share")
            base = os.path.join(_absolute(data_home, "the data home"), "terok")
        state_dir = None
        if environ.get("TEROK_STATE_DIR"):
            state_dir = _absolute(environ["TEROK_STATE_DIR"], "TEROK_STATE_DIR")
        live_dir = None
        if environ.get("TEROK_SANDBOX_LIVE_DIR"):
            live_dir = _absolute(environ["TEROK_SANDBOX_LIVE_DIR"], "TEROK_SANDBOX_LIVE_DIR")
        elif config.get("sandbox_live_dir"):
            live_dir = _absolute(config["sandbox_live_dir"], "paths.sandbox_live_dir in the terok config file")
        sandbox_state_dir: Optional[str] = os.path.join(base, "sandbox")
        if environ.get("TEROK_SANDBOX_STATE_DIR"):
            sandbox_state_dir = _absolute_or_warn(environ["TEROK_SANDBOX_STATE_DIR"], "TEROK_SANDBOX_STATE_DIR", warnings)
        if registry:
            port_registry: Optional[str] = _absolute_or_warn(registry, "TEROK_PORT_REGISTRY_DIR", warnings)
        elif config.get("port_registry_dir"):
            port_registry = _absolute_or_warn(config["port_registry_dir"], "paths.port_registry_dir in the terok "
                                              "config file", warnings)
        else:
            port_registry = PORT_REGISTRY_DEFAULT
        layout = cls(base, state_dir, live_dir, None, runtime_dir, port_registry)
        layout.sandbox_state_dir = sandbox_state_dir  # None when the variable is unusable: never <root>/sandbox instead
        layout.warnings = warnings
        return layout

    def guard(self, path: str) -> str:
        """``path`` if no existing component of it below its tree's base is a symlink.

        The bases themselves (the root, or a relocated state or live directory) may be
        symlinks: that is the operator's choice. Directories found safe are remembered for
        the run, so a listing of many tasks checks each shared directory once.
        """
        if path in self._safe or path in self._bases:
            return path
        parent = os.path.dirname(path)
        if parent != path and self._within(parent):
            self.guard(parent)
        try:
            mode = os.lstat(path).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return path
        if stat.S_ISLNK(mode):
            raise TerokError("%s is a symbolic link; refusing to follow it out of the state root" % path, path=path)
        if stat.S_ISDIR(mode):
            self._safe.add(path)
        return path

    def _within(self, path: str) -> bool:
        return any(path.startswith(base + os.sep) for base in self._bases)

    # Per-project directories ------------------------------------------------------------
    def projects_dir(self) -> str:
        return self.guard(os.path.join(self.state_dir, "projects"))

    def meta_dir(self, project: str) -> str:
        return self.guard(os.path.join(self.projects_dir(), check_component(project, "project"), "tasks"))

    def tasks_root(self, project: str) -> str:
        return self.guard(os.path.join(self.live_dir, "tasks", check_component(project, "project")))

    def archive_dir(self, project: str) -> str:
        return self.guard(os.path.join(self.root, "archive", check_component(project, "project"), "tasks"))

    # Per-task paths ------------------------------------------------------------------------
    def dossier_path(self, project: str, task_id: str) -> str:
        return os.path.join(self.meta_dir(project), check_component(task_id, "task id") + "_dossier.json")

    def meta_path(self, project: str, task_id: str) -> str:
        return os.path.join(self.meta_dir(project), check_component(task_id, "task id") + "_meta.yml")

    def task_dir(self, project: str, task_id: str) -> str:
        return self.guard(os.path.join(self.tasks_root(project), check_component(task_id, "task id")))

    def workspace(self, project: str, task_id: str, guard: bool = True) -> str:
        path = os.path.join(self.tasks_root(project), check_component(task_id, "task id"), "workspace-dangerous")
        return self.guard(path) if guard else path

    def log_file(self, project: str, task_id: str) -> str:
        return self.guard(os.path.join(self.task_dir(project, task_id), "logs", "container.log"))

    def work_status_file(self, project: str, task_id: str) -> str:
        return self.guard(os.path.join(self.task_dir(project, task_id), "agent-config", "work-status.yml"))

    def as_dict(self) -> Dict[str, str]:
        return {"root": self.root, "state_dir": self.state_dir, "live_dir": self.live_dir}


# terok's configuration directory (where projects/<name>/project.yml lives) -----------------------
SYSTEM_CONFIG_DIR = "/etc/terok"


def config_dir(option: Optional[str] = None, environ: Optional[Mapping[str, str]] = None,
               euid: Optional[int] = None) -> str:
    """terok's configuration directory, as terok 0.9.1 resolves it (``terok/lib/core/paths.py``,
    ``config_root``): the option, else ``TEROK_CONFIG_DIR``, else ``/etc/terok`` for root, else the
    user's ``${XDG_CONFIG_HOME:-~/.config}/terok`` (an XDG_CONFIG_HOME that is not absolute is
    passed over, as platformdirs passes it over). Its ``projects/<name>/project.yml`` are terok's projects."""
    environ = os.environ if environ is None else environ
    euid = os.geteuid() if euid is None else euid
    if option:
        return _absolute(option, "config_dir")
    if environ.get("TEROK_CONFIG_DIR"):
        return _absolute(environ["TEROK_CONFIG_DIR"], "TEROK_CONFIG_DIR")
    if euid == 0:
        return SYSTEM_CONFIG_DIR
    base = environ.get("XDG_CONFIG_HOME") or ""
    if not os.path.isabs(base):
        base = os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".config")
    return os.path.join(_absolute(base, "the config home"), "terok")


def user_projects_dir(environ: Optional[Mapping[str, str]] = None, load_yaml: Optional[Callable] = None,
                      warnings: Optional[List[str]] = None) -> Optional[str]:
    """terok 0.9.1's *user* projects directory (``terok/lib/core/config.py``, ``user_projects_dir``), whose
    ``<name>/project.yml`` terok prefers to the one in ``config_dir``: ``paths.user_projects_dir`` of the
    terok config file, else ``${XDG_CONFIG_HOME:-~/.config}/terok/projects``; None when not absolute."""
    environ = os.environ if environ is None else environ
    configured = None
    if load_yaml is not None:
        configured = _config_paths(environ, load_yaml, [] if warnings is None else warnings).get("user_projects_dir")
    if configured:
        path = os.path.expanduser(str(configured))
    else:
        base = environ.get("XDG_CONFIG_HOME") or os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".config")
        path = os.path.join(base, "terok", "projects")
    return os.path.normpath(path) if os.path.isabs(path) else None
