# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to terok.lifecycle: not a public API, it may change in any release.
"""A terok project's ``project.yml``: terok 0.9.1's schema of it, terok_project's options drawn from
that schema, and converging the file (present: merged and written; absent: removed unless the
project has tasks)."""

from __future__ import annotations

import copy
import datetime
import os
import re

from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._fileio import atomic_write, make_dirs, remove_file
from ansible_collections.terok.lifecycle.plugins.module_utils._metadata import MAX_BYTES, dump_yaml, load_yaml, read_regular
from ansible_collections.terok.lifecycle.plugins.module_utils._naming import check_project
from ansible_collections.terok.lifecycle.plugins.module_utils._paths import Layout, config_dir, user_projects_dir
from ansible_collections.terok.lifecycle.plugins.module_utils._project_tasks import ProjectTasks

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

    from ansible_collections.terok.lifecycle.plugins.module_utils._run_context import RunGate

    Path = Tuple[Any, ...]  # a place in the document: keys, and list indices

PROJECT_FILE = "project.yml"


class Field:
    """One key of terok's project.yml schema: the YAML types it takes (``str``, ``bool``, ``int``,
    ``strlist``, ``dict`` (anything inside), ``section`` (``fields``), ``entries`` (a list of
    ``fields`` mappings), ``date``), whether null is allowed, its choices and a further check."""

    def __init__(self, *kinds: str, **how: Any) -> None:
        self.kinds = kinds
        self.nullable: bool = how.get("nullable", False)
        self.choices: Optional[Sequence[str]] = how.get("choices")
        self.check = how.get("check")  # value -> error text or None
        self.fields: Dict[str, "Field"] = how.get("fields") or {}
        self.required: bool = how.get("required", False)
        self.module = how.get("module", True)  # whether terok_project has a typed option for it
        self.option_type: Optional[str] = how.get("option_type")  # its Ansible type when not drawn from kinds


def _nullable(*kinds: str, **how: Any) -> Field:
    how["nullable"] = True
    return Field(*kinds, **how)


_MEMORY_RE = re.compile(r"\d+(\.\d+)? ?[kKmMgGtTpP]?[iI]?[bB]?")  # terok_sandbox/config_schema.py, _MEMORY_RE
_CPUS_RE = re.compile(r"\d+(\.\d+)?")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
GPU_VENDORS = ("nvidia", "amd", "intel")


def _size(pattern: Any, what: str) -> Any:
    def check(value: Any) -> Optional[str]:
        text = str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
        if isinstance(text, str) and text.strip() and not pattern.fullmatch(text):
            return "%r is not %s" % (value, what)
        return None
    return check


def _gpus(value: Any) -> Optional[str]:
    """terok_sandbox/config_schema.py ``normalize_gpus``: true/false, ``all``, vendors, ``vendor:N``."""
    if isinstance(value, (bool, type(None))):
        return None
    parts = [value] if isinstance(value, str) else value
    for part in parts:
        for token in part.split(","):
            token = token.strip().lower()
            vendor, sep, index = token.partition(":")
            if token and token != "all" and (vendor not in GPU_VENDORS or (sep and not index.isdigit())):
                return "%r is not 'all', true or false, a vendor (%s) or vendor:N" % (value, ", ".join(GPU_VENDORS))
    return None


def _lower_choice(choices: Sequence[str]) -> Any:
    """A check as terok's validators do it: the value stripped and lowercased is one of ``choices``."""
    def check(value: Any) -> Optional[str]:
        if isinstance(value, str) and value.strip().lower() in choices:
            return None
        return "%r is not one of %s" % (value, ", ".join(choices))
    return check


