# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers of the reliability suite: the library in-process, real ansible runs, tree checks.

The fake podman and the tree snapshot are the ones every suite uses (tests/support).

The collection is imported from this work tree through a private ``ansible_collections``
directory (``terok/lifecycle`` -> the repository), so the suite needs neither an installed
collection nor ``.cache/collections``.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import traceback

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))


def _collections_dir():
    """A directory ``ansible_collections/terok/lifecycle`` -> this work tree, made once per run."""
    base = tempfile.mkdtemp(prefix="terok-reliability-collections-")
    ns = os.path.join(base, "ansible_collections", "terok")
    os.makedirs(ns)
    os.symlink(REPO, os.path.join(ns, "lifecycle"))
    # an empty configuration, so that no ansible.cfg of the machine or the user applies
    with open(os.path.join(base, "ansible.cfg"), "w", encoding="utf-8") as handle:
        handle.write("[defaults]\n")
    return base


COLLECTIONS = os.environ.get("TEROK_RELIABILITY_COLLECTIONS")
if not COLLECTIONS:
    COLLECTIONS = _collections_dir()
    # removed at exit (rmtree removes the symlink, not the work tree behind it)
    atexit.register(shutil.rmtree, COLLECTIONS, True)
    os.environ["TEROK_RELIABILITY_COLLECTIONS"] = COLLECTIONS
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)

# pylint: disable=wrong-import-position
from ansible_collections.terok.lifecycle.plugins.module_utils import _query  # noqa: E402
from ansible_collections.terok.lifecycle.plugins.module_utils._converge import converge_many  # noqa: E402 pylint: disable=unused-import
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError  # noqa: E402
from ansible_collections.terok.lifecycle.plugins.module_utils._converge import converge_one  # noqa: E402
from ansible_collections.terok.lifecycle.plugins.module_utils._metadata import load_yaml  # noqa: E402
from ansible_collections.terok.lifecycle.plugins.module_utils._paths import Layout  # noqa: E402
from ansible_collections.terok.lifecycle.plugins.module_utils._podman import Podman  # noqa: E402
from ansible_collections.terok.lifecycle.plugins.module_utils._run_context import RunContext  # noqa: E402
from ansible_collections.terok.lifecycle.plugins.module_utils._spec import Spec, specs_from_items  # noqa: E402 pylint: disable=unused-import
from ansible_collections.terok.lifecycle.plugins.module_utils._project_tasks import MARKER, MARKER_TEXT, README_TEXT  # noqa: E402
from ansible_collections.terok.lifecycle.tests.support import tree  # noqa: E402
from ansible_collections.terok.lifecycle.tests.support.fake_podman import FakePodman, FakePodmanProgram  # noqa: E402 pylint: disable=unused-import

ID_RE = re.compile(r"[ghjkmnp-tv-z][0-9][0-9a-hjkmnp-tv-z]{3}")
TEMP_RE = re.compile(r"^\..+\.tmp$")
LOCK_NAME = ".terok-lifecycle.lock"
WORKSPACE = "workspace-dangerous"

# what the canary directory outside every state root holds: a task id and a text that must never
# show up in a result or inside a state root
CANARY_ID = "z9zzz"
CANARY_TEXT = "CANARY-7f3a-outside-the-state-root"

# Figures the suite reports at its end (conftest's terminal summary).
COUNTS = {}


def count(key, amount=1):
    COUNTS[key] = COUNTS.get(key, 0) + amount


# --------------------------------------------------------------------------------------
# the library in-process
# --------------------------------------------------------------------------------------
def runtime(root, runner=None, lock_timeout=5.0, check_mode=False, executable=None):
    """A RunContext on ``root`` whose podman is ``runner`` (a FakePodman with no container by default).

    The executable is only looked up (any existing program will do); every call goes through
    the runner, ``podman logs --follow`` and ``podman wait`` through its ``spawn``.
    """
    runner = runner if runner is not None else FakePodman()
    return RunContext(Layout.resolve(root), Podman(executable or sys.executable, runner), check_mode=check_mode,
                      lock_timeout=lock_timeout)


def spec(**params):
    return Spec.from_params(params)


