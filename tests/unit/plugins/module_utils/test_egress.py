# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Option egress (issue 21, item 3): destinations, the ruleset, the hook program, what the host has, and the
option through the library (checks, hash, argv, the fenced start, the refusals before anything is written)."""

from __future__ import annotations

import ast
import io
import json
import socket
import subprocess
import sys

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils import _egress, _spec
from ansible_collections.terok.lifecycle.plugins.module_utils._container_spec import CONFINEMENT_LABEL, ContainerSpec
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._podman import Podman, PodmanError
from ansible_collections.terok.lifecycle.plugins.module_utils._spec import Spec, check_egress, specs_from_items
from ansible_collections.terok.lifecycle.plugins.module_utils._task_options import argument_spec, hashed_values
from ansible_collections.terok.lifecycle.tests.support.fake_podman import FakePodman

KEY = b"k" * 32
EGRESS_FILE = _egress.__file__


def key():
    return KEY


def spec(**params):
    full = {name: entry.get("default") for name, entry in argument_spec().items()}
    full.update(params)
    full["image"] = full["image"] or "img"
    return ContainerSpec.from_params(full)


def request(**params):
    return spec(**params).run_request("p-cli-k7m2q", "p", "k7m2q", "cli", "/ws", "/d", key)


# -- destinations ---------------------------------------------------------------------------------
@pytest.mark.parametrize("given, canonical", [
    ("10.0.0.1", "10.0.0.1"),
    ("10.0.0.1:80", "10.0.0.1:80"),
    (" 10.0.0.1:80 ", "10.0.0.1:80"),
    ("10.0.0.5/8", "10.0.0.0/8"),
    ("10.0.0.1/32", "10.0.0.1"),
    ("192.0.2.0/24:443", "192.0.2.0/24:443"),
    ("2001:DB8::1", "2001:db8::1"),
    ("2001:db8::/32", "2001:db8::/32"),
    ("[2001:db8::1]:443", "[2001:db8::1]:443"),
    ("[2001:db8::5/64]:22", "[2001:db8::/64]:22"),
    ("[2001:db8::1]", "2001:db8::1"),
    ("PyPI.org.", "pypi.org"),
    ("pypi.org:443", "pypi.org:443"),
    ("localhost", "localhost"),
    ("a-b.c-d.example:65535", "a-b.c-d.example:65535"),
])
def test_a_destination_in_its_canonical_form(given, canonical):
    assert _egress.format_destination(_egress.parse(given)) == canonical
    assert _egress.format_destination(_egress.parse(canonical)) == canonical  # canonical is a fixed point


@pytest.mark.parametrize("given, words", [
    ("", "one destination"),
    ("a b", "without spaces"),
    ("a\nb", "without spaces"),
    ("10.0.0.1:0", "1 to 65535"),
    ("10.0.0.1:65536", "1 to 65535"),
    ("10.0.0.1:", "1 to 65535"),
    ("10.0.0.1:http", "1 to 65535"),
    ("host:+80", "1 to 65535"),
    ("[10.0.0.1]:80", "only an IPv6"),
    ("[2001:db8::1]:", "[ADDRESS]:PORT"),
    ("[2001:db8::1", "[ADDRESS]:PORT"),
    ("10.0.0.1/33", "not an IP address or network"),
    ("2001:db8::1:80x", "not an IP address or network"),
    ("999.1.1.1", "not a host name"),
    ("-a.example", "not a host name"),
    ("a..example", "not a host name"),
    ("a_b.example", "not a host name"),
    ("x" * 64 + ".example", "not a host name"),
    ("http://example.org", "1 to 65535"),
    ("example.org/8", "not an IP address or network"),
    (8080, "not a string"),
    (None, "not a string"),
])
def test_a_bad_destination_is_refused_saying_why(given, words):
    with pytest.raises(_egress.FenceError) as caught:
        _egress.parse(given)
    assert words in str(caught.value)


def test_the_list_keeps_its_order_each_destination_once():
    assert _egress.canonical(["b.example:443", "10.0.0.1", "B.example:443", "10.0.0.1/32"]) == [
        "b.example:443", "10.0.0.1"]
    assert _egress.canonical([]) == []
    with pytest.raises(_egress.FenceError, match="must be a list"):
        _egress.canonical("10.0.0.1")
    with pytest.raises(_egress.FenceError, match="at most"):
        _egress.canonical(["10.0.0.%d" % (i % 250) for i in range(_egress.MAX_DESTINATIONS + 1)])


def test_the_annotation_carries_the_list_without_commas_or_quotes():
    value = _egress.annotation_value(["pypi.org:443", "[2001:db8::1]:443", "10.0.0.0/8"])
    assert value == "pypi.org:443 [2001:db8::1]:443 10.0.0.0/8" and "," not in value and '"' not in value
    assert _egress.from_annotation(value) == [("pypi.org", 443), ("2001:db8::1", 443), ("10.0.0.0/8", None)]
    assert _egress.annotation_value([]) == "" and _egress.from_annotation("") == []
    with pytest.raises(_egress.FenceError):
        _egress.from_annotation("10.0.0.1:99999")
    with pytest.raises(_egress.FenceError):
        _egress.from_annotation(None)


# -- the ruleset ----------------------------------------------------------------------------------
def test_the_ruleset_allows_only_the_destinations():
    text = _egress.ruleset([("10.89.0.2", 8000), ("10.0.0.0/8", None), ("2001:db8::1", 443)], ["10.89.0.1"])
    lines = [line.strip() for line in text.splitlines()]
    assert lines[:3] == ["add table inet terok_lifecycle_egress", "delete table inet terok_lifecycle_egress",
                         "table inet terok_lifecycle_egress {"]
    assert "type filter hook output priority filter; policy drop;" in lines
    body = lines[lines.index("type filter hook output priority filter; policy drop;") + 1:-2]
    assert body == [
        'oifname "lo" accept',
        "ct state established,related accept",
        "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } accept",
        "ip daddr 10.89.0.1 udp dport 53 accept",
        "ip daddr 10.89.0.1 tcp dport 53 accept",
        "ip daddr 10.89.0.2 tcp dport 8000 accept",
        "ip daddr 10.89.0.2 udp dport 8000 accept",
        "ip daddr 10.0.0.0/8 accept",
        "ip6 daddr 2001:db8::1 tcp dport 443 accept",
        "ip6 daddr 2001:db8::1 udp dport 443 accept",
        "reject with icmpx type admin-prohibited",
    ]
    assert "input" not in text  # incoming connections are not fenced


def test_an_empty_fence_lets_out_loopback_and_replies_only():
    text = _egress.ruleset([])
    assert "daddr" not in text and "dport" not in text and text.count("accept") == 3


def test_the_listing_of_a_loaded_fence():
    listing = ("table inet terok_lifecycle_egress {\n\tchain output {\n\t\ttype filter hook output priority filter; "
               "policy drop;\n\t\treject with icmpx admin-prohibited\n\t}\n}\n")
    assert _egress.loaded(listing)
    assert not _egress.loaded("")
    assert not _egress.loaded(listing.replace("policy drop", "policy accept"))
    assert not _egress.loaded(listing.replace("terok_lifecycle_egress", "other"))


def test_host_names_are_resolved_each_address_with_the_name_s_port(monkeypatch):
    monkeypatch.setattr(_egress, "resolve", lambda host: {"two.example": ["192.0.2.1", "2001:db8::2"]}[host])
    assert _egress.resolved([("two.example", 443), ("10.0.0.1", None), ("192.0.2.1", 443)]) == [
        ("192.0.2.1", 443), ("2001:db8::2", 443), ("10.0.0.1", None)]


def test_a_name_that_does_not_resolve(monkeypatch):
    """The host's resolver, without asking anything beyond this machine: localhost from /etc/hosts, the rest faked."""
    assert "127.0.0.1" in _egress.resolve("localhost")

    def gaierror(*args):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", gaierror)
    with pytest.raises(_egress.FenceError, match="nowhere.invalid does not resolve on the host: .*not known"):
        _egress.resolve("nowhere.invalid")
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args: [(socket.AF_INET6, 1, 6, "", ("fe80::1%eth0", 0, 0, 2)),
                                                              (socket.AF_INET, 1, 6, "", ("192.0.2.7", 0))])
    assert _egress.resolve("two.example") == ["192.0.2.7", "fe80::1"]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args: [])
    with pytest.raises(_egress.FenceError, match="no IP address"):
        _egress.resolve("none.example")