# terok 0.9.1's project.yml (terok/lib/core/yaml_schema.py RawProjectYaml and the sections it takes from
# terok_sandbox/config_schema.py (run, ssh) and terok_executor/config_schema.py (image)): every model is
# extra="forbid", so terok lists a project whose file has any other key as broken and skips it.
SCHEMA: Dict[str, Field] = {
    "project": Field("section", fields={
        "name": _nullable("str", module=False),
        "id": _nullable("str", module=False),  # the legacy slug, read as name
        "description": _nullable("str"),
        "security_class": Field("str", check=_lower_choice(("online", "gatekeeping")), choices=("gatekeeping", "online")),
        "isolation": Field("str", check=_lower_choice(("shared", "sealed")), choices=("shared", "sealed")),
    }),
    "git": Field("section", fields={
        "upstream_url": _nullable("str"),
        "default_branch": _nullable("str"),
        "human_name": _nullable("str"),
        "human_email": _nullable("str"),
        # terok/lib/core/projects.py normalize_git_authorship: empty means its default
        "authorship": _nullable("str", check=_lower_choice(("agent-human", "human-agent", "agent", "human", "")),
                                choices=("agent-human", "human-agent", "agent", "human")),
    }),
    "ssh": Field("section", fields={"use_personal": _nullable("bool")}),
    "tasks": Field("section", module=False, fields={
        "root": _nullable("str"),
        "name_categories": _nullable("str", "strlist"),
    }),
    "gate": Field("section", fields={
        "enabled": Field("bool"),
        "path": _nullable("str"),
        "backups": _nullable("section", fields={"enabled": Field("bool"), "retention_days": Field("int")}),
    }),
    "gatekeeping": Field("section", module=False, fields={
        "staging_root": _nullable("str"),
        "expose_external_remote": Field("bool"),
        "upstream_polling": _nullable("section", fields={"enabled": Field("bool"), "interval_minutes": Field("int")}),
        "auto_sync": _nullable("section", fields={"enabled": Field("bool"), "branches": Field("strlist")}),
        "review_lag": _nullable("section", fields={"enabled": Field("bool"), "surface_in_tasks": Field("bool")}),
    }),
    "run": Field("section", fields={
        "shutdown_timeout": Field("int"),
        "gpus": _nullable("bool", "str", "strlist", check=_gpus),
        "memory": _nullable("str", "int", "float", option_type="str",
                            check=_size(_MEMORY_RE, "a podman size such as 4g or 512m")),
        "cpus": _nullable("str", "int", "float", option_type="str",
                          check=_size(_CPUS_RE, "a non-negative decimal such as 2 or 0.5")),
        "nested_containers": Field("bool"),
        "perf": Field("bool"),
        "podman_args": Field("strlist"),
        "runtime": _nullable("str", choices=("crun", "krun")),
        "timezone": _nullable("str"),
        "hooks": _nullable("section", module=False, fields=dict(
            (hook, _nullable("str")) for hook in ("pre_start", "post_start", "post_ready", "post_stop"))),
    }),
    "shield": Field("section", fields={
        "down_on_task_run": _nullable("bool"),
        "on_task_restart": _nullable("str", choices=("retain", "up")),
        "sets": _nullable("strlist"),
        "allow": Field("strlist"),
        "override": Field("entries", fields={
            "host": Field("str", required=True),
            "reason": Field("str", required=True),
            "expires": _nullable("date"),
        }),
    }),
    "services": Field("section", module=False, fields={"mode": _nullable("str", choices=("tcp", "socket"))}),
    "image": Field("section", fields={
        "base_image": Field("str"),
        "family": _nullable("str", choices=("deb", "rpm")),
        "agents": _nullable("str"),
        "user_snippet_inline": _nullable("str"),
        "user_snippet_file": _nullable("str"),
    }),
    "credentials": Field("section", module=False, fields={"scope": Field("str", choices=("shared", "project"))}),
    "default_agent": _nullable("str"),
    "default_provider": _nullable("str"),
    "default_shell": _nullable("str", module=False),
    "shared_dir": _nullable("bool", "str", module=False),
    "agent": _nullable("dict"),
}

# the keys of section ``project`` that are top-level options of terok_project
PROJECT_OPTIONS = ("description", "security_class", "isolation")
# the top-level keys of project.yml that are options of terok_project of the same name
SECTION_OPTIONS = tuple(key for key, field in SCHEMA.items() if field.module and key != "project")


