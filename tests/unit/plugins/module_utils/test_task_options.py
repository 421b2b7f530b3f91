# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one declaration of the task options: what comes from it, and the options hash it defines."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import re

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils import _container_spec, _task_options
from ansible_collections.terok.lifecycle.plugins.module_utils._container_spec import ContainerSpec
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._task_options import OPTIONS, Option, argument_spec

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
KEY = b"k" * 32


def key():
    return KEY


def spec(**params):
    """A container spec from module parameters with Ansible's defaults filled in, as the modules pass them."""
    full = {name: entry.get("default") for name, entry in argument_spec().items()}
    full.update(params)
    return ContainerSpec.from_params(full)


def sha(data):
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()[:32]


def load_tool():
    location = importlib.util.spec_from_file_location("option_docs", os.path.join(REPO, "tools", "option_docs.py"))
    tool = importlib.util.module_from_spec(location)
    location.loader.exec_module(tool)
    return tool


# what the table drives ----------------------------------------------------------------------------
def test_the_generated_docs_are_those_of_the_table():
    assert load_tool().stale() == []


def test_a_changed_doc_text_makes_the_docs_stale(monkeypatch):
    monkeypatch.setattr(_task_options.BY_NAME["memory"], "doc", ("Another text.",))
    assert "plugins/doc_fragments/task_options.py" in load_tool().stale()


