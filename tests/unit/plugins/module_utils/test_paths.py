# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.terok.lifecycle.plugins.module_utils import _paths
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._paths import Layout, check_component

USER = 1000


@pytest.fixture(autouse=True)
def no_system_config(monkeypatch, tmp_path):
    """Never read the host's /etc/terok/config.yml; tests that need one write it here."""
    monkeypatch.setattr(_paths, "SYSTEM_CONFIG", str(tmp_path / "etc-terok" / "config.yml"))


@pytest.fixture
def home(tmp_path):
    path = tmp_path / "home"
    path.mkdir()
    return path


def write_config(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return str(path)


def user_config(home, data):
    return write_config(home / ".config" / "terok" / "config.yml", data)


def resolve(environ, euid=USER, root=None, load_yaml=yaml.safe_load):
    return Layout.resolve(root=root, environ=environ, euid=euid, load_yaml=load_yaml)


# check_component ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", ".", "..", "/", "a/b", "/abs", "a\x00b", "a\nb", "g1abc\n", None, 5])
def test_check_component_refuses(value):
    with pytest.raises(TerokError) as err:
        check_component(value, "task id")
    assert "task id" in err.value.msg


@pytest.mark.parametrize("value", ["demo", "g1abc", "...", "a..b", ".hidden", "a b", "fix-auth_2"])
def test_check_component_accepts_single_components(value):
    assert check_component(value, "x") == value


# Root resolution ------------------------------------------------------------------------------


def test_root_option_wins_over_everything(tmp_path, home):
    config = user_config(home, {"paths": {"root": "/from/config", "sandbox_live_dir": "/cfg/live"}})
    environ = {
        "HOME": str(home),
        "TEROK_ROOT": "/from/env",
        "TEROK_CONFIG_FILE": config,
        "TEROK_STATE_DIR": "/env/state",
        "TEROK_SANDBOX_LIVE_DIR": "/env/live",
        "XDG_DATA_HOME": "/xdg",
    }
    layout = resolve(environ, root="/opt/terok")
    assert layout.root == "/opt/terok"
    # documented: with the root option everything lives under it
    assert layout.state_dir == "/opt/terok/core"
    assert layout.live_dir == "/opt/terok/sandbox-live"


def test_root_option_is_normalised():
    assert resolve({}, root="/opt//terok/sub/../").root == "/opt/terok"


@pytest.mark.parametrize("bad", ["relative/root", "./x"])
def test_relative_root_option_is_refused_naming_root(bad):
    with pytest.raises(TerokError) as err:
        resolve({}, root=bad)
    assert err.value.option == "root"
    assert "root" in err.value.msg


def test_root_option_with_nul_is_refused():
    with pytest.raises(TerokError) as err:
        resolve({}, root="/opt/te\x00rok")
    assert err.value.option == "root"


def test_terok_root_env_beats_config_file(home):
    config = user_config(home, {"paths": {"root": "/from/config"}})
    layout = resolve({"HOME": str(home), "TEROK_ROOT": "/from/env", "TEROK_CONFIG_FILE": config})
    assert layout.root == "/from/env"
    assert layout.state_dir == "/from/env/core"
    assert layout.live_dir == "/from/env/sandbox-live"


def test_relative_terok_root_is_refused():
    with pytest.raises(TerokError) as err:
        resolve({"TEROK_ROOT": "rel/path"})
    assert "TEROK_ROOT" in err.value.msg


def test_explicit_config_file_paths_root(tmp_path, home):
    config = write_config(tmp_path / "custom.yml", {"paths": {"root": "/srv/terok"}})
    user_config(home, {"paths": {"root": "/from/home"}})
    layout = resolve({"HOME": str(home), "TEROK_CONFIG_FILE": config})
    assert layout.root == "/srv/terok"
    assert layout.state_dir == "/srv/terok/core"


def test_explicit_config_file_missing_does_not_fall_back_to_home(tmp_path, home):
    user_config(home, {"paths": {"root": "/from/home"}})
    environ = {"HOME": str(home), "TEROK_CONFIG_FILE": str(tmp_path / "missing.yml"), "XDG_DATA_HOME": "/xdg"}
    layout = resolve(environ)
    assert layout.root == "/xdg/terok"
    (warning,) = layout.warnings  # a typo in TEROK_CONFIG_FILE is said, not silently ignored
    assert str(tmp_path / "missing.yml") in warning and "TEROK_CONFIG_FILE" in warning


def test_home_config_file_is_read(home):
    user_config(home, {"paths": {"root": "/from/home"}})
    assert resolve({"HOME": str(home)}).root == "/from/home"


def test_system_config_file_is_read(tmp_path, home):
    write_config(tmp_path / "etc-terok" / "config.yml", {"paths": {"root": "/from/etc"}})
    assert resolve({"HOME": str(home)}).root == "/from/etc"


def test_system_config_without_paths_root_does_not_hide_the_home_config(tmp_path, home):
    # "first that is set wins": an /etc config that does not set paths.root leaves it to ~/.config
    write_config(tmp_path / "etc-terok" / "config.yml", {"tasks": {"name_categories": ["animals"]}})
    user_config(home, {"paths": {"root": "/from/home"}})
    assert resolve({"HOME": str(home)}).root == "/from/home"


def test_config_not_consulted_without_a_yaml_loader(home):
    user_config(home, {"paths": {"root": "/from/home"}})
    layout = resolve({"HOME": str(home), "XDG_DATA_HOME": "/xdg"}, load_yaml=None)
    assert layout.root == "/xdg/terok"


def test_relative_config_root_is_refused(home):
    user_config(home, {"paths": {"root": "relative"}})
    with pytest.raises(TerokError) as err:
        resolve({"HOME": str(home)})
    assert "paths.root" in err.value.msg


def test_broken_config_file_raises_naming_the_file(tmp_path):
    config = tmp_path / "broken.yml"
    config.write_text("paths: [unclosed\n")
    with pytest.raises(TerokError) as err:
        resolve({"TEROK_CONFIG_FILE": str(config)})
    assert str(config) in err.value.msg


@pytest.mark.parametrize("content", ["", "just a string\n", "- a list\n", "paths: not-a-mapping\n", "paths:\n"])
def test_config_without_a_paths_mapping_is_ignored(tmp_path, content):
    config = tmp_path / "odd.yml"
    config.write_text(content)
    layout = resolve({"TEROK_CONFIG_FILE": str(config), "XDG_DATA_HOME": "/xdg"})
    assert layout.root == "/xdg/terok"
    if content in ("just a string\n", "- a list\n", "paths: not-a-mapping\n"):
        (warning,) = layout.warnings
        assert str(config) in warning
    else:  # empty, or paths set to nothing: nothing to say
        assert layout.warnings == []


def test_default_root_for_root_user(home):
    layout = resolve({"HOME": str(home), "XDG_DATA_HOME": "/xdg"}, euid=0)
    assert layout.root == "/var/lib/terok"
    assert layout.state_dir == "/var/lib/terok/core"
    assert layout.live_dir == "/var/lib/terok/sandbox-live"


def test_default_root_for_other_users_uses_xdg_data_home(home):
    assert resolve({"HOME": str(home), "XDG_DATA_HOME": "/data/me"}).root == "/data/me/terok"


def test_default_root_for_other_users_without_xdg(home):
    assert resolve({"HOME": str(home)}).root == os.path.join(str(home), ".local", "share", "terok")


def test_empty_env_values_count_as_unset(home):
    environ = {"HOME": str(home), "TEROK_ROOT": "", "XDG_DATA_HOME": "", "TEROK_STATE_DIR": "",
               "TEROK_SANDBOX_LIVE_DIR": ""}
    layout = resolve(environ)
    assert layout.root == os.path.join(str(home), ".local", "share", "terok")
    assert layout.state_dir == os.path.join(layout.root, "core")
    assert layout.live_dir == os.path.join(layout.root, "sandbox-live")


# State and live dirs -----------------------------------------------------------------------------


def test_terok_state_dir_moves_the_metadata_tree():
    layout = resolve({"TEROK_ROOT": "/r", "TEROK_STATE_DIR": "/state"})
    assert layout.root == "/r"
    assert layout.state_dir == "/state"
    assert layout.meta_dir("demo") == "/state/projects/demo/tasks"
    assert layout.archive_dir("demo") == "/r/archive/demo/tasks"


def test_sandbox_live_dir_env_beats_config(tmp_path):
    config = write_config(tmp_path / "c.yml", {"paths": {"sandbox_live_dir": "/cfg/live"}})
    layout = resolve({"TEROK_ROOT": "/r", "TEROK_CONFIG_FILE": config, "TEROK_SANDBOX_LIVE_DIR": "/env/live"})
    assert layout.live_dir == "/env/live"
    assert layout.tasks_root("demo") == "/env/live/tasks/demo"


def test_sandbox_live_dir_from_config(tmp_path):
    config = write_config(tmp_path / "c.yml", {"paths": {"root": "/r", "sandbox_live_dir": "/cfg/live"}})
    layout = resolve({"TEROK_CONFIG_FILE": config})
    assert layout.root == "/r"
    assert layout.live_dir == "/cfg/live"
    assert layout.state_dir == "/r/core"


def test_relative_state_dir_is_refused():
    with pytest.raises(TerokError) as err:
        resolve({"TEROK_ROOT": "/r", "TEROK_STATE_DIR": "state"})
    assert "TEROK_STATE_DIR" in err.value.msg


# Paths of a layout ------------------------------------------------------------------------------


def test_layout_paths():
    layout = Layout("/r")
    assert layout.projects_dir() == "/r/core/projects"
    assert layout.meta_dir("demo") == "/r/core/projects/demo/tasks"
    assert layout.tasks_root("demo") == "/r/sandbox-live/tasks/demo"
    assert layout.archive_dir("demo") == "/r/archive/demo/tasks"
    assert layout.dossier_path("demo", "k7m2q") == "/r/core/projects/demo/tasks/k7m2q_dossier.json"
    assert layout.meta_path("demo", "k7m2q") == "/r/core/projects/demo/tasks/k7m2q_meta.yml"
    assert layout.task_dir("demo", "k7m2q") == "/r/sandbox-live/tasks/demo/k7m2q"
    assert layout.workspace("demo", "k7m2q") == "/r/sandbox-live/tasks/demo/k7m2q/workspace-dangerous"
    assert layout.log_file("demo", "k7m2q") == "/r/sandbox-live/tasks/demo/k7m2q/logs/container.log"
    assert layout.work_status_file("demo", "k7m2q") == (
        "/r/sandbox-live/tasks/demo/k7m2q/agent-config/work-status.yml"
    )
    assert layout.as_dict() == {"root": "/r", "state_dir": "/r/core", "live_dir": "/r/sandbox-live"}


@pytest.mark.parametrize(
    "method", ["meta_dir", "tasks_root", "archive_dir"]
)
@pytest.mark.parametrize("project", ["..", "a/b", "", "x\x00", "x\n"])
def test_project_paths_refuse_bad_components(method, project):
    with pytest.raises(TerokError):
        getattr(Layout("/r"), method)(project)


@pytest.mark.parametrize(
    "method", ["dossier_path", "meta_path", "task_dir", "workspace", "log_file", "work_status_file"]
)
@pytest.mark.parametrize("task_id", ["..", "../x", "a/b", "", None, "x\x00"])
def test_task_paths_refuse_bad_components(method, task_id):
    with pytest.raises(TerokError):
        getattr(Layout("/r"), method)("demo", task_id)


def test_a_relative_xdg_data_home_is_ignored_as_the_spec_says(home):
    layout = resolve({"HOME": str(home), "XDG_DATA_HOME": "relative/data"})
    assert layout.root == os.path.join(str(home), ".local", "share", "terok")
