# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils import _project_tasks
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._metadata import MANAGED_BY, MANAGED_KEY
from ansible_collections.terok.lifecycle.plugins.module_utils._project_tasks import ProjectTasks, Task, list_projects


def touch(path, content=""):
    with open(path, "w") as handle:
        handle.write(content)


def test_load_of_a_project_without_anything_is_empty(layout):
    tasks = ProjectTasks(layout, "demo").load()
    assert tasks.tasks == {}
    assert tasks.taken == set()


def test_load_reads_both_files(layout, write_task):
    write_task("demo", "k7m2q", "fix-auth", meta={"mode": "cli", "ready_at": "t", "agent": "claude"})
    tasks = ProjectTasks(layout, "demo").load()
    task = tasks.tasks["k7m2q"]
    assert task.error is None
    assert task.dossier == {"project": "demo", "task": "k7m2q", "name": "fix-auth"}
    assert task.meta == {"mode": "cli", "ready_at": "t", "agent": "claude"}
    assert (task.project, task.task_id, task.name, task.mode, task.managed) == (
        "demo", "k7m2q", "fix-auth", "cli", False)


def test_scan_ignores_files_whose_id_does_not_match(layout, write_task):
    write_task("demo", "k7m2q", "good")
    meta_dir = layout.meta_dir("demo")
    for name in [
        "abcde_dossier.json",  # hex head
        "a1bcd_meta.yml",
        "i1bcd_dossier.json",  # i is not Crockford
        "G1ABC_dossier.json",  # uppercase
        "g1ab_dossier.json",  # too short
        "g1abcd_meta.yml",  # too long
        "gabcd_meta.yml",  # no digit
        "k7m2q_dossier.json.tmp",  # terok's temp file
        ".k7m2q_meta.yml.x1y2.tmp",  # ours
        ".h3abc_meta.yml.abcd.tmp",
        "h3abc_dossier.json~",
        "README",
        ".terok-lifecycle.lock",
    ]:
        touch(os.path.join(meta_dir, name), "{}")
    tasks = ProjectTasks(layout, "demo").load()
    assert sorted(tasks.tasks) == ["k7m2q"]
    assert tasks.taken == {"k7m2q"}


def test_task_with_only_one_file(layout, write_task):
    write_task("demo", "h3abc", "only-dossier", meta=False, task_dir=False)
    write_task("demo", "g0000", dossier=False, meta={"mode": None, "name": "from-meta"}, task_dir=False)
    tasks = ProjectTasks(layout, "demo").load()
    assert sorted(tasks.tasks) == ["g0000", "h3abc"]
    assert tasks.tasks["h3abc"].meta == {}
    assert tasks.tasks["h3abc"].name == "only-dossier"
    assert tasks.tasks["g0000"].dossier == {}
    assert tasks.tasks["g0000"].name == "from-meta"


def test_dossier_name_wins_over_meta_name(layout, write_task):
    write_task("demo", "h3abc", "dossier-name", meta={"name": "meta-name"})
    assert ProjectTasks(layout, "demo").load().tasks["h3abc"].name == "dossier-name"


def test_name_is_text(layout, write_task):
    write_task("demo", "h3abc", dossier={"project": "demo", "task": "h3abc", "name": 1234})
    assert ProjectTasks(layout, "demo").load().tasks["h3abc"].name == "1234"


def test_task_without_a_name(layout, write_task):
    write_task("demo", "h3abc", None)
    assert ProjectTasks(layout, "demo").load().tasks["h3abc"].name is None


@pytest.mark.parametrize(
    "which, content",
    [
        ("dossier", "{broken"),
        ("dossier", "[]"),
        ("dossier", "null"),
        ("meta", "mode: [unclosed\n"),
        ("meta", "- a list\n"),
    ],
)
def test_malformed_file_gives_a_task_with_error(layout, write_task, which, content):
    write_task("demo", "k7m2q", "good")
    write_task("demo", "h3abc", "bad")
    path = layout.dossier_path("demo", "h3abc") if which == "dossier" else layout.meta_path("demo", "h3abc")
    touch(path, content)
    tasks = ProjectTasks(layout, "demo").load()
    assert sorted(tasks.tasks) == ["h3abc", "k7m2q"]
    bad = tasks.tasks["h3abc"]
    assert isinstance(bad, Task)
    assert bad.error
    assert path in bad.error
    assert tasks.tasks["k7m2q"].error is None
    assert "h3abc" in tasks.taken


def test_taken_includes_task_directories_without_metadata(layout, write_task):
    write_task("demo", "k7m2q", "a")
    os.makedirs(os.path.join(layout.tasks_root("demo"), "z9zzz"))  # orphan task dir
    os.makedirs(os.path.join(layout.tasks_root("demo"), "not-an-id"))
    tasks = ProjectTasks(layout, "demo").load()
    assert tasks.taken == {"k7m2q", "z9zzz"}
    assert sorted(tasks.tasks) == ["k7m2q"]


def test_managed_flag(layout, write_task):
    write_task("demo", "k7m2q", "ours", meta={"mode": None, MANAGED_KEY: MANAGED_BY})
    write_task("demo", "h3abc", "other", meta={"mode": None, MANAGED_KEY: "someone-else"})
    tasks = ProjectTasks(layout, "demo").load().tasks
    assert tasks["k7m2q"].managed is True
    assert tasks["h3abc"].managed is False