# -- the hook program -----------------------------------------------------------------------------
def test_the_program_is_this_file_and_imports_only_the_standard_library():
    with open(EGRESS_FILE, encoding="utf-8") as handle:
        source = handle.read()
    assert _egress.program_text() == source.encode("utf-8")
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    assert imported <= {"__future__", "ipaddress", "json", "os", "re", "select", "sys", "socket", "time", "typing"}, imported


def test_the_descriptor_runs_the_program_isolated_for_annotated_containers():
    hook = json.loads(_egress.descriptor("/usr/bin/python3", "/opt/terok-lifecycle-egress-hook"))
    assert hook == {"version": "1.0.0", "stages": ["createRuntime"],
                    "hook": {"path": "/usr/bin/python3",
                             "args": ["/usr/bin/python3", "-I", "/opt/terok-lifecycle-egress-hook", "createRuntime"]},
                    "when": {"annotations": {"^io\\.terok\\.lifecycle\\.egress$": ".*"}}}


def _bundle(tmp_path, servers=("10.89.0.1", "10.255.255.53"), mount=True):
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("search dns.podman\n" + "".join("nameserver %s\n" % server for server in servers)
                      + "nameserver fe80::1%eth0\nnameserver not-an-ip\noptions ndots:0\n")
    mounts = [{"destination": "/etc/hosts", "source": "/x"}]
    if mount:
        mounts.append({"destination": "/etc/resolv.conf", "source": str(resolv), "type": "bind"})
    (tmp_path / "config.json").write_text(json.dumps({"mounts": mounts}))
    return str(tmp_path)


