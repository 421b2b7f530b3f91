# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The container options of issue 21 (devices, group_add, shm_size, ulimits, tmpfs, read_only, labels,
annotations, hostname, timezone, dns, healthcheck, secrets, restart_policy): argv, checks, hash, results."""

from __future__ import annotations

import hashlib
import json

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils import _task_options
from ansible_collections.terok.lifecycle.plugins.module_utils._container_spec import CONFINEMENT_LABEL, ContainerSpec
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._podman import CommandRunner, Container, Podman, _health
from ansible_collections.terok.lifecycle.plugins.module_utils._results import diff_state
from ansible_collections.terok.lifecycle.plugins.module_utils._spec import Spec, check_on_host, specs_from_items
from ansible_collections.terok.lifecycle.plugins.module_utils._task_options import argument_spec

KEY = b"k" * 32
NEW = ("devices", "group_add", "shm_size", "ulimits", "tmpfs", "read_only", "labels", "annotations", "hostname",
       "timezone", "dns", "healthcheck", "secrets", "restart_policy")


def key():
    return KEY


def spec(**params):
    """A container spec from module parameters with Ansible's defaults filled in, as the modules pass them."""
    full = {name: entry.get("default") for name, entry in argument_spec().items()}
    full.update(params)
    return ContainerSpec.from_params(full)


def argv(**params):
    return spec(image="img", **params).run_request("p-cli-k7m2q", "p", "k7m2q", "cli", "/ws", "/d", key).argv("/env")


def sha(data):
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()[:32]


def pairs(words, flag):
    return [words[i + 1] for i, word in enumerate(words[:-1]) if word == flag]


@pytest.fixture
def cdi(tmp_path, monkeypatch):
    """A CDI spec directory of the test's own, declaring terok.test/probe=one (JSON) and =two (YAML)."""
    (tmp_path / "probe.json").write_text(json.dumps(
        {"cdiVersion": "0.5.0", "kind": "terok.test/probe", "devices": [{"name": "one", "containerEdits": {}}]}))
    (tmp_path / "probe.yaml").write_text("cdiVersion: 0.5.0\nkind: terok.test/probe\ndevices:\n  - name: two\n")
    (tmp_path / "broken.json").write_text("{not json")
    monkeypatch.setattr(_task_options, "CDI_SPEC_DIRS", (str(tmp_path), str(tmp_path / "missing")))
    return tmp_path


# every option: in the table, documented, in the confinement result ------------------------------
def test_every_new_option_is_one_confinement_entry_of_the_table():
    for name in NEW:
        option = _task_options.BY_NAME[name]
        assert option.container and option.confinement and option.flags and option.result_doc, name
    assert set(NEW) <= set(_task_options.confinement_view({}))


@pytest.mark.parametrize("name", NEW)
def test_an_unset_option_changes_neither_the_argv_nor_the_hash(name):
    plain = spec(image="img", memory="4g")
    assert plain.values[name] == _task_options.BY_NAME[name].unset
    assert plain.digest(key) == sha({"image": "img", "memory": "4g"})  # the pinned canonical form of 601842d
    assert plain.matches(plain.legacy_digest(key), key)


# argv -------------------------------------------------------------------------------------------
def test_devices_by_path_and_by_cdi_name(cdi):
    words = argv(devices=["/dev/null", "/dev/null:/dev/probe:rw", "terok.test/probe=one", "terok.test/probe=two"])
    assert pairs(words, "--device") == ["/dev/null", "/dev/null:/dev/probe:rw", "terok.test/probe=one",
                                        "terok.test/probe=two"]


