# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""terok.lifecycle benchmarks (issue 6): one table, also written to bench/results/.

    .venv/bin/python bench/run.py [--reps N] [--keep] ...

Run it with the Python of the virtualenv that holds ansible-core: that interpreter runs the
modules too. bench/README.md says what each row measures and how.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import json
import os
import platform
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
RESULTS = os.path.join(BENCH, "results")
sys.path.insert(0, BENCH)

import report  # noqa: E402  (bench/report.py)

DEFAULT_IMAGE = "localhost/terok-task:latest"
# main: rows 1-5 and 7; agents: rows 8 (concurrency); terok: row 6; fleet: rows 9
PARTS = ("main", "agents", "terok", "fleet")


def log(message):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), message), file=sys.stderr, flush=True)


def parse_args():
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=int(env("BENCH_REPS", "3")),
                        help="runs per figure (median taken); BENCH_REPS, default 3")
    parser.add_argument("--tasks", type=int, default=1000, help="tasks in the bulk calls (1000)")
    parser.add_argument("--projects", type=int, default=10, help="projects they are spread over (10)")
    parser.add_argument("--loop-items", type=int, default=50, help="items of the terok_task loop baseline (50)")
    parser.add_argument("--containers", type=int, default=20, help="tasks given a running container (20)")
    parser.add_argument("--single-pairs", type=int, default=int(env("BENCH_SINGLE_PAIRS", "11")),
                        help="runs of each single call of row 4 (11)")
    parser.add_argument("--terok-new", type=int, default=5, help="terokctl task new calls (5)")
    parser.add_argument("--image", default=env("TEROK_TASK_IMAGE", DEFAULT_IMAGE))
    parser.add_argument("--podman", default=env("BENCH_PODMAN", "/usr/bin/podman"),
                        help="the real podman the counting shim runs (/usr/bin/podman)")
    parser.add_argument("--containers-conf", default=env("CONTAINERS_CONF", os.path.join(REPO, "tools", "containers.conf")),
                        help="CONTAINERS_CONF for podman (tools/containers.conf)")
    parser.add_argument("--terok-venv", default=env("TEROK_VENV"),
                        help="venv with terok 0.9.1 (default: .venv-terok, else /tmp/terok-venv)")
    parser.add_argument("--profile", action="store_true", default=env("BENCH_PROFILE") == "1",
                        help="also profile (cProfile) the module processes and the library, in extra runs that "
                             "the figures do not use; tables in bench/results/profiles/ (BENCH_PROFILE=1)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir and containers (debugging)")
    parser.add_argument("--parts", default=env("BENCH_PARTS", ",".join(PARTS)),
                        help="which parts to run, comma-separated, of %s (all; BENCH_PARTS)" % ",".join(PARTS))
    parser.add_argument("--agents", type=int, default=6, help="agents of the concurrency rows 8, 8c, 8d (6)")
    parser.add_argument("--many-agents", type=int, default=20, help="agents of row 8b (20)")
    parser.add_argument("--agent-init", type=float, default=3.0, help="seconds each agent's init script takes (3)")
    parser.add_argument("--agent-stop-timeout", type=int, default=3, help="stop_timeout of rows 8c (3)")
    parser.add_argument("--fleet-sizes", default=env("BENCH_FLEET_SIZES", "local,1,4,16"),
                        help="fleet sizes, comma-separated; local = one host over the local connection "
                             "(local,1,4,16; BENCH_FLEET_SIZES)")
    parser.add_argument("--fleet-reps", type=int, default=None,
                        help="runs per fleet figure (default: --reps; BENCH_FLEET_REPS)")
    parser.add_argument("--fleet-fresh", type=int, default=int(env("BENCH_FLEET_FRESH", "1")),
                        help="fresh fleets per N, each with one first run and one cleanup (1; BENCH_FLEET_FRESH)")
    parser.add_argument("--no-mitogen", action="store_true", default=env("BENCH_NO_MITOGEN") == "1",
                        help="do not install mitogen %s for the mitogen rows (BENCH_NO_MITOGEN=1)" % "0.3")
    args = parser.parse_args()
    args.parts = [part.strip() for part in args.parts.split(",") if part.strip()]
    unknown = [part for part in args.parts if part not in PARTS]
    if unknown or not args.parts:
        parser.error("--parts takes %s, got %s" % (",".join(PARTS), ",".join(unknown) or "nothing"))
    sizes = []
    for word in args.fleet_sizes.split(","):
        word = word.strip()
        if word:
            sizes.append(0 if word == "local" else int(word))
    if any(size < 0 or size > 200 for size in sizes):
        parser.error("--fleet-sizes: local or 1..200")
    args.fleet_sizes = sizes
    if args.fleet_reps is None:
        args.fleet_reps = int(env("BENCH_FLEET_REPS", str(args.reps)))
    args.results = RESULTS
    return args