def test_the_name_servers_are_those_of_the_container_s_resolv_conf(tmp_path):
    assert _egress.bundle_name_servers(_bundle(tmp_path)) == ["10.89.0.1", "10.255.255.53", "fe80::1"]
    assert _egress.bundle_name_servers(_bundle(tmp_path, mount=False)) == []  # --dns none: no resolv.conf mount


class _Loaded(object):
    """run_with_input of the hook: what nsenter was asked to load."""

    def __init__(self, rc=0, stderr=b""):
        self.rc, self.stderr, self.calls = rc, stderr, []

    def __call__(self, argv, data, timeout=60.0):
        self.calls.append((argv, data.decode("utf-8")))
        return self.rc, self.stderr.decode("utf-8")


@pytest.fixture
def hook_env(monkeypatch, tmp_path):
    """The hook run in-process: its own pid as the container's (a distinct netns is faked), tools found."""
    loaded = _Loaded()
    monkeypatch.setattr(_egress, "run_with_input", loaded)
    monkeypatch.setattr(_egress, "find_tool", lambda name, dirs=(): "/usr/sbin/" + name)
    monkeypatch.setattr(_egress, "shares_network_namespace", lambda pid: pid == 4243)  # 4243: network host
    monkeypatch.setattr(_egress, "resolve", _resolve)
    return loaded, _bundle(tmp_path)


def _resolve(host):
    """The host's resolver of these tests: localhost and names under .example."""
    if host == "localhost":
        return ["127.0.0.1"]
    if host.endswith(".example"):
        return ["192.0.2.1"]
    raise _egress.FenceError("host name %s does not resolve on the host" % host)


