# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to terok.lifecycle: not a public API, it may change in any release.
"""What a task's container is made of (validated options), its environment, its ``podman run`` request and its hash."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex

from ansible_collections.terok.lifecycle.plugins.module_utils._confinement import CONFINEMENT_LABEL, Confinement
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._podman import RunRequest
from ansible_collections.terok.lifecycle.plugins.module_utils._secrets import (
    SECRET_ENV_VAR,
    SECRETS_LABEL,
    secret_name,
    secrets_digest,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

CONTAINER_WORKSPACE = "/workspace"
IMAGE_INIT_SCRIPT = "/usr/local/bin/init-ssh-and-repo.sh"
LABEL_PREFIX = "io.terok.lifecycle."
SPEC_LABEL = LABEL_PREFIX + "spec"
READY_LINE = ">> init complete"
DEFAULT_COMMAND = ("/bin/bash",)
RESET_MODES = ("none", "hard", "soft")

# Module options that become the init script's environment.
INIT_ENV = (
    ("code_repo", "CODE_REPO"),
    ("git_branch", "GIT_BRANCH"),
    ("clone_from", "CLONE_FROM"),
    ("git_reset_mode", "GIT_RESET_MODE"),
    ("external_remote_url", "EXTERNAL_REMOTE_URL"),
    ("ssh_key_name", "SSH_KEY_NAME"),
)
RESERVED_ENV = frozenset(["REPO_ROOT", "TASK_ID", "PROJECT_NAME"] + [var for _opt, var in INIT_ENV])
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _check_text(value: str, option: str) -> str:
    if "\x00" in value or "\n" in value or "\r" in value:
        raise TerokError("%s must not contain NUL or line breaks" % option, option=option)
    return value


def _check_volume(entry: str, option: str) -> str:
    parts = entry.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise TerokError(
            "%s entry %r must be HOST_PATH:CONTAINER_PATH[:OPTIONS]" % (option, entry), option=option
        )
    if not os.path.isabs(parts[0]) or not os.path.isabs(parts[1]):
        raise TerokError("%s entry %r needs absolute host and container paths" % (option, entry), option=option)
    if os.path.normpath(parts[1]) == CONTAINER_WORKSPACE:
        raise TerokError("%s entry %r would hide the task workspace at /workspace" % (option, entry), option=option)
    return _check_text(entry, option)


def env_text(value: Any, what: str, option: str) -> str:
    """An environment value as the container sees it: YAML's true/false for booleans, numbers as written.

    Lists and mappings have no one spelling in an environment variable, so they are refused.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    kind = "list" if isinstance(value, list) else "mapping" if isinstance(value, dict) else type(value).__name__
    raise TerokError("%s must be a string, a number or a boolean, not a %s" % (what, kind), option=option)


def _variables(given: Any, option: str, secret: bool) -> Dict[str, str]:
    """A validated mapping of environment variables (``env`` or, with ``secret``, ``secret_env``).

    Values are never echoed in errors. A secret value may hold line breaks (it is a file in
    the container), never a NUL.
    """
    if given is None:
        return {}
    if not isinstance(given, dict):
        raise TerokError("%s must be a mapping of variable names to values" % option, option=option)
    variables = {}
    for key, value in given.items():
        if not _ENV_NAME.fullmatch(str(key)):
            raise TerokError("%s key %r is not a valid variable name" % (option, key), option=option)
        if key in RESERVED_ENV or key == SECRET_ENV_VAR:
            raise TerokError("%s key %s is set by the module; use its own option instead" % (option, key), option=option)
        if value is None:
            continue
        text = env_text(value, "%s key %s" % (option, key), option)
        if "\x00" in text or (not secret and ("\n" in text or "\r" in text)):
            raise TerokError(
                "%s value of %s must not contain NUL%s" % (option, key, "" if secret else " or line breaks"), option=option
            )
        variables[str(key)] = text
    return variables


def command_argv(command: Any, option: str) -> Optional[List[str]]:
    """The container command as argv: a list as it is, a string split as a POSIX shell splits words."""
    if command is None:
        return None
    if isinstance(command, str):
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise TerokError("%s %r cannot be split into words: %s" % (option, command, exc), option=option)
    elif isinstance(command, (list, tuple)):
        argv = []
        for word in command:
            if not isinstance(word, (str, int, float)) or isinstance(word, bool):
                raise TerokError("%s items must be strings, got %r" % (option, word), option=option)
            argv.append(str(word))
    else:
        raise TerokError("%s must be a list of words or a string, got %r" % (option, command), option=option)
    if not argv:
        raise TerokError("%s must not be empty" % option, option=option)
    if any("\x00" in word for word in argv):
        raise TerokError("%s must not contain a NUL character" % option, option=option)
    return argv


