# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils import module_support
from ansible_collections.terok.lifecycle.plugins.module_utils.errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils.module_support import (
    common_argument_spec,
    fail,
    finish,
    make_runtime,
)


class Failed(Exception):
    pass


class Exited(Exception):
    pass


class FakeModule(object):
    """Just enough of AnsibleModule: params, check_mode, run_command, warn, exit/fail."""

    def __init__(self, check_mode=False, **params):
        self.params = {"root": None, "executable": "podman", "lock_timeout": 30.0}
        self.params.update(params)
        self.check_mode = check_mode
        self.warned = []
        self.commands = []

    def run_command(self, argv, **kwargs):
        self.commands.append((list(argv), kwargs))
        return 0, "[]", ""

    def warn(self, msg):
        self.warned.append(msg)

    def fail_json(self, **result):
        raise Failed(result)

    def exit_json(self, **result):
        raise Exited(result)


def test_common_argument_spec():
    spec = common_argument_spec()
    assert spec["root"]["type"] == "path"
    assert spec["executable"] == {"type": "str", "default": "podman"}
    assert spec["lock_timeout"]["type"] == "float"
    assert spec["lock_timeout"]["default"] == 30


def test_make_runtime(tmp_path, podman_exe):
    module = FakeModule(check_mode=True, root=str(tmp_path / "r"), executable=str(podman_exe), lock_timeout=2.5)
    runtime = make_runtime(module)
    assert runtime.layout.root == str(tmp_path / "r")
    assert runtime.check_mode is True
    assert runtime.lock_timeout == 2.5
    assert runtime.containers() == {}
    (argv, kwargs), = module.commands
    assert argv == [str(podman_exe), "ps", "-a", "--format", "json"]
    assert kwargs.get("encoding") == "utf-8"


def test_make_runtime_refuses_a_negative_lock_timeout(tmp_path):
    with pytest.raises(Failed) as err:
        make_runtime(FakeModule(root=str(tmp_path), lock_timeout=-1))
    assert "lock_timeout" in err.value.args[0]["msg"]


def test_make_runtime_refuses_a_relative_root():
    with pytest.raises(Failed) as err:
        make_runtime(FakeModule(root="relative/root"))
    assert "root" in err.value.args[0]["msg"]


def test_make_runtime_without_pyyaml(monkeypatch, tmp_path):
    monkeypatch.setattr(module_support, "HAS_YAML", False)
    monkeypatch.setattr(module_support, "YAML_IMPORT_ERROR", "Traceback: No module named 'yaml'")
    with pytest.raises(Failed) as err:
        make_runtime(FakeModule(root=str(tmp_path)))
    result = err.value.args[0]
    assert "PyYAML" in result["msg"]
    assert result.get("exception") == "Traceback: No module named 'yaml'"


def test_fail_passes_warnings_and_message(tmp_path):
    module = FakeModule(root=str(tmp_path))
    runtime = make_runtime(module)
    runtime.warn("first")
    with pytest.raises(Failed) as err:
        fail(module, runtime, TerokError("project 'X' is bad", option="project"), extra=1)
    assert err.value.args[0] == {"msg": "project 'X' is bad", "changed": False, "extra": 1}
    assert module.warned == ["first"]


def test_fail_reports_a_change_made_before_the_failure(tmp_path):
    module = FakeModule(root=str(tmp_path))
    runtime = make_runtime(module)
    runtime.changed = True
    with pytest.raises(Failed) as err:
        fail(module, runtime, TerokError("podman run failed"))
    assert err.value.args[0]["changed"] is True


def test_finish_passes_warnings_and_result(tmp_path):
    module = FakeModule(root=str(tmp_path))
    runtime = make_runtime(module)
    runtime.warn("careful")
    with pytest.raises(Exited) as err:
        finish(module, runtime, changed=False, tasks=[])
    assert err.value.args[0] == {"changed": False, "tasks": []}
    assert module.warned == ["careful"]
