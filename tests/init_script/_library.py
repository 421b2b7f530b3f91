# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the init-script tests take from the collection: the script, and the marker the library writes."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "files" / "init-ssh-and-repo.sh"


def library_constant(name: str, module: str = "_project_tasks"):
    """The value of a constant of plugins/module_utils/<module>.py, read from its source.

    Importing the module needs the collection on the import path; these tests run without it.
    """
    source = (REPO / "plugins" / "module_utils" / (module + ".py")).read_text(encoding="utf-8")
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and [getattr(target, "id", None) for target in node.targets] == [name]:
            return ast.literal_eval(node.value)
    raise LookupError("%s is not a constant of %s.py" % (name, module))


# the new-task marker: its name and its text, as the library writes it into a new workspace
MARKER = library_constant("MARKER")
MARKER_TEXT = library_constant("MARKER_TEXT")