def test_plain_flags():
    words = argv(group_add=["keep-groups"], shm_size="2g", ulimits=["nofile=1024:2048", "core=0"],
                 tmpfs=["/scratch:size=64m,mode=1777"], timezone="UTC", dns=["10.0.0.1", "fd00::1"],
                 restart_policy="on-failure:3", secrets=["token", "cert,target=/etc/cert.pem,mode=0400"])
    assert pairs(words, "--group-add") == ["keep-groups"]
    assert pairs(words, "--shm-size") == ["2g"]
    assert pairs(words, "--ulimit") == ["nofile=1024:2048", "core=0"]
    assert pairs(words, "--tmpfs") == ["/scratch:size=64m,mode=1777"]
    assert pairs(words, "--tz") == ["UTC"]
    assert pairs(words, "--dns") == ["10.0.0.1", "fd00::1"]
    assert pairs(words, "--restart") == ["on-failure:3"]
    assert pairs(words, "--secret") == ["token", "cert,target=/etc/cert.pem,mode=0400"]
    assert words.index("--restart") < words.index("--entrypoint")  # flags before the image


def test_read_only_keeps_tmp_and_the_homes_writable():
    words = argv(read_only=True)
    assert "--read-only" in words and "--read-only-tmpfs=true" in words
    assert pairs(words, "--tmpfs") == ["/home", "/root"]
    assert "--read-only" not in argv(read_only=False)


def test_labels_and_annotations_come_after_the_collection_s_own():
    words = argv(labels={"team": "ml", "cost": 7}, annotations={"org.example/owner": "ana"})
    labels = pairs(words, "--label")
    assert labels[-2:] == ["cost=7", "team=ml"] and labels[0].startswith("io.terok.lifecycle.project=")
    assert pairs(words, "--annotation") == ["dossier.meta_path=/d", "org.example/owner=ana"]


def test_the_hostname_is_the_container_name_unless_given():
    assert pairs(argv(), "--hostname") == ["p-cli-k7m2q"]
    assert pairs(argv(hostname="agent-1.lab"), "--hostname") == ["agent-1.lab"]


def test_a_healthcheck_becomes_the_health_flags():
    words = argv(healthcheck={"test": "curl -f localhost:8080 || exit 1", "interval": "30s", "retries": 3,
                              "timeout": "5s", "start_period": "1m30s"})
    assert pairs(words, "--health-cmd") == ["curl -f localhost:8080 || exit 1"]
    timings = [pairs(words, flag) for flag in ("--health-interval", "--health-timeout", "--health-start-period",
                                               "--health-retries")]
    assert timings == [["30s"], ["5s"], ["1m30s"], ["3"]]
    assert pairs(argv(healthcheck={"command": ["test", "-e", "/tmp/ok"]}), "--health-cmd") == [
        '["CMD", "test", "-e", "/tmp/ok"]']


# the hash: set options enter it, by name, canonical ----------------------------------------------
def test_a_set_option_enters_the_hash_in_its_canonical_form():
    assert spec(image="img", restart_policy="always").digest(key) == sha({"image": "img", "restart_policy": "always"})
    assert spec(image="img", healthcheck={"command": "true"}).digest(key) == spec(
        image="img", healthcheck={"test": "true"}).digest(key) == sha({"image": "img", "healthcheck": {"test": "true"}})
    assert spec(image="img", labels={"a": 1}).digest(key) == sha({"image": "img", "labels": {"a": "1"}})
    assert spec(image="img", read_only=True).digest(key) == sha({"image": "img", "read_only": True})
    assert spec(image="img", read_only=True).legacy_digest(key) is None