def test_by_name_returns_every_task_with_the_name(layout, write_task):
    write_task("demo", "k7m2q", "same")
    write_task("demo", "h3abc", "same")
    write_task("demo", "g0000", "other")
    tasks = ProjectTasks(layout, "demo").load()
    assert sorted(t.task_id for t in tasks.by_name("same")) == ["h3abc", "k7m2q"]
    assert [t.task_id for t in tasks.by_name("other")] == ["g0000"]
    assert tasks.by_name("none") == []


def test_refresh_picks_up_changes_and_removals(layout, write_task):
    write_task("demo", "k7m2q", "a")
    tasks = ProjectTasks(layout, "demo").load()
    write_task("demo", "h3abc", "new")
    assert tasks.refresh("h3abc").name == "new"
    assert "h3abc" in tasks.tasks and "h3abc" in tasks.taken
    os.unlink(layout.dossier_path("demo", "k7m2q"))
    os.unlink(layout.meta_path("demo", "k7m2q"))
    assert tasks.refresh("k7m2q") is None
    assert "k7m2q" not in tasks.tasks
    assert tasks.read("k7m2q") is None


def test_load_passes_over_a_task_whose_files_go_while_it_reads(layout, write_task, monkeypatch):
    write_task("demo", "k7m2q", "stays")
    write_task("demo", "h3abc", "goes")
    read = ProjectTasks.read
    monkeypatch.setattr(ProjectTasks, "read", lambda self, task_id: None if task_id == "h3abc" else read(self, task_id))
    tasks = ProjectTasks(layout, "demo").load()
    assert sorted(tasks.tasks) == ["k7m2q"]
    assert "h3abc" in tasks.taken
    assert [task.task_id for task in tasks.by_name("goes")] == []


def test_stored_id_is_the_id_of_a_task_on_disk(layout, write_task):
    write_task("demo", "k7m2q", "a")
    assert ProjectTasks(layout, "demo").load().tasks["k7m2q"].stored_id == "k7m2q"


def test_a_predicted_task_has_no_stored_id_and_no_paths(layout):
    predicted = Task("demo", None, {"name": "new"}, {})  # what check mode makes of a create
    with pytest.raises(TerokError) as err:
        predicted.stored_id  # pylint: disable=pointless-statement
    assert "'new' of project demo is only predicted" in err.value.msg
    tasks = ProjectTasks(layout, "demo").load()
    with pytest.raises(TerokError):
        tasks.file_state(predicted)
    assert tasks.read_work_status(predicted) is None


def test_meta_dir_symlink_is_refused(layout, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.makedirs(os.path.dirname(layout.meta_dir("demo")))
    os.symlink(str(elsewhere), layout.meta_dir("demo"))
    with pytest.raises(TerokError) as err:
        ProjectTasks(layout, "demo").load()
    assert "symbolic link" in err.value.msg


def test_meta_dir_that_is_a_file_is_an_error(layout):
    os.makedirs(os.path.dirname(layout.meta_dir("demo")))
    touch(layout.meta_dir("demo"))
    with pytest.raises(TerokError) as err:
        ProjectTasks(layout, "demo").load()
    assert layout.meta_dir("demo") in err.value.msg


def test_bad_project_component_is_refused(layout):
    with pytest.raises(TerokError):
        ProjectTasks(layout, "../etc").load()


def test_list_projects(layout):
    projects = layout.projects_dir()
    for name in ["beta", "alpha", "default", "Bad", "-x", "notasks", "zeta"]:
        os.makedirs(os.path.join(projects, name))
    for name in ["beta", "alpha", "default", "Bad", "-x", "zeta"]:
        os.makedirs(os.path.join(projects, name, "tasks"))
    touch(os.path.join(projects, "afile"))
    assert list_projects(layout) == ["alpha", "beta", "zeta"]


def test_list_projects_without_a_state_dir(layout):
    assert list_projects(layout) == []


def test_finding_a_task_by_name_parses_no_meta_file(layout, monkeypatch):
    for index, task_id in enumerate(["g1aaa", "h2bbb", "j3ccc"]):
        meta_dir = layout.meta_dir("demo")
        os.makedirs(meta_dir, exist_ok=True)
        with open(layout.dossier_path("demo", task_id), "w") as handle:
            handle.write('{"project": "demo", "task": "%s", "name": "t%d"}\n' % (task_id, index))
        with open(layout.meta_path("demo", task_id), "w") as handle:
            handle.write("mode: cli\n")
    parsed = []
    real_read_meta = _project_tasks.read_meta
    monkeypatch.setattr(_project_tasks, "read_meta", lambda path: parsed.append(path) or real_read_meta(path))
    tasks = ProjectTasks(layout, "demo").load()
    assert [task.task_id for task in tasks.by_name("t1")] == ["h2bbb"]
    assert parsed == []
    assert tasks.by_name("t1")[0].mode == "cli"
    assert parsed == [layout.meta_path("demo", "h2bbb")]


def test_the_name_index_follows_adds_renames_and_removals(layout):
    tasks = ProjectTasks(layout, "demo").load()
    assert tasks.by_name("a") == []
    tasks.add(Task("demo", "g1aaa", {"name": "a"}, {}))
    assert [task.task_id for task in tasks.by_name("a")] == ["g1aaa"]
    tasks.add(Task("demo", "g1aaa", {"name": "b"}, {}))
    assert tasks.by_name("a") == []
    assert [task.task_id for task in tasks.by_name("b")] == ["g1aaa"]
    tasks.refresh("g1aaa")  # not on disk: dropped
    assert tasks.by_name("b") == []
    assert "g1aaa" not in tasks.tasks