def _state(annotation, bundle, pid=4242):
    annotations = {"io.podman.annotations.init": "FALSE"}
    if annotation is not None:
        annotations[_egress.ANNOTATION] = annotation
    return io.StringIO(json.dumps({"ociVersion": "1.0.2", "id": "abcdef0123456789", "pid": pid,
                                   "bundle": bundle, "annotations": annotations}))


def test_the_hook_loads_the_fence_into_the_container_s_network_namespace(hook_env):
    loaded, bundle = hook_env
    err = io.StringIO()
    assert _egress.main(_state("10.89.0.2:8000 localhost", bundle), err) == 0, err.getvalue()
    (argv, text), = loaded.calls
    assert argv == ["/usr/sbin/nsenter", "--net=/proc/4242/ns/net", "--", "/usr/sbin/nft", "-f", "-"]
    assert text == _egress.ruleset([("10.89.0.2", 8000), ("127.0.0.1", None)], ["10.89.0.1", "10.255.255.53", "fe80::1"])


def test_without_a_host_name_there_is_no_dns(hook_env):
    loaded, bundle = hook_env
    assert _egress.main(_state("10.89.0.2:8000", bundle), io.StringIO()) == 0
    assert "dport 53" not in loaded.calls[0][1]
    assert _egress.main(_state("", bundle), io.StringIO()) == 0
    assert loaded.calls[1][1] == _egress.ruleset([])


def test_a_container_without_the_annotation_is_not_the_hook_s(hook_env):
    loaded, bundle = hook_env
    assert _egress.main(_state(None, bundle), io.StringIO()) == 0 and loaded.calls == []


@pytest.mark.parametrize("annotation, pid, rc, words", [
    ("10.0.0.1:0", 4242, 0, "1 to 65535"),
    ("nowhere.invalid", 4242, 0, "host name nowhere.invalid does not resolve"),
    ("10.0.0.1", 4243, 0, "shares the host's network namespace"),
    ("10.0.0.1", 0, 0, "no process id"),
    ("10.0.0.1", 4242, 1, "nft could not load the fence (rc=1): Error: boom"),
])
def test_a_hook_that_cannot_load_the_fence_fails_so_the_container_does_not_start(hook_env, annotation, pid, rc, words):
    loaded, bundle = hook_env
    loaded.rc, loaded.stderr = rc, b"Error: boom\n"
    err = io.StringIO()
    assert _egress.main(_state(annotation, bundle, pid=pid), err) == 1
    message = err.getvalue()
    assert message.startswith("terok.lifecycle egress hook: container abcdef012345 is not started") and words in message, \
        message
    assert loaded.calls == [] or rc == 1


def test_bad_oci_state_fails():
    err = io.StringIO()
    assert _egress.main(io.StringIO("not json"), err) == 1 and "container ?" in err.getvalue()


