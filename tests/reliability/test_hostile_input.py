# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile input: bad ids, names, projects and roots; symlinks; malformed metadata.

The promise: bad options fail with a clear message naming the option and write nothing;
nothing outside the state root is ever read as a task, written or deleted (a canary
directory outside is fingerprinted before and after, and shaped like a state tree so that a
read through a symlink shows up); malformed metadata is a warning about that one task.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

import _support as S
from _support import CANARY_ID, CANARY_TEXT

CYRILLIC_A = "\u0430"  # looks like a
CYRILLIC_O = "\u043e"  # looks like o
FULLWIDTH = "\uff46\uff49\uff58"  # fix in fullwidth letters

# option -> values that must be refused with a TerokError naming that option
BAD_VALUES = {
    "project": [
        "..", ".", "../evil", "a/b", "/abs", "a\x00b", "a\nb", "demo\n", "\ndemo", "-rf", "--help", "-",
        "", " demo", "demo ", "de mo", "Demo", "default", "dem" + CYRILLIC_O, "\uff44\uff45\uff4d\uff4f",
        "dem\u200bo", "de$(id)", "de;rm", "de`id`", "_demo", "a" * 256, "a" * 10000,
    ],
    "name": [
        "", "   ", "..", "/", "../..", "-rf", "--", "-", " -x", "a\x00b", "\x00", "\u540d\u524d", FULLWIDTH,
        "$(;)", "///", "\n", "\t", "--x", "- x",
    ],
    "task_id": [
        "", "..", "../x", "g0aaa/..", "g0aa", "g0aaaa", "G0AAA", "g0aaa\n", "\ng0aaa", "g0aai", "a0aaa",
        "g0" + CYRILLIC_A + "aa", "\uff470aaa", "-g0aa", "g0a a", "g\x000aa", "x" * 1000, "g\u0660aaa",
        "g0aaa ", "g0aa/", "h1..1",
    ],
}
# names that are legal once normalised as terok normalises them: they must come out safe
NORMALISED_NAMES = [
    "../../etc/passwd", "a/b", "a\nb", "x" * 10000, "fix-" + CYRILLIC_A + "uth", "Fix Auth", "\u212a", "\u0130stanbul",
    "fix\u202eevil", "$(touch pwned)", "`id`", "a;b", ".hidden", "name.with.dots", "x--", "_x", "\u00e9t\u00e9",
]


