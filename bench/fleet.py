# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Rows 9 (issue 14): the collection's playbooks on a fleet of loopback SSH hosts.

One sshd, started by the SSH integration targets' own script (setup_loopback_sshd), listens
on 127.0.0.1 .. 127.0.0.<largest N>; host ``fNN`` of an inventory is 127.0.0.NN with its own
state root, init script path, podman drop-in path and remote temp dir in a fresh directory
per fleet. For each N: ``terok.lifecycle.provision`` on a fresh fleet (first run); then
--fleet-reps rounds of the rerun (every host unchanged), ``terok.lifecycle.status`` and the
baseline, a playbook of one ``ping`` and one ``stat`` on the same hosts, in rotating order;
with mitogen 0.3 (installed into .cache/bench/ from the package index) the same three once
more with strategy ``mitogen_linear`` on the largest fleet; last ``terok.lifecycle.cleanup``
with ``terok_cleanup_older_than=0s`` (it archives the completed job of each host). ``local``
is the same on one host over the local connection. A figure is the wall time of the whole
``ansible-playbook`` process, start-up included, from cold SSH connections (every run has its
own ControlPath directory, and its masters are closed after it).
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
MITOGEN_VERSION = "0.3.54"
MITOGEN_DIR = os.path.join(REPO, ".cache", "bench", "mitogen-%s" % MITOGEN_VERSION)
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)")
KINDS = ("first", "rerun", "status", "cleanup", "baseline")


def log(message):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), message), file=sys.stderr, flush=True)


def address(index):
    """The loopback address of host ``index`` (1-based)."""
    return "127.0.0.%d" % index


SSHD_SCRIPT = os.path.join(REPO, "tests", "integration", "targets", "setup_loopback_sshd", "sshd.sh")


class Sshd(object):
    """The SSH targets' own loopback sshd (tests/integration/targets/setup_loopback_sshd/sshd.sh).

    Root logs in with a client key of its own; the sessions get ``SHLVL=1``, so bash skips root's
    ``~/.bashrc`` (``pyenv init`` on these machines, 0.1 s of every SSH command); sftp is served.
    """

    def __init__(self, directory, hosts):
        self.dir = directory
        self.hosts = hosts
        self.port = None
        self.client_key = None
        os.makedirs(directory, exist_ok=True)

    def _bash(self, call, *words):
        return subprocess.run(["bash", "-c", '. "$0" && ' + call, SSHD_SCRIPT] + list(words), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, check=False, timeout=120)

    def start(self):
        if not os.path.isfile(SSHD_SCRIPT):
            raise RuntimeError("no %s" % SSHD_SCRIPT)
        if not os.access("/usr/sbin/sshd", os.X_OK):
            raise RuntimeError("no /usr/sbin/sshd: apt-get install openssh-server (make bootstrap does)")
        addresses = [address(i) for i in range(1, self.hosts + 1)]
        proc = self._bash('loopback_sshd_start "$@" && printf "%s %s\\n" "$SSHD_PORT" "$SSHD_CLIENT_KEY"',
                          self.dir, "26000", "2000", *addresses)
        words = proc.stdout.decode("utf-8", "replace").split()
        if proc.returncode != 0 or len(words) != 2:
            raise RuntimeError("the loopback sshd did not start: %s" % proc.stderr.decode("utf-8", "replace")[-2000:])
        self.port, self.client_key = int(words[0]), words[1]
        log("sshd on %s..%s port %d" % (addresses[0], addresses[-1], self.port))

    def stop(self):
        if self.port:
            self._bash('loopback_sshd_stop "$1"', self.dir)


def mitogen_strategy_dir(args):
    """The strategy plugin directory of mitogen 0.3, installed once with pip; None (and why) if not."""
    if args.no_mitogen:
        return None, "not measured (--no-mitogen)"
    strategy = os.path.join(MITOGEN_DIR, "ansible_mitogen", "plugins", "strategy")
    if os.path.isfile(os.path.join(strategy, "mitogen_linear.py")):
        return strategy, None
    log("installing mitogen %s into %s" % (MITOGEN_VERSION, os.path.relpath(MITOGEN_DIR, REPO)))
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           "--no-deps", "--target", MITOGEN_DIR, "mitogen==%s" % MITOGEN_VERSION],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False, timeout=300)
    if proc.returncode != 0 or not os.path.isfile(os.path.join(strategy, "mitogen_linear.py")):
        shutil.rmtree(MITOGEN_DIR, ignore_errors=True)
        tail = proc.stdout.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
        return None, "mitogen %s not installable here: %s" % (MITOGEN_VERSION, tail[0][:200])
    return strategy, None


