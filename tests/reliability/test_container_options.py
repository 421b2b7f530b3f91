# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 21's container options with real podman, in one terok_tasks call of four agents:

- ``devices``: a CDI spec the test writes in /etc/cdi (vendor terok.test, a harmless edit: an
  environment variable) gives the agent its device by CDI name, and /dev/null by path; with
  ``shm_size``, ``ulimits``, ``tmpfs``, ``labels``, ``annotations``, ``hostname``, ``timezone``,
  ``dns``, ``group_add`` and an existing podman ``secrets`` entry, each seen inside the container
  (``ulimits`` names nproc too: podman 4.3.1 drops containers.conf's default_ulimits when --ulimit is
  given, and as root here it cannot raise nproc to its own default);
- ``read_only``: the collection's init script clones a repository into the workspace and marks git's
  safe.directory in the home, the agent writes /tmp and its home, not /etc;
- ``restart_policy: on-failure``: a command that fails once (marking the workspace) is restarted by
  podman and runs, its mark kept, restart count 1 in ``podman inspect`` and in terok_task_info's result
  (status ``running``); without a policy the same command stays exited, ``failed`` with its exit code 3;
- ``healthcheck``: a hung check is ``unhealthy`` in terok_task_info and in the status playbook's table;
- ``secrets``: one that does not exist is refused, naming the option, before the task is written.

Everything the test made (containers, the podman secret, the CDI spec and /etc/cdi when it made it)
is removed, and the test asserts that nothing is left.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time

import pytest

import _support as S

IMAGE = "localhost/terok-task:latest"
INIT_SCRIPT = os.path.join(S.REPO, "files", "init-ssh-and-repo.sh")
CDI_DIR = "/etc/cdi"
CRASH_ONCE = ("if [ ! -e /workspace/crashed ]; then echo crash > /workspace/crashed; exit 3; fi; "
              "echo again >> /workspace/crashed; exec sleep 300")
PROBE = ("set -u; out=/workspace/probe.json; {"
         " echo \"{\\\"cdi\\\": \\\"${TEROK_CDI_PROBE:-}\\\",\";"
         " echo \"\\\"null_dev\\\": $(test -c /dev/terok-null && echo true || echo false),\";"
         " echo \"\\\"shm\\\": \\\"$(df -k /dev/shm | awk 'NR==2 {print $2}')\\\",\";"
         " echo \"\\\"nofile\\\": \\\"$(ulimit -Sn):$(ulimit -Hn)\\\",\";"
         " echo \"\\\"scratch\\\": \\\"$(awk '$2 == \"/scratch\" {print $3}' /proc/mounts)\\\",\";"
         " echo \"\\\"hostname\\\": \\\"$(hostname)\\\",\";"
         " echo \"\\\"tz\\\": \\\"$(date +%Z)\\\",\";"
         " echo \"\\\"dns\\\": \\\"$(awk '/^nameserver/ {print $2}' /etc/resolv.conf | tr '\\n' ' ')\\\",\";"
         " echo \"\\\"groups\\\": \\\"$(id -G)\\\",\";"
         " echo \"\\\"secret\\\": \\\"$(cat /run/secrets/probe-target)\\\"}\"; } > $out; exec sleep 300")
READ_ONLY = ("r=/workspace/ro.txt; git -C /workspace log --oneline | head -1 > $r; "
             "git config --global --get-all safe.directory >> $r; "
             "touch /tmp/ok && echo tmp-writable >> $r; touch \"$HOME/ok\" && echo home-writable >> $r; "
             "touch /etc/ok 2>/dev/null || echo etc-read-only >> $r; exec sleep 300")


