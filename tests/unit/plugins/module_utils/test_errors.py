# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError


def test_terok_error_carries_message_and_option():
    err = TerokError("project 'X' is not valid", option="project")
    assert err.msg == "project 'X' is not valid"
    assert str(err) == "project 'X' is not valid"
    assert err.option == "project"
    assert isinstance(err, Exception)


def test_terok_error_option_defaults_to_none():
    assert TerokError("boom").option is None
