# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to terok.lifecycle: not a public API, it may change in any release.
"""Every option of a task, declared once: ``OPTIONS``.

An entry says the option's name, Ansible type, default, choices and documentation, and for a
container option how a value is checked and made canonical (``check``), what it is when not
given (``unset``), which podman flags it becomes (``flags``), whether it is part of the
``confinement`` result (and label), and which init-script variable carries it (``init_env``).
From the table come the argument spec of terok_task and of terok_tasks' items, the checks,
the podman argv, the options hash, the result's ``confinement`` keys and the module
documentation (``tools/option-docs.py`` writes it; a unit test keeps it in step).

Adding a container option is one entry here plus its tests. It enters the options hash only
when a value differs from ``unset``, so adding one never changes the hash of a container that
does not use it.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shlex

from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._secrets import SECRET_ENV_VAR

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple


class _Pattern:
    """A regular expression compiled when first used: a module run checks a few options, and
    compiling every pattern of the table at import took 8 ms of each run."""

    __slots__ = ("regex", "_compiled")

    def __init__(self, regex: str) -> None:
        self.regex = regex
        self._compiled: Optional[re.Pattern[str]] = None

    def fullmatch(self, text: str) -> Optional[re.Match[str]]:
        if self._compiled is None:
            self._compiled = re.compile(self.regex)
        return self._compiled.fullmatch(text)


CONTAINER_WORKSPACE = "/workspace"
# what terok passes for a rootless user (terok_sandbox): the image's user 1000 is the host user
ROOTLESS_USERNS = "keep-id:uid=1000,gid=1000"
DEFAULT_CAP_DROP = ("NET_ADMIN", "NET_RAW")
DEFAULT_PIDS_LIMIT = 4096
DEFAULT_COMMAND = ("/bin/bash",)
RESET_MODES = ("none", "hard", "soft")
# set by the module itself: never a key of env or secret_env
RESERVED_ENV = frozenset(["REPO_ROOT", "TASK_ID", "PROJECT_NAME", SECRET_ENV_VAR])

_USERNS = _Pattern(r"auto(:\S+)?|host|nomap|private|ns:/\S+|keep-id(:(uid|gid|size)=\d+(,(uid|gid|size)=\d+)*)?")
_CAPABILITY = _Pattern(r"(CAP_)?[A-Z][A-Z_]*|ALL")
_MEMORY = _Pattern(r"\d+(\.\d+)?[bkmgBKMG]?")
MEMORY_MIN = 6 * 1024 * 1024  # Docker's minimum; below it the container's own start may pass the limit (runc refuses)
CPUS_MAX = 175921860  # the kernel's largest CFS quota (2^44-1 us) over podman's period of 100000 us
PIDS_MAX = 4194304  # the kernel's PID_MAX_LIMIT: pids.max takes nothing larger
# an image reference as podman parses it: [registry[:port]/]path[:tag][@algorithm:hex], the path in lowercase
_IMAGE_REFERENCE = _Pattern(
    # a registry is a first component with a dot or a port, or localhost (else it is part of the name)
    r"((?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+(?::\d+)?"
    r"|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?:\d+|localhost|\[[0-9a-fA-F:]+\](?::\d+)?)/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?"
)
_NETWORK = _Pattern(r"[A-Za-z0-9][A-Za-z0-9_.:=/,-]*")
PUBLISH = _Pattern(r"((\[[0-9a-fA-F:.]+\]|[0-9.]+):)?((\d+)(-\d+)?)?:(\d+)(-\d+)?(/(tcp|udp|sctp))?|(\d+)(/(tcp|udp|sctp))?")
_USER = _Pattern(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?")
_ENV_NAME = _Pattern(r"[A-Za-z_][A-Za-z0-9_]*")
# the collection's own container labels and annotation: never given by the options labels and annotations
OWN_LABEL_PREFIX = "io.terok.lifecycle."
OWN_ANNOTATION = "dossier.meta_path"
# where podman 4.3.1 reads CDI specs (container-device-interface's default spec dirs)
CDI_SPEC_DIRS = ("/etc/cdi", "/var/run/cdi")
# what read_only keeps writable besides podman's --read-only-tmpfs (/tmp, /var/tmp, /run): the homes,
# as tmpfs into which podman copies the image's content (tmpcopyup, podman's default for --tmpfs)
READ_ONLY_HOMES = ("/home", "/root")
_CDI_NAME = _Pattern(r"([a-z0-9][a-z0-9.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*)=([A-Za-z0-9][A-Za-z0-9_.:-]*)")
_DEVICE_PERMISSIONS = _Pattern(r"[rwm]{1,3}")
_GROUP = _Pattern(r"keep-groups|[A-Za-z0-9_][A-Za-z0-9_.-]*")
_ULIMIT_NAMES = ("as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc",
                 "rss", "rtprio", "rttime", "sigpending", "stack")
# what podman 4.3.1 takes after --tmpfs PATH: (measured: it refuses uid=, gid=, nr_inodes=, nr_blocks=)
_TMPFS_OPTION = _Pattern(r"rw|ro|exec|noexec|suid|nosuid|dev|nodev|tmpcopyup|notmpcopyup|U|size=\d+[kmgKMG%]?|"
                         r"mode=[0-7]{3,4}")
_LABEL_KEY = _Pattern(r"[^\s=\x00]+")
_HOSTNAME = _Pattern(r"(?=.{1,64}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*")
_TIMEZONE = _Pattern(r"[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*")
_DURATION = _Pattern(r"(\d+(\.\d+)?(ns|us|ms|s|m|h))+")
ARG_WORD_MAX = 131072  # Linux's MAX_ARG_STRLEN (32 pages): execve refuses a longer argument (E2BIG)
SECRET_MAX = 512000  # podman: "secret data must be larger than 0 and less than 512000 bytes"
ENV_LINE_MAX = 65535  # podman reads --env-file lines with a 64 KiB buffer ("bufio.Scanner: token too long")
_SECRET_NAME = _Pattern(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,252}")
# the secrets the collection makes for secret_env: tl-<task hash>-<VARIABLE> (see _secrets.secret_name), and
# <project>-<mode>-<id>-<VARIABLE> as earlier versions named them
_OWN_SECRET = _Pattern(r"tl-[0-9a-f]{12}-.+|[a-z0-9][a-z0-9_-]*-(cli|web|run|toad)-[a-z0-9]{5}-[A-Za-z_][A-Za-z0-9_]*")
_RESTART = _Pattern(r"no|always|unless-stopped|on-failure(:\d+)?")
HEALTHCHECK_KEYS = ("test", "interval", "timeout", "start_period", "retries")


class Option:
    """One option of a task; see the module docstring for what each field drives."""

    __slots__ = ("name", "type", "doc", "default", "choices", "elements", "required", "no_log", "check", "unset",
                 "flags", "confinement", "init_env", "result_doc", "result_type", "items_doc")

    def __init__(
        self,
        name: str,
        type: str,  # pylint: disable=redefined-builtin
        doc: Sequence[str],
        default: Any = None,
        choices: Optional[Sequence[str]] = None,
        elements: Optional[str] = None,
        required: bool = False,
        no_log: Optional[bool] = None,
        check: Optional[Callable[[Any, str], Any]] = None,
        unset: Any = None,
        flags: Optional[Callable[[Any], List[str]]] = None,
        confinement: bool = False,
        init_env: Optional[str] = None,
        result_doc: Optional[str] = None,
        result_type: Optional[str] = None,
        items_doc: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.type = type
        self.doc = tuple(doc)
        self.default = default
        self.choices = tuple(choices) if choices else None
        self.elements = elements
        self.required = required
        self.no_log = no_log
        self.check = check  # set for container options: value -> canonical value, or TerokError naming the option
        self.unset = default if unset is None else unset  # the canonical value when the option is not given
        self.flags = flags  # canonical value -> podman run arguments
        self.confinement = confinement
        self.init_env = init_env
        self.result_doc = result_doc  # confinement options: the doc of the result key
        self.result_type = result_type or type
        self.items_doc = tuple(items_doc)  # more text for terok_tasks' items only

    @property
    def container(self) -> bool:
        """Whether the option shapes the container (and so its options hash)."""
        return self.check is not None

    def argument_spec(self) -> Dict[str, Any]:
        """The option's entry in an Ansible argument spec."""
        spec: Dict[str, Any] = {"type": self.type}
        for key in ("default", "choices", "elements", "no_log"):
            value = getattr(self, key)
            if value is not None:
                spec[key] = list(value) if key == "choices" else value
        if self.required:
            spec["required"] = True
        return spec

    def value(self, params: Mapping[str, Any], prefix: str = "") -> Any:
        """The canonical value of this container option in ``params``; ``unset`` (a copy) when not given."""
        given = params.get(self.name)
        if given is None:
            return _copy(self.unset)
        return self.check(given, prefix + self.name) if self.check else given


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else dict(value) if isinstance(value, dict) else value


