# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Many task specs in one call: validation of the list, one lock and one read per project, one listing."""

from __future__ import annotations

import copy
import os

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils import _converge, _session
from ansible_collections.terok.lifecycle.plugins.module_utils._archive import TASK_JSON, list_entries
from ansible_collections.terok.lifecycle.plugins.module_utils._container_spec import SPEC_LABEL
from ansible_collections.terok.lifecycle.plugins.module_utils._converge import converge_many
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._phases import Phases
from ansible_collections.terok.lifecycle.plugins.module_utils._lock import ProjectLock
from ansible_collections.terok.lifecycle.plugins.module_utils._metadata import MANAGED_BY, MANAGED_KEY
from ansible_collections.terok.lifecycle.plugins.module_utils._project_tasks import ProjectTasks
from ansible_collections.terok.lifecycle.plugins.module_utils._spec import specs_from_items

IMAGE = "localhost/terok-agent:latest"
READY = "2026-11-28T09:16:00+00:00"
CREATED = "2026-11-28T09:15:02.118470+00:00"


def specs(*items, **defaults):
    return specs_from_items(list(items), defaults)


def item(project="demo", **params):
    params["project"] = project
    return params


def managed_meta(layout, project, task_id, **extra):
    meta = {
        "mode": None,
        "workspace": layout.task_dir(project, task_id),
        "web_port": None,
        "created_at": CREATED,
        MANAGED_KEY: MANAGED_BY,
    }
    meta.update(extra)
    return meta


@pytest.fixture
def write_managed(write_task, layout):
    """Write a task as this collection writes one (``managed_by`` in ``_meta.yml``)."""

    def write(project, task_id, name, **extra):
        return write_task(project, task_id, name, meta=managed_meta(layout, project, task_id, **extra))

    return write


class RecordedLock:
    """Wraps a real project lock; records acquire/release and fails when two are held at once."""

    def __init__(self, spy, project, lock):
        self.spy = spy
        self.project = project
        self.lock = lock

    def __enter__(self):
        assert self.spy.held == [], "lock of %s taken while %s is held" % (self.project, self.spy.held)
        self.lock.__enter__()
        self.spy.held.append(self.project)
        self.spy.events.append(("acquire", self.project))
        return self

    def __exit__(self, *exc_info):
        self.lock.__exit__(*exc_info)
        self.spy.held.remove(self.project)
        self.spy.events.append(("release", self.project))
        return False


class LockSpy:
    """Stands in for the ProjectLock that task sessions take: the real lock, recorded."""

    def __init__(self):
        self.held = []
        self.events = []

    def __call__(self, meta_dir, *args, **kwargs):
        project = os.path.basename(os.path.dirname(meta_dir))  # <state>/projects/<project>/tasks
        return RecordedLock(self, project, ProjectLock(meta_dir, *args, **kwargs))

    def acquired(self):
        return [project for event, project in self.events if event == "acquire"]


@pytest.fixture
def spies(monkeypatch):
    """Install spies on the sessions' lock, on ProjectTasks.load and on _converge.converge."""

    class Spies:
        lock = None
        loads = []
        converged = []

    real_load = ProjectTasks.load
    real_converge = _converge.converge

    def load(self):
        Spies.loads.append((self.project, list(Spies.lock.held) if Spies.lock else None))
        return real_load(self)

    def converge(session, spec):
        Spies.converged.append((spec.project, spec.name, spec.task_id, list(Spies.lock.held) if Spies.lock else None))
        return real_converge(session, spec)

    monkeypatch.setattr(ProjectTasks, "load", load)
    monkeypatch.setattr(_converge, "converge", converge)

    def install(runtime):
        Spies.lock = LockSpy()
        monkeypatch.setattr(_session, "ProjectLock", Spies.lock)
        return Spies

    return install


# specs_from_items ----------------------------------------------------------------------------------------------


def test_specs_come_back_validated_and_in_item_order():
    got = specs(
        item("beta", name="  Fix Auth "),
        item("alpha", task_id="k7m2q", state="absent"),
        item("beta", name="docs", state="running", image=IMAGE, mode="web"),
    )
    assert [(s.project, s.name, s.task_id, s.state) for s in got] == [
        ("beta", "fix-auth", None, "present"),
        ("alpha", None, "k7m2q", "absent"),
        ("beta", "docs", None, "running"),
    ]
    assert got[2].mode == "web"
    assert got[2].container.image == IMAGE
    assert got[0].container is None


