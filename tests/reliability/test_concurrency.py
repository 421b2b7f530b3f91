# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Concurrent runs on one state root: one task per name, no lost update, no orphan, a named lock."""

from __future__ import annotations

import fcntl
import json
import os
import time

import _support as S

PARALLEL = 16


def _start_barrier():
    """(wait, release): children call wait() and block until the parent calls release(n)."""
    read_fd, write_fd = os.pipe()

    def wait():
        os.close(write_fd)
        assert os.read(read_fd, 1) == b"g"

    def release(n):
        os.close(read_fd)
        os.write(write_fd, b"g" * n)
        os.close(write_fd)

    return wait, release


def _run_parallel(funcs):
    """Run each function in its own forked process, all released at once; return their exit codes."""
    wait, release = _start_barrier()
    pids = []
    for func in funcs:
        def child(func=func):
            wait()
            func()
        pids.append(S.fork_call(child))
    release(len(pids))
    codes = []
    for pid in pids:
        _pid, status = os.waitpid(pid, 0)
        codes.append(os.waitstatus_to_exitcode(status))
    S.count("parallel processes (library, forked)", len(funcs))
    return codes


def _assert_tree_sound(root, project):
    """Every metadata file whole, no temp file, every task with both files and a task directory."""
    problems, temps = S.half_written(root)
    assert problems == [], problems
    assert temps == [], "temp files left behind by runs that were not killed: %s" % temps
    ids = S.metadata_ids(root, project)
    for task_id in ids:
        dossier, meta = S.read_task_files(root, project, task_id)
        assert dossier is not None and meta is not None, "task %s has only one of its two metadata files" % task_id
        assert dossier["task"] == task_id and dossier["project"] == project
    assert ids == S.task_dir_ids(root, project), (
        "orphans: metadata without a task directory %s, task directories without metadata %s"
        % (sorted(ids - S.task_dir_ids(root, project)), sorted(S.task_dir_ids(root, project) - ids)))


# --------------------------------------------------------------------------------------
# real ansible: 16 ad-hoc runs at once
# --------------------------------------------------------------------------------------
def test_16_parallel_runs_for_one_name_make_exactly_one_task(tmp_path):
    root = str(tmp_path / "root")
    args = {"root": root, "project": "demo", "name": "fix-auth", "state": "present"}
    procs = [S.adhoc_popen("terok_task", args) for _index in range(PARALLEL)]
    results = [S.adhoc_collect(proc) for proc in procs]
    S.count("parallel runs (real ansible)", PARALLEL)
    for result in results:
        assert result.rc == 0 and not result.failed, result
    ids = {result.result["task"]["task_id"] for result in results}
    assert len(ids) == 1, "16 runs for one name returned several task ids: %s" % ids
    assert sum(1 for result in results if result.result["changed"]) == 1, [r.result["changed"] for r in results]
    assert S.metadata_ids(root, "demo") == ids
    assert S.task_dir_ids(root, "demo") == ids
    assert S.names_on_disk(root, "demo") == {ids.pop(): "fix-auth"}
    _assert_tree_sound(root, "demo")


def test_16_parallel_runs_for_different_names_make_16_whole_tasks(tmp_path):
    root = str(tmp_path / "root")
    names = ["task-%02d" % i for i in range(PARALLEL)]
    procs = [S.adhoc_popen("terok_task", {"root": root, "project": "demo", "name": name}) for name in names]
    results = [S.adhoc_collect(proc) for proc in procs]
    S.count("parallel runs (real ansible)", PARALLEL)
    for result in results:
        assert result.rc == 0 and not result.failed and result.result["changed"], result
    returned = {result.result["task"]["name"]: result.result["task"]["task_id"] for result in results}
    assert sorted(returned) == names
    assert len(set(returned.values())) == PARALLEL, "two tasks got the same id: %s" % returned
    on_disk = S.names_on_disk(root, "demo")
    assert on_disk == {task_id: name for name, task_id in returned.items()}
    for task_id in on_disk:
        _dossier, meta = S.read_task_files(root, "demo", task_id)
        assert meta["managed_by"] == "terok.lifecycle" and meta["created_at"]
    _assert_tree_sound(root, "demo")