# Checks: (value, option name) -> canonical value ------------------------------------------------
def _text(value: Any, option: str) -> str:
    text = str(value)
    if "\x00" in text or "\n" in text or "\r" in text:
        raise TerokError("%s must not contain NUL or line breaks" % option, option=option)
    return text


def _matching(pattern: _Pattern, what: str) -> Callable[[Any, str], str]:
    def check(value: Any, option: str) -> str:
        text = str(value)
        if not pattern.fullmatch(text):
            raise TerokError("%s %r is not %s" % (option, value, what), option=option)
        return text
    return check


def _list_of(check: Callable[[Any, str], Any], what: str) -> Callable[[Any, str], List[Any]]:
    def checked(values: Any, option: str) -> List[Any]:
        if not isinstance(values, list):
            raise TerokError("%s must be a list of %s" % (option, what), option=option)
        return [check(value, option) for value in values]
    return checked


def _capability(value: Any, option: str) -> str:
    return _matching(_CAPABILITY, "a capability name such as NET_RAW or CAP_NET_RAW")(str(value).upper(), option)


def _init_text(value: Any, option: str) -> Optional[str]:
    """An init script input; an empty one is as good as none."""
    return _text(value, option) if value != "" else None


def _image(value: Any, option: str) -> str:
    image = _text(value, option)
    if image.startswith("-"):
        raise TerokError("%s must not start with '-'" % option, option=option)
    if not _IMAGE_REFERENCE.fullmatch(image):
        raise TerokError("%s %r is not an image reference ([REGISTRY/]NAME[:TAG][@DIGEST], the name in lowercase), "
                         "which podman would refuse" % (option, image), option=option)
    return image


def _command(command: Any, option: str) -> List[str]:
    """The container command as argv: a list as it is, a string split as a POSIX shell splits words."""
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
    for index, word in enumerate(argv):
        size = len(word.encode("utf-8", "surrogateescape"))
        if size >= ARG_WORD_MAX:
            raise TerokError("%s word %d has %d bytes: Linux runs no program with an argument of %d bytes or more, "
                             "so podman could not be started" % (option, index, size, ARG_WORD_MAX), option=option)
    return argv


def _init_script(path: Any, option: str) -> str:
    path = _text(path, option)
    if not os.path.isabs(path):
        raise TerokError("%s must be an absolute path on the target" % option, option=option)
    if not os.path.isfile(path):
        raise TerokError("%s %s is not a file on the target" % (option, path), option=option)
    if ":" in path or "," in path:
        raise TerokError("%s %s cannot be mounted: podman's --volume syntax cannot carry ':' or ',' in a path"
                         % (option, path), option=option)
    return path


def _reset_mode(value: Any, option: str) -> str:
    if value not in RESET_MODES:
        raise TerokError("%s must be one of %s, got %r" % (option, ", ".join(RESET_MODES), value), option=option)
    return value


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


def _variables(secret: bool) -> Callable[[Any, str], Dict[str, str]]:
    """A check of a mapping of environment variables (``env`` or, with ``secret``, ``secret_env``).

    Values are never echoed in errors. A secret value may hold line breaks (it is a file in
    the container), never a NUL.
    """
    def check(given: Any, option: str) -> Dict[str, str]:
        if not isinstance(given, dict):
            raise TerokError("%s must be a mapping of variable names to values" % option, option=option)
        variables = {}
        for key, value in given.items():
            if not _ENV_NAME.fullmatch(str(key)):
                raise TerokError("%s key %r is not a valid variable name" % (option, key), option=option)
            if key in RESERVED_ENV or key in INIT_ENV_VARS:
                raise TerokError("%s key %s is set by the module; use its own option instead" % (option, key),
                                 option=option)
            if value is None:
                continue
            text = env_text(value, "%s key %s" % (option, key), option)
            if "\x00" in text or (not secret and ("\n" in text or "\r" in text)):
                rule = "NUL" if secret else "NUL or line breaks"
                raise TerokError("%s value of %s must not contain %s" % (option, key, rule), option=option)
            size = len(text.encode("utf-8", "surrogateescape"))
            if secret and not 0 < size < SECRET_MAX:
                raise TerokError("%s value of %s has %d bytes: podman takes a secret of 1 to %d bytes"
                                 % (option, key, size, SECRET_MAX - 1), option=option)
            if not secret and len(str(key)) + 1 + size > ENV_LINE_MAX:
                raise TerokError("%s value of %s has %d bytes: podman reads an env file line (NAME=value) of at most "
                                 "%d bytes" % (option, key, size, ENV_LINE_MAX), option=option)
            variables[str(key)] = text
        return variables
    return check