# checks: refused before anything is written, naming tasks[i].option -------------------------------
@pytest.mark.parametrize("option, value, words", [
    ("devices", ["terok.test/probe=three"], "no CDI spec"),
    ("devices", ["nvidia.com/gpu=all"], "no CDI spec"),
    ("devices", ["/dev/terok-no-such-device"], "is not on the target"),
    ("devices", ["dev/null"], "absolute"),
    ("devices", ["/dev/null:/dev/x:rwx"], "rwm"),
    ("devices", "/dev/null", "must be a list"),
    ("group_add", ["keep-groups", "video"], "cannot be combined"),
    ("group_add", ["-bad"], "group name"),
    ("shm_size", "0", "above 0"),
    ("shm_size", "lots", "a size"),
    ("ulimits", ["nofiles=1"], "the name must be one of"),
    ("ulimits", ["nofile=1:x"], "NAME=SOFT[:HARD]"),
    ("ulimits", ["nofile=200:100"], "soft limit is above"),
    ("tmpfs", ["scratch"], "absolute path"),
    ("tmpfs", ["/workspace:size=1g"], "hide the task workspace"),
    ("tmpfs", ["/scratch:size=1g,bogus"], "bogus is no tmpfs option"),
    ("tmpfs", ["/scratch:uid=1000"], "uid=1000 is no tmpfs option"),
    ("tmpfs", ["/scratch:nr_inodes=100"], "nr_inodes=100 is no tmpfs option"),
    ("labels", {"io.terok.lifecycle.spec": "x"}, "the collection's own"),
    ("labels", {"a=b": "x"}, "without '='"),
    ("labels", ["team=ml"], "must be a mapping"),
    ("labels", {"team": "a\nb"}, "line breaks"),
    ("annotations", {"dossier.meta_path": "/x"}, "set by the module"),
    ("annotations", {"org.example/owners": "ana,bo"}, "a comma or a double quote"),
    ("annotations", {"org.example/quote": 'say "hi"'}, "a comma or a double quote"),
    ("hostname", "-bad", "a host name"),
    ("hostname", "a" * 65, "a host name"),
    ("timezone", "Europe/Nowhere", "not in /usr/share/zoneinfo"),
    ("timezone", "../etc/passwd", "a time zone"),
    ("dns", ["one.one.one.one"], "not an IP address"),
    ("healthcheck", "true", "must be a mapping"),
    ("healthcheck", {"interval": "30s"}, "needs test"),
    ("healthcheck", {"test": "true", "command": "true"}, "not both"),
    ("healthcheck", {"test": "true", "every": "30s"}, "unknown keys every"),
    ("healthcheck", {"test": "true", "interval": "often"}, "not a duration"),
    ("healthcheck", {"test": "true", "retries": 0}, "1 or more"),
    ("healthcheck", {"test": []}, "must not be empty"),
    ("secrets", ["bad name"], "not a podman secret name"),
    ("secrets", ["token,target"], "is not one of"),
    ("secrets", ["token,type=file"], "is not one of"),
    ("secrets", ["token,type=env,target=TASK_ID"], "the module sets itself"),
    ("secrets", ["demo-cli-k7m2q-TOKEN"], "named like the secrets the collection makes"),
    ("restart_policy", "sometimes", "on-failure[:N]"),
    ("restart_policy", "on-failure:x", "on-failure[:N]"),
])
def test_bad_values_are_refused_naming_the_item_option(cdi, option, value, words):
    items = [{"project": "demo", "name": "ok", "state": "running", "image": "img"},
             {"project": "demo", "name": "bad", "state": "running", "image": "img", option: value}]
    with pytest.raises(TerokError) as err:
        specs_from_items(items, {})
    assert err.value.option == "tasks[1]." + option
    assert err.value.msg.startswith("tasks[1]." + option) and words in err.value.msg


@pytest.mark.parametrize("params, option, words", [
    ({"read_only": True, "tmpfs": ["/home:size=1g"]}, "read_only", "mounts /home itself"),
    ({"read_only": True, "volumes": ["/srv:/root/"]}, "read_only", "mounts /root itself"),
    ({"dns": ["10.0.0.1"], "network": "none"}, "dns", "network=none"),
    ({"secrets": ["TOKEN"], "secret_env": {"TOKEN": "x"}}, "secrets", "mount over the secret_env secrets TOKEN"),
    ({"secrets": ["t,target=TOKEN"], "secret_env": {"TOKEN": "x"}}, "secrets", "secret_env secrets TOKEN"),
])
def test_options_podman_refuses_together_are_refused_up_front(params, option, words):
    with pytest.raises(TerokError) as err:
        ContainerSpec.from_params(dict(params, image="img"), prefix="tasks[2].")
    assert err.value.option == "tasks[2]." + option and words in err.value.msg


def test_what_is_allowed_together():
    spec(image="img", read_only=True, tmpfs=["/home/dev/.cache"], volumes=["/srv:/home/dev/src"])
    spec(image="img", dns=["10.0.0.1"], network="bridge")
    spec(image="img", secrets=["TOKEN,type=env"], secret_env={"TOKEN": "x"})