# The module's argument spec, drawn from SCHEMA -------------------------------------------------------
_ANSIBLE_TYPES = {"str": "str", "bool": "bool", "int": "int", "float": "float", "strlist": "list", "dict": "dict",
                  "date": "str"}


def _option_spec(field: Field) -> Dict[str, Any]:
    if field.kinds[0] in ("section", "entries"):
        spec: Dict[str, Any] = {"type": "dict" if field.kinds[0] == "section" else "list", "options": dict(
            (key, _option_spec(sub)) for key, sub in field.fields.items() if sub.module)}
        if field.kinds[0] == "entries":
            spec["elements"] = "dict"
        return spec
    if field.option_type:
        spec = {"type": field.option_type}
    elif len(set(_ANSIBLE_TYPES[kind] for kind in field.kinds)) > 1:
        spec = {"type": "raw"}
    else:
        spec = {"type": _ANSIBLE_TYPES[field.kinds[0]]}
        if field.kinds[0] == "strlist":
            spec["elements"] = "str"
    if field.choices:
        spec["choices"] = list(field.choices)
    if field.required:
        spec["required"] = True
    return spec


def argument_spec() -> Dict[str, Dict[str, Any]]:
    """terok_project's own options (the common ones come from ``_module_support``)."""
    spec: Dict[str, Dict[str, Any]] = {
        "name": {"type": "str", "required": True, "aliases": ["project"]},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "config_dir": {"type": "path"},
        "config": {"type": "dict"},
        "purge": {"type": "bool", "default": False},
        "force": {"type": "bool", "default": False},
    }
    for key in PROJECT_OPTIONS:
        spec[key] = _option_spec(SCHEMA["project"].fields[key])
    for key in SECTION_OPTIONS:
        spec[key] = _option_spec(SCHEMA[key])
    return spec


# Validation -------------------------------------------------------------------------------------------
def _dotted(path: Path) -> str:
    text = ""
    for part in path:
        text += "[%d]" % part if isinstance(part, int) else ("." if text else "") + str(part)
    return text


def _is_kind(value: Any, kind: str) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind in ("int", "float"):
        return isinstance(value, int if kind == "int" else float) and not isinstance(value, bool)
    if kind == "strlist":
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    if kind in ("dict", "section"):
        return isinstance(value, dict)
    if kind == "entries":
        return isinstance(value, list)
    if kind == "date":
        return isinstance(value, datetime.date) or (isinstance(value, str) and _DATE_RE.fullmatch(value) is not None)
    raise AssertionError(kind)


_KIND_NAMES = {"str": "a string", "bool": "a boolean", "int": "an integer", "float": "a number",
               "strlist": "a list of strings", "dict": "a mapping", "section": "a mapping", "entries": "a list of mappings",
               "date": "a date (YYYY-MM-DD)"}


def _check_field(field: Field, value: Any, path: Path, problems: List[Tuple[Path, str]]) -> None:
    if value is None:
        # terok turns a null section into its defaults; a null scalar needs an Optional field
        if not field.nullable and field.kinds[0] != "section":
            problems.append((path, "must not be null"))
        return
    if not any(_is_kind(value, kind) for kind in field.kinds):
        problems.append((path, "must be %s, got %r" % (" or ".join(_KIND_NAMES[kind] for kind in field.kinds), value)))
        return
    if field.choices and not field.check and value not in field.choices:
        problems.append((path, "%r is not one of %s" % (value, ", ".join(field.choices))))
    elif field.check:
        message = field.check(value)
        if message:
            problems.append((path, message))
    if field.kinds[0] == "section":
        _check_mapping(field.fields, value, path, problems)
    elif field.kinds[0] == "entries":
        for index, entry in enumerate(value):
            if not isinstance(entry, dict):
                problems.append((path + (index,), "must be a mapping, got %r" % (entry,)))
                continue
            _check_mapping(field.fields, entry, path + (index,), problems)


