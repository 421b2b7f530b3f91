# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a script (an AnsiballZ module file) in this process and record what it cost.

bench/run.py gives Ansible a wrapper interpreter ``python rss_hook.py`` for a few tasks, so
that the module runs in exactly this process. At exit it appends one JSON line to
``$BENCH_HOOK_OUT``: the peak RSS of this process alone (``RUSAGE_SELF``, so podman children
are not counted), its CPU times and the wall time from here to exit (interpreter start-up,
~20 ms, is before this point and not included). With ``$BENCH_HOOK_PROFILE`` set, the run is
profiled with cProfile into ``$BENCH_HOOK_PROFILE.<pid>.prof`` (then its times are not
comparable: bench/run.py profiles in separate tasks).
"""

from __future__ import annotations

import atexit
import json
import os
import resource
import runpy
import sys
import time

_T0 = time.monotonic()


def _record():
    out = os.environ.get("BENCH_HOOK_OUT")
    if not out:
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    line = {
        "script": os.path.basename(sys.argv[0]) if sys.argv else None,
        "maxrss_kb": usage.ru_maxrss,
        "utime_s": usage.ru_utime,
        "stime_s": usage.ru_stime,
        "wall_s": time.monotonic() - _T0,
    }
    with open(out, "a") as handle:
        handle.write(json.dumps(line) + "\n")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    # the module must not import anything from bench/
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.argv = sys.argv[1:]
    atexit.register(_record)
    profile_to = os.environ.get("BENCH_HOOK_PROFILE")
    if profile_to:
        import cProfile

        profiler = cProfile.Profile()

        def _dump():
            profiler.disable()
            profiler.dump_stats("%s.%d.prof" % (profile_to, os.getpid()))

        atexit.register(_dump)  # runs before _record (atexit is last in, first out)
        profiler.enable()
    runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
