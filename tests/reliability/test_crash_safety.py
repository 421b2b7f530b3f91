# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""kill -9 during create, rename, archive and delete: what is left is readable and recoverable.

The library runs in a forked child (the same code a module runs; no hook in product code)
converging a list of tasks at once (``converge_many``, to widen the window) or one task
(``converge_one``). The child is SIGKILLed after a delay that steps through the time an
uninterrupted run takes, so the kills land all over the operation. After every kill:

- the listing reads every task without error, and lists no temp file or orphan as a task;
- no file is half-written (a ``.*.tmp`` temp file may remain);
- a task that lost its workspace still has its metadata or an archive entry (archived/absent);
- a rerun converges to what was asked, a second rerun is ``ok``, and no orphan is left.

The campaign runs once per module (it is the expensive part); each test checks one of the
promises over every kill point.
"""

from __future__ import annotations

import collections
import json
import os
import random
import re
import shutil
import signal
import stat
import time

import pytest

import _support as S

N_SPECS = 30
POINTS = {"create": 55, "rename": 40, "archive": 55, "delete": 45, "create-one": 25, "archive-one": 25}
# kills that must land mid-operation (the tree neither as before nor as after) for a campaign to count
MIN_MID = {"create": 10, "rename": 5, "archive": 10, "delete": 8, "create-one": 3, "archive-one": 3}
PROJECT = "demo"
_STAMP = re.compile(r"\d{8}T\d{12}Z")


def _items(op, ids):
    if op == "create":
        return [{"project": PROJECT, "name": "c%02d" % i} for i in range(N_SPECS)]
    if op == "create-one":
        return [{"project": PROJECT, "name": "c00"}]
    if op == "rename":
        return [{"project": PROJECT, "task_id": tid, "name": "r%02d" % i} for i, tid in enumerate(ids)]
    if op in ("archive", "archive-one"):
        return [{"project": PROJECT, "task_id": tid, "state": "archived"} for tid in ids]
    if op == "delete":
        return [{"project": PROJECT, "task_id": tid, "state": "absent"} for tid in ids]
    raise AssertionError(op)


class Template(object):
    """A state root to copy before each kill: bystander tasks, and the tasks the op works on."""

    def __init__(self, base, op):
        self.op = op
        self.root = os.path.join(base, "template-" + op)
        # tasks that no op touches; one made "by terok" with keys the collection does not know
        self.bystanders = [S.create(self.root, PROJECT, "keep-%d" % i) for i in range(2)]
        self.bystanders.append(S.create(self.root, "other", "keep-other"))
        with open(os.path.join(S.meta_dir(self.root, PROJECT), self.bystanders[0] + "_meta.yml"), "a",
                  encoding="utf-8") as handle:
            handle.write("agent: claude\nunrestricted: true\n")
        self.ids = []
        count = 0 if op.startswith("create") else (1 if op.endswith("-one") else N_SPECS)
        for i in range(count):
            task_id = S.create(self.root, PROJECT, "c%02d" % i)
            # the task ran in mode cli: its container is listed, its log is captured on removal
            path = os.path.join(S.meta_dir(self.root, PROJECT), task_id + "_meta.yml")
            with open(path, "a", encoding="utf-8") as handle:
                handle.write("mode: cli\nready_at: '2026-11-28T00:00:00+00:00'\n")
            self.ids.append(task_id)
        self.items = _items(op, self.ids)
        self.files = S.fingerprint(self.root)

    def containers(self):
        return {"%s-cli-%s" % (PROJECT, tid): {"State": "exited", "ExitCode": 0} for tid in self.ids}

    def runner(self):
        return S.FakePodman(self.containers(), logs="2026-11-28T00:00:00Z the agent said hello\n" * 20)

    def converge(self, root):
        rt = S.runtime(root, self.runner(), lock_timeout=10)
        if self.op.endswith("-one"):
            outcome = S.converge_one(rt, S.Spec.from_params(self.items[0]))
            return [outcome.changed]
        result = S.converge_many(rt, S.specs_from_items(self.items, {}))
        return [task["changed"] for task in result.tasks]

    def copy(self, dest):
        shutil.copytree(self.root, dest, symlinks=True)
        return dest


def signature(root):
    """The shape of a tree, ids and stamps blanked out, with the names in the dossiers and the
    number of tasks marked ``deleting``: equal signatures mean equal progress."""
    shape = collections.Counter()
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in dirnames + filenames:
            rel = os.path.relpath(os.path.join(dirpath, entry), root)
            rel = _STAMP.sub("<stamp>", S.ID_RE.sub("<id>", rel))
            if S.TEMP_RE.match(entry):
                rel = os.path.join(os.path.dirname(rel), "<tmp>")
            shape[rel] += 1
            if S.TEMP_RE.match(entry):
                continue
            try:
                if entry.endswith("_dossier.json"):
                    shape["name:%s" % json.loads(S.read_bytes(os.path.join(dirpath, entry))).get("name")] += 1
                elif entry.endswith("_meta.yml"):
                    shape["deleting"] += bool(S.load_yaml(S.read_bytes(os.path.join(dirpath, entry))).get("deleting"))
            except (ValueError, AttributeError, S.TerokError):
                shape["unreadable"] += 1
    return tuple(sorted(shape.items()))


def _observe(template, root):
    """What a reader finds right after the kill (before any rerun)."""
    found = {"listing_error": None, "unreadable": [], "half_written": [], "temps": 0, "listed_extra": [],
             "archive_violations": [], "half_tasks": []}
    tasks = []
    try:
        tasks, _archived, warnings = S.list_all(root, include_archived=True)
        found["unreadable"] = [w for w in warnings if "skipped" in w]
        listed = {(t["project"], t["task_id"]) for t in tasks}
        on_disk = {(p, tid) for p in (PROJECT, "other") for tid in S.metadata_ids(root, p)}
        found["listed_extra"] = sorted(listed - on_disk)
    except Exception as exc:  # pylint: disable=broad-except
        found["listing_error"] = "%s: %s" % (type(exc).__name__, exc)
    problems, temps = S.half_written(root)
    found["half_written"] = problems
    found["temps"] = len(temps)
    # a task the listing shows is whole: both metadata files (unless it is being removed)
    for task in tasks:
        dossier, meta = S.read_task_files(root, task["project"], task["task_id"])
        if task["status"] != "deleting" and (dossier is None or meta is None):
            found["half_tasks"].append("%s listed (status %s, name %r) with %s but no %s" % (
                task["task_id"], task["status"], task["name"], "_dossier.json" if dossier else "_meta.yml",
                "_meta.yml" if dossier else "_dossier.json"))
    if template.op in ("archive", "delete", "archive-one"):
        entries, _incomplete = S.archive_entries(root, PROJECT)
        live = S.metadata_ids(root, PROJECT)
        for task_id in template.ids:
            workspace = os.path.join(S.tasks_root(root, PROJECT), task_id, S.WORKSPACE)
            if not os.path.isdir(workspace) and task_id not in live and task_id not in entries:
                found["archive_violations"].append(task_id)
    return found


def _check_converged(template, root):
    """Problems with the state after a rerun: what was asked, bystanders untouched, no orphan."""
    problems = []
    names = S.names_on_disk(root, PROJECT)
    if template.op.startswith("create"):
        for item in template.items:
            carriers = [tid for tid, n in names.items() if n == item["name"]]
            if len(carriers) != 1:
                problems.append("%d tasks named %s" % (len(carriers), item["name"]))
                continue
            tid = carriers[0]
            dossier, meta = S.read_task_files(root, PROJECT, tid)
            if dossier is None or meta is None or meta.get("managed_by") != "terok.lifecycle" or "created_at" not in meta:
                problems.append("task %s (%s) has incomplete metadata: dossier=%r meta=%r" % (tid, item["name"], dossier, meta))
            workspace = os.path.join(S.tasks_root(root, PROJECT), tid, S.WORKSPACE)
            if not os.path.isdir(workspace) or stat.S_IMODE(os.stat(workspace).st_mode) != 0o700:
                problems.append("task %s has no workspace with mode 0700" % tid)
            elif S.read_bytes(os.path.join(workspace, S.MARKER)) != S.MARKER_TEXT.encode():
                problems.append("task %s has no whole marker" % tid)
            readme = os.path.join(S.tasks_root(root, PROJECT), tid, "README.md")
            if not os.path.isfile(readme) or S.read_bytes(readme) != S.README_TEXT.encode():
                problems.append("task %s has no whole README" % tid)
    elif template.op == "rename":
        for item in template.items:
            if names.get(item["task_id"]) != item["name"]:
                problems.append("task %s is named %r, not %r" % (item["task_id"], names.get(item["task_id"]), item["name"]))
    else:
        entries, _incomplete = S.archive_entries(root, PROJECT)
        for tid in template.ids:
            if tid in names:
                problems.append("task %s is still live" % tid)
            if os.path.lexists(os.path.join(S.tasks_root(root, PROJECT), tid)):
                problems.append("task %s still has its task directory" % tid)
            if not entries.get(tid):
                problems.append("task %s has no archive entry" % tid)
    after = S.fingerprint(root)
    for tid in template.bystanders:
        for rel, value in template.files.items():
            if tid in rel and after.get(rel) != value:
                problems.append("bystander file %s changed" % rel)
    return problems


def _orphans(root):
    problems = []
    for project in (PROJECT, "other"):
        meta_ids, dir_ids = S.metadata_ids(root, project), S.task_dir_ids(root, project)
        for tid in sorted(dir_ids - meta_ids):
            problems.append("orphan task directory %s/%s (no metadata)" % (project, tid))
        for tid in sorted(meta_ids - dir_ids):
            problems.append("task %s/%s has metadata but no task directory" % (project, tid))
        for tid in sorted(meta_ids):
            dossier, meta = S.read_task_files(root, project, tid)
            if dossier is None or meta is None:
                problems.append("task %s/%s has only %s" % (project, tid, "_meta.yml" if meta else "_dossier.json"))
    return problems


def _timed_run(template, root):
    started = time.monotonic()
    pid = S.fork_call(lambda: template.converge(root))
    _pid, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "an uninterrupted run failed"
    return time.monotonic() - started


def _campaign(base, op):
    template = Template(base, op)
    # how long an uninterrupted run takes; its end state is the shape after a complete run
    durations = []
    for i in range(3):
        root = template.copy(os.path.join(base, "calibrate-%s-%d" % (op, i)))
        durations.append(_timed_run(template, root))
        final_shape = signature(root)
        shutil.rmtree(root)
    duration = sorted(durations)[1]
    start_shape = signature(template.root)
    points = POINTS[op]
    records = []
    # delays that step through the run; on a busy machine the timing drifts, so more kills (at
    # random points of the run) follow until enough of them landed mid-operation
    delays = [duration * 1.1 * point / (points - 1) for point in range(points)]
    point = 0
    while point < len(delays):
        delay = delays[point]
        root = template.copy(os.path.join(base, "kill-%s-%d" % (op, point)))
        pid = S.fork_call(lambda root=root: template.converge(root))
        if delay:
            time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
        _pid, status = os.waitpid(pid, 0)
        record = {"op": op, "point": point, "delay_ms": round(delay * 1000, 3),
                  "killed": os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL}
        shape = signature(root)
        record["mid"] = record["killed"] and shape not in (start_shape, final_shape)
        record["shape"] = shape
        record.update(_observe(template, root))
        # the rerun, as a playbook run again after the kill would do it
        try:
            template.converge(root)
            record["rerun_error"] = None
        except Exception as exc:  # pylint: disable=broad-except
            record["rerun_error"] = "%s: %s" % (type(exc).__name__, getattr(exc, "msg", exc))
        record["not_converged"] = [] if record["rerun_error"] else _check_converged(template, root)
        try:
            record["rerun_changed"] = template.converge(root)
        except Exception as exc:  # pylint: disable=broad-except
            record["rerun_changed"] = ["%s: %s" % (type(exc).__name__, exc)]
        record["orphans"] = _orphans(root)
        record["after_rerun_half"] = S.half_written(root)[0]
        entries, incomplete = S.archive_entries(root, PROJECT)
        record["duplicate_entries"] = sum(1 for paths in entries.values() if len(paths) > 1)
        record["empty_entries"] = len(incomplete)
        shutil.rmtree(root)
        records.append(record)
        point += 1
        if point == len(delays) and sum(r["mid"] for r in records) < MIN_MID[op] and len(delays) < 4 * points:
            delays.extend(random.uniform(0, duration) for _index in range(points // 4 + 1))
    return {"op": op, "duration_ms": round(duration * 1000, 2), "records": records}


@pytest.fixture(scope="module")
def campaigns(shm_dir):
    base = os.path.join(shm_dir, "crash")
    os.makedirs(base)
    results = {op: _campaign(base, op) for op in POINTS}
    records = [r for c in results.values() for r in c["records"]]
    S.count("kill points tried (SIGKILL sent)", len(records))
    S.count("kill points that interrupted a run", sum(r["killed"] for r in records))
    S.count("kill points that landed mid-operation", sum(r["mid"] for r in records))
    S.count("distinct mid-operation states seen", len({(r["op"], r["shape"]) for r in records if r["mid"]}))
    S.count("archive entries written twice after a kill", sum(r["duplicate_entries"] for r in records))
    S.count("temp files left by a kill (ignored)", sum(r["temps"] for r in records))
    S.count("archive entries without task.json left by a kill (ignored)", sum(r["empty_entries"] for r in records))
    shutil.rmtree(base)
    return results


def _failures(campaigns, key):
    bad = []
    for op, campaign in campaigns.items():
        for record in campaign["records"]:
            value = record[key]
            if value:
                bad.append("%s kill %d (%.3f ms): %s" % (op, record["point"], record["delay_ms"], value))
    return bad


def test_kills_landed_all_over_every_operation(campaigns):
    """The campaign itself: enough kills hit a run in the middle (the tree neither before nor after)."""
    for op, campaign in campaigns.items():
        mid = sum(r["mid"] for r in campaign["records"])
        assert mid >= MIN_MID[op], "%s: only %d kills landed mid-operation (run takes %s ms)" % (
            op, mid, campaign["duration_ms"])


def test_listing_reads_every_task_after_every_kill(campaigns):
    assert _failures(campaigns, "listing_error") == []
    assert _failures(campaigns, "unreadable") == []
    assert _failures(campaigns, "listed_extra") == [], "a temp file or an orphan was listed as a task"


def test_no_half_written_file_after_any_kill(campaigns):
    assert _failures(campaigns, "half_written") == []


def test_no_task_is_listed_with_one_of_its_two_metadata_files(campaigns):
    """A kill between the two metadata writes of a create must not show a half-made task."""
    assert _failures(campaigns, "half_tasks") == []


def test_no_workspace_is_removed_before_its_archive_entry_exists(campaigns):
    assert _failures(campaigns, "archive_violations") == []


def test_rerun_converges_and_a_second_rerun_is_ok(campaigns):
    assert _failures(campaigns, "rerun_error") == []
    assert _failures(campaigns, "not_converged") == []
    assert _failures(campaigns, "after_rerun_half") == []
    still_changing = []
    for op, campaign in campaigns.items():
        for record in campaign["records"]:
            if any(changed is not False for changed in record["rerun_changed"]):
                still_changing.append("%s kill %d: %s" % (op, record["point"], record["rerun_changed"]))
    assert still_changing == []


def test_a_killed_archive_is_not_archived_twice(campaigns):
    """A rerun after a kill reuses the archive entry the killed run wrote instead of writing a second one."""
    assert _failures(campaigns, "duplicate_entries") == []


def test_rerun_leaves_no_orphan_workspace(campaigns):
    """An orphan (a create killed before its metadata was whole) is cleaned or reused by the rerun."""
    assert _failures(campaigns, "orphans") == []
