# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.terok.lifecycle.plugins.modules import terok_host_prep

SCRIPT = "#!/bin/bash\necho '>> init complete'\n"
IMAGE = "localhost/terok-task:latest"


pytestmark = pytest.mark.usefixtures("no_system_config")  # never the host's /etc/terok/config.yml


@pytest.fixture
def args(tmp_path, podman_exe):
    base = tmp_path / "host"

    def make(**extra):
        result = {
            "root": str(base / "root"),
            "init_script_path": str(base / "libexec" / "init-ssh-and-repo.sh"),
            "init_script_content": SCRIPT,
            "containers_conf_path": str(base / "conf.d" / "50-terok-lifecycle.conf"),
            "executable": str(podman_exe),
            "commands": [],
            "image": IMAGE,
            # never systemctl enable on the machine that runs the tests (check mode tests it below)
            "restart_on_boot": False,
        }
        result.update(extra)
        return result

    return make


def test_prepares_then_reruns_ok(run_module, args, podman_program, podman_log):
    podman_program.update(images=[IMAGE])
    first = run_module(terok_host_prep, args(podman_runtime="runc"))
    assert first["_rc"] == 0 and first["changed"] is True
    assert first["image_exists"] is True
    assert os.path.isfile(first["containers_conf"]["path"])
    assert len(first["changes"]) == 6
    second = run_module(terok_host_prep, args(podman_runtime="runc"))
    assert second["_rc"] == 0 and second["changed"] is False and second["changes"] == []
    assert podman_log() == ["image exists " + IMAGE] * 2  # one podman call per run


def test_check_mode_and_diff(run_module, args, tmp_path, tree_snapshot):
    result = run_module(terok_host_prep, args(_ansible_check_mode=True, _ansible_diff=True))
    assert result["_rc"] == 0 and result["changed"] is True
    assert not (tmp_path / "host").exists()
    assert [entry["before"] for entry in result["diff"]] == ["absent\n"] * 4 + [""]
    assert result["diff"][4]["after"] == SCRIPT
    run_module(terok_host_prep, args())
    snap = tree_snapshot(str(tmp_path / "host"))
    again = run_module(terok_host_prep, args(_ansible_check_mode=True, _ansible_diff=True))
    assert again["changed"] is False and again["diff"] == []
    assert tree_snapshot(str(tmp_path / "host")) == snap


def test_no_diff_key_without_diff_mode(run_module, args):
    assert "diff" not in run_module(terok_host_prep, args())


@pytest.mark.parametrize("extra, option", [
    ({"root_mode": "u=rwx"}, "root_mode"),
    ({"init_script_path": "/a:b/init.sh"}, "init_script_path"),
    ({"podman_ulimits": ["nofile"]}, "podman_ulimits[0]"),
    ({"root": "relative"}, "root"),
])
def test_bad_options_fail_naming_the_option_and_write_nothing(run_module, args, tmp_path, extra, option):
    result = run_module(terok_host_prep, args(**extra))
    assert result["_rc"] == 1 and result.get("failed") is True
    assert result["option"] == option
    assert result["msg"].startswith(option + ":")
    assert result["changed"] is False
    assert not (tmp_path / "host").exists()


def test_ansible_refuses_a_wrong_type_naming_the_option(run_module, args):
    result = run_module(terok_host_prep, args(packages={"a": 1}))
    assert result["_rc"] == 1
    assert "packages" in result["msg"]


def test_a_failure_after_a_change_reports_the_change(run_module, args, tmp_path):
    (tmp_path / "host" / "root").mkdir(parents=True)
    (tmp_path / "host" / "root" / "archive").write_text("not a directory")
    result = run_module(terok_host_prep, args())
    assert result["_rc"] == 1
    assert result["path"] == str(tmp_path / "host" / "root" / "archive")
    assert result["changed"] is True  # the root's mode, core and sandbox-live were done before
    assert len(result["changes"]) == 3


def test_missing_is_reported_not_failed(run_module, args, podman_program):
    result = run_module(terok_host_prep, args(executable="no-such-podman-anywhere", commands=["no-such-command-anywhere"]))
    assert result["_rc"] == 0
    assert result["missing"] == ["podman", "no-such-command-anywhere"]
    assert result["image_exists"] is None


def test_lock_timeout_is_accepted_for_module_defaults(run_module, args):
    assert run_module(terok_host_prep, args(lock_timeout=5))["_rc"] == 0


def test_every_returned_key_is_documented(run_module, args, podman_program):
    podman_program.update(images=[IMAGE])
    result = run_module(terok_host_prep, args(podman_runtime="runc", packages=[]))
    documented = yaml.safe_load(terok_host_prep.RETURN)
    own = set(result) - {"_rc", "_warnings", "invocation", "warnings", "changed", "diff"}
    assert own <= set(documented), own - set(documented)
    for key in ("init_script", "containers_conf", "user"):
        assert set(result[key]) == set(documented[key]["contains"]), key
    assert result["restart_on_boot"] is None
    failure = run_module(terok_host_prep, args(root_mode="x"))
    assert set(failure) - {"_rc", "_warnings", "invocation", "failed", "changed", "msg"} <= set(documented)


def test_restart_on_boot_is_reported_with_its_warnings(run_module, args):
    documented = yaml.safe_load(terok_host_prep.RETURN)
    # in check mode, so that a machine with systemd is not changed
    checked = run_module(terok_host_prep, args(_ansible_check_mode=True, restart_on_boot=True))
    assert checked["_rc"] == 0
    assert set(checked["restart_on_boot"]) == set(documented["restart_on_boot"]["contains"])
    assert set(checked["_warnings"]) >= set(checked["restart_on_boot"]["not_done"])
    assert checked["restart_on_boot"]["systemd"] is os.path.isdir("/run/systemd/system")


def test_every_option_is_documented():
    options = yaml.safe_load(terok_host_prep.DOCUMENTATION)["options"]
    assert sorted(options) == sorted([
        "root", "root_mode", "root_owner", "root_group", "init_script_content", "init_script_path",
        "containers_conf_path", "podman_runtime", "podman_ulimits", "executable", "commands", "packages",
        "image", "restart_on_boot", "egress_hook", "egress_hook_path", "egress_hooks_dir", "lock_timeout"])
