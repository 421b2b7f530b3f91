# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Rootless podman, for real: the three modules run as the test user with an image whose user is
``dev`` (uid 1000), as terok runs its agents, and the real terok 0.9.1 CLI, also as the user, on
the tasks they made.

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

The second part (``rootless_bulk``): terok_tasks converges three tasks of another project as the
user (``shell`` and ``loose``, the latter ``restricted: false``, both running ``sleep``; ``idle``
present), twice (the rerun is ``ok``), and terok_task_info lists them. Then, as the user:
``tmux -V`` in the image, our ``tmux_login_command`` in a terminal (``script``) typing a line into
the session's shell; terok (``TEROK_ROOT`` and its config relocated under the test's directory):
``terok task list``, ``terok task status`` of both running tasks (``Permissions: restricted`` /
``unrestricted``, from ``unrestricted`` in ``_meta.yml``), its login command from its own API (the
same argv as ours), ``terok login`` in a terminal, and ``terok task stop``. The modules then see
``shell`` stopped and terok_tasks archives all three, leaving nothing. terok needs Python 3.12,
which here lies under root's home (0700): see ``user_terok_shell`` for how the user reaches it.
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


def user_task(name, module_args, conf, var, module="terok_task"):
    return {
        "name": name,
        "terok.lifecycle." + module: module_args,
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


def test_host_facts_agree_with_podman_info_as_root_and_as_the_test_user():
    # the library reads them without podman (a podman info costs ~0.25 s); podman must say the same
    from ansible_collections.terok.lifecycle.plugins.module_utils._run_context import host_facts

    facts = host_facts()
    asked = ["info", "--format", "{{.Host.Security.Rootless}} {{.Host.CgroupsVersion}}"]
    root = subprocess.run([real_podman()] + asked, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True,
                          universal_newlines=True).stdout.split()
    assert root == [str(os.geteuid() != 0).lower(), facts["cgroups"]], (root, facts)
    _code, out, _err = as_user("podman", *asked)
    assert out.split() == ["true", facts["cgroups"]], out  # the test user: not root, so rootless


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


# ======================================================================================
# terok_tasks and terok_task_info as the user, and the real terok CLI on the same tasks
# ======================================================================================
# terok_tasks converges three tasks of one project as the user, two of them running (a
# restricted one and ``restricted: false``), then terok_task_info lists them. On the running
# containers: ``tmux_login_command`` really logs in (under ``script``, which gives it a terminal),
# and the real terok 0.9.1, run as the user, shows ``terok task status``, gives its login command
# (the same argv as ours), logs in with ``terok login`` and stops a task with ``terok task stop``;
# the modules then see it stopped and archive all three as the user, leaving nothing.
TEROK_VENV = os.environ.get("TEROK_VENV") or os.path.join(S.REPO, ".venv-terok")
BULK_PROJECT = "rootless-bulk-%x" % (os.getpid() & 0xFFFF)
SLEEP = ["sleep", "900"]
# what a login types into the session's shell: a line in the workspace, then the end of the shell
# typed into the login's shell: who it is, its terminal, and whether secret_env reached it (issue 20 item 4)
LOGIN_INPUT = 'echo "$1 uid=$(id -u) term=$TERM tmux=${TMUX:+yes} key=${API_KEY:-none}" > /workspace/$1.txt; exit\n'
LOGIN_KEY = "sk-rootless-0123456789"
TEROK_LOGIN_API = (
    "import json, sys\n"
    "from terok.lib.api import get_login_command\n"
    "print(json.dumps(get_login_command(sys.argv[1], sys.argv[2])))\n"
)


def terok_python():
    """The Python of terok's virtualenv, and whether it lies under a home that the user cannot enter."""
    python = os.path.join(TEROK_VENV, "bin", "python")
    if not os.access(os.path.join(TEROK_VENV, "bin", "terok"), os.X_OK) and os.path.exists(TEROK_VENV + ".skipped"):
        with open(TEROK_VENV + ".skipped", encoding="utf-8") as handle:  # tools/bootstrap.sh says why
            pytest.skip("%s: %s" % (TEROK_VENV, handle.read().strip()))
    if not os.access(os.path.join(TEROK_VENV, "bin", "terok"), os.X_OK):
        pytest.fail("%s/bin/terok is missing: run make bootstrap (it makes .venv-terok)" % TEROK_VENV)
    return python, os.path.realpath(python)


def user_terok_shell(argv, env, base, stdin=None, timeout=120):
    """``argv`` as the user, where the user can run terok's virtualenv.

    terok needs Python >= 3.12, which here is pyenv's under root's home (mode 0700), so the user
    could not start the venv's interpreter. The command therefore runs in a private mount
    namespace of its own (``unshare -m``): there root's home is an empty tmpfs (0711) holding only
    the directory of the interpreter (e.g. ``.pyenv``), bind-mounted read-only. Nothing changes
    outside that namespace, and a Python outside root's home needs none of it.
    """
    root_home = pwd.getpwuid(0).pw_dir.rstrip("/")
    _python, real = terok_python()
    prefix = "".join("%s=%s " % (key, shlex.quote(value)) for key, value in env.items())
    command = prefix + " ".join(shlex.quote(arg) for arg in argv)
    su = ["su", "-", TEST_USER, "-s", "/bin/sh", "-c", command]
    if real.startswith(root_home + "/"):
        top = real[len(root_home) + 1:].split("/", 1)[0]  # e.g. .pyenv
        keep = os.path.join(base, "private", "keep-" + top)
        os.makedirs(keep, exist_ok=True)
        script = ('set -e; mount --bind "$1/$2" "$3"; mount -o remount,bind,ro "$3"; '
                  'mount -t tmpfs -o mode=0711,size=1m terok-test-view "$1"; mkdir "$1/$2"; '
                  'mount --bind "$3" "$1/$2"; shift 3; exec "$@"')
        su = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", root_home, top, keep] + su
    proc = subprocess.run(su, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False,
                          timeout=timeout)
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


def in_a_terminal(command):
    """``command`` (a shell line) under ``script``, which gives it a terminal as a login needs."""
    return ["script", "-qec", command, "/dev/null"]


def not_a_warning(text):
    return "\n".join(line for line in text.splitlines() if "is not a shared mount" not in line)


@pytest.fixture(scope="module")
def rootless_bulk():
    if os.geteuid() != 0:
        pytest.skip("the rootless tests switch users: run them as root")
    try:
        user = pwd.getpwnam(TEST_USER)
    except KeyError:
        pytest.fail("the test user %s does not exist: run tools/test-user.sh (tools/bootstrap.sh does)" % TEST_USER)
    podman = real_podman()
    if as_user(podman, "image", "exists", DEV_IMAGE, check=False)[0] != 0:
        pytest.fail("%s is not in %s's podman storage: run make image (tools/rootless-image.sh)" % (DEV_IMAGE, TEST_USER))
    if shutil.which("script") is None:
        pytest.fail("script (util-linux) is missing: the logins need a terminal")
    terok_python()
    started = time.monotonic()

    base = tempfile.mkdtemp(prefix="terok-rootless-bulk-", dir="/tmp")
    os.chmod(base, 0o755)
    private = os.path.join(base, "private")
    os.mkdir(private, 0o700)
    conf = os.path.join(base, "containers.conf")
    rootless_conf(conf)
    home = os.path.join(base, "user")
    root = os.path.join(home, "root")
    etc = os.path.join(home, "terok-etc")
    for path in (home, os.path.join(etc, "projects", BULK_PROJECT), os.path.join(home, "state"),
                 os.path.join(home, "cache"), os.path.join(home, "runtime")):
        os.makedirs(path, 0o700, exist_ok=True)
    with open(os.path.join(etc, "projects", BULK_PROJECT, "project.yml"), "w", encoding="utf-8") as handle:
        handle.write("")  # an empty project.yml is a valid terok project
    subprocess.run(["chown", "-R", "%d:%d" % (user.pw_uid, user.pw_gid), home], check=True)
    os.chmod(home, 0o755)
    # terok relocated under the test's directory; the user's own HOME, XDG_CONFIG_HOME and
    # XDG_DATA_HOME stay, since they hold the user's podman storage and its settings
    terok_env = {
        "CONTAINERS_CONF": conf, "TEROK_ROOT": root, "TEROK_CONFIG_DIR": etc,
        "TEROK_CONFIG_FILE": os.path.join(etc, "config.yml"), "XDG_STATE_HOME": os.path.join(home, "state"),
        "XDG_CACHE_HOME": os.path.join(home, "cache"), "TEROK_RUNTIME_DIR": os.path.join(home, "runtime"),
        "TERM": "xterm", "NO_COLOR": "1",
    }

    env = run_env()
    common = {"root": root, "executable": podman}
    running = {"project": BULK_PROJECT, "state": "running", "mode": "cli", "command": SLEEP, "network": "none",
               "ready_timeout": 300, "secret_env": {"API_KEY": LOGIN_KEY}}
    items = [
        dict(running, name="shell"),
        dict(running, name="loose", restricted=False),
        {"project": BULK_PROJECT, "name": "idle"},
    ]
    gone = [{"project": BULK_PROJECT, "name": name, "state": "archived"} for name in ("shell", "loose", "idle")]

    # 1. converge and list, as the user
    first_path = os.path.join(private, "first.json")
    book = write_play(os.path.join(private, "first.yml"), play("bulk as %s" % TEST_USER, [
        user_task("converge", dict(common, image=DEV_IMAGE, tasks=items), conf, "r_bulk", "terok_tasks"),
        user_task("converge again", dict(common, image=DEV_IMAGE, tasks=items), conf, "r_bulk_again", "terok_tasks"),
        user_task("list", dict(common, project=BULK_PROJECT, check_images=True), conf, "r_info", "terok_task_info"),
    ], {"bulk": "r_bulk", "bulk again": "r_bulk_again", "info": "r_info"}, first_path))
    step = time.monotonic()
    rc, out, err = run_playbook(book, env, base)
    converge_seconds = time.monotonic() - step
    first = load_results(first_path)
    listed = {task.get("name"): task for task in (first.get("info") or {}).get("tasks") or []}

    # 2. the containers, as podman shows them
    inspect = {}
    for name in ("shell", "loose"):
        container = (listed.get(name) or {}).get("container_name")
        if container:
            code, text, _err = as_user(podman, "inspect", container, env={"CONTAINERS_CONF": conf}, check=False)
            if code == 0:
                inspect[name] = json.loads(text)[0]
            # the container's first process (podman's --init): what the kernel says of no_new_privs
            code, text, _err = as_user(podman, "exec", container, "grep", "^NoNewPrivs:", "/proc/1/status",
                                       env={"CONTAINERS_CONF": conf}, check=False)
            if code == 0 and name in inspect:
                inspect[name]["_no_new_privs"] = text.split(":", 1)[1].strip()

    # 3. our tmux login into "shell", in a terminal; tmux in the image
    logins = {}
    step = time.monotonic()
    shell = listed.get("shell") or {}
    tmux_version = None
    if shell.get("tmux_login_command"):
        code, text, _err = as_user(podman, "exec", shell["container_name"], "tmux", "-V",
                                   env={"CONTAINERS_CONF": conf}, check=False)
        tmux_version = text.strip() if code == 0 else None
        line = shell["tmux_login_command"].replace("podman ", shlex.quote(podman) + " ", 1)
        logins["ours"] = user_terok_shell(in_a_terminal(line), terok_env, base,
                                          stdin=LOGIN_INPUT.replace("$1", "ours").encode())
    tmux_seconds = time.monotonic() - step

    # 4. the real terok, as the user
    terok = os.path.join(TEROK_VENV, "bin", "terok")
    python = os.path.join(TEROK_VENV, "bin", "python")
    cli = {}
    step = time.monotonic()
    ids = {name: (listed.get(name) or {}).get("task_id") for name in ("shell", "loose", "idle")}
    if all(ids.values()):
        cli["list"] = user_terok_shell([terok, "--no-emoji", "task", "list", BULK_PROJECT], terok_env, base)
        for name in ("shell", "loose"):
            cli["status " + name] = user_terok_shell(
                [terok, "--no-emoji", "task", "status", BULK_PROJECT, ids[name]], terok_env, base)
        cli["login command"] = user_terok_shell([python, "-c", TEROK_LOGIN_API, BULK_PROJECT, ids["loose"]],
                                                terok_env, base)
        logins["terok"] = user_terok_shell(
            in_a_terminal(" ".join(shlex.quote(arg) for arg in [terok, "login", BULK_PROJECT, ids["loose"]])),
            terok_env, base, stdin=LOGIN_INPUT.replace("$1", "terok").encode())
        cli["stop"] = user_terok_shell([terok, "--no-emoji", "task", "stop", BULK_PROJECT, ids["shell"],
                                        "--timeout", "2"], terok_env, base)
    terok_seconds = time.monotonic() - step
    written = {}
    for name, key in (("shell", "ours"), ("loose", "terok")):
        workspace = (listed.get(name) or {}).get("workspace")
        path = os.path.join(workspace or "/nonexistent", key + ".txt")
        if os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as handle:
                written[key] = (handle.read(), os.lstat(path).st_uid)

    # 5. what the modules see after terok's stop, then all three archived as the user (twice)
    last_path = os.path.join(private, "last.json")
    book = write_play(os.path.join(private, "last.yml"), play("after terok, as %s" % TEST_USER, [
        user_task("list after the stop", dict(common, project=BULK_PROJECT), conf, "r_info", "terok_task_info"),
        user_task("shell stopped", dict(common, project=BULK_PROJECT, name="shell", state="stopped"), conf,
                  "r_stopped", "terok_task"),
        user_task("archive", dict(common, tasks=gone), conf, "r_archive", "terok_tasks"),
        user_task("archive again", dict(common, tasks=gone), conf, "r_archive_again", "terok_tasks"),
    ], {"info": "r_info", "stopped": "r_stopped", "archive": "r_archive", "archive again": "r_archive_again"},
        last_path))
    step = time.monotonic()
    lrc, lout, lerr = run_playbook(book, env, base)
    last_seconds = time.monotonic() - step
    last = load_results(last_path)
    _code, left, _err = as_user(podman, "ps", "-a", "--filter", "name=^%s-" % BULK_PROJECT, "--format",
                                "{{.Names}}", env={"CONTAINERS_CONF": conf}, check=False)
    seconds = time.monotonic() - started
    S.count("rootless bulk: module runs as %s" % TEST_USER, 7)
    S.count("rootless bulk: seconds of the converge playbook (terok_tasks x2, terok_task_info)",
            round(converge_seconds, 1))
    S.count("rootless bulk: seconds of tmux -V and our tmux login", round(tmux_seconds, 1))
    S.count("rootless bulk: seconds of the terok CLI (list, 2 status, login command, login, stop)",
            round(terok_seconds, 1))
    S.count("rootless bulk: seconds of the last playbook (info, stopped, archive x2)", round(last_seconds, 1))
    S.count("rootless bulk: seconds in all", round(seconds, 1))

    yield {
        "user": user, "root": root, "rc": rc, "output": out + err, "first": first, "listed": listed,
        "inspect": inspect, "tmux_version": tmux_version, "logins": logins, "cli": cli, "ids": ids,
        "written": written, "lrc": lrc, "loutput": lout + lerr, "last": last, "left": left.split(),
        "podman": podman,
    }
    _code, names, _err = as_user(podman, "ps", "-a", "--filter", "name=^%s-" % BULK_PROJECT, "--format",
                                 "{{.Names}}", env={"CONTAINERS_CONF": conf}, check=False)
    if names.split():
        as_user(podman, "rm", "-f", "-t", "0", *names.split(), env={"CONTAINERS_CONF": conf}, check=False)
    shutil.rmtree(base, ignore_errors=True)


def bulk_result(bulk, part, key):
    result = bulk[part].get(key)
    output = bulk["output"] if part == "first" else bulk["loutput"]
    assert result is not None, "no result saved for %s (rc %s):\n%s" % (key, bulk["rc"], output[-6000:])
    assert S.crash_signs(result) is None, describe(result)
    assert not result.get("failed"), describe(result)
    return result


def bulk_task(bulk, name):
    task = bulk["listed"].get(name)
    assert task is not None, "terok_task_info did not list %s: %s" % (name, describe(bulk["first"].get("info") or {}))
    return task


def test_terok_tasks_converges_three_tasks_as_the_user_and_a_rerun_is_ok(rootless_bulk):
    first = bulk_result(rootless_bulk, "first", "bulk")
    by_name = {task["name"]: task for task in first["tasks"]}
    assert first["changed"] and all(task["changed"] for task in first["tasks"]), describe(first)
    assert {name: task["status"] for name, task in by_name.items()} == {
        "shell": "running", "loose": "running", "idle": "created"}, describe(first)
    again = bulk_result(rootless_bulk, "first", "bulk again")
    assert not again["changed"] and not any(task["changed"] for task in again["tasks"]), describe(again)
    assert [task["task_id"] for task in again["tasks"]] == [task["task_id"] for task in first["tasks"]]


def test_terok_task_info_lists_them_as_the_user(rootless_bulk):
    bulk_result(rootless_bulk, "first", "info")
    assert sorted(rootless_bulk["listed"]) == ["idle", "loose", "shell"]
    for name, restricted in (("shell", True), ("loose", False)):
        task = bulk_task(rootless_bulk, name)
        assert (task["status"], task["container_state"], task["managed"]) == ("running", "running", True), task
        assert task["ready_at"] and task["image_id"] and task["image_outdated"] is False, task
        confinement = task["confinement"] or {}
        assert confinement.get("userns") == "keep-id:uid=1000,gid=1000", confinement
        assert confinement.get("restricted") is restricted and confinement.get("network") == "none", confinement
        assert task["login_command"] == "podman exec -it %s bash" % task["container_name"]
        assert task["tmux_login_command"] == "podman exec -it %s tmux new-session -A -s main" % task["container_name"]
    idle = bulk_task(rootless_bulk, "idle")
    assert (idle["status"], idle["container_name"], idle["login_command"], idle["tmux_login_command"]) == (
        "created", None, None, None), idle


def test_rootless_cgroups_v1_warns_that_the_limits_are_ignored(rootless_bulk):
    """The run that made the containers warns (pids_limit's default 4096 is a limit) exactly when this host is
    rootless cgroups v1; the rerun, which makes no container, does not."""
    warned = [w for w in bulk_result(rootless_bulk, "first", "bulk").get("warnings", [])
              if "ignores resource limits" in w]
    if _cgroups_v1_rootless():
        assert len(warned) == 1 and "pids_limit 4096 not enforced" in warned[0], warned
    else:
        assert warned == [], warned
    again = bulk_result(rootless_bulk, "first", "bulk again")
    assert not [w for w in again.get("warnings", []) if "ignores resource limits" in w], describe(again)


@pytest.mark.parametrize("name, restricted", [("shell", True), ("loose", False)])
def test_inspect_of_a_restricted_and_an_unrestricted_rootless_task(rootless_bulk, name, restricted):
    data = rootless_bulk["inspect"].get(name)
    assert data is not None, "no podman inspect of %s: %s" % (name, bulk_task(rootless_bulk, name))
    host = data["HostConfig"]
    assert ("no-new-privileges" in (host.get("SecurityOpt") or [])) is restricted, host.get("SecurityOpt")
    assert data.get("_no_new_privs") == ("1" if restricted else "0"), (
        "NoNewPrivs of the container's first process: %r" % data.get("_no_new_privs"))
    for field in ("UidMap", "GidMap"):
        assert "1000:0:1" in ((host.get("IDMappings") or {}).get(field) or []), host.get("IDMappings")
    assert "CAP_NET_RAW" in (host.get("CapDrop") or []), host.get("CapDrop")
    kept = [cap for cap in CAP_BITS if cap in (data.get("BoundingCaps") or [])]
    assert kept == [], "BoundingCaps still has %s" % kept
    assert data["Config"].get("User") == "dev", "Config.User %r: the image's user" % data["Config"].get("User")
    assert host.get("NetworkMode") == "none", host.get("NetworkMode")


def _login_line(text):
    return text.strip().split()


def test_the_image_has_tmux_and_our_tmux_login_works(rootless_bulk):
    assert (rootless_bulk["tmux_version"] or "").startswith("tmux "), rootless_bulk["tmux_version"]
    rc, out, err = rootless_bulk["logins"].get("ours") or (None, "", "no login ran")
    assert rc == 0, "our tmux_login_command (rc %s):\n%s%s" % (rc, out[-3000:], err)
    text, uid = rootless_bulk["written"].get("ours") or ("", None)
    # typed into the shell of the tmux session, as the image's dev, which the host sees as the user
    assert _login_line(text) == ["ours", "uid=1000", "term=tmux-256color", "tmux=yes", "key=" + LOGIN_KEY], text
    assert uid == rootless_bulk["user"].pw_uid


def test_terok_lists_and_shows_the_status_of_the_users_tasks(rootless_bulk):
    cli, ids = rootless_bulk["cli"], rootless_bulk["ids"]
    assert cli, "terok did not run: task ids %s" % ids
    rc, out, err = cli["list"]
    assert rc == 0, out + err
    lines = out.splitlines()
    for name, listed in (("shell", "running [mode=cli]"), ("loose", "running [mode=cli]"), ("idle", "created")):
        assert "- %s: %s %s" % (ids[name], name, listed) in lines, out
    for name, permissions in (("shell", "restricted"), ("loose", "unrestricted")):
        rc, out, err = cli["status " + name]
        assert rc == 0, out + err
        fields = dict(line.strip().split(":", 1) for line in out.splitlines()[1:] if ":" in line)
        fields = {key: value.strip() for key, value in fields.items()}
        task = bulk_task(rootless_bulk, name)
        assert fields.get("Name") == name and fields.get("Status", "").endswith("running"), out
        assert fields.get("Container") == task["container_name"] and fields.get("Container state") == "running", out
        assert fields.get("Permissions") == permissions, out


def test_terok_gives_the_login_command_we_give(rootless_bulk):
    rc, out, err = rootless_bulk["cli"].get("login command") or (None, "", "not run")
    assert rc == 0, out + err
    argv = json.loads(out.strip().splitlines()[-1])
    ours = shlex.split(bulk_task(rootless_bulk, "loose")["tmux_login_command"])
    assert os.path.basename(argv[0]) == ours[0] == "podman", argv
    assert argv[1:] == ours[1:], "terok: %s, ours: %s" % (argv, ours)


def test_terok_login_works_on_the_collections_task(rootless_bulk):
    rc, out, err = rootless_bulk["logins"].get("terok") or (None, "", "no login ran")
    assert rc == 0, "terok login (rc %s):\n%s%s" % (rc, out[-3000:], err)
    text, uid = rootless_bulk["written"].get("terok") or ("", None)
    assert _login_line(text) == ["terok", "uid=1000", "term=tmux-256color", "tmux=yes", "key=" + LOGIN_KEY], text
    assert uid == rootless_bulk["user"].pw_uid


def test_terok_stops_a_task_and_the_modules_see_it_stopped(rootless_bulk):
    rc, out, err = rootless_bulk["cli"].get("stop") or (None, "", "not run")
    shell = bulk_task(rootless_bulk, "shell")
    assert rc == 0 and "Stopped task %s: %s" % (shell["task_id"], shell["container_name"]) in out, out + err
    after = {task["name"]: task for task in bulk_result(rootless_bulk, "last", "info")["tasks"]}
    assert (after["shell"]["status"], after["shell"]["container_state"]) == ("stopped", "exited"), after["shell"]
    assert after["shell"]["tmux_login_command"] is None and after["shell"]["finished_at"], after["shell"]
    assert (after["loose"]["status"], after["idle"]["status"]) == ("running", "created")
    stopped = bulk_result(rootless_bulk, "last", "stopped")
    assert not stopped["changed"] and stopped["task"]["status"] == "stopped", describe(stopped)


def test_terok_tasks_archives_them_as_the_user_leaving_nothing(rootless_bulk):
    archived = bulk_result(rootless_bulk, "last", "archive")
    assert archived["changed"] and [task["status"] for task in archived["tasks"]] == ["absent"] * 3, describe(archived)
    denied = [w for w in archived.get("warnings", []) if "ermission denied" in w]
    assert denied == [], describe(archived)
    again = bulk_result(rootless_bulk, "last", "archive again")
    assert not again["changed"], describe(again)
    root = rootless_bulk["root"]
    assert S.task_dir_ids(root, BULK_PROJECT) == set() and S.metadata_ids(root, BULK_PROJECT) == set()
    good, bad = S.archive_entries(root, BULK_PROJECT)
    assert len(good) == 3 and bad == [], "archive entries: %s, unreadable: %s" % (good, bad)
    assert rootless_bulk["left"] == [], "containers left: %s" % rootless_bulk["left"]