# --------------------------------------------------------------------------------------
# the library in forked processes: many rounds, mixed operations
# --------------------------------------------------------------------------------------
def test_rounds_of_16_processes_racing_for_one_name(shm_tmp):
    root = os.path.join(shm_tmp, "root")
    rounds = 8
    for rnd in range(rounds):
        name = "race-%d" % rnd
        codes = _run_parallel([lambda name=name: S.create(root, "demo", name)] * PARALLEL)
        assert codes == [0] * PARALLEL, "a racing create failed: exit codes %s" % codes
        matching = [tid for tid, n in S.names_on_disk(root, "demo").items() if n == name]
        assert len(matching) == 1, "round %d: %d tasks carry the name %s" % (rnd, len(matching), name)
    assert len(S.metadata_ids(root, "demo")) == rounds
    _assert_tree_sound(root, "demo")


def test_16_processes_archiving_one_task_write_one_archive_entry(shm_tmp):
    root = os.path.join(shm_tmp, "root")
    task_id = S.create(root, "demo", "to-archive")
    keep = S.create(root, "demo", "bystander")
    out = os.path.join(shm_tmp, "changed")
    os.mkdir(out)

    def archive(index):
        outcome = S.converge_one(S.runtime(root), S.spec(project="demo", task_id=task_id, state="archived"))
        with open(os.path.join(out, str(index)), "w", encoding="utf-8") as handle:
            json.dump({"changed": outcome.changed, "archive_path": outcome.task["archive_path"]}, handle)

    codes = _run_parallel([lambda i=i: archive(i) for i in range(PARALLEL)])
    assert codes == [0] * PARALLEL
    reports = []
    for index in range(PARALLEL):
        with open(os.path.join(out, str(index)), encoding="utf-8") as handle:
            reports.append(json.load(handle))
    assert sum(1 for r in reports if r["changed"]) == 1, reports
    entries, incomplete = S.archive_entries(root, "demo")
    assert incomplete == []
    assert list(entries) == [task_id] and len(entries[task_id]) == 1, entries
    assert {r["archive_path"] for r in reports} == set(entries[task_id]), "a run reported another archive entry"
    assert S.metadata_ids(root, "demo") == {keep}
    _assert_tree_sound(root, "demo")


def test_16_processes_renaming_one_task_leave_one_whole_name(shm_tmp):
    root = os.path.join(shm_tmp, "root")
    task_id = S.create(root, "demo", "original")
    mpath = os.path.join(S.meta_dir(root, "demo"), task_id + "_meta.yml")
    # keys that terok writes and the collection does not know: every write must keep them
    with open(mpath, "a", encoding="utf-8") as handle:
        handle.write("agent: claude\nunrestricted: true\n")
    names = ["name-%02d" % i for i in range(PARALLEL)]
    codes = _run_parallel([
        lambda n=n: S.converge_one(S.runtime(root), S.spec(project="demo", task_id=task_id, name=n)) for n in names
    ])
    assert codes == [0] * PARALLEL
    final = S.names_on_disk(root, "demo")
    assert list(final) == [task_id] and final[task_id] in names
    _dossier, meta = S.read_task_files(root, "demo", task_id)
    assert meta["agent"] == "claude" and meta["unrestricted"] is True
    _assert_tree_sound(root, "demo")