def test_the_readme_table_of_confinement_names_exactly_the_declared_options():
    """README's table under "### How containers are confined": one row per option (or per few, as
    `memory`, `cpus`), together exactly the options of the result's confinement, each once."""
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as handle:
        text = handle.read()
    section = text.split("### How containers are confined\n", 1)[1].split("\n#", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    named = [name for row in rows for name in re.findall(r"`([a-z_]+)`", row.split("|")[1])]
    assert sorted(named) == sorted(option.name for option in _task_options.CONFINEMENT), (
        "README's table lists %s; the declaration's confinement options are %s"
        % (named, [option.name for option in _task_options.CONFINEMENT]))


def test_the_guide_table_follows_the_declaration(monkeypatch):
    tool = load_tool()
    block = tool.guide_block(_task_options)
    assert "   * - ``devices``" in block and "   * - ``restart_policy``" in block
    assert "C(" not in block and "O(" not in block and "RV(" not in block  # Ansible markup made RST
    monkeypatch.setattr(_task_options.BY_NAME["shm_size"], "doc", ("Another text with V(2g).",))
    assert "     - Another text with ``2g``." in tool.guide_block(_task_options)
    assert "docs/docsite/rst/guide_hardware.rst" in tool.stale()
    monkeypatch.setattr(tool, "GUIDE_OPTIONS", ("devices", "no_such_option"))
    assert "no_such_option" not in tool.guide_block(_task_options)  # declared options only


class Stop(Exception):
    pass


@pytest.mark.parametrize("name, factory", [("terok_task", "AnsibleModule"), ("terok_tasks", "ItemsModule")])
def test_both_modules_take_the_table_s_argument_spec(monkeypatch, name, factory):
    module = importlib.import_module("ansible_collections.terok.lifecycle.plugins.modules." + name)
    seen = {}

    def capture(*args, **kwargs):
        seen.update(kwargs)
        raise Stop()

    monkeypatch.setattr(module, factory, capture)
    with pytest.raises(Stop):
        module.main()
    given = seen["argument_spec"]
    options = given["tasks"]["options"] if name == "terok_tasks" else given
    assert {key: options[key] for key in argument_spec()} == argument_spec()
    assert [key for key, entry in options.items() if entry["type"] == "raw"] == ["command"]  # real types, items too


def test_every_option_is_documented_and_every_container_option_checked():
    for option in OPTIONS:
        assert option.doc and all(text.endswith(".") for text in option.doc), option.name
        if option.confinement:
            assert option.check and option.result_doc, option.name
    assert {option.name for option in _task_options.CONTAINER_OPTIONS} >= {"image", "env", "secret_env", "user"}


def test_flags_come_from_the_table_in_table_order():
    argv = spec(image="img", memory="4g", cpus=1.5, cap_add=["sys_ptrace"], publish=["8080:80"], user="dev").run_request(
        "p-cli-k7m2q", "p", "k7m2q", "cli", "/ws", "/d", key).argv("/env")
    flags = [word for word in argv if word.startswith("--")]
    order = [flags.index(flag) for flag in ("--security-opt", "--cap-drop", "--cap-add", "--memory", "--cpus",
                                            "--pids-limit", "--publish", "--user")]
    assert order == sorted(order)
    assert argv[argv.index("--cpus") + 1] == "1.5" and argv[argv.index("--pids-limit") + 1] == "4096"


def test_the_confinement_result_fills_options_a_container_predates():
    view = _task_options.confinement_view({"userns": None, "restricted": True})
    assert view["cap_drop"] == ["NET_ADMIN", "NET_RAW"] and view["pids_limit"] == 4096 and view["publish"] == []
    assert set(view) == {option.name for option in _task_options.CONFINEMENT}


# the options hash ---------------------------------------------------------------------------------
def test_the_hash_covers_only_what_differs_from_the_defaults():
    # the canonical form, written out by hand: an option at its default is not in it
    assert spec(image="img").digest(key) == sha({"image": "img"})
    assert spec(image="img", pids_limit=4096, cap_drop=["NET_ADMIN", "NET_RAW"], env={}, restricted=True,
                command="/bin/bash").digest(key) == sha({"image": "img"})
    assert spec(image="img", memory="4G", code_repo="file:///r.git", env={"B": True, "A": 1}).digest(key) == sha(
        {"image": "img", "memory": "4G", "code_repo": "file:///r.git", "env": {"A": "1", "B": "true"}})
    assert spec(image="img", cap_drop=[], cpus=2).digest(key) == sha({"image": "img", "cap_drop": [], "cpus": "2"})


def test_secrets_enter_the_hash_only_through_their_hmac():
    digest = spec(image="img", secret_env={"TOKEN": "hunter2"}).digest(key)
    hmac_only = _container_spec.secrets_digest(KEY, {"TOKEN": "hunter2"})
    assert digest == sha({"image": "img", "secret_env": hmac_only})
    assert "hunter2" not in json.dumps({"image": "img", "secret_env": hmac_only})


@pytest.mark.parametrize("params, pinned", [
    # the options hashes that collection 0.1 (commit 6ce7a78) put on containers made from these options
    ({"image": "localhost/terok-task:latest"}, "4337e92cda02bee43862a8833204f311"),
    ({"image": "img", "command": ["sleep", "60"], "code_repo": "file:///srv/repo.git", "git_branch": "main",
      "env": {"A": "1", "B": True}, "volumes": ["/srv:/srv:ro"]}, "a56fac73213a80f455707d943f8b6446"),
    ({"image": "img", "userns": "keep-id", "restricted": False, "cap_drop": [], "cap_add": ["sys_ptrace"],
      "memory": "4g", "cpus": 2, "pids_limit": 100, "network": "none", "publish": ["8080:80"], "user": "dev"},
     "03b55a2b265152139a0536687e485412"),
    ({"image": "img", "secret_env": {"TOKEN": "hunter2"}}, "6893ee8ddd5887711aa2464c2924519c"),
])
def test_containers_of_collection_0_1_keep_matching(params, pinned):
    made = spec(**params)
    assert made.legacy_digest(key) == pinned
    assert made.matches(pinned, key) and made.matches(made.digest(key), key)
    assert not spec(**dict(params, image="other")).matches(pinned, key)
    assert not made.matches(None, key)


def test_adding_an_option_changes_no_hash_of_a_container_that_does_not_use_it(monkeypatch):
    plain = spec(image="img", memory="4g")
    before = (plain.digest(key), plain.legacy_digest(key))
    devices = Option("devices", "list", elements="str", unset=[], check=lambda value, option: list(value),
                     flags=lambda values: [w for v in values for w in ("--device", v)], doc=("Devices.",))
    monkeypatch.setattr(_task_options, "_CONTAINER", _task_options._CONTAINER + (devices,))
    monkeypatch.setattr(_task_options, "CONTAINER_OPTIONS", _task_options._CONTAINER)
    monkeypatch.setattr(_container_spec, "CONTAINER_OPTIONS", _task_options._CONTAINER)
    unset = spec(image="img", memory="4g")
    assert "--device" not in unset.run_request("c", "p", "k7m2q", "cli", "/ws", "/d", key).argv("/env")
    assert (unset.digest(key), unset.legacy_digest(key)) == before
    used = spec(image="img", memory="4g", devices=["/dev/fuse"])
    assert used.digest(key) == sha({"image": "img", "memory": "4g", "devices": ["/dev/fuse"]})
    assert used.legacy_digest(key) is None and not used.matches(before[0], key) and not used.matches(before[1], key)
    argv = used.run_request("c", "p", "k7m2q", "cli", "/ws", "/d", key).argv("/env")
    assert argv[argv.index("--device") + 1] == "/dev/fuse"


def test_a_check_names_the_item_option():
    with pytest.raises(TerokError) as err:
        ContainerSpec.from_params({"image": "img", "cpus": 0}, prefix="tasks[4].")
    assert err.value.option == "tasks[4].cpus"