def create(root, project, name, runner=None):
    """Create a task through the library; return its id."""
    return converge_one(runtime(root, runner), spec(project=project, name=name)).task["task_id"]


def list_all(root, runner=None, **query):
    """(tasks, archived, warnings) of terok_task_info's listing, in-process."""
    rt = runtime(root, runner)
    tasks, archived = _query.list_tasks(rt, _query.Query.from_params(query))
    return tasks, archived, rt.warnings


# --------------------------------------------------------------------------------------
# a child process that runs a function (fork: the library is imported already)
# --------------------------------------------------------------------------------------
def fork_call(func, umask=None):
    """Fork; the child runs ``func()`` and exits (0, or 1 after printing the error). Return its pid."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 0
        try:
            if umask is not None:
                os.umask(umask)
            func()
        except BaseException:  # pylint: disable=broad-except
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)  # pylint: disable=protected-access
    return pid


def run_in_child(func, timeout=20.0, umask=None):
    """Run ``func()`` in a forked child and return what it did, as a pair:

    ("ok", value) (``value`` JSON-serialisable), ("terok_error", {"terok_error": msg, "option": …}),
    ("error", traceback text) for any other exception, ("timeout", None) when the child hung
    (a FIFO, a lock …) and was killed after ``timeout`` seconds.
    """
    fd, out_path = tempfile.mkstemp(prefix="terok-reliability-child-", suffix=".json")
    os.close(fd)

    def child():
        try:
            payload = {"ok": func()}
        except TerokError as exc:
            payload = {"terok_error": exc.msg, "option": exc.option}
        except BaseException:  # pylint: disable=broad-except
            payload = {"error": traceback.format_exc()}
        with open(out_path, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, default=str)

    try:
        pid = fork_call(child, umask=umask)
        deadline = time.monotonic() + timeout
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return "timeout", None
            time.sleep(0.002)
        with open(out_path, encoding="utf-8") as handle:
            text = handle.read()
    finally:
        os.unlink(out_path)
    try:
        payload = json.loads(text)
    except ValueError:
        return "error", "child exited with status %r and no result" % status
    if "ok" in payload:
        return "ok", payload["ok"]
    if "terok_error" in payload:
        return "terok_error", payload
    return "error", payload["error"]


# --------------------------------------------------------------------------------------
# trees: fingerprints and checks of what is on disk
# --------------------------------------------------------------------------------------
def wait_for(what, seconds=30.0):
    """``what()`` once it is true, polled every 0.3 s for at most ``seconds``; then its last value."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.3)
    return what()


def fingerprint(top):
    """The tree snapshot of ``top`` with mtimes (a rewrite with the same content shows)."""
    return tree.snapshot(top, mtimes=True)


fingerprint_diff = tree.diff


def read_bytes(path):
    with open(path, "rb") as handle:
        return handle.read()


def meta_dir(root, project):
    return os.path.join(root, "core", "projects", project, "tasks")


def tasks_root(root, project):
    return os.path.join(root, "sandbox-live", "tasks", project)


def archive_dir(root, project):
    return os.path.join(root, "archive", project, "tasks")


def listdir(path):
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []


def metadata_ids(root, project):
    """Ids that have a dossier or a meta file (what terok and the collection list)."""
    ids = set()
    for entry in listdir(meta_dir(root, project)):
        for suffix in ("_dossier.json", "_meta.yml"):
            if entry.endswith(suffix) and ID_RE.fullmatch(entry[: -len(suffix)]):
                ids.add(entry[: -len(suffix)])
    return ids


def task_dir_ids(root, project):
    return {entry for entry in listdir(tasks_root(root, project)) if ID_RE.fullmatch(entry)}


def read_task_files(root, project, task_id):
    """(dossier, meta) parsed strictly; None for a missing file; raise on anything malformed."""
    dossier = meta = None
    dpath = os.path.join(meta_dir(root, project), task_id + "_dossier.json")
    mpath = os.path.join(meta_dir(root, project), task_id + "_meta.yml")
    if os.path.lexists(dpath):
        dossier = json.loads(read_bytes(dpath).decode("utf-8"))
        assert isinstance(dossier, dict), "%s is not a JSON object" % dpath
    if os.path.lexists(mpath):
        meta = load_yaml(read_bytes(mpath))
        assert isinstance(meta, dict), "%s is not a YAML mapping: %r" % (mpath, meta)
    return dossier, meta