def _volume(entry: Any, option: str) -> str:
    entry = _text(entry, option)
    parts = entry.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise TerokError("%s entry %r must be HOST_PATH:CONTAINER_PATH[:OPTIONS]" % (option, entry), option=option)
    if not os.path.isabs(parts[0]) or not os.path.isabs(parts[1]):
        raise TerokError("%s entry %r needs absolute host and container paths" % (option, entry), option=option)
    if os.path.normpath(parts[1]) == CONTAINER_WORKSPACE:
        raise TerokError("%s entry %r would hide the task workspace at /workspace" % (option, entry), option=option)
    return entry


def _cpus(value: Any, option: str) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if not 0.01 <= number <= CPUS_MAX:
        raise TerokError("%s must be a number of CPUs from 0.01 to %d (the kernel's CFS quota), got %r"
                         % (option, CPUS_MAX, value), option=option)
    return "%g" % number


def _pids_limit(value: Any, option: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= PIDS_MAX:
        raise TerokError("%s must be a whole number of processes from 1 to %d (the kernel's most), got %r"
                         % (option, PIDS_MAX, value), option=option)
    return value


def _memory(value: Any, option: str) -> str:
    text = _matching(_MEMORY, "a size such as 512m or 4g")(value, option)
    unit = text[-1].lower() if text[-1].isalpha() else "b"
    size = float(text.rstrip("bkmgBKMG")) * 1024 ** "bkmg".index(unit)
    if size < MEMORY_MIN:
        raise TerokError("%s %s is below the smallest memory limit, 6m: the container's own start would pass it"
                         % (option, text), option=option)
    return text


def _publish(value: Any, option: str) -> str:
    entry = str(value)
    match = PUBLISH.fullmatch(entry)
    if match is None:
        raise TerokError("%s %r is not a port as podman --publish takes it, such as 8080:80" % (option, value),
                         option=option)
    # host port and range end, container port and range end, or the one container port
    ports = [(group or "").lstrip("-") for group in match.group(4, 5, 6, 7, 10)]
    bad = [port for port in ports if port and not 1 <= int(port) <= 65535]
    if bad:
        raise TerokError("%s %r: port %s is not from 1 to 65535" % (option, entry, bad[0]), option=option)
    return entry


def _cdi_devices() -> Dict[str, List[str]]:
    """The CDI devices the spec files of ``CDI_SPEC_DIRS`` declare: kind (vendor/class) -> device names.

    JSON specs are read with the standard library, YAML ones with PyYAML (which the modules need anyway);
    a file that cannot be read or parsed declares nothing, as podman ignores it.
    """
    found: Dict[str, List[str]] = {}
    for directory in CDI_SPEC_DIRS:
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in names:
            if not name.endswith((".json", ".yaml", ".yml")):
                continue
            try:
                with open(os.path.join(directory, name), encoding="utf-8") as handle:
                    text = handle.read()
                if name.endswith(".json"):
                    spec = json.loads(text)
                else:
                    import yaml  # pylint: disable=import-outside-toplevel
                    spec = yaml.safe_load(text)
            except Exception:  # pylint: disable=broad-except
                continue
            if isinstance(spec, dict) and isinstance(spec.get("devices"), list):
                found.setdefault(str(spec.get("kind")), []).extend(
                    str(device.get("name")) for device in spec["devices"] if isinstance(device, dict))
    return found


def _device(value: Any, option: str) -> str:
    """A device: a CDI name (vendor/class=name) that a CDI spec declares, or HOST[:CONTAINER][:PERMISSIONS]."""
    entry = _text(value, option)
    cdi = _CDI_NAME.fullmatch(entry)
    if cdi:
        if cdi.group(2) not in _cdi_devices().get(cdi.group(1), ()):
            raise TerokError("%s %s is a CDI device that no CDI spec in %s declares (podman could not resolve it)"
                             % (option, entry, " or ".join(CDI_SPEC_DIRS)), option=option)
        return entry
    parts = entry.split(":")
    if len(parts) > 3 or not all(parts):
        raise TerokError("%s %r is neither a CDI name (vendor.com/class=name) nor HOST_PATH[:CONTAINER_PATH]"
                         "[:PERMISSIONS]" % (option, entry), option=option)
    if not os.path.isabs(parts[0]) or (len(parts) > 1 and not os.path.isabs(parts[1])
                                       and not _DEVICE_PERMISSIONS.fullmatch(parts[1])):
        raise TerokError("%s %r needs absolute paths" % (option, entry), option=option)
    if len(parts) == 3 and not _DEVICE_PERMISSIONS.fullmatch(parts[2]):
        raise TerokError("%s %r: permissions are letters of rwm" % (option, entry), option=option)
    if not os.path.exists(parts[0]):
        raise TerokError("%s %s is not on the target" % (option, parts[0]), option=option)
    return entry


def _groups(values: Any, option: str) -> List[str]:
    groups = _list_of(_matching(_GROUP, "a group name, a group id or keep-groups"), "groups")(values, option)
    if "keep-groups" in groups and len(groups) > 1:
        raise TerokError("%s keep-groups cannot be combined with other groups (podman refuses it)" % option,
                         option=option)
    return groups


def _size(value: Any, option: str) -> str:
    text = _matching(_MEMORY, "a size such as 512m or 2g")(value, option)
    if float(re.sub(r"[bkmgBKMG]$", "", text)) <= 0:
        raise TerokError("%s must be above 0, got %r" % (option, value), option=option)
    return text


def _ulimit(value: Any, option: str) -> str:
    entry = _text(value, option)
    name, _sep, limits = entry.partition("=")
    if name not in _ULIMIT_NAMES:
        raise TerokError("%s %r: the name must be one of %s" % (option, entry, ", ".join(_ULIMIT_NAMES)),
                         option=option)
    numbers = limits.split(":")
    if len(numbers) > 2 or not all(re.fullmatch(r"-1|\d+", number) for number in numbers):
        raise TerokError("%s %r must be NAME=SOFT[:HARD], whole numbers (-1 for unlimited)" % (option, entry),
                         option=option)
    soft, hard = int(numbers[0]), int(numbers[-1])
    if -1 not in (soft, hard) and soft > hard:
        raise TerokError("%s %r: the soft limit is above the hard one" % (option, entry), option=option)
    return entry


def _tmpfs(value: Any, option: str) -> str:
    entry = _text(value, option)
    path, _sep, options = entry.partition(":")
    if not os.path.isabs(path):
        raise TerokError("%s %r must be CONTAINER_PATH[:OPTIONS] with an absolute path" % (option, entry),
                         option=option)
    if os.path.normpath(path) == CONTAINER_WORKSPACE:
        raise TerokError("%s %r would hide the task workspace at /workspace" % (option, entry), option=option)
    bad = [word for word in options.split(",") if options and not _TMPFS_OPTION.fullmatch(word)]
    if bad:
        raise TerokError("%s %r: %s is no tmpfs option podman takes (rw, ro, size=, mode=, U, exec, noexec, "
                         "suid, nosuid, dev, nodev, tmpcopyup, notmpcopyup)" % (option, entry, ", ".join(bad)),
                         option=option)
    return entry


def _mapping(key_check: Callable[[str, str], None],
             value_check: Optional[Callable[[str, str, str], None]] = None) -> Callable[[Any, str], Dict[str, str]]:
    """A check of a mapping of text keys to text values (labels, annotations)."""
    def check(given: Any, option: str) -> Dict[str, str]:
        if not isinstance(given, dict):
            raise TerokError("%s must be a mapping of keys to values" % option, option=option)
        checked = {}
        for key, value in given.items():
            if not _LABEL_KEY.fullmatch(str(key)):
                raise TerokError("%s key %r must be non-empty, without '=' or spaces" % (option, key), option=option)
            key_check(str(key), option)
            checked[str(key)] = "" if value is None else _text(env_text(value, "%s key %s" % (option, key), option),
                                                               option)
            if value_check is not None:
                value_check(checked[str(key)], str(key), option)
        return checked
    return check


def _own_label(key: str, option: str) -> None:
    if key.startswith(OWN_LABEL_PREFIX):
        raise TerokError("%s key %s is the collection's own (%s*)" % (option, key, OWN_LABEL_PREFIX), option=option)


def _own_annotation(key: str, option: str) -> None:
    if key == OWN_ANNOTATION:
        raise TerokError("%s key %s is set by the module (terok's dossier)" % (option, key), option=option)
    if key.startswith(OWN_LABEL_PREFIX):  # io.terok.lifecycle.egress: the egress fence's, set from option egress
        raise TerokError("%s key %s is the collection's own (%s*)" % (option, key, OWN_LABEL_PREFIX), option=option)


def _annotation_value(value: str, key: str, option: str) -> None:
    # podman 4.3.1 reads each --annotation as a CSV field: a comma splits it ("annotations must be formatted
    # KEY=VALUE") and a double quote is refused ("bare \" in non-quoted-field"), measured
    if "," in value or '"' in value:
        raise TerokError("%s key %s: podman cannot take a value with a comma or a double quote, got %r"
                         % (option, key, value), option=option)


def _timezone(value: Any, option: str) -> str:
    zone = _matching(_TIMEZONE, "a time zone such as Europe/Berlin, UTC or local")(value, option)
    if zone == "local" and not os.path.exists("/etc/localtime"):
        raise TerokError("%s local needs /etc/localtime on the target (podman reads it)" % option, option=option)
    if zone != "local" and not os.path.isfile(os.path.join("/usr/share/zoneinfo", zone)):
        raise TerokError("%s %s is not in /usr/share/zoneinfo on the target (podman reads it there)"
                         % (option, zone), option=option)
    return zone


def _egress_check(values: Any, option: str) -> List[str]:
    """The egress fence's destinations in canonical form (``_egress.canonical``); errors name the option."""
    # imported here: only a run that sets a fence needs it, and a module run compiles what it imports
    from ansible_collections.terok.lifecycle.plugins.module_utils import _egress  # pylint: disable=import-outside-toplevel

    try:
        return _egress.canonical(values)
    except _egress.FenceError as exc:
        raise TerokError("%s %s" % (option, exc), option=option)


def _dns(value: Any, option: str) -> str:
    text = _text(value, option)
    if text != "none":
        try:
            ipaddress.ip_address(text)
        except ValueError:
            raise TerokError("%s %r is not an IP address" % (option, value), option=option)
    return text


def _healthcheck(given: Any, option: str) -> Dict[str, Any]:
    """A healthcheck: ``test`` (or ``command``), a shell string or an argv list, and optionally ``interval``,
    ``timeout``, ``start_period`` (durations such as 30s or 1m30s) and ``retries``."""
    if not isinstance(given, dict):
        raise TerokError("%s must be a mapping with test (or command) and optionally %s"
                         % (option, ", ".join(HEALTHCHECK_KEYS[1:])), option=option)
    given = dict(given)
    if "command" in given:
        if "test" in given:
            raise TerokError("%s takes test or command, not both" % option, option=option)
        given["test"] = given.pop("command")
    unknown = sorted(set(given) - set(HEALTHCHECK_KEYS))
    if unknown:
        raise TerokError("%s has unknown keys %s (known: %s, command)" % (option, ", ".join(map(str, unknown)),
                                                                          ", ".join(HEALTHCHECK_KEYS)),
                         option=option)
    if given.get("test") is None:
        raise TerokError("%s needs test (or command)" % option, option=option)
    test = given["test"]
    try:
        checked: Dict[str, Any] = {"test": _text(test, option + ".test") if isinstance(test, str)
                                   else _command(test, option + ".test")}
    except TerokError as exc:
        raise TerokError(exc.msg, option=option)
    for key in ("interval", "timeout", "start_period"):
        if given.get(key) is not None:
            text = str(given[key])
            if not (_DURATION.fullmatch(text) or (key == "interval" and text == "disable")):
                raise TerokError("%s.%s %r is not a duration such as 30s or 1m30s" % (option, key, given[key]),
                                 option=option)
            checked[key] = text
    if given.get("retries") is not None:
        retries = given["retries"]
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 1:
            raise TerokError("%s.retries must be a whole number of 1 or more, got %r" % (option, retries),
                             option=option)
        checked["retries"] = retries
    return checked


def _healthcheck_flags(check: Optional[Dict[str, Any]]) -> List[str]:
    if check is None:
        return []
    test = check["test"]
    flags = ["--health-cmd", test if isinstance(test, str) else json.dumps(["CMD"] + test)]
    for key in HEALTHCHECK_KEYS[1:]:
        if key in check:
            flags += ["--health-%s" % key.replace("_", "-"), str(check[key])]
    return flags


def _secret(value: Any, option: str) -> str:
    """An existing podman secret: NAME[,type=mount|env][,target=...][,uid=N][,gid=N][,mode=NNN]."""
    entry = _text(value, option)
    name, _sep, rest = entry.partition(",")
    if not _SECRET_NAME.fullmatch(name):
        raise TerokError("%s %r: %r is not a podman secret name" % (option, entry, name), option=option)
    if _OWN_SECRET.fullmatch(name):
        raise TerokError("%s %s is named like the secrets the collection makes for secret_env "
                         "(tl-<task hash>-<VARIABLE>), which it replaces and removes" % (option, name), option=option)
    settings = {}
    for word in rest.split(",") if rest else ():
        key, sep, setting = word.partition("=")
        valid = {"type": r"mount|env", "target": r"[^,=\s]+", "uid": r"\d+", "gid": r"\d+", "mode": r"[0-7]{3,4}"}
        if not sep or key not in valid or key in settings or not re.fullmatch(valid[key], setting):
            raise TerokError("%s %r: %r is not one of type=mount|env, target=, uid=, gid=, mode=" % (option, entry, word),
                             option=option)
        settings[key] = setting
    if settings.get("type") == "env" and settings.get("target", name) in RESERVED_ENV | INIT_ENV_VARS:
        raise TerokError("%s %r would set a variable the module sets itself" % (option, entry), option=option)
    return entry


def _flag(flag: str) -> Callable[[Any], List[str]]:
    """``flag VALUE`` when set."""
    return lambda value: [] if value is None else [flag, str(value)]


def _pairs(flag: str) -> Callable[[Any], List[str]]:
    """``flag KEY=VALUE`` for every item of a mapping, by key."""
    return lambda pairs: [word for key in sorted(pairs) for word in (flag, "%s=%s" % (key, pairs[key]))]


def _each(flag: str) -> Callable[[Any], List[str]]:
    """``flag VALUE`` for every value of a list."""
    return lambda values: [word for value in values for word in (flag, value)]


_COMMON = (
    Option("project", "str", required=True, doc=(
        "The terok project of the task, matching C([a-z0-9][a-z0-9_-]*); C(default) is reserved.",
    )),
    Option("name", "str", doc=(
        "The task's name. It is normalised as terok normalises names (see the notes); the normalised name must "
        "not be empty nor start with C(-).",
        "With O(task_id), a name that differs from the task's current name renames the task.",
        "One of O(name) and O(task_id) is required.",
    )),
    Option("task_id", "str", doc=(
        "The task's id, 5 characters such as C(k7m2q). Ids are drawn by the module when it creates a task; a "
        "O(task_id) that does not exist is an error with O(state=present), V(running) and V(stopped).",
    )),
    Option("state", "str", default="present", choices=("present", "running", "stopped", "absent", "archived"), doc=(
        "V(present), the task exists (it is created when missing).",
        "V(running), the task exists and its container runs. A missing container is created, a stopped one "
        "started again (its workspace keeps local work; only a new task's workspace is reset to the remote HEAD). "
        "With O(wait_ready) the module waits for the init script's C(>> init complete) line and records "
        "C(ready_at); with O(wait) it then waits for the container to exit and records its exit code.",
        "V(stopped), the task exists and none of its containers runs; running ones get C(podman stop --time "
        "O(stop_timeout)) and their log is saved to C(logs/container.log). A task that never ran is stopped "
        "already.",
        "V(absent), the task is gone. Its container logs are captured, its metadata and logs archived unless "
        "O(archive=false), every mode's container removed, then its directory and metadata removed. Each step is "
        "best-effort, as in C(terok task delete); a failed step becomes a warning.",
        "V(archived), like V(absent), but the archive entry is required, if it cannot be written nothing is "
        "removed and the module fails. A task that is gone and has an archive entry is V(archived) already.",
    )),
    Option("archive", "bool", default=True, doc=(
        "Whether O(state=absent) writes an archive entry (C(<root>/archive/<project>/tasks/<UTC "
        "stamp>_<id>_<name>/)) before removing the task. Cannot be V(false) with O(state=archived).",
    )),
    Option("mode", "str", choices=("cli", "web", "run", "toad"), doc=(
        "The terok mode the container runs in; it is part of the container name.",
        "By default the mode the task already ran in, else V(cli).",
        "A task keeps the mode it first ran in; asking for another fails.",
    )),
)

# The container options, in the order of the argv they become.
_CONTAINER = (
    Option("image", "str", check=_image, doc=(
        "The container image, such as the one role C(terok_host) builds (C(localhost/terok-task:latest)): an image "
        "reference as podman parses it, C([REGISTRY/]NAME[:TAG][@DIGEST]) with the name in lowercase.",
        "Required with O(state=running).",
    ), items_doc=("Defaults to the top-level O(image).",)),
    Option("command", "raw", check=_command, unset=list(DEFAULT_COMMAND), doc=(
        "The command the init script hands over to once the workspace is ready.",
        "By default C(/bin/bash) with its standard input held open, which keeps the container up so that "
        "RV(task.login_command) opens a shell in it.",
        "A list is the argv as it is. A string is split into words as a POSIX shell splits them (quotes group "
        "words, no variable or glob expansion), so V(echo \"hello world\") runs C(echo) with one argument.",
        "Each word has fewer than 131072 bytes (Linux's limit on one argument of a program).",
    )),
    Option("init_script", "path", check=_init_script, doc=(
        "A path on the target of the init script, bind-mounted read-only over "
        "C(/usr/local/bin/init-ssh-and-repo.sh) in the container. By default the image's own script at that path "
        "runs.",
    )),
    Option("code_repo", "str", check=_init_text, init_env="CODE_REPO", doc=(
        "The git repository the init script clones into a new task's workspace (C(CODE_REPO)).",
    )),
    Option("git_branch", "str", check=_init_text, init_env="GIT_BRANCH", doc=(
        "The branch to check out (C(GIT_BRANCH)); the default branch when the remote has no such branch.",
    )),
    Option("clone_from", "str", check=_init_text, init_env="CLONE_FROM", doc=(
        "A repository to seed the first clone from, such as a local gate mirror (C(CLONE_FROM)); origin is "
        "pointed at O(code_repo) afterwards.",
    )),
    Option("git_reset_mode", "str", choices=RESET_MODES, check=_reset_mode, init_env="GIT_RESET_MODE", doc=(
        "What a restart does with local work (C(GIT_RESET_MODE)). V(none) keeps it; V(hard) and V(soft) reset to "
        "the remote branch O(git_branch).",
    )),
    Option("external_remote_url", "str", check=_init_text, init_env="EXTERNAL_REMOTE_URL", doc=(
        "A URL the init script adds as remote C(external) (C(EXTERNAL_REMOTE_URL)).",
    )),
    Option("ssh_key_name", "str", no_log=False, check=_init_text, init_env="SSH_KEY_NAME", doc=(
        "The name of an SSH key in the container user's C(~/.ssh) whose permissions the init script fixes "
        "(C(SSH_KEY_NAME)).",
        "A file name, not a secret, so it is shown in results and logs like the other options.",
    )),
    Option("env", "dict", check=_variables(secret=False), unset={}, doc=(
        "More environment variables for the container, plain settings shown in results, diffs and logs, as "
        "C(env) is in containers.podman and community.docker. Put secrets in O(secret_env) instead.",
        "A value is a string, a number or a boolean (passed as V(true) or V(false), as YAML writes them); a list "
        "or a mapping is refused, naming its key. C(NAME=value) has at most 65535 bytes (podman's limit on a line "
        "of its env file).",
        "The variables the module sets itself (C(REPO_ROOT), C(TASK_ID), C(PROJECT_NAME) and those of the options "
        "above) cannot be given here.",
    )),
    Option("secret_env", "dict", no_log=True, check=_variables(secret=True), unset={}, doc=(
        "Environment variables whose values are secrets, such as API keys. They are in no result, no log "
        "(Ansible's C(no_log)), no podman command line, no file the module leaves behind, and not in C(podman "
        "inspect). Each value becomes a podman secret (C(podman secret create) reading it from standard input), "
        "mounted at C(/run/secrets/<NAME>) in the container, and the init script exports it to the container "
        "command (variable C(TEROK_SECRET_ENV) lists the names).",
        "Shells opened later get the values too, as terok's agents get them in every process: the one of "
        "RV(task.login_command), the tmux session of RV(task.tmux_login_command) and of C(terok login), and any "
        "C(bash -l), C(bash -i) or POSIX login shell of the container's user. The init script writes a hook, "
        "C(~/.terok-secret-env.sh), and sources it first in C(~/.bashrc), C(~/.profile) and an existing "
        "C(~/.bash_profile); the hook holds no value, it reads the secret mounts when a shell starts. A plain "
        "C(podman exec CONTAINER COMMAND) that starts no such shell does not get them.",
        "The podman secret of C(NAME) is C(tl-<hash>-NAME), C(<hash>) 12 hex digits of a hash of the task (state "
        "root, project, id), within podman's 64 characters (a longer name is cut and ends in a hash of it). The "
        "task's secrets are removed with its container and by a start that fails; any that a killed run left are "
        "removed by the task's next container start with O(secret_env), or its removal.",
        "A value has 1 to 511999 bytes (podman's limits), checked before anything is written.",
        "The image's init script must support this (the collection's C(files/init-ssh-and-repo.sh) does); a value "
        "ends without trailing newlines, as shell command substitution leaves it.",
        "The container options hash covers the values through an HMAC-SHA256 under a per-host key "
        "(C(<root>/.terok-lifecycle-secrets.key), mode 0600, drawn on first use), so the hash, a container label, "
        "does not let anyone check guesses of a secret.",
        "Ansible hides every occurrence of a C(no_log) value in the whole result, so a short secret such as V(1) "
        "would also hide that text elsewhere; give real secrets only.",
        "The same rules for names apply as for O(env); a variable may not be in both.",
    )),
    Option("volumes", "list", elements="str", check=_list_of(_volume, "bind mounts"), unset=[],
           flags=_each("--volume"), doc=(
        "More bind mounts, each C(HOST_PATH:CONTAINER_PATH[:OPTIONS]) as for C(podman run --volume), for "
        "example a local repository that O(code_repo) names.",
    )),
    Option("userns", "str", confinement=True, flags=lambda value: ["--userns=%s" % value] if value else [],
           check=_matching(_USERNS, "a podman --userns mode (keep-id[:uid=N,gid=N], auto, host, nomap, private, "
                           "ns:PATH)"),
           result_doc="The C(--userns) mode, null for none.", doc=(
        "The user namespace, as C(podman run --userns) takes it (terok's C(--userns)), for example "
        "V(keep-id:uid=1000,gid=1000), V(keep-id), V(auto) or V(host).",
        "By default, as terok does, V(keep-id:uid=1000,gid=1000) when podman runs rootless (the image's user "
        "1000, C(dev) in terok's images, is the host user, who then owns what the agent writes), and none "
        "when it runs as root. Podman runs rootless when the module runs as a user other than root, as terok "
        "decides it.",
    )),
    Option("restricted", "bool", default=True, confinement=True, check=lambda value, option: bool(value),
           flags=lambda value: ["--security-opt", "no-new-privileges"] if value else [],
           result_doc="Whether C(--security-opt no-new-privileges) was set.", doc=(
        "Run the container with C(--security-opt no-new-privileges), as terok does for a restricted task, "
        "and record C(unrestricted) in C(_meta.yml) the way terok records it (C(unrestricted=false) by "
        "default).",
    )),
    Option("cap_drop", "list", elements="str", confinement=True, unset=list(DEFAULT_CAP_DROP),
           check=_list_of(_capability, "capability names"), flags=_each("--cap-drop"),
           result_doc="The capabilities dropped.", doc=(
        "Capabilities to drop (C(--cap-drop)). By default V(NET_ADMIN) and V(NET_RAW), as terok's shield "
        "drops them; give an empty list to keep podman's defaults.",
    )),
    Option("cap_add", "list", elements="str", confinement=True, unset=[], check=_list_of(_capability,
                                                                                         "capability names"),
           flags=_each("--cap-add"), result_doc="The capabilities added.", doc=(
        "Capabilities to add (C(--cap-add)).",
    )),
    Option("memory", "str", confinement=True, check=_memory, flags=_flag("--memory"),
           result_doc="The memory limit, null for none.", doc=(
        "The memory limit (C(--memory)), for example V(4g); none by default, as terok. At least V(6m).",
    )),
    Option("cpus", "float", confinement=True, check=_cpus, flags=_flag("--cpus"), result_type="str",
           result_doc="The CPU limit, null for none.", doc=(
        "The CPU limit (C(--cpus)), for example V(2); none by default, as terok. From V(0.01) to V(175921860) "
        "(the kernel's largest CFS quota).",
    )),
    Option("pids_limit", "int", default=DEFAULT_PIDS_LIMIT, confinement=True, check=_pids_limit,
           flags=_flag("--pids-limit"), result_doc="The process limit.", doc=(
               "The most processes the container may run (C(--pids-limit)), a finite default against fork bombs. "
               "From V(1) to V(4194304) (the kernel's most).",
           )),
    Option("network", "str", confinement=True, flags=_flag("--network"),
           check=_matching(_NETWORK, "a podman network mode (bridge, none, host, slirp4netns, pasta, or a "
                           "network's name)"),
           result_doc="The network mode, null for podman's default.", doc=(
        "The network (C(--network)), one of podman's modes (V(bridge), V(none), V(host), V(slirp4netns), "
        "V(pasta)) or a network's name. By default podman's own choice; a rootless user on a host without "
        "C(/dev/net/tun) needs V(none) or V(host).",
    )),
    Option("egress", "list", elements="str", confinement=True, check=_egress_check,
           result_doc="The destinations the container may reach (O(egress)), null for no fence.", doc=(
               "An egress fence, as terok's shield gives one: the only destinations the container may reach, each a host "
               "name, an IP address or a network (CIDR), optionally with C(:PORT) (an IPv6 address with a port in "
               "brackets, C([2001:db8::1]:443)), such as V(pypi.org:443), V(10.89.0.5:8000) or V(192.0.2.0/24). Unset "
               "means no fence (podman's network as it is); an empty list means no outbound traffic at all.",
               "With a port, TCP and UDP to that port; without one, every protocol. Loopback, replies to allowed "
               "connections and IPv6 neighbour discovery always pass; with a host name in the list, DNS to the name "
               "servers of the container's C(/etc/resolv.conf) too. Host names are resolved on the host at each start of "
               "the container. Anything else is rejected at once (C(admin-prohibited)). Incoming connections, such as "
               "published ports, are not fenced.",
               "nftables rules in the container's own network namespace, loaded by the collection's OCI hook before any "
               "process of the container runs, at every start (a restart by podman or by the restart policy, and "
               "C(podman-restart.service) at boot, too); the agent has no C(NET_ADMIN) to lift them. The hook comes with "
               "module C(terok_host_prep) (O(terok.lifecycle.terok_host_prep#module:egress_hook=true)), or role "
               "C(terok_host) with C(terok_host_egress_hook=true); the host needs C(nft) (nftables) and C(nsenter).",
               "The task is refused, before anything is written, where the host cannot enforce it: no C(nft) or "
               "C(nsenter), the hook not in podman's hooks directory, a host name that does not resolve, O(network) "
               "V(host), C(container:…) or C(ns:…) (no network namespace of its own), or C(NET_ADMIN) not dropped "
               "(O(cap_drop), O(cap_add)). A start whose fence is not in the container's network namespace stops the "
               "container again and fails.",
           )),
    Option("publish", "list", elements="str", confinement=True, unset=[], flags=_each("--publish"),
           check=_list_of(_publish, "ports"),
           result_doc="The published ports.", doc=(
        "Ports to publish (C(--publish)), for example V(8080:80). With O(mode=web) or O(mode=toad) the host "
        "port of the first one is recorded as C(web_port) in C(_meta.yml) and claimed as C(web:<project>/<task id>) in "
        "terok's port registry (C(TEROK_PORT_REGISTRY_DIR), else C(paths.port_registry_dir), else C(/tmp/terok-ports)), "
        "as terok records and claims it: a port that another user's claim holds is refused, and O(state=absent) "
        "releases the claim. Ports are from 1 to 65535.",
    )),
    Option("user", "str", confinement=True, flags=_flag("--user"),
           check=_matching(_USER, "a user (and group) such as dev or 1000:1000"),
           result_doc="The user the container runs as, null for the image's.", doc=(
        "The user to run as (C(--user)), for example V(dev) or V(1000:1000); by default the image's.",
    )),
    Option("devices", "list", elements="str", confinement=True, unset=[], check=_list_of(_device, "devices"),
           flags=_each("--device"), result_doc="The devices given to the container.", doc=(
        "Devices for the container (C(--device)): CDI names such as V(nvidia.com/gpu=all), which podman resolves "
        "from the CDI specs in C(/etc/cdi) and C(/var/run/cdi), or host paths C(HOST_PATH[:CONTAINER_PATH]"
        "[:PERMISSIONS]) such as V(/dev/fuse).",
        "A CDI name that no spec declares, or a path that is not on the target, is refused before anything is "
        "written.",
    )),
    Option("group_add", "list", elements="str", confinement=True, unset=[], check=_groups,
           flags=_each("--group-add"), result_doc="The groups added.", doc=(
        "More groups for the container's user (C(--group-add)), names or ids, or V(keep-groups) alone: a rootless "
        "user's own groups, so that the agent can open device nodes such as C(/dev/dri/*) that the user may "
        "open (podman documents it for crun).",
    )),
    Option("shm_size", "str", confinement=True, check=_size, flags=_flag("--shm-size"),
           result_doc="The size of C(/dev/shm), null for podman's 64m.", doc=(
        "The size of C(/dev/shm) (C(--shm-size)), for example V(2g) for PyTorch's data loaders or a browser; "
        "podman's 64m by default.",
    )),
    Option("ulimits", "list", elements="str", confinement=True, unset=[], check=_list_of(_ulimit, "ulimits"),
           flags=_each("--ulimit"), result_doc="The resource limits set, C(NAME=SOFT[:HARD]).", doc=(
        "Resource limits (C(--ulimit)), each C(NAME=SOFT[:HARD]) such as V(nofile=4096:8192) or V(core=0); -1 "
        "for unlimited. By default podman's (its C(containers.conf)).",
        "Given limits replace all of C(default_ulimits) of podman's C(containers.conf) (podman 4.3.1), so name "
        "every limit that the host needs lower than podman's own defaults too; a limit above what podman itself "
        "may set (a rootless user's own hard limit) is refused by podman.",
    )),
    Option("tmpfs", "list", elements="str", confinement=True, unset=[], check=_list_of(_tmpfs, "tmpfs mounts"),
           flags=_each("--tmpfs"), result_doc="The tmpfs mounts.", doc=(
        "tmpfs mounts (C(--tmpfs)), each C(CONTAINER_PATH[:OPTIONS]) such as V(/scratch:size=1g,mode=1777); "
        "podman copies the image's content at the path into it unless the options say V(notmpcopyup).",
        "The options are those podman 4.3.1 takes, comma-separated: V(rw), V(ro), V(size=N[kmg%]), V(mode=NNNN), "
        "V(U) (owned by the container's user), V(exec), V(noexec), V(suid), V(nosuid), V(dev), V(nodev), "
        "V(tmpcopyup), V(notmpcopyup).",
    )),
    Option("read_only", "bool", default=False, confinement=True, check=lambda value, option: bool(value),
           flags=lambda value: (["--read-only", "--read-only-tmpfs=true"]
                                + [word for home in READ_ONLY_HOMES for word in ("--tmpfs", home)]) if value else [],
           result_doc="Whether the root file system is read-only.", doc=(
        "Mount the container's root file system read-only (C(--read-only)). What the init script and the agent "
        "write stays writable: the workspace, C(/tmp), C(/var/tmp) and C(/run) (C(--read-only-tmpfs)), and "
        "C(/home) and C(/root), tmpfs filled with the image's homes. What is written there is in memory and "
        "gone at the container's next start; the workspace keeps the work.",
        "O(tmpfs) and O(volumes) cannot mount C(/home) or C(/root) themselves with it.",
    )),
    Option("labels", "dict", confinement=True, unset={}, check=_mapping(_own_label),
           flags=_pairs("--label"),
           result_doc="The container labels given by O(labels).", doc=(
        "More container labels (C(--label)), such as fleet or cost tags. Keys under C(io.terok.lifecycle.), the "
        "collection's own labels, are refused.",
    )),
    Option("annotations", "dict", confinement=True, unset={}, check=_mapping(_own_annotation, _annotation_value),
           flags=_pairs("--annotation"),
           result_doc="The annotations given by O(annotations).", doc=(
        "More container annotations (C(--annotation)). C(dossier.meta_path), which terok reads, is the module's "
        "own and refused. A value with a comma or a double quote is refused: podman 4.3.1 cannot take it.",
    )),
    Option("hostname", "str", confinement=True, check=_matching(_HOSTNAME, "a host name of at most 64 characters"),
           flags=_flag("--hostname"), result_doc="The container's host name, null for its name (the default).", doc=(
        "The container's host name (C(--hostname)); by default the container's name C(<project>-<mode>-<id>), "
        "as terok names it.",
    )),
    Option("timezone", "str", confinement=True, check=_timezone, flags=_flag("--tz"),
           result_doc="The container's time zone, null for the image's.", doc=(
        "The container's time zone (C(--tz)), such as V(Europe/Berlin), V(UTC) or V(local) (the host's); it "
        "must be in the target's C(/usr/share/zoneinfo). By default the image's.",
    )),
    Option("dns", "list", elements="str", confinement=True, unset=[], check=_list_of(_dns, "IP addresses"),
           flags=_each("--dns"), result_doc="The DNS servers set.", doc=(
        "DNS servers for the container (C(--dns)), IP addresses, or V(none) for no C(/etc/resolv.conf) from "
        "podman. Not with O(network) V(none) or V(host), which podman refuses.",
    )),
    Option("healthcheck", "dict", confinement=True, check=_healthcheck, flags=_healthcheck_flags,
           result_doc="The healthcheck (C(test) and the timings given), null for the image's.", doc=(
               "A healthcheck: C(test) (or C(command)), a shell command string or an argv list (C(--health-cmd)), and "
               "optionally C(interval), C(timeout), C(start_period) (durations such as V(30s) or V(1m30s); C(interval) "
               "also V(disable)) and C(retries) (C(--health-interval) and so on).",
               "The health podman last found is the result's RV(task.health). podman runs the check from a systemd "
               "timer; without systemd (as on hosts without it as PID 1) only C(podman healthcheck run <container>) "
               "runs it.",
           )),
    Option("secrets", "list", elements="str", no_log=False, confinement=True, unset=[],
           check=_list_of(_secret, "secrets"),
           flags=_each("--secret"), result_doc="The podman secrets given, as O(secrets) names them.", doc=(
        "Podman secrets that already exist, such as those of C(containers.podman.podman_secret), each one "
        "C(NAME[,target=PATH][,type=mount|env][,uid=N][,gid=N][,mode=NNN]) as C(podman run --secret) takes it; "
        "mounted at C(/run/secrets/NAME) by default. The collection never creates nor removes them (O(secret_env) "
        "makes secrets of its own).",
        "Names of secrets, not their values, so they are shown in results and logs like the other options.",
    )),
    Option("restart_policy", "str", confinement=True, check=_matching(_RESTART, "no, on-failure[:N], always or "
                                                                                "unless-stopped"),
           flags=_flag("--restart"), result_doc="The restart policy, null for podman's (no).", doc=(
        "What podman does when the container exits (C(--restart)): V(no), V(on-failure) (V(on-failure:N) at most "
        "N times), V(always) or V(unless-stopped). conmon restarts the container with its workspace as it was "
        "(the init script sees no marker, so local work is kept); the result's RV(task.restart_count) says how "
        "often since its last start.",
        "After a host reboot, C(podman-restart.service) (podman 4.3.1; role C(terok.lifecycle.terok_host) enables "
        "it, and the user unit with lingering for a normal user) starts only the containers with V(always), "
        "those stopped with O(state=stopped) too; V(on-failure) and V(unless-stopped) ones stay down until a run "
        "with O(state=running) starts them.",
    )),
)

_RUN = (
    Option("recreate", "bool", default=False, doc=(
        "Replace the container when it was made from other options (a different hash label) than these. Without "
        "it such a container is kept, with a warning.",
    )),
    Option("recreate_foreign", "bool", default=False, doc=(
        "With O(recreate=true), also replace a container this collection did not make (no options hash label; "
        "terok made it, confined by terok-sandbox). Without it such a container is never replaced, only warned "
        "about, so that a recreate cannot silently weaken what terok set up.",
    )),
    Option("wait_ready", "bool", default=True, doc=(
        "Wait for the init script's C(>> init complete) line and record C(ready_at) (status V(running); V(init) "
        "before).",
        "A container that exits before that line fails the module with its last log lines.",
    )),
    Option("ready_timeout", "int", default=300, doc=(
        "Seconds to wait for readiness; the module fails when they run out and leaves the container running.",
    )),
    Option("wait", "bool", default=False, doc=(
        "After readiness, wait for the container to exit and record its exit code (for O(mode=run) tasks).",
        "A job that already ran to its end with the same options, its exit code recorded, is left as it is, so a "
        "second run is V(ok); O(recreate=true) with other options, or O(state=absent), makes room for a new run.",
    )),
    Option("wait_timeout", "int", default=7200, doc=(
        "Seconds to wait for the exit with O(wait). When they run out the module fails and records no exit code; "
        "an exit code 124 of the container itself is recorded as 124.",
    )),
    Option("stop_timeout", "int", default=10, doc=(
        "Seconds C(podman stop) gives the container before it kills it, with O(state=stopped).",
    )),
    Option("only_if_status", "list", elements="str",
           choices=("created", "init", "running", "stopped", "completed", "failed", "deleting", "not found"), doc=(
               "With O(state=absent) or O(state=archived), remove the task only when its status is one of these, "
               "decided under the project lock, so that a task another run restarted in between is not removed "
               "while it runs. A task in another status is kept, with a warning, and the module reports no change.",
           )),
)

OPTIONS = _COMMON + _CONTAINER + _RUN
CONTAINER_OPTIONS = _CONTAINER
BY_NAME = {option.name: option for option in OPTIONS}
CONFINEMENT = tuple(option for option in _CONTAINER if option.confinement)
INIT_ENV = tuple((option.name, option.init_env) for option in _CONTAINER if option.init_env)
INIT_ENV_VARS = frozenset(var for _name, var in INIT_ENV)


def argument_spec() -> Dict[str, Dict[str, Any]]:
    """The options of one task, as terok_task takes them and terok_tasks takes them per item."""
    return {option.name: option.argument_spec() for option in OPTIONS}


def container_values(params: Mapping[str, Any], prefix: str = "") -> Dict[str, Any]:
    """Every container option's canonical value; errors name the option (``prefix`` for list items)."""
    return {option.name: option.value(params, prefix) for option in _CONTAINER}


def podman_flags(values: Mapping[str, Any]) -> List[str]:
    """The ``podman run`` flags of the options that are plain flags, in table order."""
    return [word for option in _CONTAINER if option.flags for word in option.flags(values[option.name])]


def hashed_values(values: Mapping[str, Any]) -> List[Tuple[str, Any]]:
    """The options whose value differs from ``unset``: what the options hash covers, by name."""
    return [(option.name, values[option.name]) for option in _CONTAINER if values[option.name] != option.unset]


def confinement_view(values: Mapping[str, Any]) -> Dict[str, Any]:
    """The result's ``confinement`` of a container: every confinement option, ``unset`` where missing
    (a container made before the option existed)."""
    return {option.name: values.get(option.name, _copy(option.unset)) for option in CONFINEMENT}


def web_port(publish: Sequence[str]) -> Optional[int]:
    """The host port of the first published port (what terok records as ``web_port``), when it names one."""
    for entry in publish:
        match = PUBLISH.fullmatch(entry)
        if match and match.group(4):
            return int(match.group(4))
    return None
