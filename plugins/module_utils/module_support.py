# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every terok module shares on the Ansible side: common options and the run frame."""

from __future__ import annotations

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.terok.lifecycle.plugins.module_utils.container_spec import RESET_MODES
from ansible_collections.terok.lifecycle.plugins.module_utils.errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils.runtime import Runtime
from ansible_collections.terok.lifecycle.plugins.module_utils.spec import STATES
from ansible_collections.terok.lifecycle.plugins.module_utils.metadata import HAS_YAML, YAML_IMPORT_ERROR, load_yaml
from ansible_collections.terok.lifecycle.plugins.module_utils.naming import MODES
from ansible_collections.terok.lifecycle.plugins.module_utils.paths import Layout
from ansible_collections.terok.lifecycle.plugins.module_utils.podman import Podman


def common_argument_spec():
    """Options documented by the ``terok.lifecycle.common`` doc fragment."""
    return {
        "root": {"type": "path"},
        "executable": {"type": "str", "default": "podman"},
        "lock_timeout": {"type": "float", "default": 30.0},
    }


def task_argument_spec(items=False):
    """The options of one task, as terok_task takes them and terok_tasks takes them per item.

    For list items (``items``) the value checks are left to the library, whose messages name
    the item's index (``tasks[3].state``); Ansible's own would only say "found in tasks".
    """
    spec = {
        "project": {"type": "str", "required": True},
        "name": {"type": "str"},
        "task_id": {"type": "str"},
        "state": {"type": "str", "default": "present", "choices": list(STATES)},
        "archive": {"type": "bool", "default": True},
        "mode": {"type": "str", "choices": list(MODES)},
        "image": {"type": "str"},
        "command": {"type": "list", "elements": "str"},
        "init_script": {"type": "path"},
        "code_repo": {"type": "str"},
        "git_branch": {"type": "str"},
        "clone_from": {"type": "str"},
        "git_reset_mode": {"type": "str", "choices": list(RESET_MODES)},
        "external_remote_url": {"type": "str"},
        "ssh_key_name": {"type": "str", "no_log": True},
        "env": {"type": "dict", "no_log": True},
        "volumes": {"type": "list", "elements": "str"},
        "recreate": {"type": "bool", "default": False},
        "wait_ready": {"type": "bool", "default": True},
        "ready_timeout": {"type": "int", "default": 300},
        "wait": {"type": "bool", "default": False},
        "wait_timeout": {"type": "int", "default": 7200},
        "stop_timeout": {"type": "int", "default": 10},
    }
    if items:
        for option in spec.values():
            option.pop("choices", None)
            option.pop("required", None)
    return spec


def _runner(module):
    def run(argv):
        return module.run_command(argv, encoding="utf-8", errors="surrogateescape")

    return run


def make_runtime(module):
    """Layout, podman and check mode of this module run; fail cleanly on bad settings."""
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=YAML_IMPORT_ERROR)
    params = module.params
    if params["lock_timeout"] is not None and params["lock_timeout"] < 0:
        module.fail_json(msg="lock_timeout must be 0 or more seconds, got %s" % params["lock_timeout"])
    try:
        layout = Layout.resolve(params["root"], load_yaml=load_yaml)
    except TerokError as exc:
        module.fail_json(msg=exc.msg)
    podman = Podman(params["executable"], _runner(module))
    return Runtime(layout, podman, check_mode=module.check_mode, lock_timeout=params["lock_timeout"])


def fail(module, runtime, exc, **result):
    """Fail the module with a TerokError's message, keeping warnings gathered so far.

    ``changed`` says whether the run changed anything before it failed.
    """
    for warning in runtime.warnings:
        module.warn(warning)
    module.fail_json(msg=exc.msg, changed=runtime.changed, **result)


def finish(module, runtime, **result):
    for warning in runtime.warnings:
        module.warn(warning)
    module.exit_json(**result)