def _podman(*args, check=False):
    proc = subprocess.run(["podman"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False,
                          env=S.ansible_env(), universal_newlines=True)
    assert not check or proc.returncode == 0, proc.stderr
    return proc


def _names(project):
    return [n for n in _podman("ps", "-a", "--format", "{{.Names}}").stdout.split() if n.startswith(project + "-")]


@pytest.fixture
def made(tmp_path):
    """(project, root, secret name, CDI kind, repo): the CDI spec and the secret exist; all is removed after."""
    token = secrets.token_hex(3)
    project, secret, kind = "co" + token, "terok-test-secret-" + token, "terok.test/probe" + token
    made_cdi_dir = not os.path.isdir(CDI_DIR)
    os.makedirs(CDI_DIR, exist_ok=True)
    cdi_file = os.path.join(CDI_DIR, "terok-test-%s.json" % token)
    with open(cdi_file, "w", encoding="utf-8") as handle:
        json.dump({"cdiVersion": "0.5.0", "kind": kind, "devices": [
            {"name": "probe", "containerEdits": {"env": ["TEROK_CDI_PROBE=" + token]}}]}, handle)
    proc = subprocess.run(["podman", "secret", "create", secret, "-"], input="s3cret-" + token, check=False,
                          env=S.ansible_env(), universal_newlines=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.returncode == 0, proc.stderr
    # a repository for the read-only agent to clone
    src, repo = str(tmp_path / "src"), str(tmp_path / "repo.git")
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    subprocess.run(git + ["init", "-q", "-b", "main", src], check=True)
    (tmp_path / "src" / "README.md").write_text("# read-only\n")
    subprocess.run(git + ["-C", src, "add", "README.md"], check=True)
    subprocess.run(git + ["-C", src, "commit", "-q", "-m", "first commit"], check=True)
    subprocess.run(["git", "clone", "-q", "--bare", src, repo], check=True)
    try:
        yield project, str(tmp_path / "root"), secret, kind, repo
    finally:
        mine = _names(project)
        if mine:
            _podman("rm", "--force", "--time", "0", *mine)
        _podman("secret", "rm", secret)
        os.remove(cdi_file)
        if made_cdi_dir:
            os.rmdir(CDI_DIR)
        assert _names(project) == []
        assert secret not in _podman("secret", "ls", "--format", "{{.Name}}").stdout.split()
        assert not os.path.exists(cdi_file) and os.path.isdir(CDI_DIR) is not made_cdi_dir


def test_hardware_read_only_restart_and_health_with_real_podman(made):
    project, root, secret, kind, repo = made
    started = time.monotonic()
    common = {"project": project, "state": "running", "init_script": INIT_SCRIPT}
    items = [
        dict(common, name="hw", command=["bash", "-c", PROBE], devices=[kind + "=probe", "/dev/null:/dev/terok-null"],
             shm_size="96m", ulimits=["nofile=1024:2048", "nproc=4096:4096"], tmpfs=["/scratch:size=8m"], labels={"cost": "lab-7"},
             annotations={"org.example.owner": "ana"}, hostname="gpu-agent", timezone="Asia/Tokyo",
             dns=["192.0.2.53"], group_add=["5"], secrets=[secret + ",target=probe-target"]),
        dict(common, name="ro", command=["bash", "-c", READ_ONLY], read_only=True, code_repo="/srv/repo.git",
             volumes=[repo + ":/srv/repo.git:ro"]),
        dict(common, name="crash", command=["bash", "-c", CRASH_ONCE], restart_policy="on-failure:2"),
        dict(common, name="crash-no-policy", command=["bash", "-c", CRASH_ONCE]),
        dict(common, name="hung", command=["sleep", "300"],
             healthcheck={"test": ["sleep", "30"], "timeout": "1s", "retries": 1, "interval": "1h"}),
    ]
    run = S.adhoc("terok_tasks", {"root": root, "image": IMAGE, "concurrency": 4, "tasks": items}, timeout=180)
    assert not run.failed, run.result.get("msg")
    tasks = {task["name"]: task for task in run.result["tasks"]}
    workspace = {name: task["workspace"] for name, task in tasks.items()}
    cname = {name: task["container_name"] for name, task in tasks.items()}

    # devices and the everyday options, seen from inside
    probe = S.wait_for(lambda: os.path.exists(os.path.join(workspace["hw"], "probe.json"))
                       and json.load(open(os.path.join(workspace["hw"], "probe.json"), encoding="utf-8")))
    assert probe["cdi"] == kind.rsplit("probe", 1)[1] and probe["null_dev"] is True, probe
    assert probe["shm"] == str(96 * 1024) and probe["nofile"] == "1024:2048" and probe["scratch"] == "tmpfs", probe
    assert probe["hostname"] == "gpu-agent" and probe["tz"] == "JST" and probe["dns"].split() == ["192.0.2.53"]
    assert "5" in probe["groups"].split() and probe["secret"] == "s3cret-" + kind.rsplit("probe", 1)[1], probe
    inspect = json.loads(_podman("inspect", cname["hw"], check=True).stdout)[0]
    assert inspect["Config"]["Labels"]["cost"] == "lab-7"
    assert inspect["Config"]["Annotations"]["org.example.owner"] == "ana"
    assert inspect["Config"]["Annotations"]["dossier.meta_path"].endswith("_dossier.json")
    confinement = tasks["hw"]["confinement"]
    assert confinement["devices"] == [kind + "=probe", "/dev/null:/dev/terok-null"]
    assert (confinement["shm_size"], confinement["hostname"], confinement["secrets"]) == (
        "96m", "gpu-agent", [secret + ",target=probe-target"])

    # read_only: the real init script cloned and marked the workspace safe in the (tmpfs) home /root
    for name in ("ro",):
        ro_file = os.path.join(workspace[name], "ro.txt")
        lines = S.wait_for(lambda: os.path.exists(ro_file) and "etc-read-only" in open(ro_file, encoding="utf-8").read()
                           and open(ro_file, encoding="utf-8").read().splitlines(), 20.0)
        assert lines and lines[0].endswith("first commit") and "/workspace" in lines, (name, lines)
        assert lines[-3:] == ["tmp-writable", "home-writable", "etc-read-only"], (name, lines)
        data = json.loads(_podman("inspect", cname[name], check=True).stdout)[0]
        assert data["HostConfig"]["ReadonlyRootfs"] is True
        assert tasks[name]["confinement"]["read_only"] is True and tasks[name]["status"] == "running"

    # on-failure: restarted once by podman, running, the mark kept; without a policy it stays exited
    def restarted():
        data = json.loads(_podman("inspect", cname["crash"], check=True).stdout)[0]
        return data["State"]["Running"] and data["RestartCount"] == 1 and data
    assert S.wait_for(restarted), _podman("inspect", cname["crash"]).stdout[-2000:]
    with open(os.path.join(workspace["crash"], "crashed"), encoding="utf-8") as handle:
        assert handle.read().split() == ["crash", "again"]
    assert _podman("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}",
                   cname["crash-no-policy"], check=True).stdout.split() == ["exited", "3", "0"]

    # healthcheck: no systemd timer here, so the check is run by hand; it hangs past its timeout
    assert _podman("healthcheck", "run", cname["hung"]).returncode != 0
    info = S.adhoc("terok_task_info", {"root": root, "project": project})
    assert not info.failed, info
    listed = {task["name"]: task for task in info.result["tasks"]}
    assert listed["hung"]["health"] == "unhealthy" and listed["hw"]["health"] is None
    assert listed["hung"]["confinement"]["healthcheck"]["retries"] == 1
    assert (listed["crash"]["container_state"], listed["crash-no-policy"]["container_state"]) == ("running", "exited")
    assert listed["crash"]["confinement"]["restart_policy"] == "on-failure:2"
    # the results say what podman did: restarted once and running; without a policy failed, with its exit code
    crash, no_policy = listed["crash"], listed["crash-no-policy"]
    assert (crash["status"], crash["restart_count"], crash["exit_code"]) == ("running", 1, None), crash
    assert (no_policy["status"], no_policy["restart_count"], no_policy["exit_code"]) == ("failed", 0, 3), no_policy
    assert listed["hw"]["restart_count"] == 0

    # the status playbook's table shows the health
    inventory = os.path.join(os.path.dirname(root), "inventory.yml")
    with open(inventory, "w", encoding="utf-8") as handle:
        handle.write("terok_hosts:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
                     "      terok_tasks_root: %s\n" % root)
    report = os.path.join(os.path.dirname(root), "report.md")
    proc = subprocess.run([S.ansible_bin("ansible-playbook"), "-i", inventory, os.path.join(S.REPO, "playbooks",
                           "status.yml"), "-e", json.dumps({"terok_status_report": report,
                                                            "terok_status_projects": [project]})],
                          env=S.ansible_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False, cwd=os.path.dirname(root), timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(report, encoding="utf-8") as handle:
        table = [[cell.strip() for cell in line.strip("|\n").split("|")] for line in handle if line.startswith("|")]
    health = table[0].index("health")
    assert {row[3]: row[health] for row in table[2:]}["hung"] == "unhealthy", table

    # a secret that does not exist is refused naming the option, before the task is written
    missing = S.adhoc("terok_task", {"root": root, "project": project, "name": "no-secret", "state": "running",
                                     "image": IMAGE, "secrets": [secret + "-missing"]})
    assert missing.failed and missing.result.get("option") == "secrets", missing
    assert "does not exist" in missing.result["msg"] and not missing.result.get("changed")
    listed = S.adhoc("terok_task_info", {"root": root, "project": project}).result["tasks"]
    assert "no-secret" not in [task["name"] for task in listed]

    # every task goes; the existing secret stays (the collection never removes it), the fixture removes it
    gone = S.adhoc("terok_tasks", {"root": root, "tasks": [{"project": project, "name": name, "state": "absent"}
                                                           for name in tasks]}, timeout=120)
    assert not gone.failed, gone
    assert _names(project) == []
    assert secret in _podman("secret", "ls", "--format", "{{.Name}}").stdout.split()
    assert time.monotonic() - started < 90
