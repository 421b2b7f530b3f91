# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The error boundary for a normal user: every module, run for real as the test user, on roots
it may not write or read, fails with a message naming the path, no traceback, nothing written.

The test user (``terok-test``, or ``$TEROK_TEST_USER``) is made by ``tools/test-user.sh``
(a step of ``tools/bootstrap.sh``). The modules run as that user through
``become: true, become_method: su`` with Debian's ``/usr/bin/python3`` (which has PyYAML from
python3-yaml): the user can read neither the project's venvs nor, on a clone under
``/root``, the work tree; the controller (root) ships the module code, so the user needs
neither. podman is the real one, rootless for the user (``executable: /usr/bin/podman``).

The cases, each a directory of its own under a fresh ``/tmp/terok-non-root-*`` (mode 0755, so
that the user reaches it; pytest's own tmp_path is 0700):

- ``missing``: option ``root`` inside a 0555 directory: the root is missing and cannot be made;
- ``read-only``: an existing root with task seed and task gone archived (made by root, so the
  archive entry is root's 0750/0640), then ``chmod -R a-w``;
- ``hidden``: a copy of that root at mode 0700, owned by root: the user cannot even look in;
- ``home``: no ``root`` option, ``TEROK_ROOT`` and every ``XDG_*`` unset, ``HOME`` a 0555
  directory: the default root ``$HOME/.local/share/terok`` cannot be made.

One playbook runs all the module calls (``ignore_errors``, registered, saved as JSON), so the
whole file costs two ansible-playbook runs (one as root to seed the roots).
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import time

import pytest

import _support as S

TEST_USER = os.environ.get("TEROK_TEST_USER", "terok-test")
SYSTEM_PYTHON = "/usr/bin/python3"
PROJECT = "demo"
CASES = ("missing", "read-only", "hidden", "home")

# the module calls of every case: (label, module, args); "seed" is a task the seeded roots hold
CALLS = (
    ("terok_task present", "terok_task", {"project": PROJECT, "name": "new-task"}),
    ("terok_task running", "terok_task", {"project": PROJECT, "name": "seed", "state": "running",
                                          "image": "localhost/terok-task:latest", "wait_ready": False}),
    ("terok_task stopped", "terok_task", {"project": PROJECT, "name": "seed", "state": "stopped"}),
    ("terok_task archived", "terok_task", {"project": PROJECT, "name": "seed", "state": "archived"}),
    ("terok_task absent", "terok_task", {"project": PROJECT, "name": "seed", "state": "absent"}),
    ("terok_tasks", "terok_tasks", {"tasks": [{"project": PROJECT, "name": "new-task"},
                                              {"project": PROJECT, "name": "seed", "state": "archived"}]}),
    ("terok_task_info", "terok_task_info", {"project": PROJECT, "include_archived": True}),
)

# Where a call may succeed: there is nothing to change or only reading is asked, and the user
# may do it. Every other (case, call) must fail. A call that fails must still be clean.
MAY_SUCCEED = {
    # the root does not exist: no task called seed exists, so stopped/archived/absent hold, and
    # the listing is empty
    ("missing", "terok_task stopped"), ("missing", "terok_task archived"),
    ("missing", "terok_task absent"), ("missing", "terok_task_info"),
    ("home", "terok_task stopped"), ("home", "terok_task archived"),
    ("home", "terok_task absent"), ("home", "terok_task_info"),
}
# Where a call must succeed: reading a root the user may read.
MUST_SUCCEED = {("read-only", "terok_task_info")}
# Where a call must fail for another reason than the root: archiving a task that is not there
# (the root is missing, so no task seed exists). Its message names the task, not a path.
NOT_FOUND = {("missing", "terok_task archived"), ("home", "terok_task archived")}
# what ansible-core 2.19 itself puts in every failed task result when tracebacks are not shown
NO_TRACEBACK = "(traceback unavailable)"


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
def tree_fingerprint(top):
    """{relative path: (type and mode, uid, gid, size, mtime_ns, sha256 of a file)} of ``top`` and below."""
    prints = {}

    def note(path):
        st = os.lstat(path)
        digest = None
        if stat.S_ISREG(st.st_mode):
            with open(path, "rb") as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()
        elif stat.S_ISLNK(st.st_mode):
            digest = os.readlink(path)
        prints[os.path.relpath(path, top)] = (oct(st.st_mode), st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, digest)

    note(top)
    for dirpath, dirnames, filenames in os.walk(top):
        for entry in dirnames + filenames:
            note(os.path.join(dirpath, entry))
    return prints


def fingerprint_changes(before, after):
    changes = []
    for rel in sorted(set(before) | set(after)):
        if before.get(rel) != after.get(rel):
            changes.append("%s: %s -> %s" % (rel, before.get(rel), after.get(rel)))
    return changes


def chmod_tree(top, drop):
    """``chmod -R`` removing the mode bits ``drop`` (never following a symlink)."""
    for dirpath, dirnames, filenames in os.walk(top):
        for entry in dirnames + filenames:
            path = os.path.join(dirpath, entry)
            st = os.lstat(path)
            if not stat.S_ISLNK(st.st_mode):
                os.chmod(path, stat.S_IMODE(st.st_mode) & ~drop)
    os.chmod(top, stat.S_IMODE(os.lstat(top).st_mode) & ~drop)


def run_env():
    """The controller's environment: ansible's from the suite, no TEROK_* and no XDG_* at all."""
    env = S.ansible_env()
    for key in list(env):
        if key.startswith(("TEROK_", "XDG_")):
            del env[key]
    return env


def write_play(path, plays):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(plays, handle, indent=1)
    return path


def run_playbook(path, env, cwd):
    argv = [S.ansible_bin("ansible-playbook"), "-i", "localhost,", "-c", "local", path]
    proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False,
                          timeout=300, cwd=cwd)
    S.count("real ansible runs")
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


def real_podman():
    for path in ("/usr/bin/podman", "/usr/local/bin/podman"):
        if os.access(path, os.X_OK):
            return path
    pytest.skip("podman is not installed")
    return None


# --------------------------------------------------------------------------------------
# the run: seed as root, break the roots, run every module as the user, fingerprint
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def non_root_run():
    if os.geteuid() != 0:
        pytest.skip("the non-root tests switch users: run them as root")
    try:
        user = pwd.getpwnam(TEST_USER)
    except KeyError:
        pytest.fail("the test user %s does not exist: run tools/test-user.sh (tools/bootstrap.sh does)" % TEST_USER)
    if subprocess.run([SYSTEM_PYTHON, "-c", "import yaml"], check=False).returncode != 0:
        pytest.fail("%s has no PyYAML: run tools/test-user.sh (it installs python3-yaml)" % SYSTEM_PYTHON)
    podman = real_podman()
    started = time.monotonic()

    base = tempfile.mkdtemp(prefix="terok-non-root-", dir="/tmp")
    os.chmod(base, 0o755)
    private = os.path.join(base, "private")  # the playbooks and results: root's only
    os.mkdir(private, 0o700)
    conf = os.path.join(base, "containers.conf")  # readable by the user, wherever the clone is
    shutil.copyfile(os.path.join(S.REPO, "tools", "containers.conf"), conf)
    os.chmod(conf, 0o644)
    env = run_env()
    env["CONTAINERS_CONF"] = conf

    dirs = {case: os.path.join(base, case) for case in CASES}
    for path in dirs.values():
        os.mkdir(path, 0o755)
    roots = {
        "missing": os.path.join(dirs["missing"], "locked", "root"),
        "read-only": os.path.join(dirs["read-only"], "root"),
        "hidden": os.path.join(dirs["hidden"], "root"),
        "home": None,
    }
    home = os.path.join(dirs["home"], "home")
    os.mkdir(home, 0o555)
    os.mkdir(os.path.dirname(roots["missing"]), 0o555)

    # seed a root as root (task seed, task gone archived), copy it for the hidden case
    common = {"root": roots["read-only"], "project": PROJECT, "executable": podman}
    seed_tasks = [
        {"terok.lifecycle.terok_task": dict(common, name="seed")},
        {"terok.lifecycle.terok_task": dict(common, name="gone")},
        {"terok.lifecycle.terok_task": dict(common, name="gone", state="archived")},
    ]
    seed = write_play(os.path.join(private, "seed.yml"), [
        {"name": "seed", "hosts": "localhost", "gather_facts": False, "tasks": seed_tasks}])
    rc, out, err = run_playbook(seed, env, base)
    assert rc == 0, "seeding the root as root failed:\n" + out + err
    shutil.copytree(roots["read-only"], roots["hidden"], symlinks=True)
    chmod_tree(roots["read-only"], 0o222)
    os.chmod(roots["hidden"], 0o700)

    # every module call as the user, results saved by root in one copy
    tasks, saved = [], {}
    for case in CASES:
        for number, (label, module, args) in enumerate(CALLS):
            args = dict(args, executable=podman)
            task_env = {"CONTAINERS_CONF": conf}
            if roots[case] is None:
                task_env["HOME"] = home
            else:
                args["root"] = roots[case]
            var = "r_%s_%d" % (case.replace("-", "_"), number)
            saved["%s/%s" % (case, label)] = var
            tasks.append({
                "name": "%s: %s" % (case, label),
                "terok.lifecycle." + module: args,
                "environment": task_env,
                "become": True,
                "become_user": TEST_USER,
                "become_method": "su",
                "register": var,
                "ignore_errors": True,
            })
    results_path = os.path.join(private, "results.json")
    mapping = ", ".join("%s: %s" % (json.dumps(key), var) for key, var in saved.items())
    tasks.append({"name": "save the results", "become": False, "ansible.builtin.copy": {
        "content": "{{ {%s} | to_json }}" % mapping, "dest": results_path, "mode": "0600"}})
    book = write_play(os.path.join(private, "non-root.yml"), [{
        "name": "every module as %s" % TEST_USER, "hosts": "localhost", "gather_facts": False,
        "vars": {"ansible_python_interpreter": SYSTEM_PYTHON}, "tasks": tasks}])

    before = {case: tree_fingerprint(path) for case, path in dirs.items()}
    user_started = time.monotonic()
    rc, out, err = run_playbook(book, env, base)
    user_seconds = time.monotonic() - user_started
    after = {case: tree_fingerprint(path) for case, path in dirs.items()}
    results = {}
    if os.path.exists(results_path):
        with open(results_path, encoding="utf-8") as handle:
            results = json.load(handle)
    S.count("non-root: module runs as %s" % TEST_USER, len(CASES) * len(CALLS))
    S.count("non-root: seconds of the playbook as %s" % TEST_USER, round(user_seconds, 1))

    yield {
        "user": user, "base": base, "dirs": dirs, "roots": roots, "home": home, "results": results,
        "changes": {case: fingerprint_changes(before[case], after[case]) for case in CASES},
        "rc": rc, "output": out + err, "seconds": time.monotonic() - started,
    }
    for path in dirs.values():  # root removes what it made, read-only or not
        for dirpath, dirnames, _filenames in os.walk(path):
            for entry in dirnames:
                sub = os.path.join(dirpath, entry)
                if not os.path.islink(sub):
                    os.chmod(sub, 0o755)
    shutil.rmtree(base, ignore_errors=True)


def fault_dir(run, case):
    """The directory the path at fault lies in (or is): the 0555 parent, the root, the HOME."""
    if case == "home":
        return run["home"]
    if case == "missing":
        return os.path.dirname(run["roots"][case])
    return run["roots"][case]


DESCRIBED = ("failed", "changed", "msg", "path", "option", "warnings", "exception", "module_stderr")


def describe(result):
    return json.dumps({key: result[key] for key in DESCRIBED if key in result})[:3000]


# --------------------------------------------------------------------------------------
# the tests
# --------------------------------------------------------------------------------------
def test_the_playbook_ran_every_call_and_printed_no_traceback(non_root_run):
    run = non_root_run
    assert run["results"], "the playbook saved no results (rc %s):\n%s" % (run["rc"], run["output"][-6000:])
    missing = ["%s/%s" % (case, label) for case in CASES for label, _m, _a in CALLS
               if "%s/%s" % (case, label) not in run["results"]]
    assert missing == [], "no result for %s" % missing
    assert "Traceback (most recent call last)" not in run["output"], run["output"][-6000:]
    assert run["rc"] == 0, "the playbook failed outside the ignored tasks:\n" + run["output"][-6000:]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("label", [label for label, _m, _a in CALLS])
def test_each_module_fails_cleanly_naming_the_path(non_root_run, case, label):
    result = non_root_run["results"].get("%s/%s" % (case, label))
    assert result is not None, "no result saved for %s/%s" % (case, label)
    crash = S.crash_signs(result)
    assert crash is None, "%s/%s: %s\n%s" % (case, label, crash, describe(result))
    assert result.get("exception", NO_TRACEBACK) == NO_TRACEBACK, describe(result)
    assert "Traceback" not in json.dumps(result), describe(result)
    failed = bool(result.get("failed"))
    key = (case, label)
    if key in NOT_FOUND:
        assert failed and "nothing to archive" in result.get("msg", ""), describe(result)
        return
    if key in MUST_SUCCEED:
        assert not failed, "%s/%s: the user may read this root, yet it failed: %s" % (case, label, describe(result))
    elif key not in MAY_SUCCEED:
        assert failed, "%s/%s: succeeded where the user may not write: %s" % (case, label, describe(result))
    if failed:
        where = fault_dir(non_root_run, case)
        named = [p for p in (result.get("path"), result.get("msg")) if isinstance(p, str) and where in p]
        assert named, "%s/%s: neither msg nor path names a path in %s: %s" % (case, label, where, describe(result))
    else:
        assert not result.get("changed"), "%s/%s: changed on a root the user may not write: %s" % (
            case, label, describe(result))


@pytest.mark.parametrize("case", CASES)
def test_nothing_is_written(non_root_run, case):
    assert non_root_run["changes"][case] == [], "\n".join(non_root_run["changes"][case])


def test_a_failure_result_carries_the_path(non_root_run):
    """Where run_module knows the path at fault it returns it as ``path``, not only in ``msg``."""
    without = []
    for case in CASES:
        for label, _module, _args in CALLS:
            result = non_root_run["results"].get("%s/%s" % (case, label)) or {}
            if result.get("failed") and not result.get("path") and (case, label) not in NOT_FOUND:
                without.append("%s/%s: %s" % (case, label, describe(result)))
    assert without == [], "\n".join(without)


def test_the_read_only_root_is_listed_as_it_is(non_root_run):
    """terok_task_info lists a root the user may read but not write; the archive entry, root's
    0750 directory with a 0640 task.json, it may not read: a warning naming that file."""
    result = non_root_run["results"].get("read-only/terok_task_info") or {}
    names = sorted(task.get("name") for task in result.get("tasks", []))
    assert names == ["seed"], describe(result)
    archive = os.path.join(non_root_run["roots"]["read-only"], "archive", PROJECT, "tasks")
    assert result.get("archived") == [], describe(result)
    assert [w for w in result.get("warnings", []) if archive in w and "task.json" in w], describe(result)
