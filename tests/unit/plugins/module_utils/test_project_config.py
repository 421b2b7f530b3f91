# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils import _paths
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._project_config import (
    SCHEMA, ProjectConfig, Request, argument_spec, schema_problems,
)
from ansible_collections.terok.lifecycle.plugins.module_utils._run_context import RunGate


def params(**extra):
    result = dict((key, None) for key in argument_spec())
    result.update({"name": "demo", "state": "present", "purge": False, "force": False})
    result.update(extra)
    return result


# Where the file is, as terok 0.9.1 resolves it ----------------------------------------------------------
def test_config_dir_as_terok_resolves_it():
    assert _paths.config_dir("/opt/cfg", {"TEROK_CONFIG_DIR": "/x"}, 0) == "/opt/cfg"
    assert _paths.config_dir(None, {"TEROK_CONFIG_DIR": "/x/"}, 1000) == "/x"
    assert _paths.config_dir(None, {}, 0) == "/etc/terok"
    assert _paths.config_dir(None, {"HOME": "/home/u"}, 1000) == "/home/u/.config/terok"
    assert _paths.config_dir(None, {"HOME": "/home/u", "XDG_CONFIG_HOME": "/xdg"}, 1000) == "/xdg/terok"
    # platformdirs passes over a relative XDG_CONFIG_HOME
    assert _paths.config_dir(None, {"HOME": "/home/u", "XDG_CONFIG_HOME": "rel"}, 1000) == "/home/u/.config/terok"
    with pytest.raises(TerokError) as failure:
        _paths.config_dir("relative", {}, 0)
    assert failure.value.option == "config_dir"


def test_user_projects_dir(tmp_path):
    assert _paths.user_projects_dir({"HOME": "/home/u"}) == "/home/u/.config/terok/projects"
    config = tmp_path / "config.yml"
    config.write_text("paths:\n  user_projects_dir: /srv/projects\n")
    import yaml

    assert _paths.user_projects_dir({"TEROK_CONFIG_FILE": str(config)}, yaml.safe_load) == "/srv/projects"


# Validation as terok validates ------------------------------------------------------------------------------
@pytest.mark.parametrize("extra, option", [
    ({"name": "Demo"}, "name"),
    ({"name": "default"}, "name"),
    ({"name": "-x"}, "name"),
    ({"config_dir": "rel"}, "config_dir"),
    ({"run": {"memory": "lots"}}, "run.memory"),
    ({"run": {"cpus": "-1"}}, "run.cpus"),
    ({"run": {"gpus": "quantum"}}, "run.gpus"),
    ({"config": {"bogus": 1}}, "config.bogus"),
    ({"config": {"git": {"upstream": "x"}}}, "config.git.upstream"),
    ({"config": {"gate": {"enabled": "maybe"}}}, "config.gate.enabled"),
    ({"config": {"image": {"base_image": None}}}, "config.image.base_image"),
    ({"config": {"shield": {"override": [{"host": "10.0.0.1"}]}}}, "config.shield.override[0].reason"),
    ({"config": {"project": {"security_class": "open"}}}, "config.project.security_class"),
    ({"config": {"project": {"name": "other"}}}, "config.project.name"),
    ({"shield": {"override": [{"host": "h", "reason": "r", "expires": "soon"}]}}, "shield.override[0].expires"),
    ({"git": {"upstream_url": "a"}, "config": {"git": {"upstream_url": "b"}}}, "git.upstream_url"),
])
def test_bad_options_name_the_option(extra, option):
    with pytest.raises(TerokError) as failure:
        Request(params(**extra))
    assert failure.value.option == option


def test_terok_takes_what_its_own_template_writes():
    document = {
        "project": {"name": "demo", "security_class": "Online"},
        "git": {"upstream_url": "https://example.invalid/x.git", "default_branch": "main"},
        "image": {"base_image": "debian:bookworm", "agents": "all,-vibe"},
        "run": {"gpus": "nvidia:0,amd", "memory": 1024, "cpus": 0.5, "hooks": None},
        "shield": {"override": [{"host": "10.0.0.0/8", "reason": "lab", "expires": datetime.date(2027, 1, 1)}]},
        "gate": {"backups": None}, "tasks": None, "agent": {"model": "x", "anything": [1]},
        "shared_dir": True,
    }
    assert schema_problems(document) == []


def test_the_schema_mirrors_terok_sections():
    assert sorted(SCHEMA) == sorted([
        "project", "git", "ssh", "tasks", "gate", "gatekeeping", "run", "shield", "services", "image", "credentials",
        "default_agent", "default_provider", "default_shell", "shared_dir", "agent",
    ])


