# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to terok.lifecycle: not a public API, it may change in any release.
"""The one exception type the lifecycle library raises for user-facing failures."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Optional


class TerokError(Exception):
    """A failure whose message is meant for the user as it is.

    ``option`` names the module option the failure is about and ``path`` the file it is
    about, when there is one; the modules' error boundary returns both with the message.
    """

    def __init__(self, msg: str, option: Optional[str] = None, path: Optional[str] = None) -> None:
        super().__init__(msg)
        self.msg = msg
        self.option = option
        self.path = path
