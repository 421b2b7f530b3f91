# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""docs/library-map.md against the code: a row for every module_utils file, and "called by" as the imports say.

The convention of the "called by" column (the map's header says it too):

- a comma-separated list of backticked names, each once, in any order: a module_utils file
  without ``.py`` (`` `_session` ``) or a module (`` `terok_task` ``);
- the names are exactly the files of plugins/module_utils and plugins/modules that import the
  row's file, by any import statement anywhere in them (type-only imports under
  ``if TYPE_CHECKING:`` and imports inside functions count too);
- the single word ``nothing`` when no file imports it.

No shorthand ("everywhere", "the modules"): the failure message gives the cell to paste.
"""

from __future__ import annotations

import ast
import glob
import os
import re

import pytest

COLLECTION = "ansible_collections.terok.lifecycle"
UTILS_PACKAGE = COLLECTION + ".plugins.module_utils"
MODULES_PACKAGE = COLLECTION + ".plugins.modules"
MAP = os.path.join("docs", "library-map.md")
HEADER = ["file", "what it owns", "called by"]
NOTHING = "nothing"


def _repository_root() -> str:
    """The collection's root: the nearest directory above this file that holds galaxy.yml.

    Relative to this file, so that it holds in this clone and in the copy ansible-test runs
    (``.../ansible_collections/terok/lifecycle``), whatever the working directory.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    path = here
    while not os.path.isfile(os.path.join(path, "galaxy.yml")):
        parent = os.path.dirname(path)
        if parent == path:
            raise AssertionError("no galaxy.yml in any directory above %s" % here)
        path = parent
    return path


ROOT = _repository_root()


def _stems(folder: str, pattern: str) -> list:
    return sorted(os.path.basename(path)[:-3] for path in glob.glob(os.path.join(ROOT, "plugins", folder, pattern)))


def library_files() -> list:
    """The module_utils files, as names without ``.py`` (``_session``)."""
    return _stems("module_utils", "_*.py")


def module_names() -> list:
    return [name for name in _stems("modules", "*.py") if name != "__init__"]