def _check_mapping(fields: Mapping[str, Field], value: Dict[Any, Any], path: Path,
                   problems: List[Tuple[Path, str]]) -> None:
    for key, item in value.items():
        if key not in fields:
            problems.append((path + (key,), "is not a key of terok 0.9.1's project.yml (%s takes %s)"
                             % (_dotted(path) or "the top level", ", ".join(sorted(fields)))))
        else:
            _check_field(fields[key], item, path + (key,), problems)
    for key, field in fields.items():
        if field.required and key not in value:
            problems.append((path + (key,), "is required"))


def schema_problems(document: Dict[str, Any]) -> List[Tuple[Path, str]]:
    """What terok 0.9.1's schema refuses in ``document``, each as (place, message); [] when it takes it."""
    problems: List[Tuple[Path, str]] = []
    _check_mapping(SCHEMA, document, (), problems)
    return problems


# Options into a document -----------------------------------------------------------------------------------
def _without_nulls(value: Any) -> Any:
    """An option's value with its unset (null) suboptions left out: unset means not managed."""
    if isinstance(value, dict):
        return dict((key, _without_nulls(item)) for key, item in value.items() if item is not None)
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _places(value: Any, path: Path = ()) -> Dict[Path, Any]:
    """Every place a mapping sets (the keys at every depth), with its value."""
    found: Dict[Path, Any] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            found[path + (key,)] = item
            found.update(_places(item, path + (key,)))
    return found


def plain(value: Any) -> Any:
    """``value`` with its dates as ISO text, as YAML and a module result carry them (for comparing and returning)."""
    if isinstance(value, dict):
        return dict((key, plain(item)) for key, item in value.items())
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def _merge(base: Dict[str, Any], overlay: Mapping[str, Any]) -> Dict[str, Any]:
    """``base`` with ``overlay`` merged in, mapping into mapping; anything else replaced."""
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def _leaves(value: Any, path: Path = ()) -> Dict[Path, Any]:
    if isinstance(value, dict) and (value or not path):  # an empty mapping is a leaf, but for the whole document
        found: Dict[Path, Any] = {}
        for key, item in value.items():
            found.update(_leaves(item, path + (key,)))
        return found
    return {path: value}


class Request:
    """terok_project's validated options; every error names its option. Nothing is read or written here."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.name = check_project(params.get("name"), option="name")
        self.state: str = params.get("state") or "present"
        self.config_dir_option: Optional[str] = params.get("config_dir")
        if self.config_dir_option is not None and not os.path.isabs(self.config_dir_option):
            raise TerokError("config_dir %r must be an absolute path" % self.config_dir_option, option="config_dir")
        self.root: Optional[str] = params.get("root")
        self.purge = bool(params.get("purge"))
        self.force = bool(params.get("force"))
        config = params.get("config") or {}
        if not isinstance(config, dict):
            raise TerokError("config must be a mapping of project.yml's keys", option="config")
        self.config: Dict[str, Any] = copy.deepcopy(config)
        typed: Dict[str, Any] = {}
        project = dict((key, params[key]) for key in PROJECT_OPTIONS if params.get(key) is not None)
        if project:
            typed["project"] = project
        for key in SECTION_OPTIONS:
            if params.get(key) is not None:
                # unset suboptions are not managed; a free mapping (agent) is taken as it is
                typed[key] = params[key] if SCHEMA[key].kinds[0] == "dict" else _without_nulls(params[key])
        self.typed = typed
        self.owners: Dict[Path, str] = {}  # a place in the document -> the option that sets it
        self.mappings: Set[Path] = set()  # the places the options set to a mapping
        for source, prefix in ((self.config, "config."), (typed, "")):
            for place, value in _places(source).items():
                self.owners[place] = prefix + _dotted(place) if prefix else _option_name(place)
                if isinstance(value, dict):
                    self.mappings.add(place)
        self._refuse_conflicts()
        declared = (self.config.get("project") or {}).get("name") if isinstance(self.config.get("project"), dict) else None
        if declared is not None and declared != self.name:
            raise TerokError("config.project.name %r differs from name %r: terok requires a project's declared name to be "
                             "its directory's" % (declared, self.name), option="config.project.name")
        # what terok would refuse in the options themselves, before anything is read
        self.raise_for(schema_problems(_merge(copy.deepcopy(self.config), typed)))

    def _refuse_conflicts(self) -> None:
        config_leaves = _leaves(self.config)
        for place, value in sorted(_leaves(self.typed).items(), key=lambda item: _dotted(item[0])):
            for config_place in config_leaves:
                shorter = min(len(place), len(config_place))
                if place[:shorter] == config_place[:shorter] and (place != config_place or config_leaves[place] != value):
                    raise TerokError("%s and config.%s both set project.yml's %s: set it once"
                                     % (_option_name(place), _dotted(config_place), _dotted(place[:shorter])),
                                     option=_option_name(place))

    def raise_for(self, problems: List[Tuple[Path, str]]) -> List[str]:
        """Raise for the first problem in a place an option sets; return the others (what the file
        already had, kept as it is) as warnings."""
        warnings = []
        for place, message in problems:
            owner = self._owner(place)
            if owner:
                raise TerokError("%s: %s" % (owner, message), option=owner)
            warnings.append("project.yml's %s %s; the module keeps it as it is, but terok 0.9.1 refuses such a file "
                            "and lists the project as broken" % (_dotted(place), message))
        return warnings

    def _owner(self, place: Path) -> Optional[str]:
        """The option that sets ``place``, or that sets the list or value it is in; None: the file's own key."""
        for length in range(len(place), 0, -1):
            owner = self.owners.get(place[:length])
            if owner:
                if length == len(place):
                    return owner
                if place[:length] in self.mappings:
                    return None  # a key the option's mapping does not have: the file's
                return owner + "".join("[%d]" % part if isinstance(part, int) else "." + str(part)
                                       for part in place[length:])
        return None