# results ----------------------------------------------------------------------------------------
def test_the_confinement_label_carries_the_options_and_the_result_reads_them():
    made = spec(image="img", devices=["/dev/null"], shm_size="1g", restart_policy="always", labels={"team": "ml"},
                healthcheck={"test": "true", "retries": 2})
    request = made.run_request("p-cli-k7m2q", "p", "k7m2q", "cli", "/ws", "/d", key)
    label = json.loads(dict(request.labels)[CONFINEMENT_LABEL])
    view = _task_options.confinement_view(label)
    assert (view["devices"], view["shm_size"], view["restart_policy"], view["labels"], view["healthcheck"]) == (
        ["/dev/null"], "1g", "always", {"team": "ml"}, {"test": "true", "retries": 2})
    assert view["read_only"] is False and view["hostname"] is None and view["ulimits"] == []


def test_a_container_made_before_the_options_shows_their_defaults():
    view = _task_options.confinement_view({"userns": None, "restricted": True, "memory": "4g"})
    assert view["devices"] == [] and view["read_only"] is False and view["restart_policy"] is None
    assert view["labels"] == {} and view["healthcheck"] is None


def test_the_diff_shows_the_container_s_options():
    class Task:
        task_id, name, dossier, meta = "k7m2q", "fix", {}, {}
    result = {"status": "running", "container_state": "running", "confinement": {"read_only": True}}
    assert diff_state(Task(), result)["confinement"] == {"read_only": True}


@pytest.mark.parametrize("status, health", [
    ("Up 5 minutes (healthy)", "healthy"),
    ("Up 1 second ago (unhealthy)", "unhealthy"),
    ("Exited (3) 4 seconds ago (starting)", "starting"),
    ("Up 5 minutes", None),
    (None, None),
])
def test_the_health_comes_from_the_listing_s_status(status, health):
    assert _health(status) == health
    assert Container("c", "running", health=health).health == health


class _Listing(CommandRunner):
    def __init__(self, out):
        self.out = out

    def run(self, argv, data=None, timeout=None):
        return 0, self.out, ""


def test_the_listing_carries_the_health_of_each_container(tmp_path):
    exe = tmp_path / "podman"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    out = json.dumps([{"Names": ["a"], "State": "running", "Status": "Up 2 minutes (unhealthy)"},
                      {"Names": ["b"], "State": "running", "Status": "Up 2 minutes"}])
    containers = Podman(str(exe), _Listing(out)).list_containers()
    assert (containers["a"].health, containers["b"].health) == ("unhealthy", None)


class _Secrets(object):
    def __init__(self, names):
        self.names, self.calls = names, 0

    def secret_names(self):
        self.calls += 1
        return self.names


def test_secrets_that_do_not_exist_are_refused_before_anything_is_written():
    items = [{"project": "demo", "name": "a", "state": "running", "image": "img", "secrets": ["there"]},
             {"project": "demo", "name": "b", "state": "present"},
             {"project": "demo", "name": "c", "state": "running", "image": "img",
              "secrets": ["there,target=x", "missing,type=env"]}]
    podman = _Secrets(["there", "other"])
    with pytest.raises(TerokError) as err:
        check_on_host(podman, specs_from_items(items, {}))
    assert err.value.option == "tasks[2].secrets" and "podman secret missing, which does not exist" in err.value.msg
    assert podman.calls == 1
    single = _Secrets([])
    with pytest.raises(TerokError) as err:
        check_on_host(single, [Spec.from_params({"project": "demo", "name": "a", "state": "running", "image": "img",
                                                 "secrets": ["token"]})], items=False)
    assert err.value.option == "secrets"
    check_on_host(_Secrets(["there", "missing"]), specs_from_items(items, {}))


def test_no_podman_call_without_secrets():
    podman = _Secrets([])
    check_on_host(podman, specs_from_items([{"project": "demo", "name": "a", "state": "running", "image": "img"}], {}))
    assert podman.calls == 0


def test_podman_lists_the_secret_names(tmp_path):
    exe = tmp_path / "podman"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    assert Podman(str(exe), _Listing("alpha\nbeta\n")).secret_names() == ["alpha", "beta"]
