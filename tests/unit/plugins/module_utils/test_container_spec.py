# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils._container_spec import (
    CONTAINER_WORKSPACE,
    IMAGE_INIT_SCRIPT,
    READY_LINE,
    SPEC_LABEL,
    ContainerSpec,
)
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError

IMAGE = "localhost/terok-agent:latest"


def KEY():  # pylint: disable=invalid-name
    """The host's secrets key, as RunContext.secrets_key gives it."""
    return b"k" * 32


def spec(**params):
    params.setdefault("image", IMAGE)
    return ContainerSpec.from_params(params)


def test_contract_constants():
    assert CONTAINER_WORKSPACE == "/workspace"
    assert IMAGE_INIT_SCRIPT == "/usr/local/bin/init-ssh-and-repo.sh"
    assert READY_LINE == ">> init complete"


def test_init_env_from_options():
    s = spec(code_repo="https://git.example/r.git", git_branch="main", clone_from="/srv/gate/r.git",
             git_reset_mode="hard", external_remote_url="git@github.com:x/r.git", ssh_key_name="id_task",
             env={"EXTRA": "1", "NUM": 2})
    env = s.environment("demo", "k7m2q")
    assert env["REPO_ROOT"] == "/workspace"
    assert env["CODE_REPO"] == "https://git.example/r.git"
    assert env["GIT_BRANCH"] == "main"
    assert env["CLONE_FROM"] == "/srv/gate/r.git"
    assert env["GIT_RESET_MODE"] == "hard"
    assert env["EXTERNAL_REMOTE_URL"] == "git@github.com:x/r.git"
    assert env["SSH_KEY_NAME"] == "id_task"
    assert env["EXTRA"] == "1" and env["NUM"] == "2"


def test_unset_init_options_are_left_out():
    env = spec(code_repo="", git_branch=None).environment("demo", "k7m2q")
    assert "CODE_REPO" not in env and "GIT_BRANCH" not in env


@pytest.mark.parametrize(
    "params, option",
    [
        ({"image": None}, "image"),
        ({"image": ""}, "image"),
        ({"image": "--privileged"}, "image"),
        ({"image": "img\nx"}, "image"),
        ({"init_script": "relative/init.sh"}, "init_script"),
        ({"init_script": "/nonexistent/terok/init.sh"}, "init_script"),
        ({"git_branch": "main\nrm -rf /"}, "git_branch"),
        ({"code_repo": "x\x00y"}, "code_repo"),
        ({"env": {"1BAD": "x"}}, "env"),
        ({"env": {"BAD-NAME": "x"}}, "env"),
        ({"env": {"BAD\n": "x"}}, "env"),  # a trailing newline would break the env file
        ({"env": {"CODE_REPO": "x"}}, "env"),
        ({"env": {"REPO_ROOT": "/elsewhere"}}, "env"),
        ({"env": {"OK": "line\nbreak"}}, "env"),
        ({"env": {"OK": "carriage\rreturn"}}, "env"),
        ({"volumes": ["/only-one-part"]}, "volumes"),
        ({"volumes": ["relative:/x"]}, "volumes"),
        ({"volumes": ["/h:relative"]}, "volumes"),
        ({"volumes": ["/h:/workspace"]}, "volumes"),
        ({"volumes": ["/h:/workspace/:ro"]}, "volumes"),
        ({"volumes": ["/a:/b:c:d"]}, "volumes"),
        ({"command": []}, "command"),
        ({"command": ""}, "command"),
        ({"command": "echo 'unclosed"}, "command"),
        ({"command": [["nested"]]}, "command"),
        ({"command": {"a": 1}}, "command"),
        ({"env": {"LIST": [1, 2]}}, "env"),
        ({"env": {"MAP": {"a": 1}}}, "env"),
    ],
)
def test_bad_container_options_name_the_option(params, option):
    with pytest.raises(TerokError) as err:
        spec(**params)
    assert err.value.option == option
    assert option in err.value.msg


@pytest.mark.parametrize(
    "value, text",
    [(True, "true"), (False, "false"), (0, "0"), (1.5, "1.5"), ("True", "True"), ("", "")],
)
def test_env_values_reach_the_container_as_yaml_writes_them(value, text):
    assert spec(env={"V": value}).environment("demo", "k7m2q")["V"] == text


def test_a_refused_env_value_names_its_key_not_its_value():
    with pytest.raises(TerokError) as err:
        spec(env={"HOSTS": ["s3cret-host", "b"]})
    assert "HOSTS" in err.value.msg and "list" in err.value.msg
    assert "s3cret" not in err.value.msg


@pytest.mark.parametrize(
    "command, argv",
    [
        ("echo hello world", ["echo", "hello", "world"]),
        ("sh -c 'exit 3'", ["sh", "-c", "exit 3"]),
        ('echo "$HOME" *', ["echo", "$HOME", "*"]),  # split only: no expansion
        (["echo", "hello world"], ["echo", "hello world"]),
        ([u"sleep", 5], ["sleep", "5"]),
    ],
)
def test_command_as_a_string_is_split_like_a_shell(command, argv):
    assert spec(command=command).values["command"] == argv