class Scene(object):
    """A state root with a task that ran (its container listed), a second task and an archived one."""

    def __init__(self, base, canary):
        self.canary = canary
        self.root = os.path.join(base, "root")
        self.runner = S.FakePodman()
        self.victim = S.create(self.root, "demo", "victim", self.runner)
        self.second = S.create(self.root, "demo", "second", self.runner)
        old = S.create(self.root, "demo", "old", self.runner)
        self.entry = S.converge_one(S.runtime(self.root), S.spec(project="demo", task_id=old, state="archived")
                                    ).task["archive_path"]
        with open(os.path.join(S.meta_dir(self.root, "demo"), self.victim + "_meta.yml"), "a", encoding="utf-8") as handle:
            handle.write("mode: cli\n")
        task_dir = os.path.join(S.tasks_root(self.root, "demo"), self.victim)
        os.makedirs(os.path.join(task_dir, "logs"))
        with open(os.path.join(task_dir, "logs", "container.log"), "w", encoding="utf-8") as handle:
            handle.write("an earlier log\n")
        os.makedirs(os.path.join(task_dir, "agent-config"))
        with open(os.path.join(task_dir, "agent-config", "work-status.yml"), "w", encoding="utf-8") as handle:
            handle.write("status: working\n")
        self.runner.containers["demo-cli-" + self.victim] = {"State": "exited", "ExitCode": 0}
        self.results = []
        self.crashes = []

    def path(self, rel):
        return os.path.join(self.root, rel.replace("<victim>", self.victim).replace("<entry>", os.path.basename(self.entry)))

    def replace_with_symlink(self, rel, target):
        path = self.path(rel)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.unlink(path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.symlink(os.path.join(self.canary.path, target), path)

    def attempt(self, label, func):
        """Run one operation; a TerokError is a fine answer, anything else is a crash."""
        try:
            value = func()
        except S.TerokError as exc:
            value = {"refused": exc.msg}
        except Exception as exc:  # pylint: disable=broad-except
            self.crashes.append("%s: %s: %s" % (label, type(exc).__name__, exc))
            return
        self.results.append((label, value))

    def run_everything(self):
        """Every operation a playbook could run against this root."""
        def listing(**query):
            tasks, archived, warnings = S.list_all(self.root, self.runner, include_archived=True, **query)
            return {"tasks": tasks, "archived": archived, "warnings": warnings}

        def converge(**params):
            rt = S.runtime(self.root, self.runner)
            outcome = S.converge_one(rt, S.spec(**params))
            return {"task": outcome.task, "diff": outcome.diff, "warnings": rt.warnings}

        self.attempt("list all", listing)
        self.attempt("list demo", lambda: listing(project="demo"))
        self.attempt("create fresh", lambda: converge(project="demo", name="fresh"))
        self.attempt("present victim", lambda: converge(project="demo", name="victim"))
        self.attempt("rename victim", lambda: converge(project="demo", task_id=self.victim, name="victim-2"))
        self.attempt("stop victim", lambda: converge(project="demo", task_id=self.victim, state="stopped"))
        # its container was made from other options: recreate it, a fresh `podman run`
        self.attempt("run victim", lambda: converge(project="demo", task_id=self.victim, state="running",
                                                    image="localhost/terok-task:latest", wait_ready=False,
                                                    recreate=True))
        self.attempt("absent victim", lambda: converge(project="demo", task_id=self.victim, state="absent"))
        self.attempt("archive second", lambda: converge(project="demo", task_id=self.second, state="archived"))
        self.attempt("archived old", lambda: converge(project="demo", name="old", state="archived"))
        self.attempt("list again", listing)

    def leaks(self):
        """Results that carry something read from the canary; files in the root that copied it."""
        found = []
        for label, value in self.results:
            text = json.dumps(value, default=str)
            if CANARY_ID in text or CANARY_TEXT in text:
                found.append("%s returned canary data: %s" % (label, text[:600]))
        for dirpath, _dirnames, filenames in os.walk(self.root):
            for entry in filenames:
                path = os.path.join(dirpath, entry)
                if not os.path.islink(path) and os.path.isfile(path) and CANARY_TEXT.encode() in S.read_bytes(path):
                    found.append("%s holds data read from outside the root" % path)
        return found

    def outside_mounts(self):
        """Bind mounts of podman run calls whose source resolved outside the state root."""
        real_root = os.path.realpath(self.root)
        return ["%s was mounted into a container; its source is %s" % (volume, source)
                for volume, source in self.runner.mounts if not source.startswith(real_root + os.sep)]


# (replaced path, canary part it now points to)
SYMLINK_SCENES = [
    ("core", ""),
    ("core/projects", "projects"),
    ("core/projects/demo", "projects/demo"),
    ("core/projects/demo/tasks", "projects/demo/tasks"),
    ("sandbox-live", ""),
    ("sandbox-live/tasks", "tasks"),
    ("sandbox-live/tasks/demo", "tasks/demo"),
    ("sandbox-live/tasks/demo/<victim>", ""),
    ("sandbox-live/tasks/demo/<victim>/workspace-dangerous", "workspace-dangerous"),
    ("sandbox-live/tasks/demo/<victim>/logs", "logs"),
    ("sandbox-live/tasks/demo/<victim>/agent-config", ""),
    ("sandbox-live/tasks/demo/<victim>/agent-config/work-status.yml", "work-status.yml"),
    ("archive", ""),
    ("archive/demo", "demo"),
    ("archive/demo/tasks", "demo/tasks"),
    ("archive/demo/tasks/<entry>", "demo/tasks/20200101T000000000000Z_%s_canary" % CANARY_ID),
    ("archive/demo/tasks/<entry>/task.json", "demo/tasks/20200101T000000000000Z_%s_canary/task.json" % CANARY_ID),
    ("core/projects/demo/tasks/<victim>_meta.yml", "secret.yml"),
    ("core/projects/demo/tasks/<victim>_dossier.json", "secret.json"),
]


@pytest.mark.parametrize("replaced,target", SYMLINK_SCENES, ids=[s[0].replace("/", "|") for s in SYMLINK_SCENES])
def test_a_symlink_inside_the_root_never_reaches_outside(shm_tmp, canary, replaced, target):
    scene = Scene(shm_tmp, canary)
    scene.replace_with_symlink(replaced, target)
    canary.before = S.fingerprint(canary.path)
    scene.run_everything()
    S.count("hostile inputs tried")
    problems = ["crash: " + c for c in scene.crashes]
    problems += ["written or deleted outside the root: " + c for c in canary.changes()]
    problems += scene.leaks()
    problems += scene.outside_mounts()
    assert problems == [], "\n".join(problems)


def test_a_symlinked_state_root_is_the_operators_choice(shm_tmp, canary):
    """The root option itself may be a symlink (/var/lib/terok -> /srv/terok): all goes to its target."""
    target = os.path.join(shm_tmp, "real-root")
    os.makedirs(target)
    link = os.path.join(shm_tmp, "root-link")
    os.symlink(target, link)
    task_id = S.create(link, "demo", "through-link")
    S.count("hostile inputs tried")
    assert S.metadata_ids(target, "demo") == {task_id}
    assert canary.changes() == []


# --------------------------------------------------------------------------------------
# bad option values
# --------------------------------------------------------------------------------------
def _bad_value_cases():
    for option, values in BAD_VALUES.items():
        for value in values:
            yield option, value


@pytest.mark.parametrize("option", list(BAD_VALUES))
def test_bad_option_values_are_refused_naming_the_option(shm_tmp, canary, option):
    root = os.path.join(shm_tmp, "root")
    existing = S.create(root, "demo", "existing")
    before = S.fingerprint(root)
    problems = []
    for value in BAD_VALUES[option]:
        S.count("hostile inputs tried")
        for state in ("present", "archived"):
            params = {"project": "demo", "name": "ok-name", "state": state}
            params[option] = value
            if option == "task_id":
                params.pop("name")
            try:
                S.converge_one(S.runtime(root), S.Spec.from_params(params))
            except S.TerokError as exc:
                if exc.option != option:
                    problems.append("%s=%r (%s): error names option %r: %s" % (option, value, state, exc.option, exc.msg))
                continue
            except Exception as exc:  # pylint: disable=broad-except
                problems.append("%s=%r (%s): crashed with %s: %s" % (option, value[:80], state, type(exc).__name__, exc))
                continue
            problems.append("%s=%r (%s) was accepted" % (option, value[:80], state))
        # the info module's filters take the same rules
        try:
            S.list_all(root, **{option: value})
            problems.append("info filter %s=%r was accepted" % (option, value[:80]))
        except S.TerokError:
            pass
        except Exception as exc:  # pylint: disable=broad-except
            problems.append("info filter %s=%r crashed: %s: %s" % (option, value[:80], type(exc).__name__, exc))
    assert problems == []
    assert S.fingerprint_diff(before, S.fingerprint(root)) == [], "a refused request wrote something"
    assert S.metadata_ids(root, "demo") == {existing}
    assert canary.changes() == []


def test_names_are_normalised_into_safe_path_components(shm_tmp, canary):
    root = os.path.join(shm_tmp, "root")
    problems = []
    for value in NORMALISED_NAMES:
        S.count("hostile inputs tried")
        outcome = S.converge_one(S.runtime(root), S.spec(project="demo", name=value))
        name = outcome.task["name"]
        if not S.re.fullmatch(r"[a-z0-9_][a-z0-9_-]{0,59}", name) or name.endswith("-"):
            problems.append("%r became the unsafe name %r" % (value, name))
        archived = S.converge_one(S.runtime(root), S.spec(project="demo", name=value, state="archived"))
        entry = archived.task["archive_path"]
        if os.path.dirname(entry) != S.archive_dir(root, "demo") or not os.path.basename(entry).endswith("_" + name):
            problems.append("%r archived to %s" % (value, entry))
    assert problems == []
    assert canary.changes() == []
    escaped = [p for p in os.listdir(shm_tmp) if p not in ("root",)]
    assert escaped == [], "something was written beside the root: %s" % escaped


ROOT_VALUES = ["relative/root", "-rf", "--root=/tmp", " /leading-space", "~nosuchuser/terok", "/tmp/a\x00b", "", "  "]


def test_bad_roots_are_refused_and_never_fall_back_to_the_default_root(shm_tmp, canary):
    """A root that is empty, relative or has a NUL fails clearly; it never falls back elsewhere."""
    fallback = os.path.join(shm_tmp, "fallback")

    def attempt(value):
        os.environ["TEROK_ROOT"] = fallback  # where a silent fallback would write
        os.environ["HOME"] = fallback
        os.chdir(shm_tmp)
        try:
            S.converge_one(S.runtime(value), S.spec(project="demo", name="x"))
        except S.TerokError as exc:
            return {"refused": exc.msg}
        return {"accepted": True}

    problems = []
    for value in ROOT_VALUES:
        S.count("hostile inputs tried")
        kind, result = S.run_in_child(lambda value=value: attempt(value))
        if kind != "ok" or "refused" not in result:
            problems.append("root=%r: %s %s" % (value, kind, result))
        elif "root" not in result["refused"]:
            problems.append("root=%r refused without naming root: %s" % (value, result["refused"]))
    assert problems == []
    leftovers = sorted(os.listdir(shm_tmp))
    assert leftovers == [], "a refused root wrote %s" % leftovers
    assert canary.changes() == []


def test_bad_input_through_real_modules_fails_cleanly(tmp_path, canary):
    """The same through ansible-playbook: every item fails with a message, never a traceback."""
    root = str(tmp_path / "root")
    cases = [
        ("terok_task", {"project": "../evil", "name": "x"}, "project"),
        ("terok_task", {"project": "dem" + CYRILLIC_O, "name": "x"}, "project"),
        ("terok_task", {"project": "a" * 300, "name": "x"}, "project"),
        ("terok_task", {"project": "demo", "name": "-rf"}, "name"),
        ("terok_task", {"project": "demo", "name": FULLWIDTH}, "name"),
        ("terok_task", {"project": "demo", "task_id": "../x"}, "task_id"),
        ("terok_task", {"project": "demo", "task_id": "g0" + CYRILLIC_A + "aa", "state": "absent"}, "task_id"),
        ("terok_task", {"project": "demo", "name": "x", "root": "relative/root"}, "root"),
        ("terok_task", {"project": "demo", "name": "x", "state": "running", "image": "--privileged"}, "image"),
        ("terok_task", {"project": "demo", "name": "x", "state": "running", "image": "img",
                        "volumes": ["--privileged"]}, "volumes"),
        ("terok_task", {"project": "demo", "name": "x", "state": "running", "image": "img",
                        "env": {"PATH;rm": "x"}}, "env"),
        ("terok_tasks", {"tasks": [{"project": "demo", "name": "fine"}, {"project": "../x", "name": "x"}]},
         "tasks[1].project"),
        ("terok_task_info", {"task_id": "../../x"}, "task_id"),
    ]
    tasks = []
    for index, (module, args, _option) in enumerate(cases):
        args = dict(args)
        args.setdefault("root", root)
        tasks.append({"name": "case %d" % index, "terok.lifecycle." + module: args, "register": "r%d" % index,
                      "ignore_errors": True})
    out = str(tmp_path / "results.json")
    tasks.append({"name": "save", "ansible.builtin.copy": {
        "content": "{{ [%s] | to_json }}" % ", ".join("r%d" % i for i in range(len(cases))), "dest": out, "mode": "0600"}})
    book = S.write_playbook(str(tmp_path / "hostile.yml"), tasks)
    rc, stdout, stderr = S.playbook(book)
    assert rc == 0, stdout + stderr
    with open(out, encoding="utf-8") as handle:
        results = json.load(handle)
    problems = []
    for (module, args, option), result in zip(cases, results):
        S.count("hostile inputs tried")
        label = "%s %s" % (module, json.dumps(args)[:120])
        if not result.get("failed"):
            problems.append("%s was accepted" % label)
            continue
        msg = result.get("msg", "")
        crash = S.crash_signs(result)
        if crash:
            problems.append("%s: %s" % (label, crash))
        elif not msg.startswith(option + " "):
            problems.append("%s: message does not start with the option %s: %s" % (label, option, msg))
    assert problems == []
    assert "Traceback" not in stdout + stderr
    assert not os.path.exists(root) or S.metadata_ids(root, "demo") == set(), "a refused request created a task"
    assert canary.changes() == []


# --------------------------------------------------------------------------------------
# malformed metadata
# --------------------------------------------------------------------------------------
HUGE = b"k: v\n" * 300000  # 1.5 MB
MALFORMED = [
    # (file, label, content or a special kind)
    ("meta", "invalid YAML", b"mode: [unclosed\n"),
    ("meta", "a YAML list", b"- a\n- b\n"),
    ("meta", "a YAML scalar", b"42\n"),
    ("meta", "a YAML string", b"just some text\n"),
    ("meta", "binary", b"\xff\xfe\x00\x01\x80"),
    ("meta", "a python tag", b"!!python/object/apply:os.system ['touch /tmp/terok-pwned']\n"),
    ("meta", "over 1 MB", HUGE),
    ("meta", "a directory", "dir"),
    ("meta", "a FIFO", "fifo"),
    ("meta", "a dangling symlink", "dangling"),
    ("dossier", "invalid JSON", b"{bad"),
    ("dossier", "a JSON list", b"[]"),
    ("dossier", "JSON null", b"null"),
    ("dossier", "a JSON string", b"\"str\""),
    ("dossier", "binary", b"\xff\xfe\x00"),
    ("dossier", "over 1 MB", b"[" + b"1," * 600000 + b"1]"),
    ("dossier", "a directory", "dir"),
    ("dossier", "a FIFO", "fifo"),
    ("task.json", "invalid JSON", b"{bad"),
    ("task.json", "a JSON list", b"[1, 2]"),
    ("task.json", "JSON null", b"null"),
    ("task.json", "binary", b"\xff\xfe\x00"),
    ("task.json", "a directory", "dir"),
    ("task.json", "a FIFO", "fifo"),
]


def _corrupt(path, content):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)
    if content == "dir":
        os.mkdir(path)
    elif content == "fifo":
        os.mkfifo(path)
    elif content == "dangling":
        os.symlink(path + ".nowhere", path)
    else:
        with open(path, "wb") as handle:
            handle.write(content)


