# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.terok.lifecycle.plugins.modules import terok_project

pytestmark = pytest.mark.usefixtures("no_system_config")  # never the host's /etc/terok/config.yml


@pytest.fixture
def args(tmp_path, root):
    def make(**extra):
        result = {"name": "demo", "config_dir": str(tmp_path / "etc"), "root": root}
        result.update(extra)
        return result

    return make


@pytest.fixture
def project_file(tmp_path):
    return tmp_path / "etc" / "projects" / "demo" / "project.yml"


def test_present_writes_then_reruns_ok(run_module, args, project_file):
    options = {"git": {"upstream_url": "https://example.invalid/demo.git", "default_branch": "main"},
               "image": {"base_image": "debian:bookworm"}, "security_class": "online",
               "shield": {"allow": ["pypi.org"]}, "run": {"memory": "4g"}, "agent": {"model": "m"}}
    first = run_module(terok_project, args(**options))
    assert first["_rc"] == 0 and first["changed"] is True
    assert first["path"] == str(project_file)
    written = yaml.safe_load(project_file.read_text())
    assert written == first["config"] == {
        "project": {"name": "demo", "security_class": "online"},
        "git": {"upstream_url": "https://example.invalid/demo.git", "default_branch": "main"},
        "image": {"base_image": "debian:bookworm"}, "shield": {"allow": ["pypi.org"]}, "run": {"memory": "4g"},
        "agent": {"model": "m"},
    }
    assert oct(os.stat(str(project_file)).st_mode & 0o777) == "0o644"
    mtime = os.stat(str(project_file)).st_mtime_ns
    second = run_module(terok_project, args(**options))
    assert second["_rc"] == 0 and second["changed"] is False
    assert os.stat(str(project_file)).st_mtime_ns == mtime  # not rewritten


def test_check_mode_writes_nothing_and_diff_shows_the_text(run_module, args, tmp_path, project_file):
    result = run_module(terok_project, args(git={"upstream_url": "u"}, _ansible_check_mode=True, _ansible_diff=True))
    assert result["_rc"] == 0 and result["changed"] is True
    assert not (tmp_path / "etc").exists()
    assert result["diff"]["before"] == ""
    assert yaml.safe_load(result["diff"]["after"]) == {"project": {"name": "demo"}, "git": {"upstream_url": "u"}}
    run_module(terok_project, args(git={"upstream_url": "u"}))
    text = project_file.read_text()
    change = run_module(terok_project, args(git={"upstream_url": "v"}, _ansible_check_mode=True, _ansible_diff=True))
    assert change["changed"] is True and project_file.read_text() == text
    assert change["diff"]["before"] == text and "upstream_url: v" in change["diff"]["after"]
    same = run_module(terok_project, args(git={"upstream_url": "u"}, _ansible_diff=True))
    assert same["changed"] is False and same["diff"]["before"] == same["diff"]["after"]


def test_unknown_keys_of_the_file_are_kept(run_module, args, project_file):
    project_file.parent.mkdir(parents=True)
    project_file.write_text("project:\n  name: demo\nfrom_the_future: 1\ngit:\n  default_branch: dev\n")
    result = run_module(terok_project, args(git={"upstream_url": "u"}))
    assert result["_rc"] == 0 and result["changed"] is True
    assert yaml.safe_load(project_file.read_text()) == {
        "project": {"name": "demo"}, "from_the_future": 1, "git": {"default_branch": "dev", "upstream_url": "u"}}
    assert any("from_the_future" in warning and "broken" in warning for warning in result["_warnings"])


@pytest.mark.parametrize("extra, option", [
    ({"name": "default"}, "name"),
    ({"name": "Has Caps"}, "name"),
    ({"run": {"memory": "much"}}, "run.memory"),
    ({"config": {"git": {"upstream": "typo"}}}, "config.git.upstream"),
    ({"config": {"shield": {"sets": "not-a-list"}}}, "config.shield.sets"),
])
def test_bad_input_fails_naming_the_option_and_writes_nothing(run_module, args, tmp_path, project_file, extra, option):
    result = run_module(terok_project, args(**extra))
    assert result["_rc"] == 1 and result.get("failed") is True
    assert result["option"] == option
    assert not (tmp_path / "etc").exists()
    project_file.parent.mkdir(parents=True)
    project_file.write_text("git:\n  upstream_url: keep\n")
    again = run_module(terok_project, args(**extra))
    assert again["_rc"] == 1 and project_file.read_text() == "git:\n  upstream_url: keep\n"


def test_absent_refuses_with_tasks_then_removes_with_force(run_module, args, project_file, write_task):
    run_module(terok_project, args())
    write_task("demo", "k0abc", name="one")
    refused = run_module(terok_project, args(state="absent"))
    assert refused["_rc"] == 1 and refused["option"] == "state" and "force" in refused["msg"]
    assert project_file.exists()
    check = run_module(terok_project, args(state="absent", force=True, _ansible_check_mode=True))
    assert check["changed"] is True and project_file.exists()
    removed = run_module(terok_project, args(state="absent", force=True))
    assert removed["_rc"] == 0 and removed["changed"] is True and removed["config"] is None
    assert not project_file.parent.exists()
    again = run_module(terok_project, args(state="absent"))
    assert again["_rc"] == 0 and again["changed"] is False


def test_absent_without_tasks(run_module, args, project_file):
    run_module(terok_project, args())
    (project_file.parent / "instructions.md").write_text("mine\n")
    removed = run_module(terok_project, args(state="absent"))
    assert removed["changed"] is True and not project_file.exists()
    assert (project_file.parent / "instructions.md").exists()  # the directory stays while it holds more


def test_config_dir_from_the_environment(run_module, tmp_path, monkeypatch, root):
    monkeypatch.setenv("TEROK_CONFIG_DIR", str(tmp_path / "env-etc"))
    result = run_module(terok_project, {"name": "demo", "root": root})
    assert result["_rc"] == 0 and result["path"] == str(tmp_path / "env-etc" / "projects" / "demo" / "project.yml")
    assert os.path.isfile(result["path"])
