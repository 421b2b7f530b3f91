# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Option ``egress`` with real podman and real nftables, nothing beyond this machine (issue 21, item 3).

The hook is installed by the real module terok_host_prep (``egress_hook: true``): its program in a
directory of the test's own under /var/tmp (mode 0755, so that the rootless test user can run it too),
its descriptor in podman's default hooks directory ``/usr/share/containers/oci/hooks.d`` (the only one
podman reads with the tests' ``CONTAINERS_CONF``); a descriptor that was there before is put back after.

Rootful: a podman network the test creates with ``--internal`` (no route out of this machine), two
servers in it (A listens on two ports, B on one, both ``python3 -m http.server``), and an agent on that
network with ``egress: [A:PORT, localhost]``. The agent's command first probes the three (its first
instruction, fenced already) and appends what it saw to ``/workspace/probes.jsonl``; it reaches A's port
(HTTP 200) and neither A's other port nor B (rejected, EHOSTUNREACH), and resolves B's name through the
network's DNS (a host name in the list lets DNS to the container's name servers through). The same holds
after ``podman restart``, after a restart by the restart policy (conmon: the command killed), and after a
module-driven stop and start (``podman init``, the fence looked for, then ``podman start``). ``nft flush
ruleset`` and ``nft list ruleset`` inside fail (no ``NET_ADMIN``; the host's nft and its libraries are
bind-mounted read-only, as the image has none), and the fence still holds afterwards. A hook that loads
nothing (its program replaced by one that exits 0) makes the module's start fail naming ``egress``, with the
container stopped again; a hook that fails makes even a plain ``podman start`` fail: never started unfenced.

Rootless (the test user, as tests/reliability/test_rootless.py runs it): the fence of a container with
``network: none`` is in its network namespace (``podman unshare nsenter … nft list table``), again after a
restart; ``network: host`` is refused naming ``egress``. The network probes need a rootless network
(slirp4netns opens ``/dev/net/tun``): on a machine that does not give the user ``/dev/net/tun``, that part
says so and is skipped, with the reason, and the figures at the end say it too.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time

import pytest

import _support as S

IMAGE = "localhost/terok-task:latest"
DEV_IMAGE = os.environ.get("TEROK_TASK_DEV_IMAGE", "localhost/terok-task-dev:latest")
INIT_SCRIPT = os.path.join(S.REPO, "files", "init-ssh-and-repo.sh")
HOOKS_DIR = "/usr/share/containers/oci/hooks.d"
DESCRIPTOR = os.path.join(HOOKS_DIR, "terok-lifecycle-egress.json")
HOOK_NAME = "terok-lifecycle-egress-hook"
TABLE = ["inet", "terok_lifecycle_egress"]
BLOCKED = 113  # EHOSTUNREACH: what the fence's reject (admin-prohibited) makes of a connect
TEST_USER = os.environ.get("TEROK_TEST_USER", "terok-test")
SYSTEM_PYTHON = "/usr/bin/python3"

# the probe: every target of EGRESS_TARGETS ({label: [host, port]}) once, as JSON; with an argument, appended
# to that file, then the command goes on (sleep); without, printed
PROBE = r"""
import json, os, socket, sys, urllib.request
seen = {}
for label, (host, port) in sorted(json.loads(os.environ["EGRESS_TARGETS"]).items()):
    sock = socket.socket()
    sock.settimeout(5)
    code = sock.connect_ex((host, port))
    sock.close()
    seen[label] = {"connect": code}
    if code == 0:
        try:
            seen[label]["http"] = urllib.request.urlopen("http://%s:%d/" % (host, port), timeout=5).status
        except Exception as exc:
            seen[label]["http"] = str(exc)
try:
    seen["dns"] = socket.gethostbyname(os.environ["EGRESS_NAME"])
except Exception as exc:
    seen["dns"] = "failed: %s" % exc
if len(sys.argv) > 1:
    with open(sys.argv[1], "a") as handle:
        handle.write(json.dumps(seen) + "\n")
    os.execvp("sleep", ["sleep", "infinity"])
print(json.dumps(seen))
"""
KILL_SLEEP = ("import os\nfor pid in os.listdir('/proc'):\n if pid.isdigit():\n  try:\n   comm = open('/proc/%s/comm' % pid)"
              ".read().strip()\n  except OSError:\n   continue\n  if comm == 'sleep':\n   os.kill(int(pid), 9)\n")