def names_on_disk(root, project):
    """{task id: name} from the dossiers."""
    names = {}
    for task_id in metadata_ids(root, project):
        dossier, _meta = read_task_files(root, project, task_id)
        names[task_id] = None if dossier is None else dossier.get("name")
    return names


def archive_entries(root, project):
    """{task id: [entry paths]} of the entries that hold a readable task.json; and the others."""
    good, bad = {}, []
    for entry in listdir(archive_dir(root, project)):
        path = os.path.join(archive_dir(root, project), entry)
        tj = os.path.join(path, "task.json")
        if not os.path.isfile(tj):
            bad.append(path)
            continue
        data = json.loads(read_bytes(tj).decode("utf-8"))
        assert isinstance(data, dict), "%s is not a JSON object" % tj
        good.setdefault(data.get("task_id"), []).append(path)
    return good, bad


def half_written(root):
    """Metadata, README, marker or task.json files under ``root`` that are not whole; temp files."""
    problems, temps = [], []
    for dirpath, _dirnames, filenames in os.walk(root):
        for entry in filenames:
            path = os.path.join(dirpath, entry)
            if TEMP_RE.match(entry):
                temps.append(path)
                continue
            try:
                data = read_bytes(path)
                if entry.endswith("_dossier.json"):
                    value = json.loads(data.decode("utf-8"))
                    if not isinstance(value, dict) or not {"project", "task", "name"} <= set(value):
                        problems.append("%s: incomplete dossier %r" % (path, value))
                elif entry.endswith("_meta.yml"):
                    value = load_yaml(data)
                    if not isinstance(value, dict) or "created_at" not in value:
                        problems.append("%s: incomplete meta %r" % (path, value))
                elif entry == "task.json":
                    value = json.loads(data.decode("utf-8"))
                    if not isinstance(value, dict) or not value.get("task_id"):
                        problems.append("%s: incomplete archive snapshot %r" % (path, value))
                elif entry == "README.md" and data != README_TEXT.encode("utf-8"):
                    problems.append("%s: partial README (%d bytes)" % (path, len(data)))
                elif entry == MARKER and data != MARKER_TEXT.encode("utf-8"):
                    problems.append("%s: partial marker (%d bytes)" % (path, len(data)))
            except (ValueError, OSError) as exc:
                problems.append("%s: %s" % (path, exc))
    return problems, temps


def world_writable(root):
    bad = []
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in dirnames + filenames:
            path = os.path.join(dirpath, entry)
            st = os.lstat(path)
            if not stat.S_ISLNK(st.st_mode) and st.st_mode & stat.S_IWOTH:
                bad.append("%s %o" % (path, st.st_mode & 0o7777))
    return bad


# --------------------------------------------------------------------------------------
# real ansible runs
# --------------------------------------------------------------------------------------
def ansible_env(extra=None):
    """The environment of an ``ansible`` / ``ansible-playbook`` run against this work tree."""
    env = dict(os.environ)
    for key in list(env):
        if key.startswith("ANSIBLE_"):
            del env[key]
    bindir = os.path.dirname(sys.executable)
    paths = [os.path.join(REPO, ".cache", "testbin"), bindir, env.get("PATH", "/usr/bin:/bin")]
    env.update(
        {
            "PATH": os.pathsep.join(paths),
            "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_CONFIG": os.path.join(COLLECTIONS, "ansible.cfg"),
            "ANSIBLE_LOCALHOST_WARNING": "False",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
            "ANSIBLE_DEPRECATION_WARNINGS": "False",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_GATHERING": "explicit",
        }
    )
    env.setdefault("CONTAINERS_CONF", os.path.join(REPO, "tools", "containers.conf"))
    env.update(extra or {})
    return env


def ansible_bin(name):
    return os.path.join(os.path.dirname(sys.executable), name)


def adhoc_argv(module, args, verbosity=0):
    """argv of an ad-hoc run on localhost; ``args`` a dict, passed as JSON (no quoting games)."""
    argv = [ansible_bin("ansible"), "localhost", "-c", "local", "-m", "terok.lifecycle." + module,
            "-a", json.dumps(args)]
    if verbosity:
        argv.append("-" + "v" * verbosity)
    return argv


