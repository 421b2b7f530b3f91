# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Crash and reboot survival (issue 21 item 2), with real podman 4.3.1.

- **Reboot**, simulated on a podman storage of the test's own (``--root``, ``--runroot``, ``--tmpdir``
  and runc's ``--root`` all under one directory in /var/tmp, the vfs driver, file locks under the run
  directory, so that nothing of root's own podman is touched): agents made by terok_tasks through a
  wrapper ``executable`` with restart policy ``always``, ``unless-stopped``, ``on-failure`` and none, and
  one with ``always`` that ``state: stopped`` stopped; then the power goes (every conmon and container
  process killed with SIGKILL, the containers' mounts gone, the run directory emptied, as a boot finds
  /run), and what ``podman-restart.service`` runs at boot is run (its ``ExecStart`` and ``LOGGING``, read
  from the unit podman ships). terok_task_info reports each agent truthfully (those with ``always`` are
  ``running``, every other ``stopped``: podman 4.3.1 lists them ``created`` after a reboot), workspaces
  intact (the clone, local work, no marker), and a terok_tasks run with ``state: running`` brings the
  others back (the rerun is ``ok``). The log of the whole simulation is written to
  ``tests/output/reliability/reboot-simulation.log`` and printed (``pytest -s`` shows it).
- **Units**: ``systemd-analyze verify`` of podman's ``podman-restart.service``, the system's and the
  user's; terok_host_prep's ``restart_on_boot`` on this host, which has no systemd as PID 1, as root and
  as the test user: nothing changed, a warning that says what could not be done.
- **Crash, rootless**: as the test user, an agent with ``on-failure`` whose command fails once (it marks
  the workspace) is restarted by podman, running with the mark kept, ``restart_count`` 1; the same
  without a policy is ``failed`` with its exit code. (The rootful crash is in test_container_options.)
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

import _support as S
from test_non_root import SYSTEM_PYTHON, TEST_USER, real_podman, run_env, run_playbook, write_play

IMAGE = "localhost/terok-task:latest"
DEV_IMAGE = os.environ.get("TEROK_TASK_DEV_IMAGE", "localhost/terok-task-dev:latest")
INIT_SCRIPT = os.path.join(S.REPO, "files", "init-ssh-and-repo.sh")
SYSTEM_UNIT = "/lib/systemd/system/podman-restart.service"
USER_UNIT = "/lib/systemd/user/podman-restart.service"
LOG_PATH = os.path.join(S.REPO, "tests", "output", "reliability", "reboot-simulation.log")
BOOTED = os.path.isdir("/run/systemd/system")
# each start of the agent adds a line; then it waits
AGENT = "echo \"boot $(date -u +%FT%TZ)\" >> /workspace/boots; exec sleep 3600"
CRASH_ONCE = ("if [ ! -e /workspace/crashed ]; then echo crash > /workspace/crashed; exit 3; fi; "
              "echo again >> /workspace/crashed; exec sleep 900")
# the agents of the simulation: name -> restart policy (None: none), and whether state=stopped stops it
POLICIES = {"always": "always", "unless-stopped": "unless-stopped", "on-failure": "on-failure", "none": None,
            "always-stopped": "always"}


def unit_command(path=SYSTEM_UNIT):
    """(ExecStart, the LOGGING of its Environment=) of a podman unit, as the file says them."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    start = re.search(r"^ExecStart=(.+)$", text, re.M).group(1).strip()
    logging = re.search(r"^Environment=LOGGING=\"?([^\"\n]*)\"?$", text, re.M)
    return start, logging.group(1) if logging else ""


class Log(object):
    """The simulation's log: each step with its time, what ran and what it said."""

    def __init__(self):
        self.lines = []
        self.start = time.monotonic()

    def __call__(self, text):
        self.lines.append("[%6.2fs] %s" % (time.monotonic() - self.start, text))

    def block(self, title, text):
        self(title)
        self.lines.extend("           | " + line for line in text.rstrip("\n").splitlines())

    def write(self):
        os.makedirs(os.path.dirname(LOG_PATH), exist_ok=True)
        with open(LOG_PATH, "w", encoding="utf-8") as handle:
            handle.write("\n".join(self.lines) + "\n")
        print("\n--- reboot simulation (%s) ---\n%s" % (os.path.relpath(LOG_PATH, S.REPO), "\n".join(self.lines)))


