# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to terok.lifecycle: not a public API, it may change in any release.
"""The egress fence of a task (option ``egress``): its destinations, the nftables ruleset that lets
only them out of the container, and the OCI hook that loads that ruleset into the container's network
namespace at every start of the container, before any process of the container runs.

This file is also the hook program: terok_host_prep (``egress_hook``) installs a copy of it and a
descriptor (``terok-lifecycle-egress.json``) in podman's hooks directory, and podman's OCI runtime runs
``PYTHON -I <copy> createRuntime`` for every container with the annotation ``io.terok.lifecycle.egress``,
at each start: a first start, ``podman start``, ``podman restart``, a restart by the restart policy
(conmon) and ``podman-restart.service`` at boot alike. So it imports nothing but the standard library,
nothing of the collection, and does its work only when run as a program.

The hook fails closed: when the fence cannot be loaded (a host name that does not resolve, no ``nft``,
a network namespace that is the host's) it exits non-zero, and the OCI runtime does not start the
container. Once loaded, the agent cannot lift the fence: the collection drops ``NET_ADMIN``.

What the fence allows (table ``inet terok_lifecycle_egress``, chain ``output``, policy drop):
loopback, replies of connections already allowed (``ct state established,related``), IPv6 neighbour
discovery, each destination (an address or network, all protocols; with a port, TCP and UDP to that
port), and, when a destination is a host name, DNS (TCP and UDP port 53) to the name servers of the
container's ``/etc/resolv.conf``. Everything else is rejected (``admin-prohibited``), so that a
refused connection fails at once. Host names are resolved by the hook, on the host, at each start.
Incoming connections (published ports) are not fenced; their replies pass.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import IO, Any, List, Optional, Sequence, Tuple

    Destination = Tuple[str, Optional[int]]

ANNOTATION = "io.terok.lifecycle.egress"
TABLE = "inet terok_lifecycle_egress"
HOOK_NAME = "terok-lifecycle-egress-hook"
DESCRIPTOR_NAME = "terok-lifecycle-egress.json"
STAGE = "createRuntime"
# podman's hooks directory when containers.conf names none (containers/common's default); root and
# rootless podman 4.3.1 read it
DEFAULT_HOOKS_DIR = "/usr/share/containers/oci/hooks.d"
# where the hook finds nft and nsenter: the OCI runtime gives it no PATH of its own
TOOL_DIRS = ("/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/local/bin")
MAX_DESTINATIONS = 1024
# patterns as text, compiled by re's cache when first used (a module run that sets no fence compiles none)
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_PORTED = r"\[([^\]]+)\](?::(\d+))?"


class FenceError(ValueError):
    """A destination that is not one, or a fence that cannot be loaded."""


# Destinations ---------------------------------------------------------------------------------
def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise FenceError("%r: the port must be a number from 1 to 65535" % entry)
    return int(text)


def _address(text: str, entry: str, v6_only: bool = False) -> Optional[str]:
    """An address or network in its canonical form (a network with host bits set is its network, a
    full-length one its address); None when ``text`` is no address at all."""
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        if "/" in text or ":" in text or v6_only:
            raise FenceError("%r is not an IP address or network (CIDR)" % entry)
        return None
    if v6_only and network.version != 6:
        raise FenceError("%r: only an IPv6 address goes in brackets" % entry)
    if "/" not in text or network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def _host_name(text: str, entry: str) -> str:
    name = text.lower()
    name = name[:-1] if name.endswith(".") else name
    labels = name.split(".")
    if not name or len(name) > 253 or not all(re.fullmatch(_LABEL, label) for label in labels) or labels[-1].isdigit():
        raise FenceError("%r is not a host name, an IP address or a network (CIDR), each optionally :PORT" % entry)
    return name


def parse(entry: Any) -> Destination:
    """One destination: ``HOST``, ``IP`` or ``CIDR``, each optionally ``:PORT`` (IPv6 in brackets
    before a port: ``[2001:db8::1]:443``); as (canonical host, port or None)."""
    if not isinstance(entry, str):
        raise FenceError("%r is not a string: give HOST, IP or CIDR, each optionally :PORT" % (entry,))
    text = entry.strip()
    if not text or any(char.isspace() or ord(char) < 32 for char in text):
        raise FenceError("%r must be one destination, without spaces or control characters" % entry)
    if text.startswith("["):
        match = re.fullmatch(_PORTED, text)
        if not match:
            raise FenceError("%r: write an IPv6 address with a port as [ADDRESS]:PORT" % entry)
        return str(_address(match.group(1), entry, v6_only=True)), (
            _port(match.group(2), entry) if match.group(2) is not None else None)
    if text.count(":") > 1:  # an IPv6 address or network, without a port
        return str(_address(text, entry)), None
    host, colon, port = text.partition(":")
    number = _port(port, entry) if colon else None
    address = _address(host, entry)
    return (address if address is not None else _host_name(host, entry)), number


def is_name(host: str) -> bool:
    """Whether a canonical host is a host name (not an address or network)."""
    try:
        ipaddress.ip_network(host, strict=False)
    except ValueError:
        return True
    return False


def format_destination(destination: Destination) -> str:
    """The canonical text of a destination (what ``parse`` reads back to the same destination)."""
    host, port = destination
    if port is None:
        return host
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


def canonical(values: Any) -> List[str]:
    """A list of destinations in canonical form, in the order given, each once; FenceError says what is wrong."""
    if not isinstance(values, list):
        raise FenceError("must be a list of destinations (HOST, IP or CIDR, each optionally :PORT), or [] for none")
    if len(values) > MAX_DESTINATIONS:
        raise FenceError("has %d destinations; at most %d" % (len(values), MAX_DESTINATIONS))
    seen: List[str] = []
    for value in values:
        text = format_destination(parse(value))
        if text not in seen:
            seen.append(text)
    return seen


def annotation_value(destinations: Sequence[str]) -> str:
    """What the container's annotation ``io.terok.lifecycle.egress`` holds: the canonical destinations,
    separated by spaces (none: empty). Neither a comma nor a quote, which podman's ``--annotation`` would
    split or refuse, can be in a canonical destination."""
    return " ".join(destinations)


def from_annotation(value: Any) -> List[Destination]:
    """The destinations an annotation ``io.terok.lifecycle.egress`` holds; FenceError when it holds anything else."""
    if not isinstance(value, str):
        raise FenceError("annotation %s is not text" % ANNOTATION)
    return [parse(entry) for entry in value.split()]


# The ruleset -----------------------------------------------------------------------------------
def _family(network: str) -> str:
    return "ip6" if ":" in network else "ip"


def ruleset(allowed: Sequence[Destination], name_servers: Sequence[str] = ()) -> str:
    """The nft script of a fence: ``allowed`` holds addresses or networks (host names resolved),
    each with its port or None; DNS goes to ``name_servers`` only. The table is replaced whole, in
    one transaction."""
    rules = [
        'oifname "lo" accept',
        "ct state established,related accept",
        "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } accept",
    ]
    for server in name_servers:
        for proto in ("udp", "tcp"):
            rules.append("%s daddr %s %s dport 53 accept" % (_family(server), server, proto))
    for network, port in allowed:
        if port is None:
            rules.append("%s daddr %s accept" % (_family(network), network))
        else:
            for proto in ("tcp", "udp"):
                rules.append("%s daddr %s %s dport %d accept" % (_family(network), network, proto, port))
    rules.append("reject with icmpx type admin-prohibited")
    body = "".join("\t\t%s\n" % rule for rule in rules)
    return ("add table {table}\ndelete table {table}\ntable {table} {{\n\tchain output {{\n"
            "\t\ttype filter hook output priority filter; policy drop;\n{body}\t}}\n}}\n").format(table=TABLE, body=body)


def loaded(listing: str) -> bool:
    """Whether ``nft list table inet terok_lifecycle_egress`` shows a fence: its output chain drops by default
    and ends in the reject."""
    return ("table %s {" % TABLE) in listing and "policy drop;" in listing and "reject" in listing


# On the host: tools, podman's hooks directories, name resolution ----------------------------------
def find_tool(name: str, dirs: Sequence[str] = TOOL_DIRS) -> Optional[str]:
    """The path of an executable ``name`` in the usual system directories, else on ``PATH``."""
    for directory in list(dirs) + os.environ.get("PATH", "").split(os.pathsep):
        path = os.path.join(directory, name)
        if directory and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def _conf_hooks_dirs(path: str) -> Optional[List[str]]:
    """``[engine] hooks_dir`` of one containers.conf file (a list, over lines too); None when it sets none."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    section = ""
    found: Optional[List[str]] = None
    value: Optional[str] = None
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if value is not None:
            value += " " + line
        elif line.startswith("["):
            section = line.strip("[] ")
            continue
        elif section == "engine" and re.match(r"hooks_dir\s*=", line):
            value = line.split("=", 1)[1]
        else:
            continue
        if "[" not in value or value.count("]") >= value.count("["):
            found = [a or b for a, b in re.findall(r'"([^"]*)"|\'([^\']*)\'', value)]
            value = None
    return found


