# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Row 5: the library without Ansible, in a fresh process.

    python bench/inproc.py --collections DIR --root ROOT [--tasks 1000] [--projects 10] [--prefix P]

DIR holds ansible_collections/terok/lifecycle (a link to the repository). Times the import
of the module_utils, then ``converge_many`` creating the tasks (one call, as terok_tasks
does), then a second ``converge_many`` over the same specs (all unchanged). podman is a fake
runner that answers ``ps`` with ``[]``, so only the library and the file system are timed.
Prints one JSON object. With --profile FILE the create pass runs under cProfile.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--collections", required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--projects", type=int, default=10)
    parser.add_argument("--prefix", default="inproc")
    parser.add_argument("--profile")
    args = parser.parse_args()

    sys.path.insert(0, args.collections)
    t0 = time.perf_counter()
    from ansible_collections.terok.lifecycle.plugins.module_utils._converge import converge_many
    from ansible_collections.terok.lifecycle.plugins.module_utils._paths import Layout
    from ansible_collections.terok.lifecycle.plugins.module_utils._podman import CommandRunner, Podman
    from ansible_collections.terok.lifecycle.plugins.module_utils._run_context import RunContext
    from ansible_collections.terok.lifecycle.plugins.module_utils._spec import Spec

    t1 = time.perf_counter()

    class FakeRunner(CommandRunner):
        def run(self, argv, data=None, timeout=None):
            if argv[1:2] == ["ps"]:
                return 0, "[]", ""
            return 1, "", "bench: fake podman runs only ps"

    specs = [
        Spec("%s-p%02d" % (args.prefix, i % args.projects), name="t%04d" % i) for i in range(args.tasks)
    ]

    def run():
        runtime = RunContext(Layout(args.root), Podman("podman", FakeRunner()))
        start = time.perf_counter()
        result = converge_many(runtime, specs)
        return time.perf_counter() - start, result, runtime

    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        create_s, created, runtime = run()
        profiler.disable()
        profiler.dump_stats(args.profile)
    else:
        create_s, created, runtime = run()
    rerun_s, rerun, _runtime = run()
    print(
        json.dumps(
            {
                "import_s": t1 - t0,
                "create_s": create_s,
                "rerun_s": rerun_s,
                "tasks": args.tasks,
                "created": sum(1 for t in created.tasks if t and t.get("changed")),
                "rerun_changed": sum(1 for t in rerun.tasks if t and t.get("changed")),
                "podman_calls": runtime.podman.calls,
            }
        )
    )


if __name__ == "__main__":
    main()
