# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The Ansible side every module shares: its options, its run context and its one error boundary."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.terok.lifecycle.plugins.doc_fragments.common import ModuleDocFragment
from ansible_collections.terok.lifecycle.plugins.module_utils import _module_support
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._module_support import (
    common_argument_spec,
    make_context,
    run_module,
)


class Failed(Exception):
    pass


class Exited(Exception):
    pass


class FakeModule:
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


def test_common_argument_spec_is_what_the_doc_fragment_documents():
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    spec = common_argument_spec()
    assert sorted(spec) == sorted(documented)
    for name, option in spec.items():
        assert (option["type"], option.get("default")) == (documented[name]["type"], documented[name].get("default")), name


def test_make_context(tmp_path, podman_exe):
    module = FakeModule(check_mode=True, root=str(tmp_path / "r"), executable=str(podman_exe), lock_timeout=2.5)
    context = make_context(module)
    assert context.layout.root == str(tmp_path / "r")
    assert context.check_mode is True
    assert context.lock_timeout == 2.5
    assert context.containers() == {}
    (argv, kwargs), = module.commands
    assert argv == [str(podman_exe), "ps", "-a", "--format", "json"]
    assert kwargs.get("encoding") == "utf-8"


def never_called(context, partial):
    raise AssertionError("the body must not run")


def test_a_negative_lock_timeout_fails_naming_the_option(tmp_path):
    with pytest.raises(Failed) as err:
        run_module(FakeModule(root=str(tmp_path), lock_timeout=-1), never_called)
    assert "lock_timeout" in err.value.args[0]["msg"]
    assert err.value.args[0]["option"] == "lock_timeout"
    assert err.value.args[0]["changed"] is False


def test_a_relative_root_fails():
    with pytest.raises(Failed) as err:
        run_module(FakeModule(root="relative/root"), never_called)
    assert "root" in err.value.args[0]["msg"]
    assert err.value.args[0]["option"] == "root"


def test_make_context_without_pyyaml(monkeypatch, tmp_path):
    monkeypatch.setattr(_module_support, "HAS_YAML", False)
    monkeypatch.setattr(_module_support, "YAML_IMPORT_ERROR", "Traceback: No module named 'yaml'")
    with pytest.raises(Failed) as err:
        make_context(FakeModule(root=str(tmp_path)))
    result = err.value.args[0]
    assert "PyYAML" in result["msg"]
    assert result.get("exception") == "Traceback: No module named 'yaml'"


def test_a_terok_error_fails_with_warnings_option_and_partial_results(tmp_path):
    module = FakeModule(root=str(tmp_path))

    def body(context, partial):
        context.warn("first")
        partial["extra"] = 1
        raise TerokError("project 'X' is bad", option="project")

    with pytest.raises(Failed) as err:
        run_module(module, body)
    assert err.value.args[0] == {"msg": "project 'X' is bad", "option": "project", "changed": False, "extra": 1}
    assert module.warned == ["first"]


def test_a_missing_podman_fails_the_run_naming_the_executable_option(tmp_path):
    missing = "terok-test-no-such-podman-8f3k2"

    def body(context, partial):
        return {"changed": False, "containers": context.containers(required=True)}

    with pytest.raises(Failed) as err:
        run_module(FakeModule(root=str(tmp_path), executable=missing), body)
    result = err.value.args[0]
    assert result["option"] == "executable"
    assert missing in result["msg"]
    assert result["changed"] is False


def test_a_failure_reports_a_change_made_before_it(tmp_path):
    def body(context, partial):
        context.changes += 1
        raise TerokError("podman run failed")

    with pytest.raises(Failed) as err:
        run_module(FakeModule(root=str(tmp_path)), body)
    assert err.value.args[0]["changed"] is True


def test_an_os_error_fails_naming_its_path(tmp_path):
    missing = str(tmp_path / "nowhere" / "file")

    def body(context, partial):
        open(missing, encoding="utf-8").close()

    with pytest.raises(Failed) as err:
        run_module(FakeModule(root=str(tmp_path)), body)
    result = err.value.args[0]
    assert result["path"] == missing
    assert result["msg"].startswith(missing + ": ")
    assert "No such file" in result["msg"]


def test_a_terok_error_with_a_path_returns_it(tmp_path):
    def body(context, partial):
        raise TerokError("cannot write /x/y: denied", path="/x/y")

    with pytest.raises(Failed) as err:
        run_module(FakeModule(root=str(tmp_path)), body)
    assert err.value.args[0]["path"] == "/x/y"
    assert "option" not in err.value.args[0]


def test_success_passes_warnings_and_result(tmp_path):
    module = FakeModule(root=str(tmp_path))

    def body(context, partial):
        context.warn("careful")
        return {"changed": False, "tasks": []}

    with pytest.raises(Exited) as err:
        run_module(module, body)
    assert err.value.args[0] == {"changed": False, "tasks": []}
    assert module.warned == ["careful"]


def test_a_config_file_that_is_passed_over_is_a_module_warning(tmp_path, monkeypatch):
    missing = str(tmp_path / "no-such-config.yml")
    monkeypatch.setenv("TEROK_CONFIG_FILE", missing)
    monkeypatch.setenv("TEROK_ROOT", str(tmp_path / "r"))
    module = FakeModule()

    def body(context, partial):
        return {"changed": False}

    with pytest.raises(Exited):
        run_module(module, body)
    assert len(module.warned) == 1 and missing in module.warned[0]