def containers_conf_files(environ: Any, rootless: bool) -> List[str]:
    """The containers.conf files podman 4.3.1 reads, in order (a later one overrides): ``CONTAINERS_CONF``
    alone when set; else the system's, its drop-ins, and for a rootless user the user's and theirs."""
    if environ.get("CONTAINERS_CONF"):
        return [environ["CONTAINERS_CONF"]]
    files = ["/usr/share/containers/containers.conf", "/etc/containers/containers.conf"]
    dirs = ["/etc/containers/containers.conf.d"]
    if rootless:
        config = environ.get("XDG_CONFIG_HOME") or os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".config")
        files.append(os.path.join(config, "containers", "containers.conf"))
        dirs.append(os.path.join(config, "containers", "containers.conf.d"))
    for index, directory in enumerate(dirs):
        try:
            names = sorted(name for name in os.listdir(directory) if name.endswith(".conf"))
        except OSError:
            continue
        drop_ins = [os.path.join(directory, name) for name in names]
        if index == 0:
            files[2:2] = drop_ins  # the system's drop-ins before the user's file
        else:
            files.extend(drop_ins)
    return files


def hooks_dirs(environ: Any, rootless: bool) -> List[str]:
    """The OCI hooks directories podman reads: the last ``hooks_dir`` of its containers.conf files, else
    its default."""
    dirs = [DEFAULT_HOOKS_DIR]
    for path in containers_conf_files(environ, rootless):
        found = _conf_hooks_dirs(path)
        if found is not None:
            dirs = found
    return dirs


