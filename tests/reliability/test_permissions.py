# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Permissions of what the modules write, secrets kept out of results and logs, argv from lists."""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
import subprocess

import pytest

import _support as S
from ansible_collections.terok.lifecycle.plugins.module_utils._secrets import task_prefix

# the modes the library sets on what it writes, whatever the umask
EXPECTED_MODES = {
    "sandbox-live/tasks/demo/<id>": 0o755,
    "sandbox-live/tasks/demo/<id>/workspace-dangerous": 0o700,
    "sandbox-live/tasks/demo/<id>/workspace-dangerous/.new-task-marker": 0o644,
    "sandbox-live/tasks/demo/<id>/README.md": 0o644,
    "sandbox-live/tasks/demo/<id>/logs/container.log": 0o640,
    "core/projects/demo/tasks/<id>_dossier.json": 0o644,
    "core/projects/demo/tasks/<id>_meta.yml": 0o644,
    "archive/demo/tasks/<stamp>_<id>_<name>": 0o750,
    "archive/demo/tasks/<stamp>_<id>_<name>/task.json": 0o640,
    "archive/demo/tasks/<stamp>_<id>_<name>/logs/container.log": 0o640,
}
_STAMP = re.compile(r"\d{8}T\d{12}Z")


def mode_map(root):
    """{path with ids, stamps and names blanked: set of modes}."""
    modes = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in dirnames + filenames:
            path = os.path.join(dirpath, entry)
            rel = _STAMP.sub("<stamp>", S.ID_RE.sub("<id>", os.path.relpath(path, root)))
            rel = re.sub(r"(<stamp>_<id>)_[a-z0-9_-]+", r"\1_<name>", rel)
            modes.setdefault(rel, set()).add(stat.S_IMODE(os.lstat(path).st_mode))
    return {rel: sorted(oct(m) for m in value) for rel, value in modes.items()}


def _exercise(root):
    """Create, run (fake podman), stop (log captured), rename, archive (logs copied), delete."""
    runner = S.FakePodman()
    rt = S.runtime(root, runner)
    keep = S.converge_one(rt, S.spec(project="demo", name="keep")).task["task_id"]
    gone = S.converge_one(S.runtime(root, runner), S.spec(project="demo", name="gone")).task["task_id"]
    for task_id in (keep, gone):
        path = os.path.join(S.meta_dir(root, "demo"), task_id + "_meta.yml")
        with open(path, "a", encoding="utf-8") as handle:
            handle.write("mode: cli\n")
        runner.containers["demo-cli-" + task_id] = {"State": "running"}
    S.converge_one(S.runtime(root, runner), S.spec(project="demo", task_id=keep, state="stopped"))
    S.converge_one(S.runtime(root, runner), S.spec(project="demo", task_id=keep, name="kept"))
    runner.containers["demo-cli-" + gone] = {"State": "running"}
    S.converge_one(S.runtime(root, runner), S.spec(project="demo", task_id=gone, state="archived"))
    third = S.converge_one(S.runtime(root, runner), S.spec(project="demo", name="third")).task["task_id"]
    S.converge_one(S.runtime(root, runner), S.spec(project="demo", task_id=third, state="absent", archive=False))
    return mode_map(root)


def _check_expected(modes):
    problems = []
    for rel, expected in EXPECTED_MODES.items():
        if modes.get(rel) != [oct(expected)]:
            problems.append("%s: %s, expected %s" % (rel, modes.get(rel), oct(expected)))
    for rel, found in modes.items():
        for mode in found:
            if int(mode, 8) & stat.S_IWOTH:
                problems.append("%s is world-writable (%s)" % (rel, mode))
    return problems


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o027, 0o077], ids=lambda u: "umask-%03o" % u)
def test_modes_are_the_modules_own_whatever_the_umask(shm_tmp, umask):
    root = os.path.join(shm_tmp, "root")
    kind, modes = S.run_in_child(lambda: _exercise(root), umask=umask)
    assert kind == "ok", modes
    problems = _check_expected(modes)
    assert problems == [], "umask %03o:\n%s" % (umask, "\n".join(problems))