def _podman(*args, check=False, timeout=120):
    proc = subprocess.run(["podman"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False,
                          env=S.ansible_env(), universal_newlines=True, timeout=timeout)
    assert not check or proc.returncode == 0, "podman %s: %s" % (" ".join(args[:3]), proc.stderr)
    return proc


def _nft_volumes():
    """The host's nft and the libraries it needs that a minbase image lacks, read-only under /opt/nft."""
    nft = shutil.which("nft") or "/usr/sbin/nft"
    out = subprocess.run(["ldd", nft], stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    libs = [line.split("=>")[1].split()[0] for line in out.splitlines() if "=>" in line and "/" in line]
    skip = ("libc.so", "ld-linux")
    return ["%s:/opt/nft/nft:ro" % nft] + ["%s:/opt/nft/%s:ro" % (lib, os.path.basename(lib)) for lib in libs
                                           if not os.path.basename(lib).startswith(skip)]


@pytest.fixture(scope="module")
def hook():
    """The egress hook, installed by terok_host_prep; the path of its program. Put back as it was afterwards."""
    if os.geteuid() != 0:
        pytest.skip("the egress tests install an OCI hook in %s: run them as root" % HOOKS_DIR)
    for tool in ("nft", "nsenter"):
        assert shutil.which(tool) or os.path.exists("/usr/sbin/" + tool), "%s is missing: tools/bootstrap.sh installs it" % tool
    program_dir = tempfile.mkdtemp(prefix="terok-egress-hook-", dir="/var/tmp")
    os.chmod(program_dir, 0o755)
    program = os.path.join(program_dir, HOOK_NAME)
    before = S.read_bytes(DESCRIPTOR) if os.path.exists(DESCRIPTOR) else None
    made_dir = not os.path.isdir(HOOKS_DIR)
    root = os.path.join(program_dir, "root")
    try:
        args = {"root": root, "egress_hook": True, "egress_hook_path": program}
        run = S.adhoc("terok_host_prep", args)
        assert not run.failed, run.result
        hook_result = run.result["egress_hook"]
        assert hook_result["program"] == program and hook_result["descriptor"] == DESCRIPTOR, hook_result
        assert hook_result["podman_hooks_dirs"] is None and hook_result["changed"] is True
        assert os.stat(program).st_mode & 0o777 == 0o755 and os.stat(DESCRIPTOR).st_mode & 0o777 == 0o644
        # the program is the collection's _egress.py, run by a Python every user may run
        with open(os.path.join(S.REPO, "plugins", "module_utils", "_egress.py"), "rb") as handle:
            assert S.read_bytes(program).endswith(handle.read())
        assert json.loads(S.read_bytes(DESCRIPTOR))["hook"]["args"][1:] == ["-I", program, "createRuntime"]
        again = S.adhoc("terok_host_prep", args)
        assert not again.failed and again.result["changed"] is False, again.result
        yield program
    finally:
        if before is None:
            if os.path.exists(DESCRIPTOR):
                os.remove(DESCRIPTOR)
            if made_dir:
                os.rmdir(HOOKS_DIR)
        else:
            with open(DESCRIPTOR, "wb") as handle:
                handle.write(before)
        shutil.rmtree(program_dir)


@pytest.fixture
def servers():
    """(network, {A, B: address}, {A, B: container name}) on a podman network made with --internal; removed after."""
    token = secrets.token_hex(3)
    network = "terok-egress-" + token
    names = {"A": "egress-a-" + token, "B": "egress-b-" + token}
    _podman("network", "create", "--internal", network, check=True)
    try:
        for label, ports in (("A", (8000, 8001)), ("B", (8000,))):
            serve = " & ".join("python3 -m http.server %d --bind 0.0.0.0" % port for port in ports) + " & wait"
            _podman("run", "--detach", "--name", names[label], "--network", network, IMAGE, "sh", "-c", serve, check=True)
        address = {label: _podman("inspect", "--format", '{{(index .NetworkSettings.Networks "%s").IPAddress}}' % network,
                                  name, check=True).stdout.strip() for label, name in names.items()}
        yield network, address, names
    finally:
        _podman("rm", "--force", "--time", "0", *names.values())
        _podman("network", "rm", "--force", network)
        assert _podman("network", "exists", network).returncode != 0


def _targets(address):
    return {"allowed": [address["A"], 8000], "other-port": [address["A"], 8001], "other-server": [address["B"], 8000]}


def _fenced(seen, names):
    """The probe's view is the fence's: A's port reached, the others rejected, B's name resolved (DNS)."""
    return (seen["allowed"] == {"connect": 0, "http": 200} and seen["other-port"] == {"connect": BLOCKED}
            and seen["other-server"] == {"connect": BLOCKED} and not str(seen["dns"]).startswith("failed"))


def _probes(workspace, count):
    path = os.path.join(workspace, "probes.jsonl")
    lines = S.wait_for(lambda: os.path.exists(path) and len(S.read_bytes(path).splitlines()) >= count
                       and S.read_bytes(path).splitlines())
    assert lines, "the agent wrote fewer than %d probes to %s" % (count, path)
    return [json.loads(line) for line in lines]


def test_the_fenced_agent_reaches_only_its_destination_before_and_after_restarts(hook, servers, tmp_path):
    network, address, names = servers
    root = str(tmp_path / "root")
    project = "eg" + secrets.token_hex(3)
    task = {"root": root, "project": project, "name": "agent", "state": "running", "image": IMAGE,
            "init_script": INIT_SCRIPT, "network": network, "restart_policy": "on-failure",
            "egress": [address["A"] + ":8000", "localhost"], "volumes": _nft_volumes(),
            "env": {"EGRESS_TARGETS": json.dumps(_targets(address)), "EGRESS_NAME": names["B"]},
            "command": ["python3", "-c", PROBE, "/workspace/probes.jsonl"]}
    started = time.monotonic()
    run = S.adhoc("terok_task", task, timeout=180)
    assert not run.failed, run.result
    agent, workspace = run.result["task"]["container_name"], run.result["task"]["workspace"]
    assert run.result["task"]["confinement"]["egress"] == [address["A"] + ":8000", "localhost"]
    annotations = json.loads(_podman("inspect", agent, check=True).stdout)[0]["Config"]["Annotations"]
    assert annotations["io.terok.lifecycle.egress"] == address["A"] + ":8000 localhost"

    # the command's first instruction already met the fence
    first = _probes(workspace, 1)[0]
    assert _fenced(first, names), first

    def probe_now():
        proc = _podman("exec", "--env", "EGRESS_TARGETS=" + json.dumps(_targets(address)), "--env",
                       "EGRESS_NAME=" + names["B"], agent, "python3", "-c", PROBE, check=True)
        return json.loads(proc.stdout)

    assert _fenced(probe_now(), names)

    # the agent cannot lift it: no NET_ADMIN, not even for nft run as the container's root
    for argv in (["flush", "ruleset"], ["list", "ruleset"], ["delete", "table"] + TABLE):
        proc = _podman("exec", "--user", "0", "--env", "LD_LIBRARY_PATH=/opt/nft", agent, "/opt/nft/nft", *argv)
        assert proc.returncode != 0 and "Operation not permitted" in proc.stderr, (argv, proc.returncode, proc.stderr)
    assert _fenced(probe_now(), names)
    rerun = S.adhoc("terok_task", task, timeout=120)
    assert not rerun.failed and rerun.result["changed"] is False, rerun.result

    # podman restart: a new network namespace, the fence loaded again before the command's first instruction
    _podman("restart", "--time", "1", agent, check=True)
    assert _fenced(_probes(workspace, 2)[1], names)
    assert _fenced(probe_now(), names)

    # a restart by the restart policy (conmon): the command killed, podman starts the container again
    _podman("exec", agent, "python3", "-c", KILL_SLEEP)  # its own status is the container's end (137, 255)
    assert S.wait_for(lambda: _podman("inspect", "--format", "{{.RestartCount}} {{.State.Status}}", agent,
                                      check=True).stdout.split() == ["1", "running"]), _podman("inspect", agent).stdout[-2000:]
    assert _fenced(_probes(workspace, 3)[2], names)
    assert _fenced(probe_now(), names)

    # a start by the module: podman init, the fence looked for in the network namespace, podman start
    stopped = S.adhoc("terok_task", dict(task, state="stopped"))
    assert not stopped.failed, stopped.result
    again = S.adhoc("terok_task", task, timeout=120)
    assert not again.failed and again.result["changed"] is True, again.result
    assert _fenced(_probes(workspace, 4)[3], names)

    # a hook that loads nothing: the module's start finds no fence, stops the container again and fails
    S.adhoc("terok_task", dict(task, state="stopped"))
    saved = S.read_bytes(hook)
    try:
        with open(hook, "wb") as handle:
            handle.write(b"import sys\nsys.exit(0)\n")
        broken = S.adhoc("terok_task", task, timeout=120)
        assert broken.failed and broken.result.get("option") == "egress", broken.result
        assert "not started" in broken.result["msg"] and "terok_lifecycle_egress" in broken.result["msg"]
        assert _podman("inspect", "--format", "{{.State.Status}}", agent, check=True).stdout.strip() == "exited"
        assert len(_probes(workspace, 4)) == 4  # the command never ran
        # a hook that fails: not even a plain podman start (as podman-restart.service runs at boot) starts it
        with open(hook, "wb") as handle:
            handle.write(b"import sys\nsys.exit(1)\n")
        proc = _podman("start", agent)
        assert proc.returncode != 0 and "error running hook" in proc.stderr, proc.stderr
        assert _podman("inspect", "--format", "{{.State.Status}}", agent, check=True).stdout.strip() != "running"
        assert len(_probes(workspace, 4)) == 4
    finally:
        with open(hook, "wb") as handle:
            handle.write(saved)
    back = S.adhoc("terok_task", task, timeout=120)
    assert not back.failed, back.result
    assert _fenced(_probes(workspace, 5)[4], names)

    gone = S.adhoc("terok_task", dict(task, state="absent"))
    assert not gone.failed, gone.result
    assert agent not in _podman("ps", "-a", "--format", "{{.Names}}").stdout.split()
    S.count("egress: seconds of the rootful run (5 starts: first, podman restart, conmon, module, after a broken hook)",
            round(time.monotonic() - started, 1))


def test_an_empty_list_lets_nothing_out(hook, servers, tmp_path):
    network, address, names = servers
    task = {"root": str(tmp_path / "root"), "project": "eg" + secrets.token_hex(3), "name": "sealed",
            "state": "running", "image": IMAGE, "init_script": INIT_SCRIPT, "network": network, "egress": [],
            "env": {"EGRESS_TARGETS": json.dumps(_targets(address)), "EGRESS_NAME": names["B"]},
            "command": ["python3", "-c", PROBE, "/workspace/probes.jsonl"]}
    run = S.adhoc("terok_task", task, timeout=180)
    assert not run.failed, run.result
    seen = _probes(run.result["task"]["workspace"], 1)[0]
    assert all(seen[label] == {"connect": BLOCKED} for label in ("allowed", "other-port", "other-server")), seen
    assert str(seen["dns"]).startswith("failed"), seen  # no host name in the list: no DNS either
    assert not S.adhoc("terok_task", dict(task, state="absent")).failed


@pytest.mark.parametrize("params, words", [
    ({"egress": ["bad host"]}, "without spaces"),
    ({"egress": ["10.0.0.1:0"]}, "1 to 65535"),
    ({"egress": ["10.0.0.1/40"]}, "not an IP address or network"),
    ({"egress": "10.0.0.1:80,"}, "must be one destination"),  # Ansible splits a string at commas: an empty one
    ({"egress": [], "network": "host"}, "network=host"),
    ({"egress": [], "cap_drop": []}, "NET_ADMIN dropped"),
    ({"egress": [], "hooks": "none"}, "OCI hook (terok-lifecycle-egress.json and its program) is not in"),
])
def test_a_bad_value_or_a_host_that_cannot_fence_writes_nothing(tmp_path, params, words):
    """Refused naming the option (tasks[i].egress in a list), before the state root is even made."""
    root = str(tmp_path / "root")
    env = None
    if params.pop("hooks", None):  # podman reads a hooks directory without the hook: a CONTAINERS_CONF of its own
        conf = tmp_path / "containers.conf"
        with open(os.path.join(S.REPO, "tools", "containers.conf"), encoding="utf-8") as handle:
            conf.write_text(handle.read() + 'hooks_dir = ["%s"]\n' % (tmp_path / "no-hooks"))
        env = S.ansible_env({"CONTAINERS_CONF": str(conf)})
    one = S.adhoc("terok_task", dict({"root": root, "project": "bad", "name": "t", "state": "running",
                                      "image": IMAGE}, **params), env=env)
    assert one.failed and one.result.get("option") == "egress" and words in one.result["msg"], one.result
    many = S.adhoc("terok_tasks", {"root": root, "image": IMAGE, "tasks": [
        {"project": "bad", "name": "fine"}, dict({"project": "bad", "name": "t", "state": "running"}, **params)]},
        env=env)
    assert many.failed and many.result.get("option") == "tasks[1].egress" and words in many.result["msg"], many.result
    assert not os.path.exists(root) and not one.result.get("changed") and not many.result.get("changed")


# --------------------------------------------------------------------------------------
# rootless
# --------------------------------------------------------------------------------------
def _tun_for(user):
    """Whether ``user`` may open /dev/net/tun (slirp4netns needs it for a rootless network)."""
    proc = subprocess.run(["su", "-", user, "-s", "/bin/sh", "-c", "%s -c 'import os; os.close(os.open(\"/dev/net/tun\", os.O_RDWR))'"
                           % SYSTEM_PYTHON], stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False, timeout=60)
    return proc.returncode == 0


@pytest.fixture(scope="module")
def rootless(hook, tmp_path_factory):
    """(run a playbook of tasks as the test user -> results, the user's CONTAINERS_CONF, podman as the user)."""
    from test_non_root import run_env, run_playbook, write_play  # pylint: disable=import-outside-toplevel
    from test_rootless import as_user, rootless_conf  # pylint: disable=import-outside-toplevel

    try:
        pwd.getpwnam(TEST_USER)
    except KeyError:
        pytest.fail("the test user %s does not exist: run tools/test-user.sh (tools/bootstrap.sh does)" % TEST_USER)
    base = tempfile.mkdtemp(prefix="terok-egress-rootless-", dir="/var/tmp")
    os.chmod(base, 0o755)
    conf = os.path.join(base, "containers.conf")
    rootless_conf(conf)
    home = pwd.getpwnam(TEST_USER).pw_dir

    def playbook(tasks):
        results = os.path.join(base, "results.json")
        saved = {}
        for index, item in enumerate(tasks):
            saved["r%d" % index] = "r%d" % index
            item.update({"environment": {"CONTAINERS_CONF": conf}, "become": True, "become_user": TEST_USER,
                         "become_method": "su", "register": "r%d" % index, "ignore_errors": True})
        mapping = ", ".join('"%s": %s' % (key, var) for key, var in saved.items())
        tasks = tasks + [{"name": "save", "become": False, "ansible.builtin.copy": {
            "content": "{{ {%s} | to_json }}" % mapping, "dest": results, "mode": "0600"}}]
        path = write_play(os.path.join(base, "play.json"), [{"name": "egress as the user", "hosts": "localhost",
                                                             "gather_facts": False, "tasks": tasks,
                                                             "vars": {"ansible_python_interpreter": SYSTEM_PYTHON}}])
        env = run_env()
        env.pop("TMPDIR", None)  # the test's own (conftest), which the user cannot enter
        _rc, out, err = run_playbook(path, env, base)
        assert os.path.exists(results), out[-3000:] + err[-3000:]
        with open(results, encoding="utf-8") as handle:
            found = json.load(handle)
        os.remove(results)
        return [found["r%d" % index] for index in range(len(saved))]

    def podman(*args, check=True):
        return as_user("podman", *args, env={"CONTAINERS_CONF": conf}, check=check)

    try:
        yield playbook, podman, os.path.join(home, ".local", "share", "terok-egress-test")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_rootless_the_fence_is_in_the_containers_network_namespace_again_after_a_restart(rootless):
    playbook, podman, root = rootless
    project = "egr" + secrets.token_hex(3)
    task = {"root": root, "project": project, "name": "sealed", "state": "running", "image": DEV_IMAGE,
            "network": "none", "egress": ["192.0.2.1:443"], "command": ["sleep", "infinity"]}
    made, host_refused, info = playbook([
        {"terok.lifecycle.terok_task": task},
        {"terok.lifecycle.terok_task": dict(task, name="on-host", network="host")},
        {"terok.lifecycle.terok_task_info": {"root": root, "project": project}},
    ])
    try:
        assert not made.get("failed"), made
        assert host_refused.get("failed") and host_refused.get("option") == "egress", host_refused
        assert [t["name"] for t in info["tasks"]] == ["sealed"]
        assert info["tasks"][0]["confinement"]["egress"] == ["192.0.2.1:443"]
        name = made["task"]["container_name"]

        def fence_listing():
            _rc, pid, _err = podman("inspect", "--format", "{{.State.Pid}}", name)
            _rc, out, _err = podman("unshare", "nsenter", "--net=/proc/%s/ns/net" % pid.strip(), "--",
                                    shutil.which("nft") or "/usr/sbin/nft", "list", "table", *TABLE)
            return out

        assert "ip daddr 192.0.2.1 tcp dport 443 accept" in fence_listing()
        podman("restart", "--time", "1", name)
        assert "ip daddr 192.0.2.1 tcp dport 443 accept" in fence_listing()
        _rc, status, _err = podman("exec", name, "grep", "CapEff", "/proc/self/status")
        assert int(status.split()[1], 16) & (1 << 12) == 0  # no CAP_NET_ADMIN
    finally:
        gone = playbook([{"terok.lifecycle.terok_task": {"root": root, "project": project, "name": "sealed",
                                                         "state": "absent"}}])[0]
        assert not gone.get("failed"), gone
        podman("unshare", "rm", "-rf", root, check=False)
    S.count("egress: rootless fences checked in the container's network namespace (network none)", 2)


def test_rootless_network_probes_where_the_user_has_a_network(rootless, hook):
    playbook, podman, root = rootless
    if not _tun_for(TEST_USER):
        S.count("egress: rootless network probes skipped: %s cannot open /dev/net/tun here (slirp4netns needs it)"
                % TEST_USER)
        pytest.skip("this machine does not give %s /dev/net/tun, so rootless podman has no network but none and "
                    "host (slirp4netns fails): the rootless fence was checked with network none only" % TEST_USER)
    project = "egn" + secrets.token_hex(3)
    # slirp4netns: 10.0.2.3 is its DNS forwarder, 10.0.2.2 the host; only the forwarder's port 53 is allowed
    targets = {"allowed": ["10.0.2.3", 53], "other-port": ["10.0.2.3", 54], "other-server": ["10.0.2.2", 22]}
    task = {"root": root, "project": project, "name": "probe", "state": "running", "image": DEV_IMAGE,
            "network": "slirp4netns", "egress": ["10.0.2.3:53"], "command": ["sleep", "infinity"]}
    made = playbook([{"terok.lifecycle.terok_task": task}])[0]
    try:
        assert not made.get("failed"), made
        name = made["task"]["container_name"]
        _rc, out, _err = podman("exec", "--env", "EGRESS_TARGETS=" + json.dumps(targets), "--env", "EGRESS_NAME=none",
                                name, "python3", "-c", PROBE)
        seen = json.loads(out)
        assert seen["allowed"]["connect"] != BLOCKED and seen["other-port"]["connect"] == BLOCKED, seen
        assert seen["other-server"]["connect"] == BLOCKED, seen
    finally:
        playbook([{"terok.lifecycle.terok_task": {"root": root, "project": project, "name": "probe", "state": "absent"}}])
        podman("unshare", "rm", "-rf", root, check=False)
