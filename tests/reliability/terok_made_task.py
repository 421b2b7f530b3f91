# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run by terok's own Python (terok 0.9.1's virtualenv): give a task that ``terokctl task new`` made the
container and the state that ``terok task run`` gives a CLI task, through terok's own code.

``terok task run`` itself needs ``terok setup``, a ``<project>:l2-cli`` image and a gate, which these
machines cannot have; so the pieces are terok's: terok-sandbox's per-container runtime directory and
sidecar (``allocate_per_container_resources``, ``write_sidecar``), the web-port claim (terok's
``assign_web_port``), the ``podman run`` argv of ``Sandbox._build_cmd`` (shield off, as ``shield_disabled``
sets it, unrestricted: terok's default) with terok's CLI command, and the metadata that
``task_run_cli`` records (``write_task_meta``). Usage: PROJECT TASK_ID IMAGE INIT_SCRIPT; prints JSON.
"""

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from terok.lib.orchestration.ports import assign_web_port
from terok.lib.orchestration.tasks import container_name, load_task_meta, write_task_meta
from terok_sandbox.config import SandboxConfig
from terok_sandbox.launch import allocate_per_container_resources, write_sidecar
from terok_sandbox.sandbox import RunSpec, Sandbox, VolumeSpec

project, task_id, image, init_script, repo = sys.argv[1:6]
meta, handle = load_task_meta(project, task_id)
name = container_name(project, "cli", task_id)
cfg = SandboxConfig(shield_disabled=True)
resources = allocate_per_container_resources(cfg, name)
sidecar = write_sidecar(name, cfg=cfg, per_container=resources, project_id=project, task_id=task_id)
port = assign_web_port(project, task_id)
workspace = Path(meta["workspace"]) / "workspace-dangerous"
spec = RunSpec(
    container_name=name, image=image, hostname=name, task_dir=Path(meta["workspace"]), unrestricted=True,
    env={"TEROK_UNRESTRICTED": "1", "REPO_ROOT": "/workspace", "CODE_REPO": "file:///repo.git", "GIT_RESET_MODE": "none"},
    volumes=(VolumeSpec(workspace, "/workspace"), VolumeSpec(Path(init_script), "/usr/local/bin/init-ssh-and-repo.sh",
                                                             read_only=True),
             VolumeSpec(Path(repo), "/repo.git", read_only=True)),
    command=("bash", "-lc", "init-ssh-and-repo.sh && echo __CLI_READY__; tail -f /dev/null"),
)
argv = Sandbox(cfg)._build_cmd(spec)  # pylint: disable=protected-access
subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
meta.update(mode="cli", ready_at=datetime.now(UTC).isoformat(), unrestricted=True, debug=False, web_port=port)
write_task_meta(handle, meta)
print(json.dumps({"container": name, "argv": argv, "sidecar": str(sidecar),
                  "runtime_dir": str(resources.container_runtime_dir), "web_port": port,
                  "registry": str(Path(cfg.state_dir)), "state_dir": str(cfg.state_dir)}))