class Store(object):
    """A podman storage of the test's own under ``base``: ``podman`` is a wrapper that points podman (and
    runc) at it, usable as the modules' ``executable``; ``run_dir`` is all that a reboot clears."""

    def __init__(self, base):
        self.base = base
        self.run_dir = os.path.join(base, "run")
        self.podman = os.path.join(base, "podman")
        runc = os.path.join(base, "runc")
        conf = os.path.join(base, "containers.conf")
        with open(os.path.join(S.REPO, "tools", "containers.conf"), encoding="utf-8") as handle:
            text = handle.read()
        # file locks in the run directory (podman's default, shared memory, is one segment for every
        # rootful storage of the host and outlives the simulated reboot)
        with open(conf, "w", encoding="utf-8") as handle:
            handle.write(text.replace("[engine]\n", "[engine]\nlock_type = \"file\"\n"))
        self._script(runc, "exec /usr/bin/runc --root %s \"$@\"" % shlex.quote(os.path.join(self.run_dir, "runc")))
        self._script(self.podman, "CONTAINERS_CONF=%s; export CONTAINERS_CONF\nexec %s --root %s --runroot %s "
                     "--tmpdir %s --storage-driver vfs --runtime %s \"$@\"" % tuple(shlex.quote(word) for word in (
                         conf, real_podman(), os.path.join(base, "storage"), os.path.join(self.run_dir, "storage"),
                         os.path.join(self.run_dir, "libpod"), runc)))

    @staticmethod
    def _script(path, body):
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("#!/bin/sh\n%s\n" % body)
        os.chmod(path, 0o755)

    def __call__(self, *args, check=True, timeout=120):
        proc = subprocess.run([self.podman] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, check=False, timeout=timeout)
        assert not check or proc.returncode == 0, "podman %s: %s" % (" ".join(args), proc.stderr)
        return proc

    def mounts(self):
        with open("/proc/self/mounts", encoding="utf-8") as handle:
            return sorted({line.split()[1] for line in handle if line.split()[1].startswith(self.base + "/")},
                          reverse=True)

    def processes(self):
        """The pids of processes whose command line names the store (conmon, podman cleanup)."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != os.getpid():
                try:
                    with open("/proc/%s/cmdline" % entry, "rb") as handle:
                        if self.base.encode() in handle.read():
                            found.append(int(entry))
                except OSError:
                    pass
        return found


@pytest.fixture
def store():
    if os.geteuid() != 0:
        pytest.skip("the reboot simulation kills conmon and unmounts: run it as root")
    base = tempfile.mkdtemp(prefix="terok-reboot-", dir="/var/tmp")
    made = Store(base)
    save = subprocess.Popen([real_podman(), "save", IMAGE], stdout=subprocess.PIPE, env=S.ansible_env())
    loaded = subprocess.run([made.podman, "load", "-q"], stdin=save.stdout, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, check=False)
    save.stdout.close()
    assert save.wait() == 0 and loaded.returncode == 0, "cannot copy %s into the store: %s" % (IMAGE, loaded.stderr)
    try:
        yield made
    finally:
        made("rm", "--all", "--force", "--time", "0", check=False)
        for mount in made.mounts():
            subprocess.run(["umount", "-l", mount], check=False)
        for pid in made.processes():
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(base, ignore_errors=True)
        assert not os.path.exists(base) and made.mounts() == [], "left: %s" % made.mounts()


def _bare_repo(path):
    src = path + "-src"
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    subprocess.run(git + ["init", "-q", "-b", "main", src], check=True)
    with open(os.path.join(src, "README.md"), "w", encoding="utf-8") as handle:
        handle.write("# survival\n")
    subprocess.run(git + ["-C", src, "add", "README.md"], check=True)
    subprocess.run(git + ["-C", src, "commit", "-q", "-m", "first commit"], check=True)
    subprocess.run(["git", "clone", "-q", "--bare", src, path], check=True)
    shutil.rmtree(src)


def _boots(workspace):
    try:
        with open(os.path.join(workspace, "boots"), encoding="utf-8") as handle:
            return len(handle.read().splitlines())
    except FileNotFoundError:
        return 0


def _intact(workspace):
    """What of a workspace must survive: the clone, the local work, no marker."""
    return {"git": os.path.isdir(os.path.join(workspace, ".git")),
            "local work": os.path.isfile(os.path.join(workspace, "local-work.txt")),
            "marker": os.path.exists(os.path.join(workspace, S.MARKER))}


def test_a_simulated_reboot_brings_back_the_agents_with_always(store, tmp_path):
    log = Log()
    with open(store.podman, encoding="utf-8") as handle:
        log.block("the store's podman (the modules' executable), %s" % store.podman, handle.read())
    project, root, repo = "reboot", str(tmp_path / "root"), str(tmp_path / "repo.git")
    _bare_repo(repo)
    common = {"root": root, "executable": store.podman, "image": IMAGE}
    agent = {"project": project, "state": "running", "init_script": INIT_SCRIPT, "command": ["bash", "-c", AGENT],
             "code_repo": "/srv/repo.git", "volumes": [repo + ":/srv/repo.git:ro"], "network": "none"}
    items = [dict(agent, name=name, restart_policy=policy) for name, policy in POLICIES.items()]
    try:
        made = S.adhoc("terok_tasks", dict(common, tasks=items), timeout=240)
        assert not made.failed, made
        stop = S.adhoc("terok_task", dict(common, project=project, name="always-stopped", state="stopped",
                                          stop_timeout=1))
        assert not stop.failed and stop.result["task"]["status"] == "stopped", stop
        tasks = {task["name"]: task for task in made.result["tasks"]}
        workspaces = {name: task["workspace"] for name, task in tasks.items()}
        for name, workspace in workspaces.items():
            with open(os.path.join(workspace, "local-work.txt"), "w", encoding="utf-8") as handle:
                handle.write("uncommitted work of %s\n" % name)
            assert S.wait_for(lambda w=workspace: _boots(w) == 1), name
            assert _intact(workspace) == {"git": True, "local work": True, "marker": False}, name
        made_rows = ["%-15s restart_policy=%-15s %s %s" % (
            name, POLICIES[name], task["container_name"], "stopped" if name == "always-stopped" else task["status"])
            for name, task in tasks.items()]
        log.block("agents made by terok_tasks (executable %s), one stopped by terok_task" % store.podman,
                  "\n".join(made_rows))
        log.block("podman ps -a before the power goes", store("ps", "-a", "--format",
                                                              "{{.Names}} {{.Status}}").stdout)

        # the power goes: conmon and every container process killed, the mounts and /run gone
        listed = json.loads(store("ps", "-a", "--format", "json").stdout)
        killed = []
        for item in listed:
            if item.get("State") != "running":
                continue
            userdata = os.path.join(store.run_dir, "storage", "vfs-containers", item["Id"], "userdata")
            with open(os.path.join(userdata, "conmon.pid"), encoding="utf-8") as handle:
                conmon = int(handle.read().strip())
            for pid in (conmon, item["Pid"]):
                os.kill(pid, signal.SIGKILL)
            killed.append("%s: conmon %d, container pid %d (its pid namespace's init: all of it dies)"
                          % (item["Names"][0], conmon, item["Pid"]))
        log.block("kill -9, no shutdown", "\n".join(killed))
        assert len(killed) == 4
        assert S.wait_for(lambda: not any(os.path.exists("/proc/%d" % item["Pid"]) for item in listed
                                          if item.get("State") == "running"), 10)
        mounts = store.mounts()
        for mount in mounts:
            subprocess.run(["umount", "-l", mount], check=True)
        log.block("umount what the boot does not find", "\n".join(os.path.relpath(m, store.base) for m in mounts))
        shutil.rmtree(store.run_dir)
        os.mkdir(store.run_dir)
        log("emptied the run directory %s (runroot, podman's tmpdir with its locks and exit files, runc's state)"
            % store.run_dir)
        log.block("podman ps -a after the boot, before the unit", store("ps", "-a", "--format",
                                                                        "{{.Names}} {{.Status}}").stdout)

        # what podman-restart.service runs at boot
        start, logging = unit_command()
        argv = shlex.split(start.replace("$LOGGING", logging))
        assert argv[0] == "/usr/bin/podman" and argv[-3:] == ["--all", "--filter", "restart-policy=always"], argv
        proc = subprocess.run([store.podman] + argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, check=False, timeout=120)
        log.block("%s: ExecStart=%s (LOGGING=%s), podman as the store's wrapper; rc %d"
                  % (SYSTEM_UNIT, start, logging, proc.returncode), proc.stdout)
        assert proc.returncode == 0, proc.stdout
        assert not re.search(r"level=(error|warning)", proc.stdout), proc.stdout
        log.block("podman ps -a after the unit", store("ps", "-a", "--format", "{{.Names}} {{.Status}}").stdout)

        # the modules report each agent truthfully
        back = {"always", "always-stopped"}
        assert S.wait_for(lambda: all(_boots(workspaces[name]) == 2 for name in back)), {
            name: _boots(w) for name, w in workspaces.items()}
        info = S.adhoc("terok_task_info", {"root": root, "executable": store.podman, "project": project})
        assert not info.failed, info
        seen = {task["name"]: task for task in info.result["tasks"]}
        log.block("terok_task_info after the boot", "\n".join(
            "%-15s status=%-8s container_state=%-8s restart_count=%s exit_code=%s boots=%d %s" % (
                name, task["status"], task["container_state"], task["restart_count"], task["exit_code"],
                _boots(workspaces[name]), _intact(workspaces[name])) for name, task in sorted(seen.items())))
        for name, task in seen.items():
            came_back = name in back
            assert (task["status"], task["container_state"]) == (
                ("running", "running") if came_back else ("stopped", "created")), task
            assert task["restart_count"] == 0 and task["exit_code"] is None, task
            assert _boots(workspaces[name]) == (2 if came_back else 1), name
            assert _intact(workspaces[name]) == {"git": True, "local work": True, "marker": False}, name

        # state=running brings back the others, with their workspaces; a rerun is ok
        again = S.adhoc("terok_tasks", dict(common, tasks=items), timeout=240)
        assert not again.failed, again
        changed = sorted(task["name"] for task in again.result["tasks"] if task["changed"])
        assert changed == ["none", "on-failure", "unless-stopped"], again.result
        assert all(task["status"] == "running" for task in again.result["tasks"]), again.result
        assert S.wait_for(lambda: all(_boots(w) == 2 for w in workspaces.values())), {
            name: _boots(w) for name, w in workspaces.items()}
        for name, workspace in workspaces.items():
            assert _intact(workspace) == {"git": True, "local work": True, "marker": False}, name
        rerun = S.adhoc("terok_tasks", dict(common, tasks=items), timeout=240)
        assert not rerun.failed and not rerun.result["changed"], rerun
        log.block("terok_tasks state=running after the boot (changed: %s), rerun ok" % ", ".join(changed),
                  store("ps", "-a", "--format", "{{.Names}} {{.Status}}").stdout)

        gone = S.adhoc("terok_tasks", dict(common, tasks=[{"project": project, "name": name, "state": "absent"}
                                                          for name in POLICIES]), timeout=240)
        assert not gone.failed, gone
        assert store("ps", "-a", "-q").stdout.split() == []
        log("every task absent: the store has no container")
    finally:
        log.write()
        S.count("reboot simulation: seconds (log: %s)" % os.path.relpath(LOG_PATH, S.REPO),
                round(time.monotonic() - log.start, 1))


# --------------------------------------------------------------------------------------
# the units, and what terok_host_prep says of them on this host
# --------------------------------------------------------------------------------------
def test_podmans_restart_units_verify_and_start_only_always():
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is missing (apt package systemd; tools/bootstrap.sh installs it): the units "
                    "were not verified")
    for path in (SYSTEM_UNIT, USER_UNIT):
        assert unit_command(path) == ("/usr/bin/podman $LOGGING start --all --filter restart-policy=always",
                                      "--log-level=info"), path
    proc = subprocess.run(["systemd-analyze", "verify", SYSTEM_UNIT], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout
    runtime = tempfile.mkdtemp(prefix="terok-xdg-runtime-")  # the user manager's runtime directory
    try:
        proc = subprocess.run(["systemd-analyze", "--user", "verify", USER_UNIT], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, universal_newlines=True, check=False,
                              env=dict(os.environ, XDG_RUNTIME_DIR=runtime))
    finally:
        shutil.rmtree(runtime)
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout


def user_env():
    """The controller's environment for runs as the test user: run_env() without the test's own TMPDIR, which
    the user cannot write (rootless podman would fall back to ~/rundir for its runtime directory)."""
    env = run_env()
    env.pop("TMPDIR", None)
    return env


def _restart_report(result, output):
    """The result's restart_on_boot, each of whose not_done is a warning in the run's ``output``."""
    assert not result.get("failed"), result
    report = result["restart_on_boot"]
    flat = " ".join(output.split())
    for text in report["not_done"]:
        assert "[WARNING]: " + text in flat, (text, output[-3000:])
    assert not [change for change in result["changes"] if "podman-restart" in change or "lingering" in change] \
        or BOOTED, result["changes"]
    return report


def test_restart_on_boot_says_what_it_cannot_do_without_systemd_as_root_and_as_a_user(tmp_path):
    """On this host (no systemd as PID 1) nothing is changed and a warning says why; on a host with systemd
    the test runs in check mode, so that it changes nothing there either."""
    check = {"_ansible_check_mode": True} if BOOTED else {}
    args = {"root": str(tmp_path / "root"), "commands": [], "restart_on_boot": True}
    as_root = S.adhoc("terok_host_prep", args, env=S.ansible_env())
    assert as_root.result, as_root
    report = _restart_report(as_root.result, as_root.output)
    enabled = subprocess.run(["systemctl", "is-enabled", "podman-restart.service"], stdout=subprocess.PIPE,
                             universal_newlines=True, check=False).stdout.strip() == "enabled"
    assert (report["scope"], report["systemd"], report["enabled"], report["linger"]) == (
        "system", BOOTED, enabled, None), report
    if not BOOTED:
        assert not report["changed"], as_root
        assert len(report["not_done"]) == 1 and "systemd is not PID 1 on this host" in report["not_done"][0]
        assert "podman start --all --filter restart-policy=always" in report["not_done"][0]
    S.count("restart_on_boot as root: what it could not do (warnings)", len(report["not_done"]))

    # as the test user: the user unit and lingering
    base = tempfile.mkdtemp(prefix="terok-restart-on-boot-", dir="/tmp")
    try:
        os.chmod(base, 0o755)
        user_dir = os.path.join(base, "user")
        os.mkdir(user_dir)
        subprocess.run(["chown", TEST_USER, user_dir], check=True)
        results = os.path.join(base, "results.json")
        task = {"name": "restart on boot as the user", "become": True, "become_user": TEST_USER,
                "become_method": "su", "register": "r_prep", "check_mode": BOOTED,
                "terok.lifecycle.terok_host_prep": {"root": os.path.join(user_dir, "root"), "commands": [],
                                                    "restart_on_boot": True}}
        save = {"name": "save", "ansible.builtin.copy": {"content": "{{ r_prep | to_json }}", "dest": results,
                                                         "mode": "0600"}}
        book = write_play(os.path.join(base, "play.yml"), [{
            "name": "restart_on_boot as %s" % TEST_USER, "hosts": "localhost", "gather_facts": False,
            "vars": {"ansible_python_interpreter": SYSTEM_PYTHON}, "tasks": [task, save]}])
        rc, out, err = run_playbook(book, user_env(), base)
        assert rc == 0, out[-4000:] + err[-4000:]
        with open(results, encoding="utf-8") as handle:
            result = json.load(handle)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    report = _restart_report(result, out + err)
    assert (report["scope"], report["systemd"]) == ("user", BOOTED), report
    if not BOOTED:
        assert (report["enabled"], report["linger"], report["changed"]) == (False, False, False), report
        assert report["not_done"] == [
            "the user unit podman-restart.service was not enabled and lingering was not enabled for %s: systemd is "
            "not PID 1 on this host (no /run/systemd/system), so no unit runs at boot; after a reboot the "
            "containers with restart policy always come back only if something runs `podman start --all "
            "--filter restart-policy=always` as %s then" % (TEST_USER, TEST_USER)], report
    S.count("restart_on_boot as %s: what it could not do (warnings)" % TEST_USER, len(report["not_done"]))


# --------------------------------------------------------------------------------------
# a crash, rootless
# --------------------------------------------------------------------------------------
def test_a_rootless_agent_that_crashes_is_restarted_with_on_failure_and_failed_without():
    if os.geteuid() != 0:
        pytest.skip("the rootless tests switch users: run them as root")
    from test_rootless import as_user, rootless_conf  # pylint: disable=import-outside-toplevel
    podman = real_podman()
    if as_user(podman, "image", "exists", DEV_IMAGE, check=False)[0] != 0:
        pytest.fail("%s is not in %s's podman storage: run make image (tools/rootless-image.sh)" % (DEV_IMAGE, TEST_USER))
    project = "crash-%x" % (os.getpid() & 0xFFFF)
    base = tempfile.mkdtemp(prefix="terok-rootless-crash-", dir="/tmp")
    os.chmod(base, 0o755)
    conf = os.path.join(base, "containers.conf")
    rootless_conf(conf)
    private = os.path.join(base, "private")
    os.mkdir(private, 0o700)
    user_root = os.path.join(base, "user")
    os.mkdir(user_root)
    subprocess.run(["chown", TEST_USER, user_root], check=True)
    common = {"root": os.path.join(user_root, "root"), "executable": podman}
    agent = {"project": project, "state": "running", "command": ["bash", "-c", CRASH_ONCE], "network": "none"}
    items = [dict(agent, name="crash", restart_policy="on-failure"), dict(agent, name="crash-no-policy")]
    gone = [{"project": project, "name": item["name"], "state": "absent"} for item in items]

    def as_the_user(name, module, args, var, **more):
        task = {"name": name, "terok.lifecycle." + module: args, "environment": {"CONTAINERS_CONF": conf},
                "become": True, "become_user": TEST_USER, "become_method": "su", "register": var}
        task.update(more)
        return task

    results = os.path.join(private, "results.json")
    book = write_play(os.path.join(private, "crash.yml"), [{
        "name": "a crash as %s" % TEST_USER, "hosts": "localhost", "gather_facts": False,
        "vars": {"ansible_python_interpreter": SYSTEM_PYTHON}, "tasks": [
            as_the_user("converge", "terok_tasks", dict(common, image=DEV_IMAGE, tasks=items), "r_made"),
            as_the_user("wait for the restart", "terok_task_info", dict(common, project=project), "r_info",
                        until="r_info.tasks | selectattr('name', 'equalto', 'crash') | "
                              "map(attribute='restart_count') | first == 1", retries=30, delay=1),
            {"name": "read the mark", "ansible.builtin.command": {"argv": ["cat", "{{ (r_info.tasks | selectattr("
                                                                           "'name', 'equalto', 'crash') | first)"
                                                                           ".workspace }}/crashed"]},
             "register": "r_mark", "changed_when": False},
            as_the_user("remove", "terok_tasks", dict(common, tasks=gone), "r_gone"),
            {"name": "save", "ansible.builtin.copy": {
                "content": "{{ {'made': r_made, 'info': r_info, 'mark': r_mark.stdout, 'gone': r_gone} | to_json }}",
                "dest": results, "mode": "0600"}},
        ]}])
    try:
        rc, out, err = run_playbook(book, user_env(), base)
        assert rc == 0, out[-5000:] + err[-3000:]
        with open(results, encoding="utf-8") as handle:
            result = json.load(handle)
        _code, left, _err = as_user(podman, "ps", "-a", "--filter", "name=^%s-" % project, "--format", "{{.Names}}",
                                    env={"CONTAINERS_CONF": conf}, check=False)
    finally:
        _code, names, _err = as_user(podman, "ps", "-a", "--filter", "name=^%s-" % project, "--format",
                                     "{{.Names}}", env={"CONTAINERS_CONF": conf}, check=False)
        if names.split():
            as_user(podman, "rm", "-f", "-t", "0", *names.split(), env={"CONTAINERS_CONF": conf}, check=False)
        as_user("rm", "-rf", user_root, check=False)
        shutil.rmtree(base, ignore_errors=True)
    listed = {task["name"]: task for task in result["info"]["tasks"]}
    crash, no_policy = listed["crash"], listed["crash-no-policy"]
    assert (crash["status"], crash["restart_count"], crash["container_state"]) == ("running", 1, "running"), crash
    assert crash["confinement"]["restart_policy"] == "on-failure" and crash["confinement"]["userns"] == \
        "keep-id:uid=1000,gid=1000", crash
    assert result["mark"].split() == ["crash", "again"], result["mark"]
    assert (no_policy["status"], no_policy["exit_code"], no_policy["restart_count"]) == ("failed", 3, 0), no_policy
    assert [task["status"] for task in result["gone"]["tasks"]] == ["absent", "absent"], result["gone"]
    assert left.split() == [], left