def _worker(root, worker, rounds, report_dir):
    """Creates, renames and archives its own tasks, and races the others for shared names."""
    owned = {}  # id -> final name, or None when archived
    shared = {}
    hot = {}
    previous = []
    ops = [0]

    def run(**params):
        ops[0] += 1
        return S.converge_one(S.runtime(root, lock_timeout=60), S.spec(project="demo", **params))

    for rnd in range(rounds):
        task_id = run(name="w%d-r%d" % (worker, rnd)).task["task_id"]
        owned[task_id] = "w%d-r%d" % (worker, rnd)
        if previous:
            new_name = "w%d-r%d-renamed" % (worker, rnd - 1)
            outcome = run(task_id=previous[-1], name=new_name)
            assert outcome.changed and outcome.task["name"] == new_name
            owned[previous[-1]] = new_name
        if len(previous) >= 2:
            outcome = run(task_id=previous[-2], state="archived")
            assert outcome.changed and outcome.task["archive_path"]
            owned[previous[-2]] = None
        previous.append(task_id)
        name = "shared-%d" % (rnd % 3)
        shared[name] = run(name=name).task["task_id"]
        # even workers rename a fresh task to hot-N while odd workers create hot-N by name
        hot_name = "hot-%d" % rnd
        if worker % 2 == 0:
            extra = run(name="x%d-r%d" % (worker, rnd)).task["task_id"]
            try:
                run(task_id=extra, name=hot_name)
                hot[hot_name] = extra
                owned[extra] = hot_name
            except S.TerokError as exc:
                assert "is taken" in exc.msg, exc.msg
                owned[extra] = "x%d-r%d" % (worker, rnd)
        else:
            hot[hot_name] = run(name=hot_name).task["task_id"]
    with open(os.path.join(report_dir, "%d.json" % worker), "w", encoding="utf-8") as handle:
        json.dump({"owned": owned, "shared": shared, "hot": hot, "ops": ops[0]}, handle)


def test_interleaved_creates_renames_and_archives_lose_nothing(shm_tmp):
    root = os.path.join(shm_tmp, "root")
    bystander = S.create(root, "demo", "made-by-terok")
    mpath = os.path.join(S.meta_dir(root, "demo"), bystander + "_meta.yml")
    with open(mpath, "a", encoding="utf-8") as handle:
        handle.write("agent: codex\n")
    bystander_files = S.fingerprint(S.meta_dir(root, "demo"))
    report_dir = os.path.join(shm_tmp, "reports")
    os.mkdir(report_dir)
    workers, rounds = 8, 6
    codes = _run_parallel([lambda w=w: _worker(root, w, rounds, report_dir) for w in range(workers)])
    assert codes == [0] * workers, "a worker failed (its traceback is in the captured stderr): %s" % codes
    reports = []
    for worker in range(workers):
        with open(os.path.join(report_dir, "%d.json" % worker), encoding="utf-8") as handle:
            reports.append(json.load(handle))
    on_disk = S.names_on_disk(root, "demo")
    entries, incomplete = S.archive_entries(root, "demo")
    assert incomplete == [], "archive entries without task.json: %s" % incomplete
    expected_live = {bystander: "made-by-terok"}
    for report in reports:
        for task_id, name in report["owned"].items():
            if name is None:
                assert task_id not in on_disk, "archived task %s is still live" % task_id
                assert len(entries.get(task_id, [])) == 1, "task %s has %d archive entries" % (
                    task_id, len(entries.get(task_id, [])))
            else:
                expected_live[task_id] = name
    for name in ["shared-%d" % i for i in range(3)] + ["hot-%d" % r for r in range(rounds)]:
        carriers = sorted(tid for tid, n in on_disk.items() if n == name)
        assert len(carriers) == 1, "name %s is carried by %s" % (name, carriers)
        expected_live[carriers[0]] = name
        claimed = {r["shared"].get(name) or r["hot"].get(name) for r in reports} - {None}
        assert claimed == set(carriers), "runs returned other ids for %s: %s" % (name, claimed)
    assert on_disk == expected_live, "lost or extra updates: %s" % S.fingerprint_diff(expected_live, on_disk)
    assert set(entries) == {tid for r in reports for tid, n in r["owned"].items() if n is None}
    # the bystander's files, unknown keys included, were never rewritten
    after = S.fingerprint(S.meta_dir(root, "demo"))
    for rel in (bystander + "_meta.yml", bystander + "_dossier.json"):
        assert after[rel] == bystander_files[rel]
    _assert_tree_sound(root, "demo")
    S.count("interleaved library operations (8 processes)", sum(r["ops"] for r in reports))


# --------------------------------------------------------------------------------------
# real ansible-playbook: two runs of terok_tasks at once on overlapping lists
# --------------------------------------------------------------------------------------
def _bulk_playbook(tmp_path, label, root, items):
    out = str(tmp_path / ("%s.json" % label))
    tasks = [
        {"name": "converge", "terok.lifecycle.terok_tasks": {"root": root, "tasks": items}, "register": "r"},
        S.save_task("r", out),
    ]
    return S.write_playbook(str(tmp_path / ("%s.yml" % label)), tasks), out


