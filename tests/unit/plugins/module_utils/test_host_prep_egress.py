# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""terok_host_prep's egress hook (option egress_hook): the program and its descriptor, where they go for root and
for a user, the drop-in that registers a user's hooks directory, the Python that runs the hook, nft and nsenter
among what the host lacks; a rerun changes nothing, check mode writes nothing, a run without it removes nothing."""

from __future__ import annotations

import json
import os
import stat
import sys

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils import _egress, _host_prep
from ansible_collections.terok.lifecycle.plugins.module_utils._host_prep import (
    HostPrep,
    HostUser,
    Request,
    default_egress_hook,
    hook_python,
    render_containers_conf,
)
from ansible_collections.terok.lifecycle.plugins.module_utils._run_context import RunGate
from ansible_collections.terok.lifecycle.tests.support.fake_podman import FakePodman

pytestmark = pytest.mark.usefixtures("no_system_config")  # never the host's /etc/terok/config.yml


@pytest.fixture
def prep(tmp_path, podman_exe):
    """Make a HostPrep with the egress hook under tmp_path (root unless ``euid`` says otherwise)."""

    def make(check_mode=False, euid=0, environ=None, **params):
        options = {"root": str(tmp_path / "root"), "executable": podman_exe, "restart_on_boot": False,
                   "egress_hook": True, "egress_hook_path": str(tmp_path / "libexec" / _egress.HOOK_NAME),
                   "egress_hooks_dir": str(tmp_path / "hooks.d"),
                   "containers_conf_path": str(tmp_path / "conf.d" / "50-terok-lifecycle.conf")}
        options.update(params)
        options = {key: value for key, value in options.items() if value is not None}
        return HostPrep(Request(options), FakePodman(), RunGate(check_mode),
                        environ={"HOME": str(tmp_path / "home")} if environ is None else environ, euid=euid,
                        egid=euid, which=lambda name: "/usr/sbin/" + name, os_release=str(tmp_path / "os-release"))

    return make


def test_the_program_and_its_descriptor_are_installed(prep, tmp_path):
    result = prep().run()
    hook = result["egress_hook"]
    program, descriptor = str(tmp_path / "libexec" / _egress.HOOK_NAME), str(tmp_path / "hooks.d" / _egress.DESCRIPTOR_NAME)
    assert hook == {"program": program, "descriptor": descriptor, "python": hook_python(HostUser(0, 0, "root", "/root")),
                    "podman_hooks_dirs": [_egress.DEFAULT_HOOKS_DIR, str(tmp_path / "hooks.d")], "changed": True}
    with open(program, "rb") as handle:
        text = handle.read()
    assert text.startswith(b"# Installed by terok.lifecycle") and text.endswith(_egress.program_text())
    assert stat.S_IMODE(os.stat(program).st_mode) == 0o755 and stat.S_IMODE(os.stat(descriptor).st_mode) == 0o644
    with open(descriptor, encoding="utf-8") as handle:
        assert json.load(handle) == json.loads(_egress.descriptor(hook["python"], program))
    assert "wrote %s (mode 0755)" % program in result["changes"] and "wrote %s (mode 0644)" % descriptor in result["changes"]
    # a directory other than podman's default is registered in the drop-in, after the default
    with open(str(tmp_path / "conf.d" / "50-terok-lifecycle.conf"), encoding="utf-8") as handle:
        conf = handle.read()
    assert 'hooks_dir = ["%s", "%s"]' % (_egress.DEFAULT_HOOKS_DIR, tmp_path / "hooks.d") in conf
    assert _egress.hooks_dirs({"CONTAINERS_CONF": str(tmp_path / "conf.d" / "50-terok-lifecycle.conf")}, False) == [
        _egress.DEFAULT_HOOKS_DIR, str(tmp_path / "hooks.d")]


def test_the_installed_program_runs_as_the_hook(prep, tmp_path):
    import subprocess  # pylint: disable=import-outside-toplevel

    program = prep().run()["egress_hook"]["program"]
    state = json.dumps({"id": "x", "pid": 1, "bundle": str(tmp_path), "annotations": {}})
    proc = subprocess.run([sys.executable, "-I", program, "createRuntime"], input=state.encode(), check=False,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.returncode == 0, proc.stderr


def test_a_rerun_changes_nothing_and_check_mode_writes_nothing(prep, tmp_path, tree_snapshot):
    before = tree_snapshot(str(tmp_path))
    checker = prep(check_mode=True)
    result = checker.run()
    assert tree_snapshot(str(tmp_path)) == before and result["egress_hook"]["changed"] is True
    assert [diff["after"] for diff in checker.diffs if diff["after_header"].endswith(_egress.DESCRIPTOR_NAME)]
    prep().run()
    again = prep().run()
    assert again["changed"] is False and again["egress_hook"]["changed"] is False


def test_podman_s_default_directory_needs_no_drop_in(prep, tmp_path, monkeypatch):
    monkeypatch.setattr(_egress, "DEFAULT_HOOKS_DIR", str(tmp_path / "hooks.d"))
    result = prep().run()
    assert result["egress_hook"]["podman_hooks_dirs"] is None
    assert result["containers_conf"]["state"] == "absent" and not os.path.exists(str(tmp_path / "conf.d"))


def test_without_it_nothing_is_installed_nor_removed(prep, tmp_path):
    prep().run()
    result = prep(egress_hook=False).run()
    assert result["egress_hook"] is None
    assert os.path.exists(str(tmp_path / "libexec" / _egress.HOOK_NAME))
    assert os.path.exists(str(tmp_path / "hooks.d" / _egress.DESCRIPTOR_NAME))
    assert "nft" not in Request({"egress_hook": False}).commands


def test_nft_and_nsenter_are_among_what_the_host_must_have(prep):
    assert Request({"egress_hook": True, "commands": ["git"]}).commands == ["git", "nft", "nsenter"]
    assert Request({"egress_hook": True, "commands": ["nft"]}).commands == ["nft", "nsenter"]
    missing = prep()
    missing.which = lambda name: None if name in ("nft", "nsenter") else "/usr/bin/" + name
    assert missing.run()["missing"][-2:] == ["nft", "nsenter"]


def test_the_default_places(tmp_path):
    root = HostUser(0, 0, "root", "/root")
    user = HostUser(1000, 1000, "ana", "/home/ana")
    assert default_egress_hook(root, {}) == ("/usr/local/libexec/terok/" + _egress.HOOK_NAME, _egress.DEFAULT_HOOKS_DIR)
    assert default_egress_hook(user, {}) == ("/home/ana/.local/libexec/terok/" + _egress.HOOK_NAME,
                                             "/home/ana/.config/containers/oci/hooks.d")
    assert default_egress_hook(user, {"XDG_CONFIG_HOME": "/cfg"})[1] == "/cfg/containers/oci/hooks.d"


def test_root_s_hook_runs_with_a_python_every_user_may_run(tmp_path):
    private = tmp_path / "private"
    (private / "bin").mkdir(parents=True)
    python = private / "bin" / "python3"
    python.write_text("")
    python.chmod(0o755)
    private.chmod(0o700)
    root, user = HostUser(0, 0, "root", "/root"), HostUser(1000, 1000, "ana", "/home/ana")
    try:
        if os.path.exists("/usr/bin/python3"):
            assert hook_python(root, str(python)) == "/usr/bin/python3"
        assert hook_python(user, str(python)) == str(python)  # a user's hook runs as that user
        private.chmod(0o755)
        for part in (tmp_path, tmp_path.parent, tmp_path.parent.parent):
            if not os.stat(str(part)).st_mode & stat.S_IXOTH:
                break
        else:
            assert hook_python(root, str(python)) == str(python)
    finally:
        private.chmod(0o755)


@pytest.mark.parametrize("option", ["egress_hook_path", "egress_hooks_dir"])
def test_relative_paths_are_refused_naming_the_option(option):
    with pytest.raises(_host_prep.TerokError) as caught:
        Request({"egress_hook": True, option: "relative/path"})
    assert caught.value.option == option


def test_the_drop_in_text():
    assert render_containers_conf(None, [], None) is None
    text = render_containers_conf("runc", [], ["/usr/share/containers/oci/hooks.d", "/h"])
    assert text.endswith('\n[engine]\nruntime = "runc"\nhooks_dir = ["/usr/share/containers/oci/hooks.d", "/h"]\n')
    assert render_containers_conf(None, [], ["/a", "/b"]).endswith('\n[engine]\nhooks_dir = ["/a", "/b"]\n')
