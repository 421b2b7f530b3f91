# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What all tasks of one module run share: layout, podman, check mode, locks and warnings."""

from __future__ import annotations

import datetime

from ansible_collections.terok.lifecycle.plugins.module_utils.locking import ProjectLock
from ansible_collections.terok.lifecycle.plugins.module_utils.podman import Container, PodmanError


UNKNOWN_STATES = "container states are unknown"


class Runtime(object):
    """Shared by all specs of one module run: layout, podman, check mode, warnings.

    The container listing is taken once and reused; when podman is missing or fails it is
    empty and a warning says so, unless the caller needs it.
    """

    def __init__(self, layout, podman, check_mode=False, lock_timeout=30.0):
        self.layout = layout
        self.podman = podman
        self.check_mode = check_mode
        self.lock_timeout = lock_timeout
        self.warnings = []
        # whether this run changed anything yet: a failure after a change still reports it
        self.changed = False
        self._containers = None
        self.listing_ok = False

    def warn(self, message):
        if message not in self.warnings:
            self.warnings.append(message)

    def containers(self, required=False):
        """Every container by name, listed once per run.

        When podman is missing or fails: raise with ``required``, else warn and return {}.
        """
        if self._containers is None or (required and not self.listing_ok):
            try:
                self._containers = self.podman.list_containers()
                self.listing_ok = True
                self.warnings = [w for w in self.warnings if not w.startswith(UNKNOWN_STATES)]
            except PodmanError as exc:
                if required:
                    raise
                self.warn("%s: %s" % (UNKNOWN_STATES, exc.msg))
                self._containers = {}
        return self._containers

    def note_container(self, name, state, labels=None, exit_code=None):
        """Record what a podman call just did to a container, so no second listing is needed."""
        containers = self.containers()
        if state is None:
            containers.pop(name, None)
        else:
            old = containers.get(name)
            containers[name] = Container(name, state, exit_code, labels if labels is not None else (old.labels if old else {}))

    def lock(self, project, may_create=True):
        """The project's lock; ``may_create`` when the run may create a task (and its directories)."""
        return ProjectLock(
            self.layout.meta_dir(project), self.lock_timeout, create=not self.check_mode, create_dir=may_create
        )

    def now(self):
        return datetime.datetime.now(datetime.timezone.utc)
