# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""absent/archived remove what terok keeps of a task outside its files, as ``terok task delete`` does:
every mode's terok-sandbox sidecar and runtime directory, and the task's web-port claim."""

from __future__ import annotations

import json
import os
import pwd

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils import _terok_state
from ansible_collections.terok.lifecycle.plugins.module_utils._converge import converge_one
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._paths import PORT_REGISTRY_DEFAULT, Layout
from ansible_collections.terok.lifecycle.plugins.module_utils._spec import Spec

MODES = ("cli", "web", "run", "toad")
USER = pwd.getpwuid(os.geteuid()).pw_name


def absent(**params):
    params.setdefault("project", "demo")
    params.setdefault("task_id", "k7m2q")
    params.setdefault("state", "absent")
    return Spec.from_params(params)


@pytest.fixture
def terok_state(layout, tmp_path, write_task):
    """A terok-run task k7m2q with a sidecar and runtime dir for each mode, a web-port claim, and the same
    for another task (k7m2r) that must survive."""
    layout.sandbox_runtime_dir = str(tmp_path / "run" / "terok" / "sandbox")
    layout.port_registry_dir = str(tmp_path / "ports")
    os.makedirs(layout.port_registry_dir)
    write_task("demo", "k7m2q", "a", meta={"mode": "web", "web_port": 18700, "ready_at": "x", "unrestricted": True})
    made = {}
    for task_id in ("k7m2q", "k7m2r"):
        for mode in MODES:
            name = "demo-%s-%s" % (mode, task_id)
            sidecar = os.path.join(layout.sandbox_state_dir, "sidecar", name + ".json")
            run_dir = os.path.join(layout.sandbox_runtime_dir, "run", name)
            os.makedirs(os.path.dirname(sidecar), exist_ok=True)
            os.makedirs(os.path.join(run_dir, "gate"))
            with open(sidecar, "w") as handle:
                handle.write("{}")
            made.setdefault(task_id, []).extend([sidecar, run_dir])
    claims = {"web:demo/k7m2q": 18700, "web:demo/k7m2r": 18701, "gate": 18702}
    with open(os.path.join(layout.port_registry_dir, USER + ".json"), "w") as handle:
        json.dump(claims, handle)
    with open(os.path.join(layout.port_registry_dir, "someone-else.json"), "w") as handle:
        json.dump({"web:demo/k7m2q": 18800}, handle)
    return made


def claims(layout, user=USER):
    with open(os.path.join(layout.port_registry_dir, user + ".json")) as handle:
        return json.load(handle)


@pytest.mark.parametrize("state", ["absent", "archived"])
def test_removal_takes_terok_s_per_container_state_and_releases_the_web_port(make_runtime, layout, terok_state, state):
    runtime, runner = make_runtime(containers={"demo-web-k7m2q": {"State": "exited", "Labels": {}}})
    outcome = converge_one(runtime, absent(state=state))
    assert outcome.changed
    assert [p for p in terok_state["k7m2q"] if os.path.lexists(p)] == []
    assert all(os.path.exists(p) for p in terok_state["k7m2r"])  # another task's: untouched
    assert claims(layout) == {"web:demo/k7m2r": 18701, "gate": 18702}
    assert claims(layout, "someone-else") == {"web:demo/k7m2q": 18800}  # another user's file is theirs
    assert oct(os.stat(os.path.join(layout.port_registry_dir, USER + ".json")).st_mode & 0o777) == "0o600"
    assert not [n for n in os.listdir(layout.port_registry_dir) if n.endswith(".tmp")]
    assert not any("terok" in w and "state" in w for w in runtime.warnings)


def test_nothing_is_removed_while_a_container_may_still_run(make_runtime, layout, terok_state):
    runtime, _runner = make_runtime(containers={"demo-web-k7m2q": {"State": "running", "Labels": {}}},
                                    fail={"rm": (125, "Error: cannot remove container")})
    converge_one(runtime, absent())
    assert all(os.path.exists(p) for p in terok_state["k7m2q"])
    assert claims(layout)["web:demo/k7m2q"] == 18700
    assert any("web port are kept" in w for w in runtime.warnings)


def test_check_mode_removes_nothing(make_runtime, layout, terok_state, tree_snapshot, tmp_path):
    before = tree_snapshot(str(tmp_path))
    runtime, runner = make_runtime(check_mode=True, containers={"demo-web-k7m2q": {"State": "exited", "Labels": {}}})
    outcome = converge_one(runtime, absent())
    assert outcome.changed and runner.mutating_calls() == []
    assert tree_snapshot(str(tmp_path)) == before


def test_links_are_removed_as_links_and_never_followed(make_runtime, layout, terok_state, tmp_path):
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "dir" / "keep").write_text("keep")
    (outside / "file.json").write_text("keep")
    sidecar = os.path.join(layout.sandbox_state_dir, "sidecar", "demo-cli-k7m2q.json")
    run_dir = os.path.join(layout.sandbox_runtime_dir, "run", "demo-cli-k7m2q")
    os.unlink(sidecar)
    os.rename(run_dir, str(tmp_path / "moved"))
    os.symlink(str(outside / "file.json"), sidecar)
    os.symlink(str(outside / "dir"), run_dir)
    runtime, _runner = make_runtime()
    converge_one(runtime, absent())
    assert not os.path.lexists(sidecar) and not os.path.lexists(run_dir)
    assert (outside / "dir" / "keep").read_text() == "keep" and (outside / "file.json").read_text() == "keep"


def test_a_claim_file_that_is_a_link_is_left_alone(make_runtime, layout, terok_state, tmp_path):
    own = os.path.join(layout.port_registry_dir, USER + ".json")
    target = tmp_path / "elsewhere.json"
    os.rename(own, str(target))
    os.symlink(str(target), own)
    runtime, _runner = make_runtime()
    converge_one(runtime, absent())
    assert os.path.islink(own) and json.loads(target.read_text())["web:demo/k7m2q"] == 18700


def test_a_failed_release_is_a_warning_and_the_task_goes(make_runtime, layout, terok_state, monkeypatch):
    def refuse(path, data, mode=0o644, sync=True):
        raise OSError(28, "No space left on device", path)

    monkeypatch.setattr(_terok_state, "atomic_write", refuse)
    runtime, _runner = make_runtime()
    outcome = converge_one(runtime, absent())
    assert outcome.changed and not os.path.exists(layout.meta_path("demo", "k7m2q"))
    assert any("port registry" in w and "No space left on device" in w for w in runtime.warnings)
    assert claims(layout)["web:demo/k7m2q"] == 18700


def test_a_rerun_with_nothing_of_terok_s_left_changes_nothing(make_runtime, layout, write_task, tmp_path):
    layout.sandbox_runtime_dir = str(tmp_path / "run")
    layout.port_registry_dir = str(tmp_path / "ports")
    write_task("demo", "k7m2q", "a")
    runtime, _runner = make_runtime()
    converge_one(runtime, absent())
    assert not os.path.exists(str(tmp_path / "ports")) and not os.path.exists(str(tmp_path / "run"))
    assert not os.path.exists(os.path.join(layout.sandbox_state_dir, "sidecar"))


# where terok keeps them ------------------------------------------------------------------------------


def test_root_uses_terok_s_system_paths():
    layout = Layout.resolve(environ={}, euid=0)
    assert layout.sandbox_state_dir == "/var/lib/terok/sandbox"
    assert layout.sandbox_runtime_dir == "/run/terok/sandbox"
    assert layout.port_registry_dir == PORT_REGISTRY_DEFAULT == "/tmp/terok-ports"


@pytest.mark.parametrize("environ, runtime_dir", [
    ({"HOME": "/home/u", "XDG_RUNTIME_DIR": "/run/user/1000"}, "/run/user/1000/terok/sandbox"),
    ({"HOME": "/home/u", "XDG_STATE_HOME": "/home/u/st"}, "/home/u/st/terok/sandbox"),
    ({"HOME": "/home/u"}, "/home/u/.local/state/terok/sandbox"),
    ({"HOME": "/home/u", "XDG_RUNTIME_DIR": "/x", "TEROK_SANDBOX_RUNTIME_DIR": "/y/rt"}, "/y/rt"),
])
def test_a_user_s_runtime_directory(environ, runtime_dir):
    layout = Layout.resolve(environ=environ, euid=1000)
    assert layout.sandbox_runtime_dir == runtime_dir
    assert layout.sandbox_state_dir == "/home/u/.local/share/terok/sandbox"


def test_the_variables_relocate_them(tmp_path):
    environ = {"TEROK_ROOT": "/r", "TEROK_SANDBOX_STATE_DIR": "/s", "TEROK_PORT_REGISTRY_DIR": "/p"}
    layout = Layout.resolve(environ=environ, euid=0)
    assert (layout.sandbox_state_dir, layout.port_registry_dir) == ("/s", "/p")
    assert Layout.resolve(environ={"TEROK_ROOT": "/r"}, euid=0).sandbox_state_dir == "/r/sandbox"


def test_the_config_file_relocates_the_port_registry(tmp_path):
    import yaml

    config = tmp_path / "config.yml"
    config.write_text("paths:\n  root: /r\n  port_registry_dir: /var/lib/terok/ports\n")
    layout = Layout.resolve(environ={"TEROK_CONFIG_FILE": str(config)}, euid=0, load_yaml=yaml.safe_load)
    assert layout.port_registry_dir == "/var/lib/terok/ports" and layout.sandbox_state_dir == "/r/sandbox"


def test_an_explicit_root_holds_the_sidecars_and_the_variables_still_place_the_rest():
    environ = {"TEROK_SANDBOX_STATE_DIR": "/s", "TEROK_SANDBOX_RUNTIME_DIR": "/rt", "TEROK_PORT_REGISTRY_DIR": "/p"}
    layout = Layout.resolve("/r", environ=environ, euid=0)
    assert (layout.sandbox_state_dir, layout.sandbox_runtime_dir, layout.port_registry_dir) == ("/r/sandbox", "/rt", "/p")


def test_a_relative_variable_is_a_warning_not_a_failure():
    layout = Layout.resolve(environ={"TEROK_ROOT": "/r", "TEROK_SANDBOX_RUNTIME_DIR": "rel", "TEROK_PORT_REGISTRY_DIR": "p"},
                            euid=0)
    assert layout.sandbox_runtime_dir is None and layout.port_registry_dir is None
    assert len(layout.warnings) == 2 and all("not an absolute path" in w for w in layout.warnings)


# --- claiming: a web or toad task's host port in terok's port registry, as terok claims it at a start ---

def web_spec(**params):
    params.setdefault("project", "demo")
    params.setdefault("state", "running")
    params.setdefault("image", "localhost/terok-agent:latest")
    params.setdefault("mode", "web")
    params.setdefault("publish", ["18750:8080"])
    params.setdefault("wait_ready", False)
    return Spec.from_params(params)


@pytest.fixture
def registry(layout, tmp_path):
    layout.port_registry_dir = str(tmp_path / "ports")
    return layout.port_registry_dir


def test_a_web_start_claims_its_port_as_terok_does(make_runtime, layout, registry):
    runtime, _runner = make_runtime()
    outcome = converge_one(runtime, web_spec(name="w"))
    assert outcome.changed
    task_id = outcome.task["task_id"]
    assert claims(layout) == {"web:demo/%s" % task_id: 18750}
    # made as terok-sandbox makes the shared registry, the claim file the user's own
    assert oct(os.stat(registry).st_mode & 0o7777) == "0o1777"
    assert oct(os.stat(os.path.join(registry, USER + ".json")).st_mode & 0o777) == "0o600"
    # terok's own registry code reads the same claim back
    assert _terok_state.claimed_web_port(layout, "demo", task_id) == 18750


def test_other_claims_are_kept_and_a_rerun_writes_nothing(make_runtime, layout, registry):
    os.makedirs(registry)
    with open(os.path.join(registry, USER + ".json"), "w") as handle:
        json.dump({"gate": 18702, "web:other/k7m2r": 18751}, handle)
    runtime, _runner = make_runtime()
    outcome = converge_one(runtime, web_spec(name="w"))
    expected = {"gate": 18702, "web:other/k7m2r": 18751, "web:demo/%s" % outcome.task["task_id"]: 18750}
    assert claims(layout) == expected
    before = os.stat(os.path.join(registry, USER + ".json"))
    # the container is gone (podman restarted, say): the next start claims again, and the claim is there already
    runtime, _runner = make_runtime()
    converge_one(runtime, web_spec(task_id=outcome.task["task_id"]))
    after = os.stat(os.path.join(registry, USER + ".json"))
    assert claims(layout) == expected and (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_port_another_user_claims_is_refused_naming_publish_before_anything_runs(make_runtime, layout, registry,
                                                                                   write_task):
    os.makedirs(registry)
    with open(os.path.join(registry, "alice.json"), "w") as handle:
        json.dump({"web:theirs/a1b2c": 18750}, handle)
    write_task("demo", "k7m2q", "w", meta={"mode": "web"})
    meta_before = open(layout.meta_path("demo", "k7m2q")).read()
    runtime, runner = make_runtime()
    with pytest.raises(TerokError) as caught:
        converge_one(runtime, web_spec(task_id="k7m2q"))
    assert caught.value.option == "publish"
    assert "18750" in caught.value.msg and "alice" in caught.value.msg
    assert runner.mutating_calls() == []
    assert open(layout.meta_path("demo", "k7m2q")).read() == meta_before
    assert sorted(os.listdir(registry)) == ["alice.json"]
    # check mode tells the same
    runtime, runner = make_runtime(check_mode=True)
    with pytest.raises(TerokError):
        converge_one(runtime, web_spec(task_id="k7m2q"))


@pytest.mark.parametrize("kind", ["link", "too large", "not json", "a list"])
def test_claim_files_terok_passes_over_hold_no_port(make_runtime, layout, registry, tmp_path, kind):
    os.makedirs(registry)
    other = os.path.join(registry, "mallory.json")
    if kind == "link":
        target = tmp_path / "elsewhere.json"
        target.write_text(json.dumps({"x": 18750}))
        os.symlink(str(target), other)
    else:
        text = {"too large": json.dumps({"x": 18750, "pad": "p" * _terok_state.CLAIM_FILE_MAX}),
                "not json": "{18750", "a list": json.dumps([18750])}[kind]
        with open(other, "w") as handle:
            handle.write(text)
    assert _terok_state.port_holder(layout, 18750) is None
    runtime, _runner = make_runtime()
    assert converge_one(runtime, web_spec(name="w")).changed


def test_the_user_s_own_other_claims_do_not_block_a_port(make_runtime, layout, registry):
    # terok checks only other users' files: a stale claim of the same user is no conflict
    os.makedirs(registry)
    with open(os.path.join(registry, USER + ".json"), "w") as handle:
        json.dump({"web:demo/zzzzz": 18750}, handle)
    runtime, _runner = make_runtime()
    outcome = converge_one(runtime, web_spec(name="w"))
    assert claims(layout)["web:demo/%s" % outcome.task["task_id"]] == 18750


def test_a_registry_that_is_a_link_is_refused(make_runtime, layout, tmp_path):
    os.makedirs(str(tmp_path / "real"))
    os.symlink(str(tmp_path / "real"), str(tmp_path / "ports"))
    layout.port_registry_dir = str(tmp_path / "ports")
    runtime, _runner = make_runtime()
    with pytest.raises(TerokError) as caught:
        converge_one(runtime, web_spec(name="w"))
    assert "symbolic link" in caught.value.msg and os.listdir(str(tmp_path / "real")) == []


def test_a_cli_task_claims_nothing(make_runtime, layout, registry):
    runtime, _runner = make_runtime()
    converge_one(runtime, web_spec(name="c", mode="cli"))
    assert not os.path.exists(registry)