def test_env_values_are_not_echoed_in_errors():
    with pytest.raises(TerokError) as err:
        spec(env={"TOKEN": "s3cr3t\nvalue"})
    assert "s3cr3t" not in err.value.msg


def test_prefix_names_list_items():
    with pytest.raises(TerokError) as err:
        ContainerSpec.from_params({"image": None}, prefix="tasks[1].")
    assert err.value.option == "tasks[1].image"


def test_digest_identifies_the_spec():
    base = spec(env={"A": "1", "B": "2"}, volumes=["/h:/c:ro"], command=["sleep", "1"])
    same = spec(env={"B": "2", "A": "1"}, volumes=["/h:/c:ro"], command=["sleep", "1"])
    assert base.digest(KEY) == same.digest(KEY)
    assert len(base.digest(KEY)) >= 16
    for other in (
        spec(env={"A": "1", "B": "3"}, volumes=["/h:/c:ro"], command=["sleep", "1"]),
        spec(env={"A": "1", "B": "2"}, volumes=["/h:/c"], command=["sleep", "1"]),
        spec(env={"A": "1", "B": "2"}, volumes=["/h:/c:ro"], command=["sleep", "2"]),
        spec(image="other:1", env={"A": "1", "B": "2"}, volumes=["/h:/c:ro"], command=["sleep", "1"]),
        spec(git_branch="dev", env={"A": "1", "B": "2"}, volumes=["/h:/c:ro"], command=["sleep", "1"]),
    ):
        assert other.digest(KEY) != base.digest(KEY)


def test_digest_does_not_reveal_secrets():
    assert "s3cr3t" not in spec(env={"TOKEN": "s3cr3t"}).digest(KEY)


def test_secrets_count_in_the_digest_through_the_host_key():
    one = spec(secret_env={"TOKEN": "hunter2"})
    assert one.digest(KEY) == spec(secret_env={"TOKEN": "hunter2"}).digest(KEY)
    assert one.digest(KEY) != spec(secret_env={"TOKEN": "hunter3"}).digest(KEY)
    assert one.digest(KEY) != one.digest(lambda: b"x" * 32)  # another host's key: another hash
    # what a guesser could compute without the key does not match
    import hashlib
    import json

    assert hashlib.sha256(json.dumps({"TOKEN": "hunter2"}).encode()).hexdigest()[:32] != one.digest(KEY)


def test_a_spec_without_secrets_never_asks_for_the_key():
    def no_key():
        raise AssertionError("the key was read")

    assert spec(env={"A": "b"}).digest(no_key)


def test_secrets_go_as_mounted_podman_secrets_and_only_their_names_in_the_environment():
    s = spec(secret_env={"TOKEN": "hunter2", "API_KEY": "multi\nline"}, env={"PLAIN": "x"})
    request = s.run_request("demo-cli-k7m2q", "demo", "k7m2q", "cli", "/ws", "/d", KEY, secret_prefix="tl-0123456789ab-")
    args = request.argv("/tmp/env")
    assert not any("hunter2" in a or "multi" in a for a in args)
    assert request.secrets == [("tl-0123456789ab-API_KEY", "API_KEY"), ("tl-0123456789ab-TOKEN", "TOKEN")]
    assert "tl-0123456789ab-TOKEN,type=mount,target=TOKEN" in args
    assert request.env["TEROK_SECRET_ENV"] == "API_KEY TOKEN"
    assert "hunter2" not in json.dumps(request.env)
    labels = [args[i + 1] for i, a in enumerate(args) if a == "--label"]
    assert "io.terok.lifecycle.secrets=API_KEY,TOKEN" in labels


@pytest.mark.parametrize(
    "params",
    [{"secret_env": {"1BAD": "x"}}, {"secret_env": {"REPO_ROOT": "x"}}, {"secret_env": {"TEROK_SECRET_ENV": "x"}},
     {"secret_env": {"A": "nul\x00"}}, {"secret_env": {"A": ["l"]}}, {"secret_env": "A=b"},
     {"secret_env": {"A": "1"}, "env": {"A": "2"}}],
)
def test_bad_secret_env_names_the_option_and_never_the_value(params):
    with pytest.raises(TerokError) as err:
        spec(**params)
    assert err.value.option == "secret_env"
    assert "nul\x00" not in err.value.msg


def test_run_request(tmp_path):
    script = tmp_path / "init.sh"
    script.write_text("#!/bin/bash\n")
    s = spec(init_script=str(script), volumes=["/data:/data:ro"], command=["claude", "--resume"])
    args = s.run_request("demo-cli-k7m2q", "demo", "k7m2q", "cli", "/r/ws", "/r/d.json", KEY).argv("/tmp/env")
    assert args[0] == "run"
    assert "--detach" in args
    assert args[args.index("--name") + 1] == "demo-cli-k7m2q"
    labels = [args[i + 1] for i, a in enumerate(args) if a == "--label"]
    assert any("k7m2q" in label for label in labels)
    assert any("demo" in label for label in labels)
    assert not any("fix-auth" in label for label in labels)  # no name label: a rename would make it stale
    assert SPEC_LABEL + "=" + s.digest(KEY) in labels
    volumes = [args[i + 1] for i, a in enumerate(args) if a == "--volume"]
    assert any(v.startswith("/r/ws:/workspace") for v in volumes)
    assert "%s:%s:ro" % (script, IMAGE_INIT_SCRIPT) in volumes
    assert "/data:/data:ro" in volumes
    assert args[args.index("--env-file") + 1] == "/tmp/env"
    entrypoint = json.loads(args[args.index("--entrypoint") + 1])
    assert IMAGE_INIT_SCRIPT in entrypoint
    # the image, then the command, end the argv; no secret is on the command line
    assert args[-3:] == [IMAGE, "claude", "--resume"]