_ADHOC_RE = re.compile(r"^localhost \| (?P<status>[A-Z!]+) => (?P<json>\{.*)", re.S | re.M)


class AdhocResult(object):
    def __init__(self, proc_rc, stdout, stderr):
        self.rc = proc_rc
        self.stdout = stdout
        self.stderr = stderr
        match = _ADHOC_RE.search(stdout)
        self.status = match.group("status") if match else None
        self.result = {}
        if match:
            text = match.group("json")
            self.result = json.JSONDecoder().raw_decode(text)[0]
        self.warnings = [line[len("[WARNING]: "):] for line in stderr.splitlines() if line.startswith("[WARNING]: ")]

    @property
    def failed(self):
        return self.status == "FAILED!" or bool(self.result.get("failed"))

    @property
    def output(self):
        return self.stdout + self.stderr

    def __repr__(self):
        return "AdhocResult(rc=%s, status=%s, result=%s, stderr=%s)" % (
            self.rc, self.status, json.dumps(self.result)[:3000], self.stderr[-3000:])


def crash_signs(result):
    """Why a module result looks like an unhandled exception rather than a fail_json; None if clean.

    ansible-core 2.19 reports an exception that escaped the module as a failure whose msg starts
    with "Task failed: Module failed:" (the exception text follows); a fail_json msg is the
    module's own text.
    """
    msg = str(result.get("msg", ""))
    if "module_stderr" in result or "MODULE FAILURE" in msg:
        return "the module crashed: %s" % result.get("module_stderr", msg)[:1500]
    if msg.startswith("Task failed: Module failed:"):
        return "an exception escaped the module: %s" % msg[:1500]
    if "Traceback (most recent call last)" in json.dumps(result):
        return "a traceback is in the result"
    return None


def adhoc_popen(module, args, env=None, verbosity=0, umask=None):
    preexec = (lambda: os.umask(umask)) if umask is not None else None
    return subprocess.Popen(  # pylint: disable=subprocess-popen-preexec-fn
        adhoc_argv(module, args, verbosity), env=env or ansible_env(), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, cwd=HERE, preexec_fn=preexec,
    )


def adhoc(module, args, env=None, verbosity=0, timeout=180, umask=None):
    """Run ``ansible localhost -m terok.lifecycle.<module> -a <args>``; return an AdhocResult."""
    proc = adhoc_popen(module, args, env, verbosity, umask)
    out, err = proc.communicate(timeout=timeout)
    count("real ansible runs")
    return AdhocResult(proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


def adhoc_collect(proc, timeout=240):
    out, err = proc.communicate(timeout=timeout)
    count("real ansible runs")
    return AdhocResult(proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


def playbook_popen(path, env=None, verbosity=0, umask=None, extra_vars=None):
    argv = [ansible_bin("ansible-playbook"), "-i", "localhost,", "-c", "local", path]
    if extra_vars:
        argv += ["-e", json.dumps(extra_vars)]
    if verbosity:
        argv.append("-" + "v" * verbosity)
    preexec = (lambda: os.umask(umask)) if umask is not None else None
    return subprocess.Popen(  # pylint: disable=subprocess-popen-preexec-fn
        argv, env=env or ansible_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=HERE,
        preexec_fn=preexec,
    )


def playbook(path, env=None, verbosity=0, umask=None, extra_vars=None, timeout=240):
    """Run a playbook; return (rc, stdout, stderr)."""
    proc = playbook_popen(path, env, verbosity, umask, extra_vars)
    out, err = proc.communicate(timeout=timeout)
    count("real ansible runs")
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def write_playbook(path, tasks, name="reliability"):
    """Write a one-play playbook (as JSON, which is YAML) on localhost."""
    play = [{"name": name, "hosts": "localhost", "gather_facts": False, "tasks": tasks}]
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(play, handle, indent=1)
    return path


def save_task(var, dest):
    """A playbook task that writes ``var`` (a registered result) as JSON to ``dest``."""
    return {
        "name": "save " + var,
        "ansible.builtin.copy": {"content": "{{ %s | to_json }}" % var, "dest": dest, "mode": "0600"},
    }