def _absolute(node: ast.ImportFrom, package: str) -> str:
    """The absolute module name of a ``from`` import in a file of ``package``."""
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    base = parts[:len(parts) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imported_files(path: str, package: str) -> set:
    """The module_utils files that the Python file ``path`` (in ``package``) imports, anywhere in it."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    found = set()
    prefix = UTILS_PACKAGE + "."
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, package)
            if module == UTILS_PACKAGE:  # from ...module_utils import _archive
                modules = [prefix + alias.name for alias in node.names]
            else:  # from ...module_utils._archive import write_entry
                modules = [module]
        else:
            continue
        for module in modules:
            if module.startswith(prefix):
                found.add(module[len(prefix):].split(".")[0])
    return found


def importers() -> dict:
    """For each module_utils file (name without ``.py``), the set of files and modules that import it."""
    sources = [(name, "module_utils", UTILS_PACKAGE) for name in library_files()]
    sources += [(name, "modules", MODULES_PACKAGE) for name in module_names()]
    result = {name: set() for name in library_files()}
    for importer, folder, package in sources:
        for imported in imported_files(os.path.join(ROOT, "plugins", folder, importer + ".py"), package):
            if imported != importer:
                result.setdefault(imported, set()).add(importer)
    return result


def _read_map() -> str:
    with open(os.path.join(ROOT, MAP), encoding="utf-8") as handle:
        return handle.read()


def _cells(line: str) -> list:
    """The cells of a table line (``\\|`` inside a cell is not a separator)."""
    inner = line.strip()
    inner = inner[1:-1] if inner.endswith("|") else inner[1:]
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", inner)]


def table_rows(text: str) -> list:
    """The rows of the map's table as (line number, file cell, called-by cell)."""
    lines = text.splitlines()
    starts = [index for index, line in enumerate(lines) if line.lstrip().startswith("|") and _cells(line) == HEADER]
    assert starts, "%s has no table whose header is | %s |" % (MAP, " | ".join(HEADER))
    start = starts[0]
    rows = []
    for number, line in enumerate(lines[start + 2:], start + 3):
        if not line.lstrip().startswith("|"):
            break
        cells = _cells(line)
        assert len(cells) == len(HEADER), "%s line %d: %d cells, not %d: %s" % (MAP, number, len(cells), len(HEADER), line)
        rows.append((number, cells[0], cells[-1]))
    return rows


def parse_called_by(cell: str) -> list:
    """The names in a "called by" cell; raises ValueError when the cell breaks the convention."""
    if cell == NOTHING:
        return []
    names = []
    for item in cell.split(","):
        match = re.fullmatch(r"`([A-Za-z_][A-Za-z0-9_]*)`", item.strip())
        if not match:
            raise ValueError("%r is not a backticked name" % item.strip())
        names.append(match.group(1))
    return names


def called_by_cell(names: set) -> str:
    """The "called by" cell for these importers: module_utils files first, then modules, each sorted."""
    if not names:
        return NOTHING
    ordered = sorted(name for name in names if name.startswith("_")) + sorted(name for name in names if not name.startswith("_"))
    return ", ".join("`%s`" % name for name in ordered)


def _file_of(cell: str) -> str:
    match = re.fullmatch(r"`(_[A-Za-z0-9_]*)\.py`", cell)
    return match.group(1) if match else ""


def test_importers_are_found():
    """The import scan sees the three import forms the library uses (a scan that finds nothing would pass vacuously)."""
    found = importers()
    assert "terok_task" in found["_converge"]  # from ...module_utils._converge import converge_one
    assert "_query" in found["_archive"]  # from ...module_utils import _archive
    assert "_converge" in found["_phases"]  # under if TYPE_CHECKING:


def test_convention_parser():
    assert parse_called_by("`_session`, `terok_task`") == ["_session", "terok_task"]
    assert parse_called_by(NOTHING) == []
    for wrong in ("everywhere", "the modules", "`_session` and `_query`", "`_session`,", "_session", ""):
        with pytest.raises(ValueError):
            parse_called_by(wrong)
    assert called_by_cell({"terok_tasks", "_spec", "_converge", "terok_task"}) == "`_converge`, `_spec`, `terok_task`, `terok_tasks`"


def test_library_map_matches_the_imports():
    """One row per module_utils file, none for a file that is gone, and each "called by" exactly its importers."""
    found = importers()
    files = library_files()
    problems = []
    seen = {}
    for number, file_cell, called_cell in table_rows(_read_map()):
        name = _file_of(file_cell)
        where = "line %d (%s)" % (number, file_cell)
        if not name:
            problems.append("%s: the file cell must be a backticked file name such as `_session.py`" % where)
            continue
        if name in seen:
            problems.append("%s: a second row for %s.py (the first is on line %d)" % (where, name, seen[name]))
            continue
        seen[name] = number
        if name not in files:
            problems.append("%s: there is no plugins/module_utils/%s.py; remove the row" % (where, name))
            continue
        expected = found[name]
        try:
            named = parse_called_by(called_cell)
        except ValueError as exc:
            problems.append("%s: \"called by\" breaks the convention (%s); it should read: %s" % (where, exc, called_by_cell(expected)))
            continue
        twice = sorted(set(item for item in named if named.count(item) > 1))
        missing = sorted(expected - set(named))
        extra = sorted(set(named) - expected)
        if twice or missing or extra:
            details = []
            if missing:
                details.append("missing %s (they import it)" % ", ".join("`%s`" % item for item in missing))
            if extra:
                details.append("extra %s (they do not import it)" % ", ".join("`%s`" % item for item in extra))
            if twice:
                details.append("named twice: %s" % ", ".join("`%s`" % item for item in twice))
            problems.append("%s: \"called by\" is wrong: %s; it should read: %s" % (where, "; ".join(details), called_by_cell(expected)))
    for name in files:
        if name not in seen:
            problems.append("no row for %s.py; add: | `%s.py` | <what it owns> | %s |" % (name, name, called_by_cell(found[name])))
    if problems:
        pytest.fail("%s does not match plugins/ (%d problem(s)):\n%s" % (MAP, len(problems), "\n".join("- " + item for item in problems)), pytrace=False)


def test_library_map_names_only_existing_files():
    """The diagram names only files and modules that exist, and so does every `_x.py` in the text."""
    text = _read_map()
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, re.M | re.S)
    assert blocks, "%s has no diagram (a ``` block)" % MAP
    known = set(library_files()) | set(module_names())
    unknown = []
    for block in blocks:
        unknown += [name for name in re.findall(r"(?<![\w.])(_[a-z][a-z0-9_]*|terok_[a-z0-9_]+)", block) if name not in known]
    unknown += [name + ".py" for name in re.findall(r"`(_[a-z][a-z0-9_]*)\.py`", text) if name not in library_files()]
    if unknown:
        pytest.fail("%s names what does not exist in plugins/: %s" % (MAP, ", ".join(sorted(set(unknown)))), pytrace=False)