def test_real_runs_under_umask_000_and_077_write_the_same_modes(tmp_path, fake_podman):
    """Through ansible-playbook: create and run, stop (log captured), archive, under two umasks."""
    maps = {}
    for umask in (0o000, 0o077):
        root = str(tmp_path / ("root-%03o" % umask))
        fake_podman.set(logs="2026-11-28T00:00:00Z >> init complete\n2026-11-28T00:00:01Z working\n")
        common = {"root": root, "executable": fake_podman.path, "project": "demo"}
        tasks = [
            {"terok.lifecycle.terok_task": dict(common, name="keep", state="running", image="img")},
            {"terok.lifecycle.terok_task": dict(common, name="keep", state="stopped")},
            {"terok.lifecycle.terok_task": dict(common, name="gone", state="running", image="img")},
            {"terok.lifecycle.terok_task": dict(common, name="gone", state="archived")},
        ]
        book = S.write_playbook(str(tmp_path / ("umask-%03o.yml" % umask)), tasks)
        rc, out, err = S.playbook(book, umask=umask)
        assert rc == 0, out + err
        maps[umask] = mode_map(root)
    assert maps[0o000] == maps[0o077], "\n".join(
        "%s: umask 000 %s, umask 077 %s" % (rel, maps[0o000].get(rel), maps[0o077].get(rel))
        for rel in sorted(set(maps[0o000]) | set(maps[0o077])) if maps[0o000].get(rel) != maps[0o077].get(rel))
    problems = _check_expected(maps[0o077])
    assert problems == [], "\n".join(problems)


# --------------------------------------------------------------------------------------
# secrets and argv
# --------------------------------------------------------------------------------------
PRINT_SCRIPT = r"""
import json, os, sys
probe = None
try:
    with open("/mnt/probe dir/probe.txt") as handle:
        probe = handle.read()
except OSError as exc:
    probe = "ERROR %s" % exc
print("RELIABILITY-JSON " + json.dumps({
    "env": dict(os.environ),
    "argv": sys.argv[1:],
    "probe": probe,
    "workspace": sorted(os.listdir("/workspace")),
}))
"""

TRICKY_ENV = {
    "SPACED": "a b  c",
    "SEMI": "x; touch /tmp/terok-reliability-pwned-1",
    "SUBST": "$(touch /tmp/terok-reliability-pwned-2)",
    "BACKTICK": "`touch /tmp/terok-reliability-pwned-3`",
    "DASH": "--privileged",
    "QUOTES": "it's \"quoted\"",
    "LEAD": "  leading",
    "TRAIL": "trailing  ",
    "EQ": "a=b=c",
    "HASH": "#not-a-comment",
    "UNI": "\u00fcn\u00ef\u20ac",
}
TRICKY_ARGS = ["-x", "a b", ";", "$(id)", "`id`", "--privileged", "'q'", "", "x\ty"]


def _pwned():
    return [p for p in os.listdir("/tmp") if p.startswith("terok-reliability-pwned")]