@pytest.mark.parametrize("which,label,content", MALFORMED, ids=["%s: %s" % (m[0], m[1]) for m in MALFORMED])
def test_malformed_metadata_is_a_warning_about_that_task(shm_tmp, which, label, content):
    S.count("hostile inputs tried")
    root = os.path.join(shm_tmp, "root")
    good = [S.create(root, "demo", "good-%d" % i) for i in range(2)]
    bad = S.create(root, "demo", "bad")
    kept = S.create(root, "demo", "archived-fine")
    fine_entry = S.converge_one(S.runtime(root), S.spec(project="demo", task_id=kept, state="archived")).task["archive_path"]
    if which == "task.json":
        entry = S.converge_one(S.runtime(root), S.spec(project="demo", task_id=bad, state="archived")).task["archive_path"]
        target = os.path.join(entry, "task.json")
        name_in_warning = os.path.basename(entry)
    else:
        target = os.path.join(S.meta_dir(root, "demo"), bad + ("_meta.yml" if which == "meta" else "_dossier.json"))
        name_in_warning = bad
    _corrupt(target, content)

    def look():
        tasks, archived, warnings = S.list_all(root, include_archived=True)
        return {"tasks": [t["task_id"] for t in tasks], "archived": [a["archive_path"] for a in archived],
                "warnings": warnings}

    kind, result = S.run_in_child(look, timeout=4)
    assert kind == "ok", "the listing did not survive %s %s: %s %s" % (which, label, kind, result)
    assert sorted(result["tasks"]) == sorted(good), "the malformed task was listed as if it were whole"
    assert fine_entry in result["archived"], "one bad archive entry hid the others"
    assert any(name_in_warning in w for w in result["warnings"]), (
        "no warning names the malformed %s (%s): %s" % (which, label, result["warnings"]))
    if which != "task.json":
        # the task's own operations refuse clearly; the other tasks still work
        for state in ("present", "absent", "archived"):
            kind, outcome = S.run_in_child(lambda state=state: S.converge_one(
                S.runtime(root), S.spec(project="demo", task_id=bad, state=state)).changed, timeout=10)
            assert kind == "terok_error" and bad in outcome["terok_error"], (state, kind, outcome)
        assert os.path.isdir(os.path.join(S.tasks_root(root, "demo"), bad)), "an unreadable task was removed"
        kind, outcome = S.run_in_child(lambda: S.converge_one(
            S.runtime(root), S.spec(project="demo", task_id=good[0], name="renamed")).changed, timeout=10)
        assert (kind, outcome) == ("ok", True)


