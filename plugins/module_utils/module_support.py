# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every terok module shares on the Ansible side: common options and the run frame."""

from __future__ import annotations

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.terok.lifecycle.plugins.module_utils.errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils.runtime import Runtime
from ansible_collections.terok.lifecycle.plugins.module_utils.metadata import HAS_YAML, YAML_IMPORT_ERROR, load_yaml
from ansible_collections.terok.lifecycle.plugins.module_utils.paths import Layout
from ansible_collections.terok.lifecycle.plugins.module_utils.podman import Podman


def common_argument_spec():
    """Options documented by the ``terok.lifecycle.common`` doc fragment."""
    return {
        "root": {"type": "path"},
        "executable": {"type": "str", "default": "podman"},
        "lock_timeout": {"type": "float", "default": 30.0},
    }


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
    """Fail the module with a TerokError's message, keeping warnings gathered so far."""
    for warning in runtime.warnings if runtime else ():
        module.warn(warning)
    module.fail_json(msg=exc.msg, **result)


def finish(module, runtime, **result):
    for warning in runtime.warnings:
        module.warn(warning)
    module.exit_json(**result)
