# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Rootless podman, for real: terok_task run as the test user with an image whose user is ``dev``
(uid 1000), as terok runs its agents.

The test user (``terok-test``, or ``$TEROK_TEST_USER``) is made by ``tools/test-user.sh``; the
image ``localhost/terok-task-dev:latest`` (``USER dev``) is built by ``tools/build-image.sh``
and loaded into the user's own podman storage by ``tools/rootless-image.sh`` (both ``make
image``). The modules run as the user through ``become: true, become_method: su`` with
Debian's ``/usr/bin/python3``, and the real podman (``executable: /usr/bin/podman``), rootless.

Two tasks of one project, each ``state: running``, ``mode: run``, ``wait: true``,
``network: none`` (the commands need no network, and a host without ``/dev/net/tun`` starts a
rootless container only with ``none`` or ``host``), every confinement option at its default:

- ``agent``: the image's user (``dev``); the init script clones a local repository
  (``code_repo``, bind-mounted read-only), then the command writes files into ``/workspace``
  and records what the kernel says of it (uid, ``NoNewPrivs``, ``CapBnd``);
- ``chowner``: ``user: "0:0"``; the command chowns files to uid 4242 inside (a file and a 0700
  directory), which land on the host as subordinate uids of the user, that only the user's
  namespace (``podman unshare``) can remove.

Then both are archived as the user: nothing of them may be left, and a rerun is ``ok``.

podman runs as the user with ``CONTAINERS_CONF`` = ``tools/containers-rootless.conf`` plus
``default_capabilities`` that grant ``NET_RAW`` and ``NET_ADMIN`` (podman 4.3.1 grants
neither by default, Docker and older podman grant ``NET_RAW``), so that the capability checks
show what the module drops, not what podman happens to leave out.

The fields read from ``podman inspect`` (podman 4.3.1):