@pytest.fixture
def real_container_run(tmp_path):
    """A real container run (mode run, wait) through ansible-playbook -vvv --diff, with secrets."""
    env_secret = "s3cr3t-env-" + secrets.token_hex(8)
    key_secret = "id-s3cr3t-key-" + secrets.token_hex(8)
    root = str(tmp_path / "state root;$(touch pwned)")
    volume_dir = tmp_path / "vol dir;$(x)"
    volume_dir.mkdir()
    (volume_dir / "probe.txt").write_text("probe-content\n", encoding="utf-8")
    module_tmp = tmp_path / "module-tmp"
    module_tmp.mkdir()
    out = str(tmp_path / "result.json")
    env = dict(TRICKY_ENV)
    args = {
        "root": root, "project": "demo", "name": "argv-check", "state": "running", "mode": "run",
        "image": "localhost/terok-task:latest", "wait": True, "wait_timeout": 120, "ready_timeout": 120,
        "env": env, "secret_env": {"API_TOKEN": env_secret}, "ssh_key_name": key_secret,
        "command": ["python3", "-c", PRINT_SCRIPT] + TRICKY_ARGS,
        "volumes": ["%s:/mnt/probe dir:ro" % volume_dir],
    }
    tasks = [{"name": "run", "terok.lifecycle.terok_task": args, "register": "r"}, S.save_task("r", out)]
    book = S.write_playbook(str(tmp_path / "secrets.yml"), tasks)
    pwned_before = _pwned()
    run_env = S.ansible_env({"TMPDIR": str(module_tmp)})
    proc = subprocess.run([S.ansible_bin("ansible-playbook"), "-i", "localhost,", "-c", "local", "--diff", "-vvv", book],
                          env=run_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False, timeout=300)
    S.count("real ansible runs")
    output = proc.stdout.decode("utf-8", "replace") + proc.stderr.decode("utf-8", "replace")
    result = None
    if os.path.exists(out):
        with open(out, encoding="utf-8") as handle:
            result = json.load(handle)
    yield {"rc": proc.returncode, "output": output, "result": result, "root": root, "env": env,
           "env_secret": env_secret, "key_secret": key_secret, "module_tmp": str(module_tmp),
           "pwned_before": pwned_before}
    task = (result or {}).get("task") or {}
    if task.get("container_name"):
        subprocess.run(["podman", "rm", "--force", "--ignore", task["container_name"]],
                       env=run_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    if task.get("task_id"):  # the task's podman secrets (named by its prefix) go with its container
        prefix = task_prefix(root, "demo", task["task_id"])
        listed = subprocess.run(["podman", "secret", "ls", "--format", "{{.Name}}"], env=run_env,
                                stdout=subprocess.PIPE, universal_newlines=True, check=False).stdout.split()
        mine = [name for name in listed if name.startswith(prefix)]
        if mine:
            subprocess.run(["podman", "secret", "rm"] + mine, env=run_env, stdout=subprocess.DEVNULL, check=False)


def test_secrets_appear_neither_in_results_nor_in_verbose_output(real_container_run):
    run = real_container_run
    assert run["rc"] == 0, run["output"][-5000:]
    assert run["result"]["task"]["exit_code"] == 0, run["result"]
    secret = run["env_secret"]
    assert secret not in run["output"], "a secret is in the -vvv output"
    assert secret not in json.dumps(run["result"]), "a secret is in the module result"
    # plain settings are shown as they are: env and the ssh key's file name are no secrets
    assert run["key_secret"] in json.dumps(run["result"]) or run["key_secret"] in run["output"]
    inspect = subprocess.run(["podman", "inspect", run["result"]["task"]["container_name"]],
                             env=S.ansible_env({}), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    assert inspect.returncode == 0 and secret not in inspect.stdout.decode("utf-8", "replace"), \
        "a secret is in podman inspect"
    # positive control: the secrets did reach the container
    log = S.read_bytes(os.path.join(S.tasks_root(run["root"], "demo"), run["result"]["task"]["task_id"],
                                    "logs", "container.log")).decode("utf-8")
    assert run["env_secret"] in log
    # the module's private env file was removed
    assert [p for p in os.listdir(run["module_tmp"]) if p.startswith("terok-env-")] == []


def test_env_values_volumes_and_command_reach_the_container_verbatim(real_container_run):
    run = real_container_run
    assert run["rc"] == 0, run["output"][-5000:]
    log = S.read_bytes(os.path.join(S.tasks_root(run["root"], "demo"), run["result"]["task"]["task_id"],
                                    "logs", "container.log")).decode("utf-8")
    lines = [line.split("RELIABILITY-JSON ", 1)[1] for line in log.splitlines() if "RELIABILITY-JSON " in line]
    assert len(lines) == 1, log[-3000:]
    seen = json.loads(lines[0])
    for key, value in run["env"].items():
        assert seen["env"].get(key) == value, "env %s reached the container as %r, not %r" % (
            key, seen["env"].get(key), value)
    assert seen["env"]["SSH_KEY_NAME"] == run["key_secret"]
    assert seen["env"]["API_TOKEN"] == run["env_secret"]  # a secret_env value, exported by the init script
    assert "TEROK_SECRET_ENV" not in seen["env"]
    assert seen["argv"] == TRICKY_ARGS
    assert seen["probe"] == "probe-content\n"
    assert ".new-task-marker" in seen["workspace"]
    assert _pwned() == run["pwned_before"], "a value was run by a shell"
    S.count("hostile inputs tried", len(TRICKY_ENV) + len(TRICKY_ARGS) + 2)


def test_a_failing_podman_run_does_not_leak_secret_values(tmp_path, fake_podman):
    """A secret is in neither the env file podman gets nor the failure of either module."""
    secret = "s3cr3t-bulk-" + secrets.token_hex(8)
    root = str(tmp_path / "root")
    fake_podman.set(fail={"run": [125, "Error: cannot start"]}, echo_env_on_failure=True)
    one = S.adhoc("terok_task", {"root": root, "executable": fake_podman.path, "project": "demo", "name": "a",
                                 "state": "running", "image": "img", "secret_env": {"TOKEN": secret}},
                  verbosity=3)
    bulk = S.adhoc("terok_tasks", {"root": root, "executable": fake_podman.path, "image": "img",
                                   "tasks": [{"project": "demo", "name": "b", "state": "running",
                                              "secret_env": {"TOKEN": secret}}]}, verbosity=3)
    for result in (one, bulk):
        assert result.failed and "podman run" in result.result["msg"], result
        assert S.crash_signs(result.result) is None
        assert secret not in result.output, "a secret is in a failure's output"
    runs = [argv for argv in fake_podman.calls() if argv[1:2] == ["run"]]
    assert len(runs) == 2 and len(fake_podman.env_files()) == 2
    for argv, info in zip(runs, fake_podman.env_files()):
        assert info["mode"] == 0o600 and info["dir_mode"] == 0o700, info
        assert secret not in info["text"] and "TEROK_SECRET_ENV=TOKEN\n" in info["text"]
        assert secret not in json.dumps(argv), "an env value was put on podman's command line"
        assert not os.path.exists(info["path"]), "the env file was left behind"


REFUSED_CONTAINER_OPTIONS = [
    ("volumes", ["--privileged"]),
    ("volumes", ["-v"]),
    ("volumes", ["/a:/b:ro:extra"]),
    ("volumes", ["relative:/x"]),
    ("volumes", ["/x:relative"]),
    ("volumes", ["/host:/workspace"]),
    ("volumes", ["/host:/workspace/"]),
    ("volumes", ["/host:/x\n--privileged"]),
    ("env", {"A-B": "x"}),
    ("env", {"1A": "x"}),
    ("env", {"A B": "x"}),
    ("env", {"A;B": "x"}),
    ("env", {"$(x)": "x"}),
    ("env", {"--privileged": "x"}),
    ("env", {"OK": "line\nbreak"}),
    ("env", {"OK": "nul\x00"}),
    ("env", {"TASK_ID": "forged"}),
    ("env", {"CODE_REPO": "forged"}),
    ("image", "--privileged"),
    ("image", "img\n--privileged"),
    ("command", []),
    ("init_script", "relative/init.sh"),
    ("code_repo", "https://x\n--privileged"),
    ("git_branch", "main\x00"),
    ("git_reset_mode", "hard; rm -rf /"),
]


def test_unsafe_container_options_are_refused_naming_the_option(shm_tmp):
    root = os.path.join(shm_tmp, "root")
    problems = []
    for option, value in REFUSED_CONTAINER_OPTIONS:
        S.count("hostile inputs tried")
        runner = S.FakePodman()
        params = {"project": "demo", "name": "x", "state": "running", "image": "img", option: value}
        try:
            S.converge_one(S.runtime(root, runner), S.Spec.from_params(params))
            problems.append("%s=%r was accepted" % (option, value))
        except S.TerokError as exc:
            if exc.option != option:
                problems.append("%s=%r: the error names %r: %s" % (option, value, exc.option, exc.msg))
        if "run" in runner.subcommands():
            problems.append("%s=%r: podman run was called" % (option, value))
    assert problems == [], "\n".join(problems)
    assert S.metadata_ids(root, "demo") == set(), "a refused request created a task"
