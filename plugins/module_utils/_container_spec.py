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
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._podman import RunRequest

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
    ) -> None:
        self.image = image
        self.command = list(command) if command else list(DEFAULT_COMMAND)
        self.init_script = init_script
        self.env = dict(env or {})
        self.init_env = dict(init_env or {})
        self.volumes = list(volumes or [])

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
        init_env = {}
        for option, var in INIT_ENV:
            value = params.get(option)
            if value is not None and value != "":
                init_env[var] = _check_text(str(value), opt(option))
        env = {}
        for key, value in (params.get("env") or {}).items():
            if not _ENV_NAME.fullmatch(str(key)):
                raise TerokError("%s key %r is not a valid variable name" % (opt("env"), key), option=opt("env"))
            if key in RESERVED_ENV:
                raise TerokError(
                    "%s key %s is set by the module; use its own option instead" % (opt("env"), key), option=opt("env")
                )
            if value is None:
                continue
            # the value is never echoed: it may be a secret
            if "\n" in str(value) or "\r" in str(value) or "\x00" in str(value):
                raise TerokError("%s value of %s must not contain NUL or line breaks" % (opt("env"), key), opt("env"))
            env[str(key)] = str(value)
        volumes = [_check_volume(entry, opt("volumes")) for entry in params.get("volumes") or []]
        command = params.get("command")
        if command is not None and not command:
            raise TerokError("%s must not be an empty list" % opt("command"), option=opt("command"))
        return cls(image, command, init_script, env, volumes, init_env)

    def digest(self) -> str:
        """A hash of everything that shapes the container, secrets included (only hashed)."""
        data = {
            "image": self.image,
            "command": self.command,
            "init_script": self.init_script,
            "env": sorted(self.env.items()),
            "init_env": sorted(self.init_env.items()),
            "volumes": self.volumes,
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()[:32]

    def environment(self, project: str, task_id: str) -> Dict[str, str]:
        """The container's environment: the init script's inputs, then the extra ``env``."""
        env = {"REPO_ROOT": CONTAINER_WORKSPACE, "TASK_ID": task_id, "PROJECT_NAME": project}
        env.update(self.init_env)
        env.update(self.env)
        return env

    def run_request(
        self,
        name: str,
        project: str,
        task_id: str,
        mode: str,
        workspace: str,
        dossier_path: str,
    ) -> RunRequest:
        """The ``podman run`` request that creates and starts the task's container (detached).

        The labels carry only what never changes for the container: no task name, which a
        rename would make stale.
        """
        labels = [
            (LABEL_PREFIX + "project", project),
            (LABEL_PREFIX + "task", task_id),
            (LABEL_PREFIX + "mode", mode),
            (SPEC_LABEL, self.digest()),
        ]
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
        )