# --- machine -----------------------------------------------------------------------------------


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version_of(argv, env=None):
    try:
        out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=60,
                             check=False).stdout.decode("utf-8", "replace").strip()
        return out.splitlines()[0] if out else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def _commit():
    """The repository's commit, with ``+dirty`` when plugins/ differs from it."""
    head = _version_of(["git", "-C", REPO, "rev-parse", "--short", "HEAD"])
    if not head or " " in head:
        return None
    try:
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", "plugins"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, check=False, timeout=60).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        dirty = b""
    return head + ("+dirty" if dirty else "")


def _load():
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def machine(args, terok_python):
    from ansible.release import __version__ as ansible_version

    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count()
    return {
        "nproc": nproc,
        "cpu": _cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "python_path": sys.executable,
        "ansible_core": ansible_version,
        "podman": _version_of([args.podman, "--version"]),
        "terok": _version_of([terok_python, "-c", "import importlib.metadata as m; print(m.version('terok'))"])
        if terok_python else None,
        "hostname": platform.node(),
        "commit": _commit(),
        "loadavg_start": _load(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


# --- the temp world ------------------------------------------------------------------------------


class World(object):
    """Everything under one mkdtemp dir: collection link, podman shim, roots, logs."""

    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="terok-bench-", dir="/tmp")
        self.prefix = "tb" + secrets.token_hex(3)  # unique project prefix: projects, containers
        self.collections = os.path.join(self.tmp, "collections")
        link_dir = os.path.join(self.collections, "ansible_collections", "terok")
        os.makedirs(link_dir)
        os.symlink(REPO, os.path.join(link_dir, "lifecycle"))
        self.bin = os.path.join(self.tmp, "bin")
        os.makedirs(self.bin)
        self.podman_log = os.path.join(self.tmp, "podman.log")
        open(self.podman_log, "w").close()
        self.shim = os.path.join(self.bin, "podman")
        with open(self.shim, "w") as handle:
            handle.write(
                "#!/bin/sh\n"
                "# bench: one line per podman process, then the real podman\n"
                "printf '%%s\\n' \"$$ $*\" >> '%s'\n"
                ": \"${CONTAINERS_CONF:=%s}\"\n"
                "export CONTAINERS_CONF\n"
                "exec '%s' \"$@\"\n" % (self.podman_log, args.containers_conf, args.podman)
            )
        os.chmod(self.shim, 0o755)
        self.hook_python = os.path.join(self.bin, "python-hook")
        with open(self.hook_python, "w") as handle:
            handle.write("#!/bin/sh\nexec '%s' '%s' \"$@\"\n" % (sys.executable, os.path.join(BENCH, "rss_hook.py")))
        os.chmod(self.hook_python, 0o755)
        self.roots = os.path.join(self.tmp, "roots")
        os.makedirs(self.roots)

    def root(self, name):
        return os.path.join(self.roots, name)

    def project(self, index):
        return "%s-p%02d" % (self.prefix, index)

    def podman_count(self):
        with open(self.podman_log, "rb") as handle:
            return handle.read().count(b"\n")

    def base_env(self):
        env = dict(os.environ)
        env["PATH"] = self.bin + os.pathsep + env.get("PATH", "/usr/bin:/bin")
        env["CONTAINERS_CONF"] = self.args.containers_conf
        env["TMPDIR"] = os.path.join(self.tmp, "t")
        os.makedirs(env["TMPDIR"], exist_ok=True)
        for key in ("TEROK_ROOT", "TEROK_CONFIG_FILE", "TEROK_CONFIG_DIR", "TEROK_STATE_DIR",
                    "TEROK_SANDBOX_LIVE_DIR", "ANSIBLE_CONFIG"):
            env.pop(key, None)
        return env

    def our_containers(self):
        out = subprocess.run([self.args.podman, "ps", "-a", "--format", "json"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, env=self.base_env(), check=False).stdout
        try:
            items = json.loads(out or b"[]") or []
        except ValueError:
            return []
        names = []
        for item in items:
            for name in item.get("Names") or []:
                if name.startswith(self.prefix + "-"):
                    names.append(name)
        return names

    def cleanup(self):
        names = self.our_containers()
        if names:
            log("removing %d containers %s-*" % (len(names), self.prefix))
            subprocess.run([self.args.podman, "rm", "--force", "--time", "0", "--ignore"] + names,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.base_env(), check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)


# --- the playbook --------------------------------------------------------------------------------


def _task(name, module, params, **extra):
    task = {"name": name, module: params}
    task.update(extra)
    return task


def module_options(module):
    """The options that a module of this collection documents (its DOCUMENTATION, no fragments).

    When DOCUMENTATION is not valid YAML (a module being edited), its top-level options are read
    line by line: ``options:``, then each option at two spaces, its ``default:`` at four.
    """
    import yaml

    path = os.path.join(REPO, "plugins", "modules", module + ".py")
    try:
        with open(path) as handle:
            tree = ast.parse(handle.read())
    except (OSError, SyntaxError) as exc:
        raise SystemExit("cannot read %s: %s" % (path, exc))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets):
            text = node.value.value
            try:
                return (yaml.safe_load(text) or {}).get("options") or {}
            except yaml.YAMLError as exc:
                log("warning: the DOCUMENTATION of %s is not valid YAML (%s); reading its options line by line"
                    % (module, str(exc).splitlines()[0]))
                return _options_by_lines(text)
    return {}


def _options_by_lines(text):
    options, current, inside = {}, None, False
    for line in text.splitlines():
        if not line.startswith(" "):
            inside = line.rstrip() == "options:"
            current = None
            continue
        if not inside:
            continue
        match = re.match(r"^  ([A-Za-z_][A-Za-z0-9_]*):\s*$", line)
        if match:
            current = options.setdefault(match.group(1), {})
            continue
        match = re.match(r"^    (default|type):\s*(.+?)\s*$", line)
        if match and current is not None:
            current[match.group(1)] = match.group(2)
    return options


def ready_line():
    """READY_LINE of the library, read from its source (the benchmark imports no module_utils)."""
    path = os.path.join(REPO, "plugins", "module_utils", "_container_spec.py")
    with open(path) as handle:
        for line in handle:
            if line.startswith("READY_LINE = "):
                return ast.literal_eval(line.split("=", 1)[1].strip())
    raise SystemExit("no READY_LINE in %s" % path)


# what rows 8 and 8c need of an agent: it ignores SIGTERM (bash's trap is inherited by sleep), so
# podman stop takes its whole --time; the other groups' agents end on SIGTERM at once
IGNORE_TERM = ["bash", "-c", "trap '' TERM; sleep infinity"]
SLEEP = ["sleep", "infinity"]


def agent_tasks(world, args):
    """Rows 8: groups of agents whose init takes --agent-init s, started, stopped, removed in one call each.

    Per run: one agent and --agents agents (both ignoring SIGTERM) started, stopped with
    stop_timeout, removed; --many-agents started; --agents started with concurrency 1 when the
    module has that option. Each group is a project of its own in a fresh root per run.
    """
    script = os.path.join(world.tmp, "agent-init.sh")
    with open(script, "w") as handle:
        handle.write("#!/bin/bash\n# bench: an init that takes a while, then says it is ready and hands over\n"
                     "sleep %s\nprintf '%%s\\n' %s\nexec \"$@\"\n"
                     % (args.agent_init, shlex.quote(ready_line())))
    os.chmod(script, 0o755)
    has_concurrency = args.concurrency_option is not None
    tasks = []

    def items(project, count, **item):
        base = {"project": project, "state": "running", "init_script": script}
        base.update(item)
        return [dict(base, name="a%02d" % index) for index in range(count)]

    def call(name, root, task_items, **params):
        body = {"root": root, "image": args.image, "tasks": task_items}
        body.update(params)
        return _task(name, "terok.lifecycle.terok_tasks", body)

    for rep in range(1, args.reps + 1):
        root = world.root("agents%d" % rep)
        one, six = "%s-one%d" % (world.prefix, rep), "%s-six%d" % (world.prefix, rep)
        many, seq = "%s-many%d" % (world.prefix, rep), "%s-seq%d" % (world.prefix, rep)
        tasks.append(call("agents one start r%d" % rep, root, items(one, 1, command=IGNORE_TERM)))
        tasks.append(call("agents six start r%d" % rep, root, items(six, args.agents, command=IGNORE_TERM)))
        tasks.append(call("agents many start r%d" % rep, root, items(many, args.many_agents, command=SLEEP)))
        if has_concurrency:
            tasks.append(call("agents seq start r%d" % rep, root, items(seq, args.agents, command=SLEEP),
                              concurrency=1))
        for group, project, count in (("one", one, 1), ("six", six, args.agents)):
            tasks.append(call("agents %s stop r%d" % (group, rep), root,
                              [{"project": project, "name": "a%02d" % i, "state": "stopped",
                                "stop_timeout": args.agent_stop_timeout} for i in range(count)]))
        for group, project, count in (("one", one, 1), ("six", six, args.agents)):
            tasks.append(call("agents %s remove r%d" % (group, rep), root,
                              [{"project": project, "name": "a%02d" % i, "state": "absent"} for i in range(count)]))
        leftovers = [{"project": many, "name": "a%02d" % i, "state": "absent"} for i in range(args.many_agents)]
        if has_concurrency:
            leftovers += [{"project": seq, "name": "a%02d" % i, "state": "absent"} for i in range(args.agents)]
        tasks.append(call("agents leftovers r%d" % rep, root, leftovers))
    return tasks


def build_playbook(world, args):
    """The whole Ansible part as one play, so every ratio comes from the same process."""
    reps = args.reps
    bulk_items = [{"project": world.project(i % args.projects), "name": "t%04d" % i} for i in range(args.tasks)]
    loop_items = [{"project": world.project(i % args.projects), "name": "l%03d" % i} for i in range(args.loop_items)]
    running_items = [dict(item, state="running") for item in bulk_items[: args.containers]]
    # the no-op target: a task of root c1 without a container
    single_item = bulk_items[args.containers] if args.tasks > args.containers else bulk_items[0]
    stat_target = os.path.join(world.tmp, "stat-target")
    with open(stat_target, "w") as handle:
        handle.write("x" * 1024)
    info_root = world.root("c1")
    tasks = [
        _task("warm terok_tasks", "terok.lifecycle.terok_tasks",
              {"root": world.root("warm"), "tasks": [{"project": "warm", "name": "warm"}]}),
        _task("warm terok_task", "terok.lifecycle.terok_task", {"root": world.root("warm"), "project": "warm", "name": "w"}),
        _task("warm terok_task_info", "terok.lifecycle.terok_task_info", {"root": world.root("warm")}),
        _task("warm stat", "ansible.builtin.stat", {"path": stat_target}),
    ]
    single = None
    if "main" in args.parts:
        for rep in range(1, reps + 1):
            root = world.root("c%d" % rep)
            tasks.append(_task("create r%d" % rep, "terok.lifecycle.terok_tasks",
                               {"root": root, "tasks": "{{ bench_bulk_items }}"}))
            tasks.append(_task("rerun r%d" % rep, "terok.lifecycle.terok_tasks",
                               {"root": root, "tasks": "{{ bench_bulk_items }}"}))
            tasks.append(_task("loop r%d" % rep, "terok.lifecycle.terok_task",
                               {"root": world.root("loop%d" % rep), "project": "{{ item.project }}",
                                "name": "{{ item.name }}"},
                               loop="{{ bench_loop_items }}", loop_control={"label": "{{ item.name }}"}))
        if args.containers:
            tasks.append(_task("setup containers", "terok.lifecycle.terok_tasks",
                               {"root": info_root, "image": args.image, "tasks": "{{ bench_running_items }}"}))
        single = {"root": info_root, "project": single_item["project"], "name": single_item["name"]}
        # 4b: the same no-op on a task whose container runs (its status needs the podman listing)
        single_running = None
        if args.containers:
            single_running = {"root": info_root, "project": bulk_items[0]["project"], "name": bulk_items[0]["name"]}
        for pair in range(1, args.single_pairs + 1):
            group = [
                _task("single terok_task %d" % pair, "terok.lifecycle.terok_task", single),
                _task("single stat %d" % pair, "ansible.builtin.stat", {"path": stat_target}),
            ]
            if single_running:
                group.append(_task("single running terok_task %d" % pair, "terok.lifecycle.terok_task", single_running))
            shift = pair % len(group)  # rotate the order so that no kind always runs first
            tasks += group[shift:] + group[:shift]
        for rep in range(1, reps + 1):
            tasks.append(_task("info r%d" % rep, "terok.lifecycle.terok_task_info", {"root": info_root}))
        # peak RSS and module-process time, through the hook interpreter (not part of the timed rows)
        hook = {"ansible_python_interpreter": world.hook_python}

        def hooked(name, module, params, out):
            return _task(name, module, params, vars=hook,
                         environment={"BENCH_HOOK_OUT": os.path.join(world.tmp, "hook-%s.jsonl" % out)})

        tasks.append(hooked("rss create", "terok.lifecycle.terok_tasks",
                            {"root": world.root("rss"), "tasks": "{{ bench_bulk_items }}"}, "create"))
        tasks.append(hooked("rss rerun", "terok.lifecycle.terok_tasks",
                            {"root": world.root("rss"), "tasks": "{{ bench_bulk_items }}"}, "rerun"))
        tasks.append(hooked("rss info", "terok.lifecycle.terok_task_info", {"root": info_root}, "info"))
        for pair in range(1, 4):
            tasks.append(hooked("hook terok_task %d" % pair, "terok.lifecycle.terok_task", single, "single"))
            tasks.append(hooked("hook stat %d" % pair, "ansible.builtin.stat", {"path": stat_target}, "stat"))
        if args.profile:
            # cProfile in the module process itself, in runs apart from the timed ones
            def profiled(name, module, params):
                return _task("profile %s" % name, module, params, vars=hook, environment={
                    "BENCH_HOOK_OUT": os.path.join(world.tmp, "hook-profile.jsonl"),
                    "BENCH_HOOK_PROFILE": os.path.join(world.tmp, "profile-%s" % name)})

            tasks.append(profiled("create", "terok.lifecycle.terok_tasks",
                                  {"root": world.root("prof"), "tasks": "{{ bench_bulk_items }}"}))
            tasks.append(profiled("rerun", "terok.lifecycle.terok_tasks",
                                  {"root": world.root("prof"), "tasks": "{{ bench_bulk_items }}"}))
            tasks.append(profiled("info", "terok.lifecycle.terok_task_info", {"root": info_root}))
            tasks.append(profiled("terok_task", "terok.lifecycle.terok_task", single))
            tasks.append(profiled("stat", "ansible.builtin.stat", {"path": stat_target}))
    if "agents" in args.parts:
        tasks += agent_tasks(world, args)
    tasks.append(_task("bench end", "ansible.builtin.debug", {"msg": "done"}))
    play = [{
        "name": "terok.lifecycle benchmark",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars_files": [os.path.join(world.tmp, "bench-vars.json")],
        "tasks": tasks,
    }]
    with open(os.path.join(world.tmp, "bench-vars.json"), "w") as handle:
        json.dump({"bench_bulk_items": bulk_items, "bench_loop_items": loop_items,
                   "bench_running_items": running_items}, handle)
    path = os.path.join(world.tmp, "bench.yml")
    with open(path, "w") as handle:
        json.dump(play, handle, indent=1)  # JSON is YAML
    return path, single


def run_playbook(world, args, playbook):
    timings = os.path.join(world.tmp, "timings.json")
    ansible_log = os.path.join(RESULTS, "ansible.log")
    env = world.base_env()
    env.update({
        "ANSIBLE_HOME": os.path.join(world.tmp, "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": os.path.join(world.tmp, "ansible-local"),
        "ANSIBLE_REMOTE_TEMP": os.path.join(world.tmp, "ansible-remote"),
        "ANSIBLE_COLLECTIONS_PATH": world.collections,
        "ANSIBLE_CALLBACK_PLUGINS": os.path.join(BENCH, "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": "bench_timer",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_NOCOLOR": "1",
        "BENCH_TIMINGS": timings,
        "BENCH_PODMAN_LOG": world.podman_log,
    })
    playbook_bin = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    if not os.path.exists(playbook_bin):
        playbook_bin = shutil.which("ansible-playbook") or playbook_bin
    argv = [playbook_bin, "-i", "localhost,", playbook]
    log("ansible-playbook: %d runs of each timed task (output in %s)" % (args.reps, os.path.relpath(ansible_log, REPO)))
    start = time.monotonic()
    with open(ansible_log, "wb") as out:
        proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=world.tmp, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        with open(ansible_log, "rb") as handle:
            tail = handle.read()[-4000:].decode("utf-8", "replace")
        raise SystemExit("ansible-playbook failed (rc=%s); last output:\n%s" % (proc.returncode, tail))
    with open(timings) as handle:
        records = json.load(handle)["tasks"]
    hooks = {}
    for name in ("create", "rerun", "info", "single", "stat"):
        path = os.path.join(world.tmp, "hook-%s.jsonl" % name)
        if os.path.exists(path):
            with open(path) as handle:
                hooks[name] = [json.loads(line) for line in handle if line.strip()]
    if args.profile:
        write_profiles(world.tmp, "profile-")
    log("ansible-playbook done in %.1f s" % elapsed)
    return {"tasks": {r["name"]: r for r in records}, "hooks": hooks, "playbook_s": elapsed}


def write_profiles(directory, prefix):
    import profiles

    out_dir = os.path.join(RESULTS, "profiles")
    os.makedirs(out_dir, exist_ok=True)
    for entry in sorted(os.listdir(directory)):
        if entry.startswith(prefix) and entry.endswith(".prof"):
            name = entry[len(prefix):].split(".")[0]
            shutil.copy(os.path.join(directory, entry), os.path.join(out_dir, name + ".prof"))
            with open(os.path.join(out_dir, name + ".txt"), "w") as handle:
                handle.write(profiles.table(os.path.join(directory, entry), top=30))
    log("profiles in %s" % os.path.relpath(out_dir, REPO))


# --- the real terok ------------------------------------------------------------------------------


def find_terok_venv(args):
    candidates = [args.terok_venv] if args.terok_venv else [os.path.join(REPO, ".venv-terok"), "/tmp/terok-venv"]
    for venv in candidates:
        if venv and os.access(os.path.join(venv, "bin", "terok"), os.X_OK):
            return venv
    return None


def terok_env(world, root):
    base = os.path.join(world.tmp, "terok")
    env = world.base_env()
    env.update({
        "TEROK_ROOT": root,
        "TEROK_CONFIG_DIR": os.path.join(base, "etc"),
        "TEROK_CONFIG_FILE": os.path.join(base, "etc", "config.yml"),
        "HOME": os.path.join(base, "home"),
        "XDG_CONFIG_HOME": os.path.join(base, "home", ".config"),
        "XDG_DATA_HOME": os.path.join(base, "home", ".local", "share"),
        "XDG_STATE_HOME": os.path.join(base, "home", ".local", "state"),
        "XDG_CACHE_HOME": os.path.join(base, "home", ".cache"),
        "XDG_RUNTIME_DIR": os.path.join(base, "run"),
        "TEROK_RUNTIME_DIR": os.path.join(base, "runtime"),
    })
    for key in ("HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR", "TEROK_RUNTIME_DIR", "TEROK_CONFIG_DIR"):
        os.makedirs(env[key], mode=0o700, exist_ok=True)
    return env


def _timed(argv, env):
    start = time.monotonic()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=600, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise RuntimeError("%s failed (rc=%s): %s" % (" ".join(argv), proc.returncode,
                                                      (proc.stderr or proc.stdout).decode("utf-8", "replace")[-2000:]))
    return elapsed, proc.stdout.decode("utf-8", "replace")


def run_terok(world, args, venv):
    """terok task list on each project of the info root (the same 1000 tasks), terokctl task new."""
    root = world.root("c1")
    env = terok_env(world, root)
    projects = [world.project(i) for i in range(args.projects)]
    new_project = "%s-terok" % world.prefix
    for project in projects + [new_project]:
        directory = os.path.join(env["TEROK_CONFIG_DIR"], "projects", project)
        os.makedirs(directory, exist_ok=True)
        open(os.path.join(directory, "project.yml"), "w").close()
    terok = os.path.join(venv, "bin", "terok")
    terokctl = os.path.join(venv, "bin", "terokctl")
    log("terok: task list over %d projects x %d runs, terokctl task new x %d" % (len(projects), args.reps, args.terok_new))
    _timed([terok, "task", "list", projects[0]], env)  # warm the page cache
    list_runs = []
    for _rep in range(args.reps):
        per_call, podman, listed = [], [], 0
        for project in projects:
            before = world.podman_count()
            elapsed, out = _timed([terok, "task", "list", project], env)
            per_call.append(elapsed)
            podman.append(world.podman_count() - before)
            listed += sum(1 for line in out.splitlines() if line.startswith("- "))
        list_runs.append({"total_s": sum(per_call), "per_call_s": per_call, "podman": podman, "listed": listed})
    new_runs = []
    for index in range(args.terok_new):
        before = world.podman_count()
        elapsed, out = _timed([terokctl, "task", "new", new_project, "--name", "terok-new-%d" % index], env)
        new_runs.append({"s": elapsed, "podman": world.podman_count() - before, "out": out.strip().splitlines()[-1:]})
    return {"list": list_runs, "new": new_runs, "venv": venv}


# --- in-process ------------------------------------------------------------------------------------


def run_inproc(world, args):
    log("in-process library: %d fresh processes x %d tasks" % (args.reps, args.tasks))
    runs = []
    for rep in range(1, args.reps + 1):
        argv = [sys.executable, os.path.join(BENCH, "inproc.py"), "--collections", world.collections,
                "--root", world.root("inproc%d" % rep), "--tasks", str(args.tasks),
                "--projects", str(args.projects), "--prefix", world.prefix]
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=world.base_env(),
                              timeout=600, check=False)
        if proc.returncode != 0:
            raise RuntimeError("inproc.py failed: %s" % proc.stderr.decode("utf-8", "replace")[-2000:])
        runs.append(json.loads(proc.stdout))
    if args.profile:
        argv = [sys.executable, os.path.join(BENCH, "inproc.py"), "--collections", world.collections,
                "--root", world.root("inproc-prof"), "--tasks", str(args.tasks), "--projects", str(args.projects),
                "--prefix", world.prefix, "--profile", os.path.join(world.tmp, "lib-profile-library.prof")]
        subprocess.run(argv, stdout=subprocess.DEVNULL, env=world.base_env(), timeout=600, check=True)
        write_profiles(world.tmp, "lib-profile-")
    return runs


# --- main ----------------------------------------------------------------------------------------------


def preflight(args):
    if not os.access(args.podman, os.X_OK):
        raise SystemExit("podman %s is missing: run `make bootstrap` (or give --podman)" % args.podman)
    env = dict(os.environ, CONTAINERS_CONF=args.containers_conf)
    needs_image = (args.containers and "main" in args.parts) or "agents" in args.parts or "fleet" in args.parts
    if needs_image and subprocess.run([args.podman, "image", "exists", args.image], env=env,
                                      check=False).returncode != 0:
        raise SystemExit("image %s is missing: run `make image` first (or --containers 0)" % args.image)
    try:
        import yaml  # noqa: F401  (the modules run with this interpreter and need PyYAML)
        import ansible  # noqa: F401
    except ImportError as exc:
        raise SystemExit("run bench/run.py with the Python of .venv (ansible-core, PyYAML): %s" % exc)


def _interrupted(*_args):
    raise KeyboardInterrupt("SIGTERM")


def main():
    args = parse_args()
    if args.reps < 1:
        raise SystemExit("--reps must be 1 or more")
    preflight(args)
    # read before anything runs: rows 8 pass concurrency only when the module documents it
    args.concurrency_option = module_options("terok_tasks").get("concurrency") if "agents" in args.parts else None
    os.makedirs(RESULTS, exist_ok=True)
    if args.profile:
        shutil.rmtree(os.path.join(RESULTS, "profiles"), ignore_errors=True)
    venv = find_terok_venv(args)
    terok_python = os.path.join(venv, "bin", "python") if venv else None
    started = time.monotonic()
    world = World(args)
    # a SIGTERM (make interrupted, CI timeout) still removes the containers and the temp dir
    signal.signal(signal.SIGTERM, _interrupted)
    try:
        info = machine(args, terok_python)
        log("temp dir %s, project prefix %s" % (world.tmp, world.prefix))
        if info["loadavg_start"] and info["loadavg_start"][0] > 0.5 * (info["nproc"] or 1):
            log("warning: load average %s at the start: other work on this machine will skew the figures"
                % info["loadavg_start"])
        ansible, terok, inproc, fleet, single = None, None, None, None, None
        if "main" in args.parts or "agents" in args.parts:
            playbook, single = build_playbook(world, args)
            ansible = run_playbook(world, args, playbook)
        if "terok" in args.parts and "main" not in args.parts:
            terok = {"error": "row 6 lists the tasks of row 3: run it with part main"}
        elif "terok" in args.parts and venv:
            try:
                terok = run_terok(world, args, venv)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                terok = {"error": str(exc)}
                log("terok rows not measured: %s" % exc)
        elif "terok" in args.parts:
            log("no terok venv (.venv-terok or /tmp/terok-venv): row 6 not measured")
        if "main" in args.parts:
            inproc = run_inproc(world, args)
        if "fleet" in args.parts:
            import fleet as fleet_bench  # bench/fleet.py

            open(os.path.join(RESULTS, "fleet-ansible.log"), "w").close()
            fleet = fleet_bench.run_fleet(world, args)
    finally:
        if args.keep:
            log("kept %s and containers %s-*" % (world.tmp, world.prefix))
        else:
            world.cleanup()
    raw = {"ansible": ansible, "terok": terok, "inproc": inproc, "single_target": single, "fleet": fleet,
           "agents_concurrency_option": args.concurrency_option}
    keys = ("reps", "tasks", "projects", "loop_items", "containers", "single_pairs", "terok_new", "image", "parts",
            "agents", "many_agents", "agent_init", "agent_stop_timeout", "fleet_sizes", "fleet_reps", "fleet_fresh")
    config = {key: getattr(args, key) for key in keys}
    config["total_s"] = time.monotonic() - started
    config["nproc"] = info["nproc"]
    info["loadavg_end"] = _load()
    rows = report.rows(raw, config)
    document = report.document(info, config, rows, raw)
    # the whole benchmark writes bench.*; a selection of parts bench-<parts>.*
    name = "bench" if set(args.parts) == set(PARTS) else "bench-" + "-".join(args.parts)
    with open(os.path.join(RESULTS, name + ".json"), "w") as handle:
        json.dump(document, handle, indent=1, default=str)
    markdown = report.markdown(info, config, rows)
    with open(os.path.join(RESULTS, name + ".md"), "w") as handle:
        handle.write(markdown)
    print(markdown, end="")
    log("wrote bench/results/%s.json and bench/results/%s.md (%.0f s in all)" % (name, name, config["total_s"]))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt as exc:
        log("interrupted (%s)" % (exc or "SIGINT"))
        sys.exit(130)
