# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to terok.lifecycle: not a public API, it may change in any release.
"""Validated requests: what the module options of a task mean, for one task or a list of them."""

from __future__ import annotations

import os

from ansible_collections.terok.lifecycle.plugins.module_utils._container_spec import ContainerSpec
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._run_context import host_facts
from ansible_collections.terok.lifecycle.plugins.module_utils._task_options import BY_NAME
from ansible_collections.terok.lifecycle.plugins.module_utils._naming import (
    check_container_fits,
    check_container_mode,
    check_name,
    check_project,
    check_task_id,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

STATES: Tuple[str, ...] = BY_NAME["state"].choices or ()
STATUS_CHOICES: Tuple[str, ...] = BY_NAME["only_if_status"].choices or ()
# Options of terok_tasks given once for the whole list, used where an item does not set them.
SHARED_DEFAULTS = ("image",)


class Spec:
    """One validated request for one task."""

    def __init__(
        self,
        project: str,
        name: Optional[str] = None,
        task_id: Optional[str] = None,
        state: str = "present",
        archive: bool = True,
        **options: Any,
    ) -> None:
        self.project = project
        self.name = name
        self.task_id = task_id
        self.state = state
        self.archive = archive
        self.mode: Optional[str] = options.get("mode")  # None: the task's own mode, else cli
        self.container: Optional[ContainerSpec] = options.get("container")  # state=running only
        self.recreate = bool(options.get("recreate"))
        self.recreate_foreign = bool(options.get("recreate_foreign"))
        self.wait_ready = options.get("wait_ready", True)
        self.ready_timeout = options.get("ready_timeout", 300)
        self.wait = bool(options.get("wait"))
        self.wait_timeout = options.get("wait_timeout", 7200)
        self.stop_timeout = options.get("stop_timeout", 10)
        # absent / archived: only a task in one of these statuses goes (None: any)
        self.only_if_status: Optional[List[str]] = options.get("only_if_status")

    def running_container(self) -> ContainerSpec:
        """The container of a ``state=running`` spec (only those carry one)."""
        if self.container is None:
            raise TerokError("%s: only state=running has container options, not state=%s" % (self.project, self.state))
        return self.container

    @classmethod
    def from_params(cls, params: Mapping[str, Any], prefix: str = "") -> "Spec":
        """Validate module parameters; every error names its option (``prefix`` for list items)."""

        def opt(key: str) -> str:
            return prefix + key

        project = check_project(params.get("project"), opt("project"))
        task_id = params.get("task_id")
        if task_id is not None:
            check_task_id(task_id, opt("task_id"))
        name = params.get("name")
        if name is not None:
            name = check_name(name, opt("name"))
        if name is None and task_id is None:
            raise TerokError("one of %s or %s is required" % (opt("name"), opt("task_id")), option=opt("name"))
        state = params.get("state") or "present"
        if state not in STATES:
            raise TerokError("%s must be one of %s, got %r" % (opt("state"), ", ".join(STATES), state), opt("state"))
        archive = params.get("archive")
        archive = True if archive is None else bool(archive)
        if state == "archived" and not archive:
            raise TerokError(
                "%s=false contradicts %s=archived: use state=absent to delete without an archive entry"
                % (opt("archive"), opt("state")),
                option=opt("archive"),
            )
        options: Dict[str, Any] = {}
        mode = params.get("mode")
        if mode is not None:
            options["mode"] = check_container_mode(mode, opt("mode"))
        for key in ("ready_timeout", "wait_timeout", "stop_timeout"):
            value = params.get(key)
            if value is not None:
                if value < 0:
                    raise TerokError("%s must be 0 or more seconds, got %s" % (opt(key), value), option=opt(key))
                options[key] = value
        for key in ("recreate", "recreate_foreign", "wait_ready", "wait"):
            if params.get(key) is not None:
                options[key] = bool(params[key])
        only = params.get("only_if_status")
        if only is not None:
            if state not in ("absent", "archived"):
                raise TerokError(
                    "%s applies to state=absent and state=archived only, not state=%s" % (opt("only_if_status"), state),
                    option=opt("only_if_status"),
                )
            if not isinstance(only, list) or not only or any(value not in STATUS_CHOICES for value in only):
                raise TerokError(
                    "%s must be a non-empty list of terok statuses (%s), got %r"
                    % (opt("only_if_status"), ", ".join(STATUS_CHOICES), only),
                    option=opt("only_if_status"),
                )
            options["only_if_status"] = list(only)
        if state == "running":
            check_container_fits(project, opt("project"))
            options["container"] = ContainerSpec.from_params(params, prefix)
        return cls(project, name, task_id, state, archive, **options)


def specs_from_items(items: Sequence[Mapping[str, Any]], defaults: Mapping[str, Any]) -> List[Spec]:
    """Validate every item of terok_tasks before anything is done; errors name ``tasks[i].option``."""
    specs = []
    seen: Dict[Tuple[str, str, Optional[str]], int] = {}
    for index, item in enumerate(items):
        params = dict(item)
        for key in SHARED_DEFAULTS:
            if params.get(key) is None and defaults.get(key) is not None:
                params[key] = defaults[key]
        spec = Spec.from_params(params, prefix="tasks[%d]." % index)
        identity = (spec.project, "id", spec.task_id) if spec.task_id else (spec.project, "name", spec.name)
        if identity in seen:
            raise TerokError(
                "tasks[%d] names the same task as tasks[%d] (%s %s in project %s); give each task once"
                % (index, seen[identity], identity[1], identity[2], spec.project),
                option="tasks[%d]" % index,
            )
        seen[identity] = index
        specs.append(spec)
    return specs


def check_on_host(podman: Any, specs: Sequence[Spec], items: bool = True) -> None:
    """What only podman can tell about the specs, asked before anything is written: the podman secrets that
    option ``secrets`` names exist (one ``podman secret ls``, only when a spec names some), and that the host can
    enforce option ``egress`` (``check_egress``). Errors name the option (``tasks[i].secrets`` for the items of a
    list)."""
    check_egress(specs, items)
    wanted = [(index, entry.split(",")[0]) for index, spec in enumerate(specs) if spec.container is not None
              for entry in spec.container.values["secrets"]]
    if not wanted:
        return
    existing = set(podman.secret_names())
    for index, name in wanted:
        if name not in existing:
            option = ("tasks[%d]." % index if items else "") + "secrets"
            raise TerokError("%s names podman secret %s, which does not exist (podman secret ls); make it first, "
                             "for example with containers.podman.podman_secret" % (option, name), option=option)


def check_egress(specs: Sequence[Spec], items: bool = True, environ: Optional[Mapping[str, str]] = None,
                 rootless: Optional[bool] = None) -> None:
    """Whether this host can enforce the egress fences that the specs ask for, asked before anything is
    written: ``nft`` and ``nsenter`` are there, the collection's OCI hook is in a hooks directory podman reads
    (its containers.conf files, ``CONTAINERS_CONF`` when set; a rootless user's too when this process is not
    root, as podman then runs rootless), and every host name resolves. Errors name ``egress``
    (``tasks[i].egress``). Nothing is asked when no spec has a fence."""
    fenced = [(index, spec.container.values["egress"]) for index, spec in enumerate(specs)
              if spec.container is not None and spec.container.fenced]
    if not fenced:
        return
    # imported here: only a run with a fence needs it, and a module run compiles what it imports
    from ansible_collections.terok.lifecycle.plugins.module_utils import _egress  # pylint: disable=import-outside-toplevel

    environ = os.environ if environ is None else environ
    rootless = host_facts()["rootless"] if rootless is None else rootless
    option = ("tasks[%d]." % fenced[0][0] if items else "") + "egress"
    for tool, package in (("nft", "nftables"), ("nsenter", "util-linux")):
        if not _egress.find_tool(tool):
            raise TerokError("%s: the host cannot enforce the fence: %s is not installed (package %s, in %s or on PATH); "
                             "the task is not started without it" % (option, tool, package, ", ".join(_egress.TOOL_DIRS)),
                             option=option)
    if not _egress.installed_hook(environ, rootless):
        raise TerokError(
            "%s: the host cannot enforce the fence: the collection's OCI hook (%s and its program) is not in a hooks "
            "directory podman reads (%s); install it with module terok_host_prep, egress_hook=true (role terok_host: "
            "terok_host_egress_hook: true). The task is not started without it"
            % (option, _egress.DESCRIPTOR_NAME, ", ".join(_egress.hooks_dirs(environ, rootless))), option=option)
    for index, destinations in fenced:
        for destination in destinations:
            host, _port = _egress.parse(destination)
            if _egress.is_name(host):
                try:
                    _egress.resolve(host)
                except _egress.FenceError as exc:
                    name = ("tasks[%d]." % index if items else "") + "egress"
                    raise TerokError("%s: %s; the hook resolves it at every start of the container, and a start "
                                     "fails while it does not" % (name, exc), option=name)