def test_run_request_keeps_secrets_off_the_command_line():
    s = spec(env={"TOKEN": "s3cr3t"}, ssh_key_name="my-key")
    args = s.run_request("demo-cli-k7m2q", "demo", "k7m2q", "cli", "/ws", "/d", KEY).argv("/tmp/env")
    assert not any("s3cr3t" in a for a in args)


def test_default_command_and_image_init_script():
    s = spec()
    args = s.run_request("demo-cli-k7m2q", "demo", "k7m2q", "cli", "/ws", "/d", KEY).argv("/tmp/env")
    assert args[args.index(IMAGE) + 1:] == s.values["command"]
    assert s.values["command"]  # something runs after the init script
    volumes = [args[i + 1] for i, a in enumerate(args) if a == "--volume"]
    assert not any(IMAGE_INIT_SCRIPT in v for v in volumes)


# confinement --------------------------------------------------------------------------------------


def confinement_argv(rootless=False, **params):
    request = spec(**params).run_request("demo-cli-k7m2q", "demo", "k7m2q", "cli", "/ws", "/d", KEY, rootless=rootless)
    return request.argv("/tmp/env")


def flag_values(argv, flag):
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == flag]


def test_default_confinement_is_terok_s_or_stronger():
    rootful = confinement_argv(rootless=False)
    assert not any(arg.startswith("--userns") for arg in rootful)  # rootful: none, as terok
    assert flag_values(rootful, "--security-opt") == ["no-new-privileges"]
    assert flag_values(rootful, "--cap-drop") == ["NET_ADMIN", "NET_RAW"]
    assert flag_values(rootful, "--pids-limit") == ["4096"]
    assert "--userns=keep-id:uid=1000,gid=1000" in confinement_argv(rootless=True)


def test_confinement_options_become_podman_flags():
    argv = confinement_argv(
        rootless=True, userns="auto", restricted=False, cap_drop=["ALL"], cap_add=["chown"], memory="4g", cpus=1.5,
        pids_limit=100, network="none", publish=["8080:80"], user="1000:1000",
    )
    assert "--userns=auto" in argv and "--security-opt" not in argv
    assert flag_values(argv, "--cap-drop") == ["ALL"] and flag_values(argv, "--cap-add") == ["CHOWN"]
    assert (flag_values(argv, "--memory"), flag_values(argv, "--cpus"), flag_values(argv, "--pids-limit")) == (
        ["4g"], ["1.5"], ["100"])
    assert flag_values(argv, "--network") == ["none"] and flag_values(argv, "--publish") == ["8080:80"]
    assert flag_values(argv, "--user") == ["1000:1000"]
    assert argv.index("--user") < argv.index(IMAGE)  # options come before the image


def test_every_confinement_option_counts_in_the_options_hash():
    base = spec().digest(KEY)
    for params in ({"userns": "host"}, {"restricted": False}, {"cap_drop": []}, {"cap_add": ["SYS_PTRACE"]},
                   {"memory": "1g"}, {"cpus": 2}, {"pids_limit": 10}, {"network": "none"}, {"publish": ["1:2"]},
                   {"user": "dev"}):
        assert spec(**params).digest(KEY) != base, params


def test_the_confinement_label_records_the_effective_user_namespace():
    argv = confinement_argv(rootless=True)
    (label,) = [value for value in flag_values(argv, "--label") if value.startswith("io.terok.lifecycle.confinement=")]
    recorded = json.loads(label.split("=", 1)[1])
    assert recorded["userns"] == "keep-id:uid=1000,gid=1000" and recorded["restricted"] is True


@pytest.mark.parametrize(
    "params, option",
    [({"userns": "keep-id;rm"}, "userns"), ({"userns": "bogus"}, "userns"), ({"cap_drop": ["net raw"]}, "cap_drop"),
     ({"cap_add": "NET_RAW"}, "cap_add"), ({"memory": "lots"}, "memory"), ({"cpus": 0}, "cpus"),
     ({"cpus": "x"}, "cpus"), ({"pids_limit": 0}, "pids_limit"), ({"network": "-privileged"}, "network"),
     ({"publish": ["80:80;x"]}, "publish"), ({"publish": "80"}, "publish"), ({"user": "dev;x"}, "user")],
)
def test_bad_confinement_options_name_the_option(params, option):
    with pytest.raises(TerokError) as err:
        spec(**params)
    assert err.value.option == option
