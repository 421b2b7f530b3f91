# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to terok.lifecycle: not a public API, it may change in any release.
"""How a task's container is confined: user namespace, privileges, capabilities, limits, network, ports, user.

The defaults are terok 0.9.1's (terok-sandbox and terok-shield) or stronger: a rootless run gets
``--userns=keep-id:uid=1000,gid=1000``, a restricted task ``--security-opt no-new-privileges``,
every container ``--cap-drop NET_ADMIN --cap-drop NET_RAW`` and a finite ``--pids-limit``.
"""

from __future__ import annotations

import re

from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Any, Dict, List, Mapping, Optional

# what terok passes for a rootless user (terok_sandbox): the image's user 1000 is the host user
ROOTLESS_USERNS = "keep-id:uid=1000,gid=1000"
DEFAULT_CAP_DROP = ("NET_ADMIN", "NET_RAW")
DEFAULT_PIDS_LIMIT = 4096
CONFINEMENT_LABEL = "io.terok.lifecycle.confinement"

_USERNS = re.compile(r"auto(:\S+)?|host|nomap|private|ns:/\S+|keep-id(:(uid|gid|size)=\d+(,(uid|gid|size)=\d+)*)?")
_CAPABILITY = re.compile(r"(CAP_)?[A-Z][A-Z_]*|ALL")
_MEMORY = re.compile(r"\d+(\.\d+)?[bkmgBKMG]?")
_NETWORK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:=/,-]*")
_PUBLISH = re.compile(r"((\[[0-9a-fA-F:.]+\]|[0-9.]+):)?((\d+)(-\d+)?)?:(\d+)(-\d+)?(/(tcp|udp|sctp))?|(\d+)(/(tcp|udp|sctp))?")
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?")


def _text(value: Any, pattern: "re.Pattern[str]", option: str, what: str) -> str:
    text = str(value)
    if not pattern.fullmatch(text):
        raise TerokError("%s %r is not %s" % (option, value, what), option=option)
    return text


def _capabilities(values: Any, option: str) -> List[str]:
    if not isinstance(values, list):
        raise TerokError("%s must be a list of capability names" % option, option=option)
    return [_text(str(value).upper(), _CAPABILITY, option, "a capability name such as NET_RAW or CAP_NET_RAW")
            for value in values]


class Confinement:
    """The confinement options of one task's container, validated."""

    def __init__(
        self,
        userns: Optional[str] = None,
        restricted: bool = True,
        cap_drop: Optional[List[str]] = None,
        cap_add: Optional[List[str]] = None,
        memory: Optional[str] = None,
        cpus: Optional[str] = None,
        pids_limit: int = DEFAULT_PIDS_LIMIT,
        network: Optional[str] = None,
        publish: Optional[List[str]] = None,
        user: Optional[str] = None,
    ) -> None:
        self.userns = userns  # None: keep-id:uid=1000,gid=1000 when podman runs rootless, none when rootful
        self.restricted = restricted
        self.cap_drop = list(DEFAULT_CAP_DROP if cap_drop is None else cap_drop)
        self.cap_add = list(cap_add or [])
        self.memory = memory
        self.cpus = cpus
        self.pids_limit = pids_limit
        self.network = network
        self.publish = list(publish or [])
        self.user = user

    @classmethod
    def from_params(cls, params: Mapping[str, Any], prefix: str = "") -> "Confinement":
        """Validate the confinement options of a module run; errors name the option (``prefix`` for items)."""

        def opt(key: str) -> str:
            return prefix + key

        def get(key: str) -> Any:
            value = params.get(key)
            return None if value is None else value

        userns = get("userns")
        if userns is not None:
            userns = _text(userns, _USERNS, opt("userns"), "a podman --userns mode (keep-id[:uid=N,gid=N], auto, host, "
                           "nomap, private, ns:PATH)")
        restricted = params.get("restricted")
        cap_drop = get("cap_drop")
        cap_add = get("cap_add")
        memory = get("memory")
        if memory is not None:
            memory = _text(memory, _MEMORY, opt("memory"), "a size such as 512m or 4g")
        cpus = get("cpus")
        if cpus is not None:
            try:
                number = float(cpus)
            except (TypeError, ValueError):
                number = -1.0
            if not number > 0:
                raise TerokError("%s must be a number of CPUs above 0, got %r" % (opt("cpus"), cpus), option=opt("cpus"))
            cpus = ("%g" % number)
        pids_limit = get("pids_limit")
        if pids_limit is None:
            pids_limit = DEFAULT_PIDS_LIMIT
        elif not isinstance(pids_limit, int) or isinstance(pids_limit, bool) or pids_limit < 1:
            raise TerokError(
                "%s must be a whole number of processes of 1 or more, got %r" % (opt("pids_limit"), pids_limit),
                option=opt("pids_limit"),
            )
        network = get("network")
        if network is not None:
            network = _text(network, _NETWORK, opt("network"), "a podman network mode (bridge, none, host, "
                            "slirp4netns, pasta, or a network's name)")
        publish = get("publish") or []
        if not isinstance(publish, list):
            raise TerokError("%s must be a list of ports" % opt("publish"), option=opt("publish"))
        publish = [_text(entry, _PUBLISH, opt("publish"), "a port as podman --publish takes it, such as 8080:80")
                   for entry in publish]
        user = get("user")
        if user is not None:
            user = _text(user, _USER, opt("user"), "a user (and group) such as dev or 1000:1000")
        return cls(
            userns,
            True if restricted is None else bool(restricted),
            None if cap_drop is None else _capabilities(cap_drop, opt("cap_drop")),
            None if cap_add is None else _capabilities(cap_add, opt("cap_add")),
            memory,
            cpus,
            pids_limit,
            network,
            publish,
            user,
        )

    def effective_userns(self, rootless: bool) -> Optional[str]:
        """The --userns to pass: the one asked for, else terok's for a rootless run, else none."""
        if self.userns is not None:
            return self.userns
        return ROOTLESS_USERNS if rootless else None

    def as_dict(self) -> Dict[str, Any]:
        """Every option as asked (for the options hash, the label and the results)."""
        return {
            "userns": self.userns,
            "restricted": self.restricted,
            "cap_drop": self.cap_drop,
            "cap_add": self.cap_add,
            "memory": self.memory,
            "cpus": self.cpus,
            "pids_limit": self.pids_limit,
            "network": self.network,
            "publish": self.publish,
            "user": self.user,
        }

    def web_port(self) -> Optional[int]:
        """The host port of the first published port (what terok records as ``web_port``), when it names one."""
        for entry in self.publish:
            match = _PUBLISH.fullmatch(entry)
            if match and match.group(4):
                return int(match.group(4))
        return None