def test_two_playbooks_at_once_on_overlapping_lists(tmp_path):
    root = str(tmp_path / "root")
    common = [{"project": "demo", "name": "common-%d" % i} for i in range(6)]
    list_a = ([{"project": "demo", "name": "a-%d" % i} for i in range(5)] + common
              + [{"project": "other", "name": "o-%d" % i} for i in range(3)])
    list_b = ([{"project": "other", "name": "o-%d" % i} for i in reversed(range(3))] + list(reversed(common))
              + [{"project": "demo", "name": "b-%d" % i} for i in range(5)])
    book_a, out_a = _bulk_playbook(tmp_path, "a", root, list_a)
    book_b, out_b = _bulk_playbook(tmp_path, "b", root, list_b)
    for rnd in range(2):
        procs = [S.playbook_popen(book_a), S.playbook_popen(book_b)]
        outputs = [proc.communicate(timeout=240) for proc in procs]
        S.count("real ansible runs", 2)
        S.count("parallel runs (real ansible-playbook)", 2)
        for proc, (out, err) in zip(procs, outputs):
            assert proc.returncode == 0, (out.decode(), err.decode())
        with open(out_a, encoding="utf-8") as handle:
            result_a = json.load(handle)
        with open(out_b, encoding="utf-8") as handle:
            result_b = json.load(handle)
        for project in ("demo", "other"):
            names = list(S.names_on_disk(root, project).values())
            assert len(names) == len(set(names)), "a name exists twice in %s: %s" % (project, sorted(names))
        demo = {n: tid for tid, n in S.names_on_disk(root, "demo").items()}
        other = {n: tid for tid, n in S.names_on_disk(root, "other").items()}
        assert sorted(demo) == sorted(["a-%d" % i for i in range(5)] + ["b-%d" % i for i in range(5)]
                                      + ["common-%d" % i for i in range(6)])
        assert sorted(other) == ["o-0", "o-1", "o-2"]
        for result, items in ((result_a, list_a), (result_b, list_b)):
            assert [t["name"] for t in result["tasks"]] == [i["name"] for i in items]
            for task in result["tasks"]:
                where = demo if task["project"] == "demo" else other
                assert task["task_id"] == where[task["name"]], task
        changed = sum(t["changed"] for t in result_a["tasks"] + result_b["tasks"])
        if rnd == 0:
            assert changed == 5 + 5 + 6 + 3, "each name is created exactly once by one of the two runs"
        else:
            assert changed == 0 and not result_a["changed"] and not result_b["changed"], "a rerun must be ok"
        _assert_tree_sound(root, "demo")
        _assert_tree_sound(root, "other")


# --------------------------------------------------------------------------------------
# lock_timeout
# --------------------------------------------------------------------------------------
def test_lock_timeout_fails_naming_the_lock_and_writes_nothing(tmp_path):
    root = str(tmp_path / "root")
    mdir = S.meta_dir(root, "demo")
    os.makedirs(mdir)
    lock_path = os.path.join(mdir, S.LOCK_NAME)
    with open(lock_path, "w", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        before = S.fingerprint(root)
        started = time.monotonic()
        one = S.adhoc_popen("terok_task", {"root": root, "project": "demo", "name": "blocked", "lock_timeout": 1.5})
        bulk = S.adhoc_popen("terok_tasks", {"root": root, "lock_timeout": 1.5,
                                             "tasks": [{"project": "demo", "name": "blocked-too"}]})
        results = [S.adhoc_collect(one), S.adhoc_collect(bulk)]
        elapsed = time.monotonic() - started
        for result in results:
            assert result.failed, result
            msg = result.result["msg"]
            assert lock_path in msg and "lock_timeout" in msg, msg
            assert "Traceback" not in result.output
        assert elapsed >= 1.5
        # the listing does not take the lock: it still works while a run holds it
        tasks, _archived, _warnings = S.list_all(root)
        assert tasks == []
        assert S.fingerprint(root) == before, "a run that could not lock wrote something"
    # released: the same request goes through
    assert S.create(root, "demo", "blocked")
    assert list(S.names_on_disk(root, "demo").values()) == ["blocked"]