# Converging -------------------------------------------------------------------------------------------
@pytest.fixture
def config_dir(tmp_path):
    return str(tmp_path / "etc")


def converge(config_dir, check_mode=False, **extra):
    gate = RunGate(check_mode)
    project = ProjectConfig(Request(params(config_dir=config_dir, **extra)), gate, environ={"HOME": "/nonexistent"})
    return project.run(), project, gate


def test_merge_keeps_the_file_keys_the_options_do_not_set(config_dir, tmp_path):
    path = tmp_path / "etc" / "projects" / "demo" / "project.yml"
    path.parent.mkdir(parents=True)
    path.write_text("# mine\nproject:\n  name: demo\ngit:\n  human_name: Ada\ngatekeeping:\n  staging_root: /s\n")
    result, _project, gate = converge(config_dir, git={"upstream_url": "u", "default_branch": None})
    assert result["changed"] and gate.changes == 1
    assert result["config"] == {"project": {"name": "demo"}, "git": {"human_name": "Ada", "upstream_url": "u"},
                                "gatekeeping": {"staging_root": "/s"}}
    again, _project, gate = converge(config_dir, git={"upstream_url": "u"})
    assert not again["changed"] and gate.changes == 0
    purged, _project, _gate = converge(config_dir, purge=True, git={"upstream_url": "u"})
    assert purged["config"] == {"project": {"name": "demo"}, "git": {"upstream_url": "u"}}


def test_unknown_keys_in_the_file_are_kept_with_a_warning(config_dir, tmp_path):
    path = tmp_path / "etc" / "projects" / "demo" / "project.yml"
    path.parent.mkdir(parents=True)
    path.write_text("git:\n  mirror: yes\nfuture_section: {a: 1}\n")
    result, _project, gate = converge(config_dir, git={"upstream_url": "u"})
    assert result["config"]["future_section"] == {"a": 1}
    assert result["config"]["git"] == {"mirror": True, "upstream_url": "u"}
    assert list(result["config"])[0] == "project"
    assert len(gate.warnings) == 2 and all("terok 0.9.1 refuses" in warning for warning in gate.warnings)


def test_legacy_id_becomes_the_name(config_dir, tmp_path):
    path = tmp_path / "etc" / "projects" / "demo" / "project.yml"
    path.parent.mkdir(parents=True)
    path.write_text("project:\n  id: demo\n  name: The Demo\n")
    result, _project, _gate = converge(config_dir)
    assert result["config"]["project"] == {"name": "demo", "description": "The Demo"}


def test_dates_compare_as_text(config_dir, tmp_path):
    override = [{"host": "h", "reason": "r", "expires": "2027-01-01"}]
    path = tmp_path / "etc" / "projects" / "demo" / "project.yml"
    path.parent.mkdir(parents=True)
    path.write_text("project:\n  name: demo\nshield:\n  override:\n  - {host: h, reason: r, expires: 2027-01-01}\n")
    result, _project, _gate = converge(config_dir, shield={"override": override})
    assert not result["changed"]


@pytest.mark.parametrize("content", ["- a\n- b\n", "a: [\n"])
def test_a_file_that_is_no_mapping_fails_naming_it(config_dir, tmp_path, content):
    path = tmp_path / "etc" / "projects" / "demo" / "project.yml"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(TerokError) as failure:
        converge(config_dir)
    assert failure.value.path == str(path)
    assert path.read_text() == content


def test_shadowing_user_file_is_warned(config_dir, tmp_path):
    shadow = tmp_path / "home" / ".config" / "terok" / "projects" / "demo" / "project.yml"
    shadow.parent.mkdir(parents=True)
    shadow.write_text("")
    gate = RunGate(False)
    ProjectConfig(Request(params(config_dir=config_dir)), gate, environ={"HOME": str(tmp_path / "home")}).run()
    assert len(gate.warnings) == 1 and str(shadow) in gate.warnings[0]


def test_absent_refuses_while_tasks_exist_unless_forced(config_dir, tmp_path, write_task, root):
    converge(config_dir)
    write_task("demo", "k0abc", name="one")
    with pytest.raises(TerokError) as failure:
        converge(config_dir, state="absent", root=root)
    assert failure.value.option == "state" and "k0abc" in failure.value.msg
    assert (tmp_path / "etc" / "projects" / "demo" / "project.yml").exists()
    result, _project, gate = converge(config_dir, state="absent", root=root, force=True)
    assert result["changed"] and result["config"] is None
    assert not (tmp_path / "etc" / "projects" / "demo").exists()
    assert "k0abc" in gate.warnings[0]
    again, _project, _gate = converge(config_dir, state="absent", root=root)
    assert not again["changed"]