def installed_hook(environ: Any, rootless: bool) -> Optional[str]:
    """The descriptor of the collection's egress hook in a hooks directory podman reads, when its program and
    interpreter are there too; None otherwise."""
    for directory in hooks_dirs(environ, rootless):
        path = os.path.join(os.path.expanduser(directory), DESCRIPTOR_NAME)
        try:
            with open(path, encoding="utf-8") as handle:
                hook = json.load(handle).get("hook") or {}
        except (OSError, ValueError, AttributeError):
            continue
        python = hook.get("path")
        program = next((arg for arg in hook.get("args") or [] if str(arg).endswith(HOOK_NAME)), None)
        if isinstance(python, str) and os.path.isfile(python) and program and os.path.isfile(str(program)):
            return path
    return None


def descriptor(python: str, program: str) -> str:
    """The hook's descriptor (OCI hooks schema 1.0.0): run ``program`` with ``python`` in isolated mode at
    ``createRuntime`` for every container with the annotation ``io.terok.lifecycle.egress``."""
    return json.dumps({
        "version": "1.0.0",
        "hook": {"path": python, "args": [python, "-I", program, STAGE]},
        "when": {"annotations": {"^%s$" % re.escape(ANNOTATION): ".*"}},
        "stages": [STAGE],
    }, indent=2) + "\n"


def program_text() -> bytes:
    """This file's text: what terok_host_prep installs as the hook program (from the module's loader, which
    reads it from AnsiballZ's zip in a module run; some loaders, ansible's collection loader among them, give
    bytes)."""
    loader = globals().get("__loader__")
    source: Any = None
    if loader is not None and hasattr(loader, "get_source"):
        try:
            source = loader.get_source(__name__)
        except (ImportError, OSError):
            source = None
    if source is None:
        with open(__file__, "rb") as handle:
            return handle.read()
    return source if isinstance(source, bytes) else source.encode("utf-8")


