# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""cProfile dumps to short text tables: top functions by cumulative and by own time.

    python bench/profiles.py FILE.prof [...]     print the tables of each dump

Paths are shortened to what follows ``payload.zip/``, ``site-packages/`` or the repository,
so that the collection's own functions read as ``plugins/module_utils/…``.
"""

from __future__ import annotations

import os
import pstats
import sys

_MARKERS = ("_payload.zip/", "site-packages/", "/ansible_collections/terok/lifecycle/", "/lib/python3")


def _short(filename):
    for marker in _MARKERS:
        index = filename.rfind(marker)
        if index >= 0:
            return filename[index + len(marker):].lstrip("/")
    return filename if filename.startswith("<") or filename == "~" else os.path.basename(filename)


def _label(func):
    filename, line, name = func
    if filename == "~":
        return name  # a builtin, e.g. {built-in method posix.fsync}
    return "%s:%d(%s)" % (_short(filename), line, name)


def table(path, top=25):
    stats = pstats.Stats(path)
    total = stats.total_tt
    rows = []
    for func, (cc, nc, tt, ct, _callers) in stats.stats.items():
        rows.append((ct, tt, nc, _label(func)))
    lines = ["%s: %.3f s profiled (cProfile adds overhead; compare shares, not absolutes)" % (os.path.basename(path), total)]
    for title, key in (("cumulative", 0), ("own time", 1)):
        lines.append("  top %d by %s:" % (top, title))
        lines.append("    %9s %9s %8s  %s" % ("cum s", "own s", "calls", "function"))
        for ct, tt, nc, label in sorted(rows, key=lambda r: r[key], reverse=True)[:top]:
            lines.append("    %9.3f %9.3f %8d  %s" % (ct, tt, nc, label))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        sys.stdout.write(table(arg))
