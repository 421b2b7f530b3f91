# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils._archive import write_entry
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._query import Query, list_tasks
from ansible_collections.terok.lifecycle.plugins.module_utils._metadata import MANAGED_BY, MANAGED_KEY
from ansible_collections.terok.lifecycle.plugins.module_utils._project_tasks import Task

READY = "2026-11-28T09:16:00+00:00"


@pytest.fixture
def populated(write_task):
    """Two projects, tasks in several states."""
    write_task("demo", "k7m2q", "fix-auth", meta={"mode": "cli", "ready_at": READY, MANAGED_KEY: MANAGED_BY})
    write_task("demo", "h3abc", "refactor", meta={"mode": None})
    write_task("demo", "g0000", "fix-auth", meta={"mode": "run", "ready_at": READY, "exit_code": 1})
    write_task("other", "z9zzz", "fix-auth", meta={"mode": "web"})
    return {"demo-cli-k7m2q": {"State": "running", "ExitCode": 0}, "other-web-z9zzz": {"State": "running"}}


def ids(tasks):
    return [(t["project"], t["task_id"]) for t in tasks]


def test_query_defaults_match_everything():
    query = Query.from_params({})
    assert (query.project, query.name, query.task_id, query.statuses, query.include_archived) == (
        None, None, None, None, False)
    assert query.matches("k7m2q", "anything")


def test_query_sanitizes_the_name():
    query = Query.from_params({"name": "  Fix Auth "})
    assert query.name == "fix-auth"
    assert query.matches("k7m2q", "fix-auth")
    assert not query.matches("k7m2q", "fix-auth-2")


@pytest.mark.parametrize(
    "params, option",
    [
        ({"project": "Bad"}, "project"),
        ({"project": "default"}, "project"),
        ({"name": "!!!"}, "name"),
        ({"name": "-x"}, "name"),
        ({"task_id": "abcde"}, "task_id"),
    ],
)
def test_query_refuses_bad_filters_naming_the_option(params, option):
    with pytest.raises(TerokError) as err:
        Query.from_params(params)
    assert err.value.option == option
    assert option in err.value.msg


def test_list_everything(make_runtime, populated):
    runtime, runner = make_runtime(containers=populated)
    tasks, archived = list_tasks(runtime, Query())
    assert ids(tasks) == [("demo", "g0000"), ("demo", "h3abc"), ("demo", "k7m2q"), ("other", "z9zzz")]
    assert archived == []
    by_id = {t["task_id"]: t for t in tasks}
    assert by_id["k7m2q"]["status"] == "running"
    assert by_id["k7m2q"]["managed"] is True
    assert by_id["k7m2q"]["login_command"] == "podman exec -it demo-cli-k7m2q bash"
    assert by_id["h3abc"]["status"] == "created"
    assert by_id["g0000"]["status"] == "failed"
    assert by_id["z9zzz"]["status"] == "init"
    assert runtime.warnings == []


def test_one_podman_listing_for_any_number_of_tasks(make_runtime, populated):
    runtime, runner = make_runtime(containers=populated)
    list_tasks(runtime, Query())
    assert runner.subcommands() == ["ps"]
    assert runner.calls[0][1:] == ["ps", "-a", "--format", "json"]


@pytest.mark.parametrize(
    "query, expected",
    [
        (Query(project="demo"), [("demo", "g0000"), ("demo", "h3abc"), ("demo", "k7m2q")]),
        (Query(project="other"), [("other", "z9zzz")]),
        (Query(project="nothing-here"), []),
        (Query(name="fix-auth"), [("demo", "g0000"), ("demo", "k7m2q"), ("other", "z9zzz")]),
        (Query(project="demo", name="fix-auth"), [("demo", "g0000"), ("demo", "k7m2q")]),
        (Query(task_id="h3abc"), [("demo", "h3abc")]),
        (Query(task_id="h3abc", name="fix-auth"), []),
        (Query(statuses=["running"]), [("demo", "k7m2q")]),
        (Query(statuses=["created", "failed"]), [("demo", "g0000"), ("demo", "h3abc")]),
        (Query(statuses=["init"], project="demo"), []),
        (Query(statuses=["completed"]), []),
    ],
)
def test_filters(make_runtime, populated, query, expected):
    runtime, _runner = make_runtime(containers=populated)
    tasks, _archived = list_tasks(runtime, query)
    assert ids(tasks) == expected


def test_unreadable_task_is_skipped_with_a_warning(make_runtime, populated, layout):
    with open(layout.dossier_path("demo", "h3abc"), "w") as handle:
        handle.write("{broken")
    runtime, _runner = make_runtime(containers=populated)
    tasks, _archived = list_tasks(runtime, Query(project="demo"))
    assert ids(tasks) == [("demo", "g0000"), ("demo", "k7m2q")]
    assert len(runtime.warnings) == 1
    assert "h3abc" in runtime.warnings[0]
    assert layout.dossier_path("demo", "h3abc") in runtime.warnings[0]


def test_missing_podman_lists_with_a_warning(make_runtime, populated):
    runtime, runner = make_runtime(containers=populated, executable="terok-test-no-such-podman")
    tasks, _archived = list_tasks(runtime, Query(project="demo"))
    assert ids(tasks) == [("demo", "g0000"), ("demo", "h3abc"), ("demo", "k7m2q")]
    assert all(t["container_state"] is None for t in tasks)
    assert {t["task_id"]: t["status"] for t in tasks} == {"g0000": "failed", "h3abc": "created", "k7m2q": "not found"}
    assert runner.calls == []
    assert len(runtime.warnings) == 1
    assert "terok-test-no-such-podman" in runtime.warnings[0]


def test_failing_podman_lists_with_a_warning(make_runtime, populated):
    runtime, _runner = make_runtime(containers=populated, fail={"ps": (125, "Error: no podman socket")})
    tasks, _archived = list_tasks(runtime, Query(project="demo"))
    assert len(tasks) == 3
    assert any("no podman socket" in w for w in runtime.warnings)


def test_include_archived(make_runtime, populated, layout):
    now = datetime.datetime(2026, 11, 28, tzinfo=datetime.timezone.utc)
    old = write_entry(layout, Task("demo", "m1xyz", {"name": "fix-auth"}, {"mode": "cli"}), now)
    other = write_entry(layout, Task("demo", "n2xyz", {"name": "unrelated"}, {}), now)
    runtime, _runner = make_runtime(containers=populated)
    tasks, archived = list_tasks(runtime, Query(project="demo", include_archived=True))
    assert sorted(e["archive_path"] for e in archived) == sorted([old, other])
    tasks, archived = list_tasks(runtime, Query(name="fix-auth", include_archived=True))
    assert [e["archive_path"] for e in archived] == [old]
    assert archived[0]["task_id"] == "m1xyz"
    assert archived[0]["project"] == "demo"
    tasks, archived = list_tasks(runtime, Query(task_id="n2xyz", include_archived=True))
    assert tasks == []
    assert [e["archive_path"] for e in archived] == [other]
    tasks, archived = list_tasks(runtime, Query(project="demo"))
    assert archived == []