def resolve(host: str) -> List[str]:
    """The addresses a host name has on the host (every family), sorted; FenceError when it has none."""
    import socket  # pylint: disable=import-outside-toplevel

    try:
        infos = socket.getaddrinfo(host, None, 0, socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FenceError("host name %s does not resolve on the host: %s" % (host, exc))
    addresses = set()
    for info in infos:
        address = str(info[4][0]).split("%", 1)[0]
        try:
            addresses.add(str(ipaddress.ip_address(address)))
        except ValueError:
            continue
    if not addresses:
        raise FenceError("host name %s has no IP address on the host" % host)
    return sorted(addresses)


def resolved(destinations: Sequence[Destination]) -> List[Destination]:
    """The destinations with every host name replaced by its addresses (each with the name's port)."""
    result: List[Destination] = []
    for host, port in destinations:
        for network in (resolve(host) if is_name(host) else [host]):
            if (network, port) not in result:
                result.append((network, port))
    return result


# The hook ----------------------------------------------------------------------------------------
def bundle_name_servers(bundle: str) -> List[str]:
    """The name servers of the container's ``/etc/resolv.conf``: the file that the OCI config of the
    bundle mounts there (podman writes it), its ``nameserver`` lines."""
    with open(os.path.join(bundle, "config.json"), encoding="utf-8") as handle:
        config = json.load(handle)
    sources = [mount.get("source") for mount in config.get("mounts") or []
               if isinstance(mount, dict) and mount.get("destination") == "/etc/resolv.conf"]
    servers: List[str] = []
    for source in sources[-1:]:
        with open(str(source), encoding="utf-8") as handle:
            for line in handle:
                words = line.split()
                if len(words) >= 2 and words[0] == "nameserver":
                    try:
                        server = str(ipaddress.ip_address(words[1].split("%", 1)[0]))
                    except ValueError:
                        continue
                    if server not in servers:
                        servers.append(server)
    return servers


def shares_network_namespace(pid: int) -> bool:
    """Whether the process ``pid`` is in this process's network namespace (the host's, where the OCI runtime
    runs its hooks), so that a fence there would be the host's."""
    mine, theirs = os.stat("/proc/self/ns/net"), os.stat("/proc/%d/ns/net" % pid)
    return (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)


def run_with_input(argv: List[str], data: bytes, timeout: float = 60.0) -> Tuple[int, str]:
    """Run ``argv`` (a program's path first) with ``data`` on its standard input, its standard output
    discarded; return its exit status (128 + the signal that ended it) and the end of its standard error.

    podman runs this file as an OCI hook, outside Ansible, where there is no ``AnsibleModule.run_command``;
    and in module_utils ansible-test (core 2.21+) and Galaxy's import refuse ``subprocess`` with no ignore
    permitted. So the child is made with fork and exec; the data is small (a ruleset), the reads bounded.
    """
    import select  # pylint: disable=import-outside-toplevel

    in_r, in_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its standard streams, then the program; nothing else of this process runs
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(in_r, 0)
            os.dup2(null, 1)
            os.dup2(err_w, 2)
            os.execv(argv[0], argv)
        finally:
            os._exit(127)  # exec failed
    os.close(in_r)
    os.close(err_w)
    deadline = time.monotonic() + timeout
    err = b""
    try:
        try:
            with os.fdopen(in_w, "wb") as pipe:
                pipe.write(data)
        except BrokenPipeError:
            pass  # the program ended without reading it all: its status and error say why
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                raise FenceError("%s did not finish within %d s" % (os.path.basename(argv[0]), timeout))
            ready, _w, _x = select.select([err_r], [], [], left)
            if ready:
                chunk = os.read(err_r, 65536)
                if not chunk:
                    break
                err = (err + chunk)[-65536:]
    finally:
        os.close(err_r)
    _pid, status = os.waitpid(pid, 0)
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
    return code, err.decode("utf-8", "replace")


def apply(state: Any) -> str:
    """Load the fence that the OCI state's annotation asks for into the container's network namespace;
    return the ruleset loaded. FenceError (or OSError) when it cannot be done."""
    destinations = from_annotation((state.get("annotations") or {}).get(ANNOTATION))
    pid = state.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        raise FenceError("the OCI state has no process id")
    netns = "/proc/%d/ns/net" % pid
    if shares_network_namespace(pid):
        raise FenceError("the container shares the host's network namespace (network host?): no fence of its own")
    names = [host for host, _port in destinations if is_name(host)]
    servers = bundle_name_servers(str(state.get("bundle") or "")) if names else []
    text = ruleset(resolved(destinations), servers)
    nsenter, nft = find_tool("nsenter"), find_tool("nft")
    if not nsenter or not nft:
        missing = "nsenter" if not nsenter else "nft (nftables)"
        raise FenceError("%s is not installed on the host (in %s)" % (missing, ", ".join(TOOL_DIRS)))
    code, err = run_with_input([nsenter, "--net=" + netns, "--", nft, "-f", "-"], text.encode("utf-8"))
    if code != 0:
        raise FenceError("nft could not load the fence (rc=%d): %s" % (code, err.strip()[-2000:]))
    return text


def main(stdin: Optional[IO[str]] = None, stderr: Optional[IO[str]] = None) -> int:
    """The OCI hook: the container's state on standard input; 0 when the fence is loaded, else 1 (the OCI
    runtime then does not start the container) with the reason on standard error."""
    stdin = stdin or sys.stdin
    stderr = stderr or sys.stderr
    container = "?"
    try:
        state = json.load(stdin)
        container = str(state.get("id") or "?")[:12]
        if ANNOTATION not in (state.get("annotations") or {}):
            return 0  # not a fenced container (the descriptor matches only those)
        apply(state)
    except Exception as exc:  # pylint: disable=broad-except
        stderr.write("terok.lifecycle egress hook: container %s is not started, not without its fence (option "
                     "egress): %s\n" % (container, exc))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