def test_the_program_runs_as_a_hook_in_isolated_mode(tmp_path):
    """The real program, as the OCI runtime runs it: a container not annotated is let through."""
    state = json.dumps({"id": "x", "pid": 1, "bundle": str(tmp_path), "annotations": {}})
    proc = subprocess.run([sys.executable, "-I", EGRESS_FILE, "createRuntime"], input=state.encode(), check=False,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([sys.executable, "-I", EGRESS_FILE, "createRuntime"], input=b"{", check=False,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.returncode == 1 and b"not started" in proc.stderr


# -- what the host has ----------------------------------------------------------------------------
def test_the_hooks_directories_podman_reads(tmp_path):
    main = tmp_path / "main.conf"
    main.write_text("[containers]\nhooks_dir = ['/not/engine']\n[engine]\nruntime = 'runc'\n")
    assert _egress.hooks_dirs({"CONTAINERS_CONF": str(main)}, False) == [_egress.DEFAULT_HOOKS_DIR]
    main.write_text('[engine]\nhooks_dir = [\n  "/usr/share/containers/oci/hooks.d",  # vendor\n  "/etc/x",\n]\n'
                    "[network]\n")
    assert _egress.hooks_dirs({"CONTAINERS_CONF": str(main)}, False) == ["/usr/share/containers/oci/hooks.d", "/etc/x"]
    assert _egress.hooks_dirs({"CONTAINERS_CONF": str(tmp_path / "missing.conf")}, False) == [_egress.DEFAULT_HOOKS_DIR]


def test_a_rootless_user_s_drop_in_overrides(tmp_path, monkeypatch):
    config = tmp_path / "config"
    (config / "containers" / "containers.conf.d").mkdir(parents=True)
    (config / "containers" / "containers.conf.d" / "50-terok-lifecycle.conf").write_text(
        '[engine]\nhooks_dir = ["/usr/share/containers/oci/hooks.d", "/home/u/.config/containers/oci/hooks.d"]\n')
    (config / "containers" / "containers.conf.d" / "ignored.txt").write_text('[engine]\nhooks_dir = ["/no"]\n')
    environ = {"XDG_CONFIG_HOME": str(config)}
    files = _egress.containers_conf_files(environ, True)
    assert files[-1].endswith("50-terok-lifecycle.conf") and not any(f.endswith(".txt") for f in files)
    assert _egress.hooks_dirs(environ, True)[-1] == "/home/u/.config/containers/oci/hooks.d"
    assert not any("config" in f for f in _egress.containers_conf_files(environ, False))  # root reads no user file


def test_the_hook_is_installed_when_descriptor_program_and_python_are_there(tmp_path):
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    conf = tmp_path / "c.conf"
    conf.write_text('[engine]\nhooks_dir = ["%s"]\n' % hooks)
    environ = {"CONTAINERS_CONF": str(conf)}
    assert _egress.installed_hook(environ, False) is None
    program = tmp_path / _egress.HOOK_NAME
    (hooks / _egress.DESCRIPTOR_NAME).write_text(_egress.descriptor(sys.executable, str(program)))
    assert _egress.installed_hook(environ, False) is None  # no program
    program.write_text("")
    assert _egress.installed_hook(environ, False) == str(hooks / _egress.DESCRIPTOR_NAME)
    (hooks / _egress.DESCRIPTOR_NAME).write_text(_egress.descriptor(str(tmp_path / "no-python"), str(program)))
    assert _egress.installed_hook(environ, False) is None
    (hooks / _egress.DESCRIPTOR_NAME).write_text("{broken")
    assert _egress.installed_hook(environ, False) is None


def test_tools_are_found_in_the_system_directories(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    tool = tmp_path / "terok-test-tool"
    tool.write_text("#!/bin/sh\n")
    assert _egress.find_tool(tool.name, (str(tmp_path / "none"), str(tmp_path))) is None  # not executable
    tool.chmod(0o755)
    assert _egress.find_tool(tool.name, (str(tmp_path / "none"), str(tmp_path))) == str(tool)
    (tmp_path / "bin").mkdir()
    tool.rename(tmp_path / "bin" / tool.name)
    assert _egress.find_tool(tool.name, (str(tmp_path / "none"),)) == str(tmp_path / "bin" / tool.name)  # on PATH


# -- the option through the library ----------------------------------------------------------------
def test_unset_there_is_no_fence_nor_any_change_to_the_container():
    plain = spec()
    assert plain.values["egress"] is None and not plain.fenced
    assert "egress" not in dict(hashed_values(plain.values))
    words = request().argv("/env")
    assert words[:2] == ["run", "--detach"] and not any(_egress.ANNOTATION in word for word in words)
    assert spec(memory="4g").digest(key) == spec(memory="4g", egress=None).digest(key)


def test_set_it_enters_the_hash_the_annotation_and_the_confinement():
    sealed, open_one = spec(egress=[]), spec(egress=["PyPI.org:443", "10.0.0.1"])
    assert sealed.fenced and dict(hashed_values(sealed.values))["egress"] == []
    assert len({spec().digest(key), sealed.digest(key), open_one.digest(key)}) == 3
    assert open_one.digest(key) == spec(egress=["pypi.org:443", "10.0.0.1/32", "pypi.org:443"]).digest(key)
    made = open_one.run_request("p-cli-k7m2q", "p", "k7m2q", "cli", "/ws", "/d", key)
    assert made.fenced and (_egress.ANNOTATION, "pypi.org:443 10.0.0.1") in made.annotations
    words = made.argv("/env")
    assert words[:2] == ["create", "--interactive"] and "--detach" not in words
    assert "%s=pypi.org:443 10.0.0.1" % _egress.ANNOTATION in words
    label = dict(made.labels)[CONFINEMENT_LABEL]
    assert json.loads(label)["egress"] == ["pypi.org:443", "10.0.0.1"]
    assert open_one.confinement(False)["egress"] == ["pypi.org:443", "10.0.0.1"]
    assert ("dossier.meta_path", "/d") in made.annotations  # the collection's other annotation stays


@pytest.mark.parametrize("params, words", [
    ({"egress": "10.0.0.1"}, "must be a list"),
    ({"egress": ["10.0.0.1:99999"]}, "1 to 65535"),
    ({"egress": ["bad host"]}, "without spaces"),
    ({"egress": [], "network": "host"}, "network=host"),
    ({"egress": [], "network": "container:other"}, "no network namespace of its own"),
    ({"egress": [], "network": "ns:/run/netns/x"}, "no network namespace of its own"),
    ({"egress": [], "cap_drop": []}, "NET_ADMIN dropped"),
    ({"egress": [], "cap_drop": ["NET_RAW"]}, "NET_ADMIN dropped"),
    ({"egress": [], "cap_add": ["CAP_NET_ADMIN"]}, "NET_ADMIN dropped"),
    ({"egress": [], "cap_drop": ["ALL"], "cap_add": ["ALL"]}, "NET_ADMIN dropped"),
])
def test_bad_values_and_combinations_are_refused_naming_egress(params, words):
    with pytest.raises(TerokError) as caught:
        spec(**params)
    assert caught.value.option == "egress" and words in caught.value.msg, caught.value.msg
    item = dict({"project": "p", "name": "t", "state": "running", "image": "img"}, **params)
    with pytest.raises(TerokError) as caught:
        specs_from_items([{"project": "p", "name": "ok"}, item], {})
    assert caught.value.option == "tasks[1].egress" and caught.value.msg.startswith("tasks[1].egress")


def test_what_is_allowed_with_it():
    for params in ({"network": "none"}, {"network": "bridge"}, {"network": "my-net"}, {"network": "slirp4netns"},
                   {"cap_drop": ["ALL"]}, {"cap_drop": ["CAP_NET_ADMIN"]}, {"cap_add": ["SYS_PTRACE"]}):
        assert spec(egress=["10.0.0.1"], **params).fenced


def test_the_collection_s_annotations_cannot_be_given():
    with pytest.raises(TerokError) as caught:
        spec(annotations={_egress.ANNOTATION: "0.0.0.0/0"})
    assert caught.value.option == "annotations" and "collection's own" in caught.value.msg
    assert spec(annotations={"org.example.owner": "ana"}).values["annotations"] == {"org.example.owner": "ana"}


# -- the host can enforce it: refused before anything is written ------------------------------------
@pytest.fixture
def installed(monkeypatch):
    monkeypatch.setattr(_egress, "find_tool", lambda name, dirs=(): "/usr/sbin/" + name)
    monkeypatch.setattr(_egress, "installed_hook", lambda environ, rootless: "/hooks/" + _egress.DESCRIPTOR_NAME)
    monkeypatch.setattr(_egress, "resolve", _resolve)


def running(**params):
    return Spec.from_params(dict({"project": "p", "name": "t", "state": "running", "image": "img"}, **params))


def test_a_host_that_can_enforce_it(installed):
    check_egress([running(egress=["a.example:443", "10.0.0.1"]), running(name="u")], items=True)


def test_no_check_without_a_fence(monkeypatch):
    monkeypatch.setattr(_egress, "find_tool", lambda name, dirs=(): pytest.fail("asked for %s" % name))
    check_egress([running(), Spec.from_params({"project": "p", "name": "t"})])


@pytest.mark.parametrize("broken, words", [
    ("nft", "nft is not installed (package nftables"),
    ("nsenter", "nsenter is not installed (package util-linux"),
    ("hook", "the collection's OCI hook (terok-lifecycle-egress.json and its program) is not in a hooks directory"),
    ("name", "host name nowhere.invalid does not resolve"),
])
def test_a_host_that_cannot_is_refused_naming_the_option(installed, monkeypatch, broken, words):
    if broken in ("nft", "nsenter"):
        monkeypatch.setattr(_egress, "find_tool", lambda name, dirs=(): None if name == broken else "/usr/sbin/" + name)
    if broken == "hook":
        monkeypatch.setattr(_egress, "installed_hook", lambda environ, rootless: None)
    specs = [running(name="u"), running(egress=["a.example", "nowhere.invalid:443"])]
    with pytest.raises(TerokError) as caught:
        check_egress(specs, items=True)
    assert caught.value.option == "tasks[1].egress" and words in caught.value.msg, caught.value.msg
    with pytest.raises(TerokError) as caught:
        check_egress(specs[1:], items=False)
    assert caught.value.option == "egress"
    if broken == "hook":
        assert "terok_host_prep, egress_hook=true" in caught.value.msg


def test_check_on_host_asks_it(monkeypatch):
    asked = []
    monkeypatch.setattr(_spec, "check_egress", lambda specs, items=True: asked.append((len(specs), items)))
    _spec.check_on_host(Podman("podman", FakePodman()), [running(egress=[])], items=False)
    assert asked == [(1, False)]


# -- a fenced start: create, init, the fence looked for, start ---------------------------------------
def test_a_fenced_container_is_created_initialized_checked_then_started(monkeypatch):
    monkeypatch.setattr(_egress, "find_tool", lambda name, dirs=(): "/usr/sbin/" + name)
    fake = FakePodman()
    podman = Podman(sys.executable, fake)
    made = request(egress=["10.0.0.1:80"])
    podman.run_container(made)
    assert [argv[1] for argv in fake.calls] == ["create", "init", "inspect", "--net=/proc/4242/ns/net", "start"]
    assert fake.calls[3][0] == "/usr/sbin/nsenter" and fake.calls[3][3:] == [
        "/usr/sbin/nft", "list", "table", "inet", "terok_lifecycle_egress"]
    assert fake.containers["p-cli-k7m2q"]["State"] == "running"


def test_rootless_the_fence_is_looked_for_through_podman_unshare(monkeypatch):
    monkeypatch.setattr(_egress, "find_tool", lambda name, dirs=(): "/usr/sbin/" + name)
    fake = FakePodman(containers={"c": {"State": "exited"}})
    Podman(sys.executable, fake).start("c", fenced=True, rootless=True)
    assert [argv[1:3] for argv in fake.calls] == [["init", "c"], ["inspect", "--format"], ["unshare", "/usr/sbin/nsenter"],
                                                  ["start", "c"]]


def test_without_its_fence_the_container_is_stopped_again_and_the_start_fails_naming_egress(monkeypatch):
    monkeypatch.setattr(_egress, "find_tool", lambda name, dirs=(): "/usr/sbin/" + name)
    fake = FakePodman(containers={"c": {"State": "exited"}}, fail={"nsenter": (1, "Error: No such file or directory")})
    with pytest.raises(PodmanError) as caught:
        Podman(sys.executable, fake).start("c", fenced=True)
    assert caught.value.option == "egress" and "was not started" in caught.value.msg
    assert "No such file or directory" in caught.value.msg and "egress_hook=true" in caught.value.msg
    assert [argv[1] for argv in fake.calls][-1] == "stop" and fake.containers["c"]["State"] == "exited"
    assert "start" not in [argv[1] for argv in fake.calls]


def test_a_failing_hook_fails_the_start_naming_egress(monkeypatch):
    fake = FakePodman(containers={"c": {"State": "exited"}}, fail={"init": (
        126, "Error: OCI runtime error: error running hook #0: exit status 1, stdout: , stderr: terok.lifecycle egress "
             "hook: container 0123 is not started")})
    with pytest.raises(PodmanError) as caught:
        Podman(sys.executable, fake).start("c", fenced=True)
    assert caught.value.option == "egress" and "podman init c failed" in caught.value.msg


def test_a_new_container_whose_fence_fails_is_removed(monkeypatch):
    monkeypatch.setattr(_egress, "find_tool", lambda name, dirs=(): "/usr/sbin/" + name)
    fake = FakePodman(fail={"nsenter": (1, "no table")})
    with pytest.raises(PodmanError):
        Podman(sys.executable, fake).run_container(request(egress=[]))
    assert [argv[1] for argv in fake.calls][-1] == "rm" and fake.containers == {}


def test_an_unfenced_start_is_as_before():
    fake = FakePodman(containers={"c": {"State": "exited"}})
    Podman(sys.executable, fake).start("c")
    assert [argv[1] for argv in fake.calls] == ["start"]


# -- through converge: a new fenced task, its restart by the module, check mode ------------------------
def test_a_fenced_task_is_started_fenced_and_started_again_fenced(make_runtime, monkeypatch):
    from ansible_collections.terok.lifecycle.plugins.module_utils._converge import converge_one

    monkeypatch.setattr(_egress, "find_tool", lambda name, dirs=(): "/usr/sbin/" + name)
    runtime, runner = make_runtime()
    fenced = Spec.from_params({"project": "demo", "name": "a", "state": "running", "image": "img",
                               "egress": ["10.0.0.1:443"]})
    outcome = converge_one(runtime, fenced)
    assert outcome.changed and outcome.task["confinement"]["egress"] == ["10.0.0.1:443"]
    subs = [argv[1] for argv in runner.calls]
    assert "run" not in subs and subs.index("create") < subs.index("init") < subs.index("--net=/proc/4242/ns/net") \
        < subs.index("start")
    name = outcome.task["container_name"]
    runner.containers[name]["State"] = "exited"
    again_runtime, again = make_runtime(containers=runner.containers)
    converge_one(again_runtime, fenced)
    assert [argv[1] for argv in again.calls if argv[1] in ("init", "start", "--net=/proc/4242/ns/net")] == [
        "init", "--net=/proc/4242/ns/net", "start"]
    # a container made without a fence is started as before
    plain_runtime, plain = make_runtime(containers={name: {"State": "exited", "Labels": {}}})
    plain_runtime.podman.start(name, False, False)
    assert [argv[1] for argv in plain.calls] == ["start"]


def test_check_mode_makes_no_podman_call_that_changes_anything(make_runtime):
    from ansible_collections.terok.lifecycle.plugins.module_utils._converge import converge_one

    runtime, runner = make_runtime(check_mode=True)
    converge_one(runtime, Spec.from_params({"project": "demo", "name": "a", "state": "running", "image": "img",
                                            "egress": []}))
    assert runner.mutating_calls() == []


def test_run_with_input_gives_the_program_its_input_and_returns_its_status_and_error(tmp_path):
    out = tmp_path / "got"
    script = "cat > %s; echo to-stderr >&2; exit 3" % out
    code, err = _egress.run_with_input(["/bin/sh", "-c", script], b"table inet x {}\n")
    assert (code, err.strip(), out.read_text()) == (3, "to-stderr", "table inet x {}\n")
    assert _egress.run_with_input(["/nonexistent/nft"], b"")[0] == 127


def test_run_with_input_kills_a_program_past_its_deadline():
    with pytest.raises(_egress.FenceError) as caught:
        _egress.run_with_input(["/bin/sleep", "30"], b"", timeout=0.5)
    assert "did not finish within" in str(caught.value)