class ContainerSpec:
    """The requested container of a task, validated; ``digest`` identifies it."""

    def __init__(
        self,
        image: str,
        command: Optional[Sequence[str]] = None,
        init_script: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        volumes: Optional[Sequence[str]] = None,
        init_env: Optional[Mapping[str, str]] = None,
        secret_env: Optional[Mapping[str, str]] = None,
        confinement: Optional[Confinement] = None,
    ) -> None:
        self.image = image
        self.command = list(command) if command else list(DEFAULT_COMMAND)
        self.init_script = init_script
        self.env = dict(env or {})
        self.init_env = dict(init_env or {})
        self.volumes = list(volumes or [])
        self.secret_env = dict(secret_env or {})
        self.confinement = confinement or Confinement()

    @classmethod
    def from_params(cls, params: Mapping[str, Any], prefix: str = "") -> "ContainerSpec":
        """Validate the container options of a module run (``prefix`` for list items)."""

        def opt(key):
            return prefix + key

        image = params.get("image")
        if not image:
            raise TerokError("%s is required with state=running" % opt("image"), option=opt("image"))
        _check_text(image, opt("image"))
        if image.startswith("-"):
            raise TerokError("%s must not start with '-'" % opt("image"), option=opt("image"))
        init_script = params.get("init_script")
        if init_script:
            if not os.path.isabs(init_script):
                raise TerokError("%s must be an absolute path on the target" % opt("init_script"), opt("init_script"))
            if not os.path.isfile(init_script):
                raise TerokError(
                    "%s %s is not a file on the target" % (opt("init_script"), init_script), option=opt("init_script")
                )
            _check_text(init_script, opt("init_script"))
            if ":" in init_script or "," in init_script:
                raise TerokError(
                    "%s %s cannot be mounted: podman's --volume syntax cannot carry ':' or ',' in a path"
                    % (opt("init_script"), init_script),
                    option=opt("init_script"),
                )
        init_env = {}
        for option, var in INIT_ENV:
            value = params.get(option)
            if value is not None and value != "":
                init_env[var] = _check_text(str(value), opt(option))
        env = _variables(params.get("env"), opt("env"), secret=False)
        secret_env = _variables(params.get("secret_env"), opt("secret_env"), secret=True)
        clash = sorted(set(env) & set(secret_env))
        if clash:
            raise TerokError(
                "%s and %s both set %s; set each variable once" % (opt("env"), opt("secret_env"), ", ".join(clash)),
                option=opt("secret_env"),
            )
        volumes = [_check_volume(entry, opt("volumes")) for entry in params.get("volumes") or []]
        command = command_argv(params.get("command"), opt("command"))
        confinement = Confinement.from_params(params, prefix)
        return cls(image, command, init_script, env, volumes, init_env, secret_env, confinement)

    def digest(self, secrets_key: Callable[[], bytes]) -> str:
        """A hash of everything that shapes the container.

        Secrets count through their HMAC under the host's key (``secrets_key``, asked only
        when there are secrets), so the hash reveals nothing a guess could be checked against.
        """
        data = {
            "image": self.image,
            "command": self.command,
            "init_script": self.init_script,
            "env": sorted(self.env.items()),
            "init_env": sorted(self.init_env.items()),
            "volumes": self.volumes,
            "confinement": self.confinement.as_dict(),
        }
        if self.secret_env:
            data["secrets"] = secrets_digest(secrets_key(), self.secret_env)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()[:32]

    def environment(self, project: str, task_id: str) -> Dict[str, str]:
        """The container's environment: the init script's inputs, then the extra ``env``."""
        env = {"REPO_ROOT": CONTAINER_WORKSPACE, "TASK_ID": task_id, "PROJECT_NAME": project}
        env.update(self.init_env)
        env.update(self.env)
        if self.secret_env:  # names only: the values come from /run/secrets
            env[SECRET_ENV_VAR] = " ".join(sorted(self.secret_env))
        return env

    def run_request(
        self,
        name: str,
        project: str,
        task_id: str,
        mode: str,
        workspace: str,
        dossier_path: str,
        secrets_key: Callable[[], bytes],
        rootless: bool = False,
    ) -> RunRequest:
        """The ``podman run`` request that creates and starts the task's container (detached).

        The labels carry only what never changes for the container: no task name, which a
        rename would make stale.
        """
        labels = [
            (LABEL_PREFIX + "project", project),
            (LABEL_PREFIX + "task", task_id),
            (LABEL_PREFIX + "mode", mode),
            (SPEC_LABEL, self.digest(secrets_key)),
        ]
        if self.secret_env:
            labels.append((SECRETS_LABEL, ",".join(sorted(self.secret_env))))
        confinement = dict(self.confinement.as_dict(), userns=self.confinement.effective_userns(rootless))
        labels.append((CONFINEMENT_LABEL, json.dumps(confinement, sort_keys=True, separators=(",", ":"))))
        volumes: List[str] = ["%s:%s:Z" % (workspace, CONTAINER_WORKSPACE)]
        if self.init_script:
            volumes.append("%s:%s:ro" % (self.init_script, IMAGE_INIT_SCRIPT))
        volumes += self.volumes
        return RunRequest(
            name=name,
            image=self.image,
            command=self.command,
            entrypoint=["/bin/bash", IMAGE_INIT_SCRIPT],
            labels=labels,
            annotations=[("dossier.meta_path", dossier_path)],
            volumes=volumes,
            workdir=CONTAINER_WORKSPACE,
            env=self.environment(project, task_id),
            secrets=[(secret_name(name, var), var) for var in sorted(self.secret_env)],
            confinement=confinement,
        )