- user namespace: ``HostConfig.IDMappings.UidMap`` / ``GidMap`` hold ``1000:0:1`` (the
  container's uid/gid 1000 is id 0 of the rootless namespace: the user), as
  ``--userns=keep-id:uid=1000,gid=1000`` makes them; ``HostConfig.UsernsMode`` says only
  ``private`` for keep-id in podman 4.3;
- capabilities: ``HostConfig.CapDrop`` has ``CAP_NET_RAW``; ``BoundingCaps`` and
  ``EffectiveCaps`` have neither ``CAP_NET_RAW`` nor ``CAP_NET_ADMIN`` (nor has ``CapBnd``
  inside); ``CapDrop`` never lists ``CAP_NET_ADMIN`` (it is not in podman's reference set);
- no-new-privileges: ``HostConfig.SecurityOpt`` has ``no-new-privileges``, the OCI spec at
  ``OCIConfigPath`` has ``process.noNewPrivileges: true``, and ``NoNewPrivs: 1`` inside;
- pids limit: ``HostConfig.PidsLimit`` finite (> 0). Rootless podman on cgroups v1 ignores every
  resource limit ("Resource limits are not supported and ignored on cgroups V1 rootless
  systems") and shows 0 there, so on such a host the test asks instead that the container was
  made with a finite ``--pids-limit`` (``Config.CreateCommand``), and says so.
"""

from __future__ import annotations

import json
import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
import time

import pytest

import _support as S
from test_non_root import SYSTEM_PYTHON, TEST_USER, real_podman, run_env, run_playbook, write_play

DEV_IMAGE = os.environ.get("TEROK_TASK_DEV_IMAGE", "localhost/terok-task-dev:latest")
PROJECT = "rootless-%x" % (os.getpid() & 0xFFFF)
CHOWN_UID = 4242
# podman 4.3.1's default_capabilities, plus NET_ADMIN and NET_RAW (see the docstring)
GRANTED_CAPS = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE", "SETFCAP", "SETGID",
                "SETPCAP", "SETUID", "SYS_CHROOT", "NET_RAW", "NET_ADMIN"]
CAP_BITS = {"CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13}

AGENT_COMMAND = """set -e
cd /workspace
id -u > uid.txt
grep -E '^(NoNewPrivs|CapBnd|CapEff):' /proc/self/status > status.txt
echo hello > hello.txt
mkdir -p sub
echo deep > sub/deep.txt
"""
CHOWN_COMMAND = """set -e
cd /workspace
touch x
chown {uid}:{uid} x
mkdir d
touch d/y
chown -R {uid}:{uid} d
chmod 0700 d
""".format(uid=CHOWN_UID)


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
def as_user(*argv, env=None, check=True):
    """argv as the test user in a login environment (its own HOME and podman storage)."""
    prefix = "".join("%s=%s " % (key, shlex.quote(value)) for key, value in (env or {}).items())
    command = prefix + " ".join(shlex.quote(arg) for arg in argv)
    proc = subprocess.run(["su", "-", TEST_USER, "-s", "/bin/sh", "-c", command], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=False, timeout=120)
    out, err = proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")
    if check and proc.returncode != 0:
        pytest.fail("as %s: %s failed (rc %d):\n%s%s" % (TEST_USER, command, proc.returncode, out, err))
    return proc.returncode, out, err


def sub_range(user):
    """(start, count) of the user's subordinate uids in /etc/subuid."""
    with open("/etc/subuid", encoding="utf-8") as handle:
        for line in handle:
            fields = line.strip().split(":")
            if len(fields) == 3 and fields[0] in (user.pw_name, str(user.pw_uid)):
                return int(fields[1]), int(fields[2])
    pytest.fail("%s has no line in /etc/subuid: run tools/test-user.sh" % user.pw_name)
    return None


def owners(top):
    """{relative path: (uid, gid)} of ``top`` and everything below (root reads it all)."""
    found = {".": (os.lstat(top).st_uid, os.lstat(top).st_gid)}
    for dirpath, dirnames, filenames in os.walk(top):
        for entry in dirnames + filenames:
            path = os.path.join(dirpath, entry)
            st = os.lstat(path)
            found[os.path.relpath(path, top)] = (st.st_uid, st.st_gid)
    return found


def rootless_conf(path):
    """tools/containers-rootless.conf with default_capabilities granting NET_RAW and NET_ADMIN."""
    with open(os.path.join(S.REPO, "tools", "containers-rootless.conf"), encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    caps = "default_capabilities = %s" % json.dumps(GRANTED_CAPS)
    if "[containers]" in lines:
        lines.insert(lines.index("[containers]") + 1, caps)
    else:
        lines += ["", "[containers]", caps]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    os.chmod(path, 0o644)


def user_task(name, module_args, conf, var):
    return {
        "name": name,
        "terok.lifecycle.terok_task": module_args,
        "environment": {"CONTAINERS_CONF": conf},
        "become": True,
        "become_user": TEST_USER,
        "become_method": "su",
        "register": var,
        "ignore_errors": True,
    }


def play(name, tasks, saved, results_path):
    mapping = ", ".join("%s: %s" % (json.dumps(key), var) for key, var in saved.items())
    tasks = tasks + [{"name": "save the results", "become": False, "ansible.builtin.copy": {
        "content": "{{ {%s} | to_json }}" % mapping, "dest": results_path, "mode": "0600"}}]
    return [{"name": name, "hosts": "localhost", "gather_facts": False,
             "vars": {"ansible_python_interpreter": SYSTEM_PYTHON}, "tasks": tasks}]


def load_results(path):
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def describe(result):
    keys = ("failed", "changed", "msg", "path", "option", "warnings", "task", "module_stderr")
    return json.dumps({key: result[key] for key in keys if key in result}, indent=1)[:4000]


# --------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rootless_run():
    if os.geteuid() != 0:
        pytest.skip("the rootless tests switch users: run them as root")
    try:
        user = pwd.getpwnam(TEST_USER)
    except KeyError:
        pytest.fail("the test user %s does not exist: run tools/test-user.sh (tools/bootstrap.sh does)" % TEST_USER)
    if subprocess.run([SYSTEM_PYTHON, "-c", "import yaml"], check=False).returncode != 0:
        pytest.fail("%s has no PyYAML: run tools/test-user.sh (it installs python3-yaml)" % SYSTEM_PYTHON)
    podman = real_podman()
    rc, _out, _err = as_user(podman, "image", "exists", DEV_IMAGE, check=False)
    if rc != 0:
        pytest.fail("%s is not in %s's podman storage: run make image (tools/rootless-image.sh)" % (DEV_IMAGE, TEST_USER))
    started = time.monotonic()

    base = tempfile.mkdtemp(prefix="terok-rootless-", dir="/tmp")
    os.chmod(base, 0o755)
    private = os.path.join(base, "private")  # playbooks and results: root's only
    os.mkdir(private, 0o700)
    conf = os.path.join(base, "containers.conf")
    rootless_conf(conf)
    home = os.path.join(base, "user")  # the user's: the state root and the repository
    os.mkdir(home, 0o755)
    os.chown(home, user.pw_uid, user.pw_gid)
    root = os.path.join(home, "root")

    # a repository for the agent to clone, the user's (git refuses another owner's repository)
    repo = os.path.join(home, "repo.git")
    src = os.path.join(private, "src")
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    subprocess.run(git + ["init", "-q", "-b", "main", src], check=True)
    with open(os.path.join(src, "README.md"), "w", encoding="utf-8") as handle:
        handle.write("# rootless\n")
    subprocess.run(git + ["-C", src, "add", "README.md"], check=True)
    subprocess.run(git + ["-C", src, "commit", "-q", "-m", "start"], check=True)
    subprocess.run(["git", "clone", "-q", "--bare", src, repo], check=True)
    subprocess.run(["chown", "-R", "%d:%d" % (user.pw_uid, user.pw_gid), repo], check=True)

    env = run_env()
    common = {"root": root, "project": PROJECT, "executable": podman}
    running = dict(common, state="running", mode="run", image=DEV_IMAGE, wait=True, wait_timeout=300,
                   ready_timeout=300, network="none")
    agent = dict(running, name="agent", command=["sh", "-c", AGENT_COMMAND], code_repo="/srv/repo.git",
                 volumes=["%s:/srv/repo.git:ro" % repo])
    chowner = dict(running, name="chowner", command=["sh", "-c", CHOWN_COMMAND], user="0:0")

    # 1. both tasks run to their end, as the user
    run_results = os.path.join(private, "run.json")
    book = write_play(os.path.join(private, "run.yml"), play("run as %s" % TEST_USER, [
        user_task("agent", agent, conf, "r_agent"),
        user_task("chowner", chowner, conf, "r_chowner"),
    ], {"agent": "r_agent", "chowner": "r_chowner"}, run_results))
    run_started = time.monotonic()
    rc, out, err = run_playbook(book, env, base)
    run_seconds = time.monotonic() - run_started
    results = load_results(run_results)

    # 2. what podman and the host show, between the run and the removal
    inspect = {}
    for key in ("agent", "chowner"):
        container = ((results.get(key) or {}).get("task") or {}).get("container_name")
        if container:
            code, text, _err = as_user(podman, "inspect", container, env={"CONTAINERS_CONF": conf}, check=False)
            if code == 0:
                data = json.loads(text)[0]
                oci_path = data.get("OCIConfigPath")
                if oci_path and os.path.exists(oci_path):
                    with open(oci_path, encoding="utf-8") as handle:
                        data["_oci"] = json.load(handle)
                inspect[key] = data
    workspaces = {key: ((results.get(key) or {}).get("task") or {}).get("workspace") for key in ("agent", "chowner")}
    before = {key: owners(path) for key, path in workspaces.items() if path and os.path.isdir(path)}
    files = {}
    agent_ws = workspaces.get("agent")
    for name in ("uid.txt", "status.txt", "hello.txt", "README.md"):
        path = os.path.join(agent_ws or "/nonexistent", name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as handle:
                files[name] = handle.read()
    whole_before = owners(root) if os.path.isdir(root) else {}

    # 3. both archived as the user, then again (a rerun is ok)
    archive_results = os.path.join(private, "archive.json")
    book = write_play(os.path.join(private, "archive.yml"), play("archive as %s" % TEST_USER, [
        user_task("archive agent", dict(common, name="agent", state="archived"), conf, "a_agent"),
        user_task("archive chowner", dict(common, name="chowner", state="archived"), conf, "a_chowner"),
        user_task("archive agent again", dict(common, name="agent", state="archived"), conf, "a_agent_again"),
        user_task("archive chowner again", dict(common, name="chowner", state="archived"), conf, "a_chowner_again"),
    ], {"agent": "a_agent", "chowner": "a_chowner", "agent again": "a_agent_again",
        "chowner again": "a_chowner_again"}, archive_results))
    archive_started = time.monotonic()
    arc, aout, aerr = run_playbook(book, env, base)
    archive_seconds = time.monotonic() - archive_started
    archived = load_results(archive_results)
    whole_after = owners(root) if os.path.isdir(root) else {}
    _code, left, _err = as_user(podman, "ps", "-a", "--filter", "name=^%s-" % PROJECT, "--format", "{{.Names}}",
                                env={"CONTAINERS_CONF": conf}, check=False)
    seconds = time.monotonic() - started
    S.count("rootless: module runs as %s" % TEST_USER, 6)
    S.count("rootless: seconds of the run playbook (2 tasks, wait)", round(run_seconds, 1))
    S.count("rootless: seconds of the archive playbook (4 calls)", round(archive_seconds, 1))
    S.count("rootless: seconds in all", round(seconds, 1))

    yield {
        "user": user, "base": base, "root": root, "results": results, "rc": rc, "output": out + err,
        "inspect": inspect, "workspaces": workspaces, "before": before, "files": files,
        "whole_before": whole_before, "whole_after": whole_after, "archived": archived, "arc": arc,
        "aoutput": aout + aerr, "left": left.split(), "sub": sub_range(user), "seconds": seconds,
    }
    # whatever a failure left: the user's containers of the project, then the files (root may)
    _code, names, _err = as_user(podman, "ps", "-a", "--filter", "name=^%s-" % PROJECT, "--format", "{{.Names}}",
                                 env={"CONTAINERS_CONF": conf}, check=False)
    if names.split():
        as_user(podman, "rm", "-f", "-t", "0", *names.split(), env={"CONTAINERS_CONF": conf}, check=False)
    shutil.rmtree(base, ignore_errors=True)


def result_of(run, key):
    result = run["results"].get(key)
    assert result is not None, "no result saved for %s (rc %s):\n%s" % (key, run["rc"], run["output"][-6000:])
    return result


def inspect_of(run, key):
    data = run["inspect"].get(key)
    assert data is not None, "no podman inspect of %s's container (as %s): %s" % (
        key, TEST_USER, describe(run["results"].get(key) or {}))
    return data


# --------------------------------------------------------------------------------------
# the tests
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["agent", "chowner"])
def test_the_job_runs_to_its_end_as_the_user(rootless_run, key):
    result = result_of(rootless_run, key)
    crash = S.crash_signs(result)
    assert crash is None, "%s: %s\n%s" % (key, crash, describe(result))
    assert not result.get("failed"), describe(result)
    task = result.get("task") or {}
    assert task.get("exit_code") == 0 and task.get("status") == "completed", describe(result)


def test_the_agent_writes_its_workspace_as_uid_1000(rootless_run):
    files = rootless_run["files"]
    assert files.get("uid.txt", "").strip() == "1000", "the command ran as uid %r, not 1000 (the image's dev)" % (
        files.get("uid.txt"),)
    assert files.get("hello.txt") == "hello\n", files


def test_the_init_script_cloned_the_repository(rootless_run):
    assert rootless_run["files"].get("README.md") == "# rootless\n", rootless_run["files"]
    listed = rootless_run["before"].get("agent") or {}
    assert ".git" in listed and os.path.join(".git", "HEAD") in listed, "no .git in the agent's workspace: %s" % (
        sorted(listed),)


def test_the_agent_files_belong_to_the_user_on_the_host(rootless_run):
    """Everything of the agent's workspace, and of the whole state root apart from what the
    chowner chowned, is the user's own uid and gid, not a subordinate id."""
    user = rootless_run["user"]
    mine = (user.pw_uid, user.pw_gid)
    before = rootless_run["before"].get("agent")
    assert before, "the agent's workspace is missing: %s" % rootless_run["workspaces"]
    foreign = ["%s: %s" % (rel, ids) for rel, ids in sorted(before.items()) if ids != mine]
    assert foreign == [], "not %s's %s:\n%s" % (user.pw_name, mine, "\n".join(foreign))
    chowner_ws = rootless_run["workspaces"].get("chowner") or "/nonexistent"
    prefix = os.path.relpath(chowner_ws, rootless_run["root"]) + os.sep
    foreign = ["%s: %s" % (rel, ids) for rel, ids in sorted(rootless_run["whole_before"].items())
               if ids != mine and not rel.startswith(prefix)]
    assert foreign == [], "in the state root, not %s's:\n%s" % (user.pw_name, "\n".join(foreign))


def test_a_file_chowned_inside_lands_as_a_subordinate_uid(rootless_run):
    """The precondition of the removal test: x and d (0700) belong to a subordinate uid."""
    before = rootless_run["before"].get("chowner")
    assert before, "the chowner's workspace is missing: %s" % rootless_run["workspaces"]
    start, size = rootless_run["sub"]
    for rel in ("x", "d", os.path.join("d", "y")):
        assert rel in before, "%s is not in the chowner's workspace: %s" % (rel, sorted(before))
        uid = before[rel][0]
        assert start <= uid < start + size, "%s is uid %s, not a subordinate uid of %s (%d-%d)" % (
            rel, uid, TEST_USER, start, start + size - 1)


def test_inspect_shows_the_keep_id_user_namespace(rootless_run):
    data = inspect_of(rootless_run, "agent")
    mappings = data["HostConfig"].get("IDMappings") or {}
    for field in ("UidMap", "GidMap"):
        assert "1000:0:1" in (mappings.get(field) or []), (
            "HostConfig.IDMappings.%s does not map the container's 1000 to the user (1000:0:1): %s; UsernsMode %r" % (
                field, mappings, data["HostConfig"].get("UsernsMode")))


@pytest.mark.parametrize("key", ["agent", "chowner"])
def test_inspect_shows_net_raw_and_net_admin_dropped(rootless_run, key):
    data = inspect_of(rootless_run, key)
    assert "CAP_NET_RAW" in (data["HostConfig"].get("CapDrop") or []), (
        "HostConfig.CapDrop: %s" % data["HostConfig"].get("CapDrop"))
    for field in ("BoundingCaps", "EffectiveCaps"):
        kept = [cap for cap in CAP_BITS if cap in (data.get(field) or [])]
        assert kept == [], "%s still has %s (podman grants them here by default): %s" % (field, kept, data.get(field))
    if key == "agent":
        status = dict(line.split(":\t", 1) for line in rootless_run["files"].get("status.txt", "").splitlines())
        assert "CapBnd" in status, "the agent recorded no CapBnd: %r" % rootless_run["files"].get("status.txt")
        bounding = int(status["CapBnd"], 16)
        kept = [cap for cap, bit in CAP_BITS.items() if bounding & (1 << bit)]
        assert kept == [], "inside, CapBnd %s still has %s" % (status["CapBnd"], kept)


@pytest.mark.parametrize("key", ["agent", "chowner"])
def test_inspect_shows_no_new_privileges(rootless_run, key):
    data = inspect_of(rootless_run, key)
    assert "no-new-privileges" in (data["HostConfig"].get("SecurityOpt") or []), (
        "HostConfig.SecurityOpt: %s" % data["HostConfig"].get("SecurityOpt"))
    oci = data.get("_oci")
    assert oci is not None, "the OCI spec (OCIConfigPath %s) is unreadable" % data.get("OCIConfigPath")
    assert oci.get("process", {}).get("noNewPrivileges") is True, "OCI process.noNewPrivileges: %s" % (
        oci.get("process", {}).get("noNewPrivileges"),)
    if key == "agent":
        assert "NoNewPrivs:\t1" in rootless_run["files"].get("status.txt", ""), rootless_run["files"].get("status.txt")


def _cgroups_v1_rootless():
    code, out, _err = as_user("podman", "info", "--format", "{{.Host.CgroupsVersion}}", check=False)
    return code == 0 and out.strip() == "v1"


@pytest.mark.parametrize("key", ["agent", "chowner"])
def test_inspect_shows_a_finite_pids_limit(rootless_run, key):
    data = inspect_of(rootless_run, key)
    limit = data["HostConfig"].get("PidsLimit")
    if _cgroups_v1_rootless():
        # podman drops every resource limit here (and says so); what the module can show is
        # that it asked for one
        argv = data["Config"].get("CreateCommand") or []
        asked = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "--pids-limit"]
        asked += [arg.split("=", 1)[1] for arg in argv if arg.startswith("--pids-limit=")]
        assert asked and all(value.isdigit() and int(value) > 0 for value in asked), (
            "cgroups v1 rootless (podman shows PidsLimit %r and enforces none): the container was not made with a "
            "finite --pids-limit: %s" % (limit, argv))
    else:
        assert isinstance(limit, int) and limit > 0, "HostConfig.PidsLimit: %r" % (limit,)


@pytest.mark.parametrize("key", ["agent", "chowner"])
def test_archived_removes_everything_as_the_user(rootless_run, key):
    result = rootless_run["archived"].get(key)
    assert result is not None, "no result of archiving %s (rc %s):\n%s" % (
        key, rootless_run["arc"], rootless_run["aoutput"][-6000:])
    assert S.crash_signs(result) is None, describe(result)
    assert not result.get("failed"), describe(result)
    assert result.get("changed"), describe(result)
    denied = [w for w in result.get("warnings", []) if "ermission denied" in w]
    assert denied == [], describe(result)
    again = rootless_run["archived"].get(key + " again") or {}
    assert not again.get("failed") and not again.get("changed"), "the rerun: %s" % describe(again)


def test_nothing_of_the_tasks_is_left(rootless_run):
    root = rootless_run["root"]
    assert S.task_dir_ids(root, PROJECT) == set(), sorted(rootless_run["whole_after"])
    assert S.metadata_ids(root, PROJECT) == set(), sorted(rootless_run["whole_after"])
    good, bad = S.archive_entries(root, PROJECT)
    assert len(good) == 2 and bad == [], "archive entries: %s, unreadable: %s" % (good, bad)
    start, size = rootless_run["sub"]
    subordinate = ["%s: %s" % (rel, ids) for rel, ids in sorted(rootless_run["whole_after"].items())
                   if start <= ids[0] < start + size or start <= ids[1] < start + size]
    assert subordinate == [], "left with subordinate ids:\n" + "\n".join(subordinate)
    assert rootless_run["left"] == [], "containers left: %s" % rootless_run["left"]