class Fleet(object):
    def __init__(self, world, args):
        self.world = world
        self.args = args
        self.dir = os.path.join(world.tmp, "fleet")
        self.sizes = args.fleet_sizes
        self.sshd = Sshd(os.path.join(self.dir, "sshd"), max([n for n in self.sizes if n] or [1]))
        self.project = "%s-f" % world.prefix
        self.strategy_dir = None
        self.mitogen_note = None
        self.runs = 0
        baseline = [{
            "name": "ping and stat baseline",
            "hosts": "terok_hosts",
            "gather_facts": False,
            "tasks": [
                {"name": "Ping", "ansible.builtin.ping": {}},
                {"name": "Stat the host's directory", "ansible.builtin.stat": {"path": "{{ fleet_host_dir }}"}},
            ],
        }]
        os.makedirs(self.dir, exist_ok=True)
        self.baseline = os.path.join(self.dir, "baseline.yml")
        with open(self.baseline, "w") as handle:
            json.dump(baseline, handle, indent=1)

    # --- inventories ---------------------------------------------------------------------------------

    def host_vars(self, host_dir):
        return {
            "fleet_host_dir": host_dir,
            "terok_environment": {"CONTAINERS_CONF": self.args.containers_conf},
            "terok_host_root": os.path.join(host_dir, "root"),
            "terok_host_init_script_path": os.path.join(host_dir, "libexec", "init-ssh-and-repo.sh"),
            "terok_host_containers_conf_path": os.path.join(host_dir, "containers.conf.d", "50-terok-lifecycle.conf"),
            "terok_host_image": self.args.image,
            "terok_host_image_source": "debootstrap",
            "terok_tasks": [
                {"project": self.project, "name": "idea-one"},
                {"project": self.project, "name": "idea-two"},
                {"project": self.project, "name": "job-ok", "state": "running", "mode": "run",
                 "command": ["true"], "wait": True},
            ],
        }

    def inventory(self, size, rep):
        """A fresh inventory: ``size`` SSH hosts (``local``: localhost over the local connection)."""
        label = "local" if size == 0 else "n%d" % size
        base = os.path.join(self.dir, "%s-r%d" % (label, rep))
        os.makedirs(base)
        hosts = {}
        if size == 0:
            hosts["localhost"] = dict(self.host_vars(os.path.join(base, "localhost")), ansible_connection="local")
        for index in range(1, size + 1):
            name = "f%02d" % index
            hosts[name] = dict(self.host_vars(os.path.join(base, name)), ansible_host=address(index))
        group_vars = {"ansible_python_interpreter": sys.executable,
                      "ansible_remote_tmp": os.path.join(self.dir, "remote-tmp")}
        if size:
            group_vars.update({
                "ansible_port": self.sshd.port,
                "ansible_user": "root",
                "ansible_ssh_private_key_file": self.sshd.client_key,
                "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
            })
        path = os.path.join(base, "inventory.json")
        with open(path, "w") as handle:
            json.dump({"terok_hosts": {"hosts": hosts, "vars": group_vars}}, handle, indent=1)
        return path, base

    # --- one ansible-playbook run ----------------------------------------------------------------------

    def _close_masters(self, control_dir):
        if not os.path.isdir(control_dir):
            return
        for entry in os.listdir(control_dir):
            subprocess.run(["ssh", "-o", "ControlPath=%s" % os.path.join(control_dir, entry), "-O", "exit", "x"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=30)

    def play(self, kind, size, inventory, base, strategy=None):
        self.runs += 1
        run_dir = os.path.join(base, "run-%02d-%s%s" % (self.runs, kind, "-mitogen" if strategy else ""))
        os.makedirs(run_dir)
        world = self.world
        env = world.base_env()
        control_dir = os.path.join(run_dir, "cp")
        env.update({
            "ANSIBLE_HOME": os.path.join(world.tmp, "ansible-home-fleet"),
            "ANSIBLE_LOCAL_TEMP": os.path.join(world.tmp, "ansible-local"),
            "ANSIBLE_COLLECTIONS_PATH": world.collections,
            "ANSIBLE_SSH_CONTROL_PATH_DIR": control_dir,
            "ANSIBLE_HOST_KEY_CHECKING": "false",
            "ANSIBLE_FORKS": str(max(size, 1)),
            "ANSIBLE_RETRY_FILES_ENABLED": "false",
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_CALLBACK_PLUGINS": os.path.join(BENCH, "callback_plugins"),
            "ANSIBLE_CALLBACKS_ENABLED": "bench_timer",
            "BENCH_TIMINGS": os.path.join(run_dir, "timings.json"),
            "BENCH_PODMAN_LOG": "",
        })
        if strategy:
            env["ANSIBLE_STRATEGY_PLUGINS"] = self.strategy_dir
            env["ANSIBLE_STRATEGY"] = "mitogen_linear"
        playbook_bin = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
        argv = [playbook_bin, "-i", inventory]
        if kind in ("first", "rerun"):
            argv.append("terok.lifecycle.provision")
        elif kind == "status":
            argv += ["-e", "terok_status_report=%s" % os.path.join(run_dir, "report.md"), "terok.lifecycle.status"]
        elif kind == "cleanup":
            argv += ["-e", "terok_cleanup_older_than=0s", "terok.lifecycle.cleanup"]
        else:
            argv.append(self.baseline)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        with open(os.path.join(run_dir, "ansible.log"), "wb") as out:
            proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=run_dir, check=False,
                                  timeout=1800)
        wall = time.monotonic() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._close_masters(control_dir)
        with open(os.path.join(run_dir, "ansible.log"), "rb") as handle:
            output = handle.read().decode("utf-8", "replace")
        with open(os.path.join(self.args.results, "fleet-ansible.log"), "a") as handle:
            handle.write("### %s N=%s %s%s rc=%s %.2f s\n%s\n" % (
                os.path.basename(base), size or "local", kind, " (mitogen)" if strategy else "", proc.returncode,
                wall, output))
        recap = {}
        for line in output.split("PLAY RECAP", 1)[-1].splitlines():
            match = RECAP.match(line.strip())
            if match:
                ok, changed, unreachable, failed, skipped = (int(v) for v in match.groups()[1:])
                recap[match.group(1)] = {"ok": ok, "changed": changed, "unreachable": unreachable,
                                         "failed": failed, "skipped": skipped}
        spans = {}
        try:
            with open(env["BENCH_TIMINGS"]) as handle:
                for record in json.load(handle)["tasks"]:
                    spans[record["name"]] = spans.get(record["name"], 0.0) + record["span"]
        except (OSError, ValueError, KeyError):
            pass
        record = {
            "kind": kind, "size": size, "mitogen": bool(strategy), "rc": proc.returncode, "wall_s": wall,
            "controller_cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "recap": recap, "spans": spans, "hosts": max(size, 1),
        }
        if kind == "status":
            try:
                with open(os.path.join(run_dir, "report.md")) as handle:
                    record["report_rows"] = sum(1 for line in handle if line.startswith("| ") and self.project in line)
            except OSError:
                record["report_rows"] = None
        log("  N=%s %-8s%s %6.2f s rc=%s" % (size or "local", kind, " mitogen" if strategy else "", wall,
                                             proc.returncode))
        return record

    # --- the whole fleet part ----------------------------------------------------------------------------

    def run(self):
        """Per N: fresh fleets (--fleet-fresh, 1); on each the first run, then --fleet-reps rounds of rerun,
        status and baseline in rotating order, the mitogen runs (first fleet of the largest N), the cleanup."""
        raw = {"sizes": self.sizes, "reps": self.args.fleet_reps, "fresh": self.args.fleet_fresh, "runs": [],
               "mitogen": None, "mitogen_version": MITOGEN_VERSION}
        self.strategy_dir, self.mitogen_note = mitogen_strategy_dir(self.args)
        raw["mitogen"] = self.mitogen_note or "mitogen_linear %s" % MITOGEN_VERSION
        mitogen_size = max(self.sizes)
        if any(self.sizes):
            self.sshd.start()
        started = time.monotonic()
        try:
            for size in self.sizes:
                for fresh in range(1, self.args.fleet_fresh + 1):
                    inventory, base = self.inventory(size, fresh)
                    log("fleet N=%s, fresh fleet %d" % (size or "local", fresh))
                    runs = [dict(self.play("first", size, inventory, base), rep=fresh)]
                    kinds = ["rerun", "status", "baseline"]
                    for rep in range(1, self.args.fleet_reps + 1):
                        shift = (rep - 1) % len(kinds)
                        for kind in kinds[shift:] + kinds[:shift]:
                            runs.append(dict(self.play(kind, size, inventory, base), rep=rep))
                    if self.strategy_dir and size == mitogen_size and fresh == 1:
                        for kind in kinds:
                            runs.append(dict(self.play(kind, size, inventory, base, strategy=True), rep=1))
                    runs.append(dict(self.play("cleanup", size, inventory, base), rep=fresh))
                    raw["runs"] += runs
        finally:
            self.sshd.stop()
        raw["total_s"] = time.monotonic() - started
        return raw


def run_fleet(world, args):
    return Fleet(world, args).run()