def test_an_empty_list_gives_no_specs():
    assert specs() == []


def test_items_are_not_modified():
    items = [item(name="a", state="running"), item(name="b")]
    kept = copy.deepcopy(items)
    specs_from_items(items, {"image": IMAGE})
    assert items == kept


@pytest.mark.parametrize(
    "bad, option",
    [
        ({"project": "Bad Project", "name": "a"}, "project"),
        ({"project": "default", "name": "a"}, "project"),
        ({"project": None, "name": "a"}, "project"),
        ({"name": "!!!"}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "-dash"}, "name"),
        ({}, "name"),
        ({"task_id": "abcde"}, "task_id"),
        ({"task_id": "k7m2q/"}, "task_id"),
        ({"name": "a", "state": "gone"}, "state"),
        ({"name": "a", "state": "archived", "archive": False}, "archive"),
        ({"name": "a", "mode": "tty"}, "mode"),
        ({"name": "a", "stop_timeout": -1}, "stop_timeout"),
        ({"name": "a", "ready_timeout": -5}, "ready_timeout"),
        ({"name": "a", "state": "running"}, "image"),
        ({"name": "a", "state": "running", "image": "-rm"}, "image"),
        ({"name": "a", "state": "running", "image": IMAGE, "volumes": ["relative:/x"]}, "volumes"),
        ({"name": "a", "state": "running", "image": IMAGE, "env": {"CODE_REPO": "x"}}, "env"),
        ({"name": "a", "state": "running", "image": IMAGE, "command": []}, "command"),
        ({"name": "a", "state": "running", "image": IMAGE, "git_reset_mode": "all"}, "git_reset_mode"),
        ({"name": "a", "state": "running", "image": IMAGE, "init_script": "rel/init.sh"}, "init_script"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_errors_name_the_item_and_the_option(bad, option):
    params = {"project": "demo"}
    params.update(bad)
    with pytest.raises(TerokError) as err:
        specs(item(name="fine"), params, item(name="also-fine"))
    assert err.value.option == "tasks[1]." + option
    assert "tasks[1]." + option in err.value.msg


def test_the_first_bad_item_is_the_one_reported():
    with pytest.raises(TerokError) as err:
        specs(item(name="ok"), item(name="ok-too"), item(name="!!!"), item(task_id="bad"))
    assert err.value.option == "tasks[2].name"


def test_a_bad_item_after_good_ones_fails_before_anything_is_written(root):
    with pytest.raises(TerokError):
        specs(item(name="a"), item("other", name="b"), item(name="c", state="running"))
    assert not os.path.exists(root)


@pytest.mark.parametrize(
    "first, second",
    [
        ({"name": "fix-auth"}, {"name": "fix-auth"}),
        ({"name": "Fix Auth"}, {"name": "  fix--auth- "}),
        ({"name": "a", "state": "present"}, {"name": "A", "state": "absent"}),
        ({"task_id": "k7m2q"}, {"task_id": "k7m2q", "state": "stopped"}),
        ({"task_id": "k7m2q", "name": "one"}, {"task_id": "k7m2q", "name": "two"}),
    ],
)
def test_an_item_given_twice_fails_naming_both_indexes(first, second):
    first = dict(first, project="demo")
    second = dict(second, project="demo")
    with pytest.raises(TerokError) as err:
        specs(first, item("other", name="x"), second)
    assert "tasks[2]" in err.value.msg
    assert "tasks[0]" in err.value.msg
    assert err.value.option is not None and err.value.option.startswith("tasks[2]")


def test_the_same_name_or_id_in_two_projects_is_two_tasks():
    got = specs(item("alpha", name="a"), item("beta", name="a"), item("alpha", task_id="k7m2q"), item("beta", task_id="k7m2q"))
    assert [(s.project, s.name, s.task_id) for s in got] == [
        ("alpha", "a", None),
        ("beta", "a", None),
        ("alpha", None, "k7m2q"),
        ("beta", None, "k7m2q"),
    ]


def test_shared_image_is_used_only_where_an_item_has_none():
    got = specs(
        item(name="a", state="running"),
        item(name="b", state="running", image="localhost/own:1"),
        item(name="c", state="running", image=None),
        image=IMAGE,
    )
    assert [s.container.image for s in got] == [IMAGE, "localhost/own:1", IMAGE]


def test_without_a_shared_image_a_running_item_needs_its_own():
    assert specs(item(name="a", state="running", image="localhost/own:1"))[0].container.image == "localhost/own:1"
    with pytest.raises(TerokError) as err:
        specs(item(name="ok"), item(name="a", state="running"), image=None)
    assert err.value.option == "tasks[1].image"


def test_only_image_is_shared():
    # the module passes all of its parameters as the defaults; none but image reaches an item
    got = specs(item(name="a"), image=IMAGE, state="absent", mode="web", archive=False, exclusive=True, root="/x")
    assert (got[0].state, got[0].mode, got[0].archive) == ("present", None, True)


# converge_many: order, locks, reads, listing ------------------------------------------------------------------


def test_results_come_back_in_item_order_across_projects(make_runtime, write_managed):
    write_managed("alpha", "k7m2q", "old")
    runtime, _runner = make_runtime()
    got = converge_many(
        runtime,
        specs(
            item("gamma", name="g1"),
            item("alpha", name="a1"),
            item("beta", name="b1"),
            item("alpha", task_id="k7m2q", name="renamed"),
            item("gamma", name="g2"),
        ),
    )
    assert [(t["project"], t["name"]) for t in got.tasks] == [
        ("gamma", "g1"),
        ("alpha", "a1"),
        ("beta", "b1"),
        ("alpha", "renamed"),
        ("gamma", "g2"),
    ]
    assert got.tasks[3]["task_id"] == "k7m2q"
    assert len(got.diffs) == 5
    assert [d["before_header"] for d in got.diffs] == ["gamma/g1", "alpha/a1", "beta/b1", "alpha/renamed", "gamma/g2"]
    assert got.removed == []


def test_one_project_lock_at_a_time_in_sorted_order(make_runtime, spies):
    runtime, _runner = make_runtime()
    spy = spies(runtime)
    converge_many(
        runtime,
        specs(
            item("gamma", name="g1"),
            item("alpha", name="a1"),
            item("beta", name="b1", state="absent"),
            item("alpha", name="a2"),
            item("gamma", name="g2"),
        ),
    )
    assert spy.lock.events == [
        ("acquire", "alpha"),
        ("release", "alpha"),
        ("acquire", "beta"),
        ("release", "beta"),
        ("acquire", "gamma"),
        ("release", "gamma"),
    ]
    # every item is converged under its own project's lock, and under that lock only
    assert sorted((project, name, held) for project, name, _id, held in spy.converged) == [
        ("alpha", "a1", ["alpha"]),
        ("alpha", "a2", ["alpha"]),
        ("beta", "b1", ["beta"]),
        ("gamma", "g1", ["gamma"]),
        ("gamma", "g2", ["gamma"]),
    ]


def test_the_project_lock_is_really_held_while_its_items_converge(make_runtime, layout, monkeypatch):
    runtime, _runner = make_runtime()
    real_converge = _converge.converge
    probes = []

    def converge(session, spec):
        try:
            ProjectLock(layout.meta_dir(spec.project), timeout=0).acquire().release()
            probes.append((spec.project, "free"))
        except TerokError:
            probes.append((spec.project, "held"))
        return real_converge(session, spec)

    monkeypatch.setattr(_converge, "converge", converge)
    converge_many(runtime, specs(item("beta", name="b"), item("alpha", name="a")))
    assert probes == [("alpha", "held"), ("beta", "held")]


def test_tasks_are_read_once_per_project_under_its_lock(make_runtime, write_managed, spies):
    write_managed("alpha", "k7m2q", "one")
    write_managed("beta", "h3abc", "two")
    runtime, _runner = make_runtime()
    spy = spies(runtime)
    converge_many(
        runtime,
        specs(
            item("alpha", name="one"),
            item("beta", name="two"),
            item("alpha", name="new", state="stopped"),
            item("beta", name="other"),
            item("alpha", name="one-more"),
            item("beta", name="gone", state="absent"),
        ),
        exclusive=True,
    )
    assert spy.loads == [("alpha", ["alpha"]), ("beta", ["beta"])]


def mixed_items(count):
    """``count`` items over three projects, every state but running (no log follow needed)."""
    states = ("present", "stopped", "present", "absent", "present")
    result = []
    for index in range(count):
        result.append(item("p%d" % (index % 3), name="t%02d" % index, state=states[index % len(states)]))
    return result


@pytest.mark.parametrize("count", [1, 2, 7, 25])
def test_one_podman_listing_for_the_whole_call(make_runtime, write_managed, count):
    write_managed("p0", "k7m2q", "t00", mode="cli", ready_at=READY)
    write_managed("p1", "h3abc", "t01", mode="cli", ready_at=READY)
    write_managed("p2", "m4xyz", "unlisted")
    runtime, runner = make_runtime(
        containers={"p0-cli-k7m2q": {"State": "running"}, "p1-cli-h3abc": {"State": "running"}}
    )
    got = converge_many(runtime, specs(*mixed_items(count)), exclusive=True)
    assert runner.subcommands().count("ps") == 1
    assert len(got.tasks) == count


@pytest.mark.parametrize("wait_ready", [False, True])
def test_one_podman_listing_with_running_items_too(make_runtime, write_managed, wait_ready):
    write_managed("alpha", "k7m2q", "a", mode="cli", ready_at=READY)
    # the collection's container (an options hash label, if of other options): a start is a new run of it
    made = {"State": "exited", "ExitCode": 0, "Labels": {SPEC_LABEL: "0" * 32}}
    runtime, runner = make_runtime(containers={"alpha-cli-k7m2q": made})
    got = converge_many(
        runtime,
        specs(
            item("alpha", name="a", state="running", wait_ready=wait_ready),
            item("beta", name="b", state="running", wait_ready=wait_ready),
            item("beta", name="c", state="running", mode="web", wait_ready=wait_ready),
            item("alpha", name="d", state="stopped"),
            image=IMAGE,
        ),
    )
    started = "running" if wait_ready else "init"  # without a wait, a start is not known ready
    assert [t["status"] for t in got.tasks] == [started, started, started, "created"]
    # one listing, and one more after each wait (the lock was let go: another run may have changed any container)
    assert runner.subcommands().count("ps") == (4 if wait_ready else 1)
    assert not any(argv[1] == "ps" for argv in runner.spawned)


def test_changed_is_per_item(make_runtime, write_managed, write_task):
    write_managed("demo", "k7m2q", "same")
    write_task("demo", "h3abc", "by-hand")
    write_managed("other", "m4xyz", "to-rename")
    runtime, _runner = make_runtime()
    got = converge_many(
        runtime,
        specs(
            item(name="same"),
            item(name="fresh"),
            item(task_id="h3abc"),
            item("other", task_id="m4xyz", name="renamed"),
            item(name="never-was", state="absent"),
            item("third", name="x"),
        ),
    )
    assert [t["changed"] for t in got.tasks] == [False, True, False, True, False, True]
    assert got.changed is True


def test_nothing_to_change_is_not_changed(make_runtime, write_managed, write_task):
    write_managed("demo", "k7m2q", "a")
    write_task("other", "h3abc", "b")
    runtime, runner = make_runtime()
    got = converge_many(
        runtime,
        specs(item(name="a"), item("other", task_id="h3abc", state="stopped"), item(name="gone", state="absent")),
        exclusive=True,
    )
    assert [t["changed"] for t in got.tasks] == [False, False, False]
    assert got.changed is False
    assert got.removed == []
    assert runner.mutating_calls() == []


def test_a_failing_item_stops_the_call_at_that_item(make_runtime, layout):
    runtime, _runner = make_runtime()
    with pytest.raises(TerokError) as err:
        converge_many(
            runtime,
            specs(item("beta", name="later"), item("alpha", name="first"), item("alpha", task_id="k7m2q"), item("alpha", name="after")),
        )
    assert err.value.option == "task_id"
    assert "k7m2q" in err.value.msg
    assert [t.name for t in ProjectTasks(layout, "alpha").load().tasks.values()] == ["first"]
    assert ProjectTasks(layout, "beta").load().tasks == {}


# exclusive ----------------------------------------------------------------------------------------------------


@pytest.fixture
def populated(write_managed, write_task, layout):
    """Project demo with tasks of every kind; project other with a managed task."""
    write_managed("demo", "k7m2q", "keep")
    write_managed("demo", "h3abc", "drop", mode="cli", ready_at=READY)
    write_managed("demo", "m4xyz", "drop-too")
    write_task("demo", "n5abc", "by-hand")
    # unreadable: a managed task whose _meta.yml is not YAML, one whose dossier is not JSON
    write_task("demo", "p6abc", "broken-meta", meta=False)
    with open(layout.meta_path("demo", "p6abc"), "w") as handle:
        handle.write("%s: %s\nmode: [unclosed\n" % (MANAGED_KEY, MANAGED_BY))
    write_task("demo", "q7abc", dossier=False, meta=managed_meta(layout, "demo", "q7abc"))
    with open(layout.dossier_path("demo", "q7abc"), "w") as handle:
        handle.write("{not json")
    write_managed("other", "r8abc", "elsewhere")
    return {"running": {"demo-cli-h3abc": {"State": "running"}}}


def files_of(layout, project, task_id):
    paths = [layout.dossier_path(project, task_id), layout.meta_path(project, task_id)]
    result = {}
    for path in paths:
        if os.path.exists(path):
            with open(path, "rb") as handle:
                result[path] = handle.read()
    result["task dir"] = os.path.isdir(layout.task_dir(project, task_id))
    return result


UNTOUCHABLE = [("demo", "k7m2q"), ("demo", "n5abc"), ("demo", "p6abc"), ("demo", "q7abc"), ("other", "r8abc")]


def test_exclusive_archives_only_managed_unlisted_tasks(make_runtime, layout, populated):
    untouched = {key: files_of(layout, *key) for key in UNTOUCHABLE}
    runtime, runner = make_runtime(containers=copy.deepcopy(populated["running"]))
    got = converge_many(runtime, specs(item(name="keep"), item(name="new")), exclusive=True)
    assert got.changed is True
    assert [t["name"] for t in got.tasks] == ["keep", "new"]
    assert [t["changed"] for t in got.tasks] == [False, True]
    assert sorted((r["task_id"], r["name"], r["status"], r["changed"]) for r in got.removed) == [
        ("h3abc", "drop", "absent", True),
        ("m4xyz", "drop-too", "absent", True),
    ]
    for removed in got.removed:
        assert os.path.isfile(os.path.join(removed["archive_path"], TASK_JSON))
        assert not os.path.exists(layout.task_dir("demo", removed["task_id"]))
        assert not os.path.exists(layout.meta_path("demo", removed["task_id"]))
        assert not os.path.exists(layout.dossier_path("demo", removed["task_id"]))
    assert sorted(e["task_id"] for e in list_entries(layout, "demo")) == ["h3abc", "m4xyz"]
    assert ["rm", "--force", "--ignore", "--", "demo-cli-h3abc"] == [a for a in runner.calls if a[1] == "rm"][0][1:]
    assert {key: files_of(layout, *key) for key in UNTOUCHABLE} == untouched
    assert list_entries(layout, "other") == []
    headers = [d["before_header"] for d in got.diffs[2:]]
    assert sorted(headers) == ["demo/drop (not listed)", "demo/drop-too (not listed)"]


def test_without_exclusive_unlisted_tasks_stay(make_runtime, layout, populated):
    runtime, runner = make_runtime(containers=copy.deepcopy(populated["running"]))
    got = converge_many(runtime, specs(item(name="keep")))
    assert got.removed == []
    assert got.changed is False
    assert os.path.isfile(layout.meta_path("demo", "h3abc"))
    assert runner.mutating_calls() == []


def test_exclusive_keeps_tasks_named_by_id_or_renamed(make_runtime, layout, populated):
    runtime, _runner = make_runtime(containers=copy.deepcopy(populated["running"]))
    got = converge_many(
        runtime,
        specs(item(task_id="h3abc", state="stopped"), item(task_id="m4xyz", name="renamed"), item(name="keep")),
        exclusive=True,
    )
    assert got.removed == []
    assert [t["changed"] for t in got.tasks] == [True, True, False]
    assert ProjectTasks(layout, "demo").load().tasks["m4xyz"].name == "renamed"


def test_exclusive_rerun_is_ok(make_runtime, root, populated, tree_snapshot):
    runtime, runner = make_runtime(containers=copy.deepcopy(populated["running"]))
    items = [item(name="keep"), item(name="new"), item("other", name="elsewhere")]
    first = converge_many(runtime, specs(*items), exclusive=True)
    assert len(first.removed) == 2
    before = tree_snapshot(root)
    runtime2, runner2 = make_runtime(containers=runner.containers)
    again = converge_many(runtime2, specs(*items), exclusive=True)
    assert again.changed is False
    assert again.removed == []
    assert [t["changed"] for t in again.tasks] == [False, False, False]
    assert tree_snapshot(root) == before
    assert runner2.mutating_calls() == []


def test_exclusive_does_not_archive_again_what_an_item_removes(make_runtime, layout, populated):
    runtime, _runner = make_runtime(containers=copy.deepcopy(populated["running"]))
    got = converge_many(
        runtime,
        specs(item(name="keep"), item(name="drop", state="absent", archive=False), item(name="drop-too", state="archived")),
        exclusive=True,
    )
    assert [t["changed"] for t in got.tasks] == [False, True, True]
    assert got.removed == []
    entries = list_entries(layout, "demo")
    assert [e["task_id"] for e in entries] == ["m4xyz"]


def test_exclusive_in_check_mode_predicts_what_a_real_run_does(make_runtime, root, populated, tree_snapshot):
    items = [item(name="keep"), item(name="drop", state="absent"), item(name="new"), item("other", name="x", state="absent")]
    before = tree_snapshot(root)
    runtime, runner = make_runtime(check_mode=True, containers=copy.deepcopy(populated["running"]))
    predicted = converge_many(runtime, specs(*items), exclusive=True)
    assert tree_snapshot(root) == before
    assert runner.mutating_calls() == []
    runtime2, _runner2 = make_runtime(containers=copy.deepcopy(populated["running"]))
    real = converge_many(runtime2, specs(*items), exclusive=True)
    assert [t["changed"] for t in predicted.tasks] == [t["changed"] for t in real.tasks] == [False, True, True, False]
    # "drop" is named by an item (state=absent): exclusive leaves it to that item; project other is listed too
    assert sorted(r["task_id"] for r in real.removed) == ["m4xyz", "r8abc"]
    assert sorted(r["task_id"] for r in predicted.removed) == ["m4xyz", "r8abc"]
    assert len(predicted.diffs) == len(real.diffs)


def test_exclusive_over_a_project_without_tasks_writes_nothing(make_runtime, layout, root):
    runtime, runner = make_runtime()
    got = converge_many(runtime, specs(item("ghost", name="a", state="absent"), item("ghost", task_id="k7m2q", state="absent")),
                        exclusive=True)
    assert got.changed is False
    assert got.removed == []
    assert runner.mutating_calls() == []
    # an ok run leaves no trace: no meta directory (that would make "ghost" a project) and no lock file
    assert not os.path.exists(layout.meta_dir("ghost"))
    assert not os.path.exists(root)


def test_exclusive_fails_and_removes_nothing_when_the_archive_cannot_be_written(make_runtime, layout, root, populated):
    with open(os.path.join(root, "archive"), "w") as handle:
        handle.write("in the way")
    runtime, _runner = make_runtime(containers=copy.deepcopy(populated["running"]))
    with pytest.raises(TerokError) as err:
        converge_many(runtime, specs(item(name="keep")), exclusive=True)
    assert "nothing was removed" in err.value.msg
    for task_id in ("h3abc", "m4xyz"):
        assert os.path.isfile(layout.meta_path("demo", task_id))
        assert os.path.isdir(layout.workspace("demo", task_id))


# rerun and check mode -------------------------------------------------------------------------------------------


def full_items():
    return [
        item("beta", name="run-me", state="running", code_repo="https://git.example/r.git"),
        item("alpha", name="plain"),
        item("alpha", name="stop-me", state="stopped"),
        item("beta", name="never-was", state="absent"),
        item("alpha", task_id="k7m2q", name="renamed"),
        item("beta", name="to-archive", state="archived"),
        item("alpha", name="to-delete", state="absent", archive=False),
    ]


@pytest.fixture
def full_tree(write_managed, write_task):
    write_managed("alpha", "k7m2q", "original")
    write_managed("alpha", "h3abc", "stop-me", mode="cli", ready_at=READY)
    write_managed("beta", "m4xyz", "to-archive")
    write_task("alpha", "n5abc", "to-delete")
    write_managed("beta", "p6abc", "unlisted")
    return {"alpha-cli-h3abc": {"State": "running"}}


def test_rerun_is_idempotent(make_runtime, root, full_tree, tree_snapshot):
    runtime, runner = make_runtime(containers=copy.deepcopy(full_tree))
    first = converge_many(runtime, specs(*full_items(), image=IMAGE), exclusive=True)
    assert [t["changed"] for t in first.tasks] == [True, True, True, False, True, True, True]
    assert [r["task_id"] for r in first.removed] == ["p6abc"]
    before = tree_snapshot(root)
    runtime2, runner2 = make_runtime(containers=runner.containers)
    again = converge_many(runtime2, specs(*full_items(), image=IMAGE), exclusive=True)
    assert [t["changed"] for t in again.tasks] == [False] * 7
    assert again.changed is False
    assert again.removed == []
    live = [i for i, t in enumerate(first.tasks) if t["status"] != "absent"]
    assert [again.tasks[i]["task_id"] for i in live] == [first.tasks[i]["task_id"] for i in live]
    assert again.tasks[5]["archive_path"] == first.tasks[5]["archive_path"]
    assert [t["status"] for t in again.tasks] == [t["status"] for t in first.tasks]
    assert tree_snapshot(root) == before
    assert runner2.mutating_calls() == []
    assert runner2.subcommands() == ["ps"]


@pytest.mark.parametrize("exclusive, concurrency", [(False, 1), (True, 1), (False, 4)])
def test_check_mode_writes_nothing(make_runtime, root, full_tree, tree_snapshot, exclusive, concurrency, monkeypatch):
    # with concurrency the items are predicted by the same side-by-side path that acts
    pools = []
    real_run = Phases.run
    monkeypatch.setattr(Phases, "run", lambda phases, steps, limit: pools.append(len(steps)) or real_run(phases, steps, limit))
    before = tree_snapshot(root)
    runtime, runner = make_runtime(check_mode=True, containers=copy.deepcopy(full_tree))
    predicted = converge_many(runtime, specs(*full_items(), image=IMAGE), exclusive=exclusive, concurrency=concurrency)
    assert tree_snapshot(root) == before
    assert runner.mutating_calls() == []
    # one container listing, and at most one secret listing (the removed tasks' secrets); no call mutates
    assert runner.subcommands() in (["ps"], ["ps", "secret"])
    assert runner.spawned == []
    assert predicted.tasks[0]["task_id"] is None and predicted.tasks[0]["name"] == "run-me"
    assert predicted.tasks[4]["name"] == "renamed"
    assert pools == ([] if concurrency == 1 else [4, 3])  # alpha's four items, beta's three
    runtime2, _runner2 = make_runtime(containers=copy.deepcopy(full_tree))
    real = converge_many(runtime2, specs(*full_items(), image=IMAGE), exclusive=exclusive, concurrency=concurrency)
    assert [t["changed"] for t in predicted.tasks] == [t["changed"] for t in real.tasks]
    # a container that check mode would create has no name yet, so its status is not predicted (item 0)
    assert [t["status"] for t in predicted.tasks][1:] == [t["status"] for t in real.tasks][1:]
    assert [r["task_id"] for r in predicted.removed] == [r["task_id"] for r in real.removed]
    assert predicted.changed is real.changed is True


def test_check_mode_on_a_fresh_root_creates_nothing(make_runtime, root, tmp_path, tree_snapshot):
    before = tree_snapshot(str(tmp_path))
    runtime, runner = make_runtime(check_mode=True)
    got = converge_many(
        runtime, specs(item("alpha", name="a"), item("beta", name="b", state="running"), image=IMAGE), exclusive=True
    )
    assert [t["changed"] for t in got.tasks] == [True, True]
    assert tree_snapshot(str(tmp_path)) == before
    assert not os.path.exists(root)
    assert runner.mutating_calls() == []


def test_one_task_named_by_id_and_by_name_fails_before_anything(make_runtime, write_managed, layout, tree_snapshot, root):
    write_managed("demo", "k7m2q", "one")
    runtime, runner = make_runtime()
    before = tree_snapshot(root)
    with pytest.raises(TerokError) as err:
        converge_many(runtime, specs(item(name="new"), item(name="one"), item(task_id="k7m2q", state="absent")))
    assert "tasks[1] and tasks[2]" in err.value.msg
    assert err.value.option == "tasks[2]"
    after = tree_snapshot(root)
    after.pop("core/projects/demo/tasks/.terok-lifecycle.lock", None)  # the lock is bookkeeping
    assert after == before
    assert [sub for sub in runner.subcommands() if sub != "ps"] == []
