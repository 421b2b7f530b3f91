# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # Options every terok.lifecycle module takes.
    DOCUMENTATION = r"""
options:
  root:
    description:
      - The terok state root on the target, an absolute path.
      - When set, every tree lives under it (C(<root>/core), C(<root>/sandbox-live), C(<root>/archive)) and
        the environment variables and the terok config file are not consulted.
      - When unset, the first of these that is set wins, as in terok itself, C(TEROK_ROOT) in the target's
        environment, C(paths.root) in the terok config file (C(TEROK_CONFIG_FILE), else C(/etc/terok/config.yml),
        then C(~/.config/terok/config.yml)), then C(/var/lib/terok) for root and
        C(${XDG_DATA_HOME:-~/.local/share}/terok) for other users. C(TEROK_STATE_DIR) then moves the metadata
        tree and C(TEROK_SANDBOX_LIVE_DIR) (or C(paths.sandbox_live_dir)) the task directories.
    type: path
  executable:
    description:
      - The podman executable on the target, a name looked up on C(PATH) or a full path.
    type: str
    default: podman
  lock_timeout:
    description:
      - How many seconds to wait for the per-project lock that another run on the same host holds.
      - The module fails, naming the lock file, when the wait runs out.
    type: float
    default: 30
requirements:
  - PyYAML on the target (C(python3-yaml) on the Debian family, C(python3-pyyaml) on the Red Hat family).
  - podman on the target for container states; without it task states are computed as if no container existed.
notes:
  - Task ids are 5 characters of lowercase Crockford base32 drawn from a cryptographic random source, as terok draws them.
  - Task names are normalised as terok does, stripped, lowercased, spaces turned into C(-), characters other
    than C(a-z), C(0-9), C(_) and C(-) dropped, runs of C(-) collapsed, trailing C(-) removed, cut to 60 characters.
  - The collection marks the tasks it creates with C(managed_by=terok.lifecycle) in C(<id>_meta.yml).
"""

    # Every module's membership of the action group.
    ACTION_GROUP = r"""
attributes:
  action_group:
    support: full
    membership:
      - terok.lifecycle.terok
    description:
      - The module belongs to the action group C(terok.lifecycle.terok) with every other module of the collection.
      - Set options that all of them share, such as C(root), C(executable) and C(lock_timeout), once for a play
        or a block with C(module_defaults) and the key C(group/terok.lifecycle.terok).
"""

    # Attributes of the modules that change tasks.
    ATTRIBUTES = r"""
attributes:
  check_mode:
    support: full
    description: Nothing is written and no podman command that changes anything runs; the result says what would change.
  diff_mode:
    support: full
    description:
      - Before and after of the task's identity, status, container state and both metadata files;
        with C(state=running) also the hash of the container's options.
  idempotent:
    support: full
    description: A second run with the same options reports no change.
"""

    # Attributes of the read-only modules.
    INFO_ATTRIBUTES = r"""
attributes:
  check_mode:
    support: full
    description: The module reads only, so it runs the same in check mode.
  diff_mode:
    support: N/A
    description: The module changes nothing.
  idempotent:
    support: full
    description: The module changes nothing.
"""
