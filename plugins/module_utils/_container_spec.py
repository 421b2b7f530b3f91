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

from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._podman import RunRequest
from ansible_collections.terok.lifecycle.plugins.module_utils._secrets import (
    SECRET_ENV_VAR,
    SECRETS_LABEL,
    secret_name,
    secrets_digest,
)
from ansible_collections.terok.lifecycle.plugins.module_utils._task_options import (
    CONTAINER_OPTIONS,
    CONTAINER_WORKSPACE,
    INIT_ENV,
    OWN_ANNOTATION,
    OWN_LABEL_PREFIX,
    READ_ONLY_HOMES,
    ROOTLESS_USERNS,
    confinement_view,
    container_values,
    hashed_values,
    podman_flags,
    web_port,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

IMAGE_INIT_SCRIPT = "/usr/local/bin/init-ssh-and-repo.sh"
LABEL_PREFIX = OWN_LABEL_PREFIX
SPEC_LABEL = LABEL_PREFIX + "spec"
CONFINEMENT_LABEL = LABEL_PREFIX + "confinement"
READY_LINE = ">> init complete"
# The options whose values the hash of collection 0.1 (before options were hashed only when set) covered,
# under its own keys; see ContainerSpec.legacy_digest. Never add to it.
_LEGACY_CONFINEMENT = ("userns", "restricted", "cap_drop", "cap_add", "memory", "cpus", "pids_limit", "network",
                       "publish", "user")
_LEGACY = frozenset(("image", "command", "init_script", "env", "secret_env", "volumes") + _LEGACY_CONFINEMENT
                    + tuple(name for name, _var in INIT_ENV))


def label_confinement(labels: Mapping[str, str]) -> Optional[Dict[str, Any]]:
    """How a container is confined, from its confinement label (``confinement_view``: every option, its default
    where the label has none); None for a container this collection did not make."""
    text = labels.get(CONFINEMENT_LABEL)
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return confinement_view(value) if isinstance(value, dict) else None


def _check_fence(values: Mapping[str, Any], prefix: str) -> None:
    """What an egress fence needs of the other options: a network namespace of the container's own, and no
    NET_ADMIN for the agent, which could lift the fence with it."""
    network = values["network"] or ""
    if network == "host" or network.startswith(("container:", "ns:")):
        raise TerokError("%segress cannot fence a container with %snetwork=%s: it has no network namespace of its own, "
                         "so the fence would be another's (the host's with host); leave network unset, or give bridge, "
                         "none, slirp4netns, pasta or a network's name" % (prefix, prefix, network),
                         option=prefix + "egress")
    dropped = {cap[4:] if cap.startswith("CAP_") else cap for cap in values["cap_drop"]}
    added = {cap[4:] if cap.startswith("CAP_") else cap for cap in values["cap_add"]}
    if not dropped & {"NET_ADMIN", "ALL"} or added & {"NET_ADMIN", "ALL"}:
        raise TerokError("%segress needs NET_ADMIN dropped (in %scap_drop, as by default, and not in %scap_add): with "
                         "it the agent could lift its own fence" % (prefix, prefix, prefix), option=prefix + "egress")


def _check_together(values: Mapping[str, Any], prefix: str) -> None:
    """What podman refuses of options together (each option alone is checked by its table entry)."""
    if values["read_only"]:
        taken = sorted({os.path.normpath(entry.split(":")[index]) for key, index in (("tmpfs", 0), ("volumes", 1))
                        for entry in values[key]} & set(READ_ONLY_HOMES))
        if taken:
            raise TerokError("%sread_only mounts %s itself; leave it out of %stmpfs and %svolumes"
                             % (prefix, ", ".join(taken), prefix, prefix), option=prefix + "read_only")
    if values["egress"] is not None:
        _check_fence(values, prefix)
    if values["dns"] and values["network"] in ("none", "host"):
        raise TerokError("%sdns cannot be set with %snetwork=%s (podman refuses it)"
                         % (prefix, prefix, values["network"]), option=prefix + "dns")
    mounted = set()
    for entry in values["secrets"]:
        words = entry.split(",")
        if "type=env" not in words:  # mounted at /run/secrets/<target, else name>
            mounted.add(([word[len("target="):] for word in words[1:] if word.startswith("target=")] + words[:1])[0])
    clash = sorted(mounted & set(values["secret_env"]))
    if clash:
        raise TerokError("%ssecrets would mount over the secret_env secrets %s in /run/secrets"
                         % (prefix, ", ".join(clash)), option=prefix + "secrets")


class ContainerSpec:
    """The requested container of a task: every container option's canonical value; ``digest`` identifies it."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = dict(values)

    @classmethod
    def from_params(cls, params: Mapping[str, Any], prefix: str = "") -> "ContainerSpec":
        """Validate the container options of a module run (``prefix`` for list items)."""
        if not params.get("image"):
            raise TerokError("%simage is required with state=running" % prefix, option=prefix + "image")
        values = container_values(params, prefix)
        clash = sorted(set(values["env"]) & set(values["secret_env"]))
        if clash:
            raise TerokError(
                "%senv and %ssecret_env both set %s; set each variable once" % (prefix, prefix, ", ".join(clash)),
                option=prefix + "secret_env",
            )
        _check_together(values, prefix)
        return cls(values)

    @property
    def image(self) -> str:
        return self.values["image"]

    @property
    def restricted(self) -> bool:
        return self.values["restricted"]

    @property
    def fenced(self) -> bool:
        """Whether the container has an egress fence (option ``egress`` set, an empty list too)."""
        return self.values["egress"] is not None

    def _fence_annotations(self) -> List[Tuple[str, str]]:
        """The annotation that the egress hook loads the fence from (``_egress.ANNOTATION``); none without a fence."""
        if not self.fenced:
            return []
        # imported here: only a fenced container needs it, and a module run compiles what it imports
        from ansible_collections.terok.lifecycle.plugins.module_utils import _egress  # pylint: disable=import-outside-toplevel

        return [(_egress.ANNOTATION, _egress.annotation_value(self.values["egress"]))]

    @property
    def secret_env(self) -> Dict[str, str]:
        return self.values["secret_env"]

    def web_port(self) -> Optional[int]:
        """The host port of the first published port (what terok records as ``web_port``), when it names one."""
        return web_port(self.values["publish"])

    def confinement(self, rootless: bool) -> Dict[str, Any]:
        """How the container is confined (the result's ``confinement``), with the user namespace it gets:
        the one asked for, else terok's for a rootless run, else none."""
        view = confinement_view(self.values)
        if view["userns"] is None and rootless:
            view["userns"] = ROOTLESS_USERNS
        return view

    def digest(self, secrets_key: Callable[[], bytes]) -> str:
        """A hash of the options set away from their defaults, by name: an option that is not set,
        or set to its default, leaves it unchanged, so adding an option changes no container's hash.

        Secrets count through their HMAC under the host's key (``secrets_key``, asked only
        when there are secrets), so the hash reveals nothing a guess could be checked against.
        """
        data = dict(hashed_values(self.values))
        if "secret_env" in data:
            data["secret_env"] = secrets_digest(secrets_key(), self.secret_env)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()[:32]

    def legacy_digest(self, secrets_key: Callable[[], bytes]) -> Optional[str]:
        """The hash collection 0.1 put on a container made from these options (every option, under its
        own keys), so that its containers are not taken for changed; None when an option it did not
        know is set."""
        v = self.values
        if any(option.name not in _LEGACY and v[option.name] != option.unset for option in CONTAINER_OPTIONS):
            return None
        data: Dict[str, Any] = {
            "image": v["image"],
            "command": v["command"],
            "init_script": v["init_script"],
            "env": sorted(v["env"].items()),
            "init_env": sorted((var, v[name]) for name, var in INIT_ENV if v[name] is not None),
            "volumes": v["volumes"],
            "confinement": {name: v[name] for name in _LEGACY_CONFINEMENT},
        }
        if v["secret_env"]:
            data["secrets"] = secrets_digest(secrets_key(), v["secret_env"])
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()[:32]

    def matches(self, label: Optional[str], secrets_key: Callable[[], bytes]) -> bool:
        """Whether a container's options hash ``label`` is that of these options (0.1's form too)."""
        return label is not None and label in (self.digest(secrets_key), self.legacy_digest(secrets_key))

    def environment(self, project: str, task_id: str) -> Dict[str, str]:
        """The container's environment: the init script's inputs, then the extra ``env``."""
        env = {"REPO_ROOT": CONTAINER_WORKSPACE, "TASK_ID": task_id, "PROJECT_NAME": project}
        env.update((var, self.values[name]) for name, var in INIT_ENV if self.values[name] is not None)
        env.update(self.values["env"])
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
        *,
        secret_prefix: str = "",
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
        confinement = self.confinement(rootless)
        labels.append((CONFINEMENT_LABEL, json.dumps(confinement, sort_keys=True, separators=(",", ":"))))
        volumes: List[str] = ["%s:%s:Z" % (workspace, CONTAINER_WORKSPACE)]
        if self.values["init_script"]:
            volumes.append("%s:%s:ro" % (self.values["init_script"], IMAGE_INIT_SCRIPT))
        return RunRequest(
            name=name,
            image=self.image,
            command=self.values["command"],
            entrypoint=["/bin/bash", IMAGE_INIT_SCRIPT],
            labels=labels,
            annotations=[(OWN_ANNOTATION, dossier_path)] + self._fence_annotations(),
            volumes=volumes,
            workdir=CONTAINER_WORKSPACE,
            env=self.environment(project, task_id),
            secrets=[(secret_name(secret_prefix, var), var) for var in sorted(self.secret_env)],
            fenced=self.fenced,
            options=podman_flags(dict(self.values, userns=confinement["userns"], hostname=self.values["hostname"] or name)),
        )