def _option_name(place: Path) -> str:
    """The option of terok_project that sets ``place``: ``git.upstream_url``; ``description`` for project.description."""
    if place and place[0] == "project" and len(place) > 1:
        return _dotted(place[1:])
    return _dotted(place)


# The file ---------------------------------------------------------------------------------------------
class ProjectConfig:
    """One run of terok_project: where the project's file is, what it holds, and the change to it.

    Every write goes through the run's gate (``RunGate.writing``), so check mode predicts with the
    code that acts. ``layout`` (the state root, for the project's tasks) is resolved only for ``absent``.
    """

    def __init__(self, request: Request, gate: RunGate, environ: Optional[Mapping[str, str]] = None,
                 euid: Optional[int] = None) -> None:
        self.request = request
        self.gate = gate
        self.environ = os.environ if environ is None else environ
        self.euid = os.geteuid() if euid is None else euid
        self.config_dir = config_dir(request.config_dir_option, self.environ, self.euid)
        self.project_dir = os.path.join(self.config_dir, "projects", request.name)
        self.path = os.path.join(self.project_dir, PROJECT_FILE)
        self.diff: Dict[str, Any] = {"before": "", "after": "", "before_header": self.path, "after_header": self.path}

    def run(self) -> Dict[str, Any]:
        before_text, before = self._read()
        self.diff["before"] = before_text
        self._warn_if_shadowed()
        if self.request.state == "absent":
            return self._absent(before)
        return self._present(before)

    def _read(self) -> Tuple[str, Optional[Dict[str, Any]]]:
        """The file's text and mapping; ('', None) when there is none. A file terok cannot read either fails."""
        data = read_regular(self.path)
        if data is None:
            return "", None
        if len(data) > MAX_BYTES:
            raise TerokError("%s is larger than %d bytes; not a project.yml" % (self.path, MAX_BYTES), path=self.path)
        text = data.decode("utf-8", "replace")
        try:
            document = load_yaml(data)
        except Exception as exc:  # the YAML library's own errors: the file is the user's to fix
            raise TerokError("%s is not valid YAML, fix or remove it by hand: %s" % (self.path, exc), path=self.path)
        if document is None:
            return text, {}
        if not isinstance(document, dict):
            raise TerokError("%s holds a YAML %s, not a mapping; fix or remove it by hand (terok refuses to rewrite it "
                             "too)" % (self.path, type(document).__name__), path=self.path)
        return text, document

    def _warn_if_shadowed(self) -> None:
        """terok reads ``<user projects dir>/<name>/project.yml`` instead of this one when both exist."""
        # what reading the terok config file has to say is about the state root, not this file: not repeated here
        user_dir = user_projects_dir(self.environ, load_yaml, [])
        if not user_dir or os.path.normpath(user_dir) == os.path.join(self.config_dir, "projects"):
            return
        shadow = os.path.join(user_dir, self.request.name, PROJECT_FILE)
        if os.path.isfile(shadow):
            self.gate.warn("terok 0.9.1 reads %s for project %s, not %s, which this module manages: its user projects "
                           "directory wins over the configuration directory" % (shadow, self.request.name, self.path))

    # present ------------------------------------------------------------------------------------------
    def desired(self, before: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        """The document ``present`` makes of ``before``: the file's keys (none with ``purge``), then ``config``,
        then the typed options, merged mapping into mapping, and ``project.name`` the project's name."""
        request = self.request
        document: Dict[str, Any] = {"project": {}}
        if before and not request.purge:
            document = copy.deepcopy(before)
        _merge(document, request.config)
        _merge(document, request.typed)
        section = document.get("project")
        if not isinstance(section, dict):  # a null or broken section: terok's own writers replace it too
            section = document["project"] = {}
        legacy = section.pop("id", None)  # terok reads the legacy slug id as the name (yaml_schema.py)
        previous = section.get("name")
        if legacy is not None and previous is not None and section.get("description") is None:
            section["description"] = previous  # the legacy name was a display label, as terok's normalize-name keeps it
        section["name"] = request.name
        if not before or "project" not in before:  # a section the file lacked goes first, as terok's template has it
            document = dict([("project", section)] + [(k, v) for k, v in document.items() if k != "project"])
        return document

    def _present(self, before: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        after = self.desired(before)
        for warning in self.request.raise_for(schema_problems(after)):
            self.gate.warn(warning)
        text = dump_yaml(after)
        changed = before is None or plain(after) != plain(before)
        self.diff["after"] = text if changed else self.diff["before"]  # an unchanged file is not rewritten
        if changed:
            with self.gate.writing() as acting:
                if acting:
                    self._write(text, before is None)
        return self._result(changed, after)

    def _write(self, text: str, new: bool) -> None:
        make_dirs(self.project_dir, 0o755 if self.euid == 0 else 0o700)
        mode = 0o644
        if not new:
            try:
                mode = os.lstat(self.path).st_mode & 0o7777
            except FileNotFoundError:
                pass
        atomic_write(self.path, text.encode("utf-8"), mode=mode)

    # absent -------------------------------------------------------------------------------------------
    def _absent(self, before: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        if before is None:
            return self._result(False, None)
        layout = Layout.resolve(self.request.root, environ=self.environ, load_yaml=load_yaml, euid=self.euid)
        for warning in layout.warnings:
            self.gate.warn(warning)
        tasks = sorted(ProjectTasks(layout, self.request.name).load().tasks)
        if tasks and not self.request.force:
            raise TerokError(
                "project %s has %d task(s) under %s (%s): archive or remove them first, or set force=true to remove "
                "its project.yml anyway (the tasks are kept, and terok lists them no more)"
                % (self.request.name, len(tasks), layout.root, ", ".join(tasks[:10])), option="state")
        if tasks:
            self.gate.warn("project %s still has %d task(s) (%s); with its project.yml gone terok lists them no more"
                           % (self.request.name, len(tasks), ", ".join(tasks[:10])))
        with self.gate.writing() as acting:
            if acting:
                remove_file(self.path)
                try:
                    os.rmdir(self.project_dir)  # only when nothing else is in it
                except OSError:
                    pass
        return self._result(True, None)

    def _result(self, changed: bool, document: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        return {
            "changed": changed,
            "project": self.request.name,
            "state": self.request.state,
            "path": self.path,
            "config_dir": self.config_dir,
            "config": None if document is None else plain(document),
        }