@pytest.mark.parametrize("which", ["meta", "dossier"])
def test_empty_metadata_reads_as_terok_reads_it(shm_tmp, which):
    """An empty file reads as an empty mapping (terok does the same); the task is listed."""
    S.count("hostile inputs tried")
    root = os.path.join(shm_tmp, "root")
    task_id = S.create(root, "demo", "empty")
    _corrupt(os.path.join(S.meta_dir(root, "demo"), task_id + ("_meta.yml" if which == "meta" else "_dossier.json")), b"")
    tasks, _archived, warnings = S.list_all(root)
    assert [t["task_id"] for t in tasks] == [task_id] and warnings == []


def test_stray_files_in_the_metadata_directory_are_not_tasks(shm_tmp):
    root = os.path.join(shm_tmp, "root")
    task_id = S.create(root, "demo", "real")
    mdir = S.meta_dir(root, "demo")
    strays = ["G0AAA_meta.yml", "g0aaa_meta.yml.bak", ".g0aaa_meta.yml.x1.tmp", "g0aai_meta.yml", "a0aaa_dossier.json",
              "g0aaa-meta.yml", "g0aaa_meta.yml~", "_meta.yml", "..", "g0aaaa_meta.yml"]
    for stray in strays:
        S.count("hostile inputs tried")
        if stray in ("..",):
            continue
        with open(os.path.join(mdir, stray), "w", encoding="utf-8") as handle:
            handle.write("mode: cli\n")
    os.makedirs(os.path.join(S.tasks_root(root, "demo"), "not-an-id"))
    tasks, _archived, warnings = S.list_all(root)
    assert [t["task_id"] for t in tasks] == [task_id] and warnings == []
