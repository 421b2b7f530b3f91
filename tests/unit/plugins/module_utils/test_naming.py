# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import re

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils import _naming
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._naming import (
    check_container_mode,
    check_name,
    check_project,
    check_task_id,
    container_name,
    container_names,
    is_task_id,
    new_task_id,
    sanitize_name,
)

# The contract's regex (DESIGN section 3), written out independently of the module.
CONTRACT_ID = re.compile(r"[ghjkmnp-tv-z][0-9][0-9a-hjkmnp-tv-z]{3}")
CROCKFORD_LOWER = set("0123456789abcdefghjkmnpqrstvwxyz")


# Task ids ---------------------------------------------------------------------------------


def test_alphabet_is_lowercase_crockford():
    assert set(_naming.ID_ALPHABET) == CROCKFORD_LOWER
    assert len(_naming.ID_ALPHABET) == 32
    assert not set("ilou") & set(_naming.ID_ALPHABET)


def test_head_letters_are_the_non_hex_crockford_letters():
    assert set(_naming.ID_HEAD) == set("ghjkmnpqrstvwxyz")


def test_new_ids_match_the_contract_regex():
    ids = [new_task_id(set()) for _i in range(2000)]
    for task_id in ids:
        assert CONTRACT_ID.fullmatch(task_id), task_id
        assert len(task_id) == 5
        assert task_id[0] in "ghjkmnpqrstvwxyz"
        assert task_id[1].isdigit()
    # drawn at random: 2000 draws from ~5.2M ids are practically all distinct and use many heads
    assert len(set(ids)) > 1990
    assert len(set(task_id[0] for task_id in ids)) == 16


def test_new_id_avoids_taken_ids():
    class Taken(object):
        """Claims the first three candidates are taken and remembers them."""

        def __init__(self):
            self.refused = []

        def __contains__(self, candidate):
            if len(self.refused) < 3:
                self.refused.append(candidate)
                return True
            return False

    taken = Taken()
    task_id = new_task_id(taken)
    assert len(taken.refused) == 3
    assert task_id not in taken.refused
    assert CONTRACT_ID.fullmatch(task_id)


def test_new_id_uses_the_csprng(monkeypatch):
    drawn = []
    real_choice = _naming.secrets.choice

    def choice(seq):
        drawn.append(seq)
        return real_choice(seq)

    monkeypatch.setattr(_naming.secrets, "choice", choice)
    new_task_id(set())
    assert len(drawn) == 5


def test_new_id_gives_up_when_everything_is_taken():
    class Everything(object):
        def __contains__(self, candidate):
            return True

    with pytest.raises(TerokError):
        new_task_id(Everything())


@pytest.mark.parametrize("value", ["g0000", "k7m2q", "z9zzz", "h3abc", "v5xyz", "t0hjk", "p1mnp"])
def test_is_task_id_accepts_well_formed_ids(value):
    assert is_task_id(value)
    assert check_task_id(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "a1bcd",  # hex head letter
        "f1bcd",  # hex head letter
        "i1bcd",  # i is not Crockford
        "l1bcd",
        "o1bcd",
        "u1bcd",
        "gabcd",  # second char must be a digit
        "g1abi",  # i in the tail
        "g1abl",
        "g1abo",
        "g1abu",
        "G1ABC",  # uppercase
        "g1ab",  # too short
        "g1abcd",  # too long
        "12345",
        "",
        " g1abc",
        "g1abc ",
        "g1abc\n",  # trailing newline: a path component terok would never accept
        "g1a/c",
        None,
        12345,
    ],
)
def test_is_task_id_refuses_malformed_ids(value):
    assert not is_task_id(value)
    with pytest.raises(TerokError) as err:
        check_task_id(value)
    assert err.value.option == "task_id"
    assert "task_id" in err.value.msg


def test_check_task_id_names_the_given_option():
    with pytest.raises(TerokError) as err:
        check_task_id("nope", option="tasks[2].task_id")
    assert err.value.option == "tasks[2].task_id"
    assert "tasks[2].task_id" in err.value.msg


# Names --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("fix-auth", "fix-auth"),
        ("  Fix Auth  ", "fix-auth"),  # strip, lowercase, space -> -
        ("FIX_AUTH", "fix_auth"),
        ("a b  c", "a-b-c"),  # two spaces collapse
        ("a - b", "a-b"),  # '---' collapses
        ("a----b", "a-b"),
        ("héllo wörld!", "hllo-wrld"),  # non-ascii and punctuation dropped
        ("fix/auth", "fixauth"),  # '/' dropped
        ("../etc", "etc"),
        ("a.b,c;d", "abcd"),
        ("trailing-", "trailing"),
        ("trailing - ", "trailing"),
        ("x!-!-y", "x-y"),  # drops happen before the collapse
        ("-lead", "-lead"),  # leading dash kept (check_name refuses it)
        ("--lead", "-lead"),
        ("tab\there", "tabhere"),  # only spaces become dashes
        ("", ""),
        ("   ", ""),
        ("!!!", ""),
        ("---", ""),
        ("12", "12"),
        ("_x_", "_x_"),
    ],
)
def test_sanitize_name(raw, expected):
    assert sanitize_name(raw) == expected


def test_sanitize_name_cuts_to_60():
    assert sanitize_name("a" * 75) == "a" * 60
    assert sanitize_name("Ab" * 40) == "ab" * 30


def test_sanitize_name_strips_a_dash_left_at_the_cut():
    # 59 letters, a dash at position 60, more after: the cut leaves a trailing dash
    raw = "a" * 59 + " " + "b" * 10
    assert sanitize_name(raw) == "a" * 59


def test_sanitize_name_strips_dashes_before_cutting():
    raw = "a" * 58 + "-" * 5 + "b"
    # collapse gives 58 a + '-' + 'b' (60 chars), nothing to cut
    assert sanitize_name(raw) == "a" * 58 + "-b"


def test_sanitize_name_is_idempotent():
    for raw in ["  Fix Auth  ", "a - b", "x" * 70, "héllo wörld!"]:
        once = sanitize_name(raw)
        assert sanitize_name(once) == once


def test_check_name_returns_the_sanitized_name():
    assert check_name("  Fix Auth ") == "fix-auth"


@pytest.mark.parametrize("raw", ["", "  ", "!!!", "---", "é"])
def test_check_name_refuses_names_that_sanitize_to_nothing(raw):
    with pytest.raises(TerokError) as err:
        check_name(raw)
    assert err.value.option == "name"
    assert "name" in err.value.msg
    assert "empty" in err.value.msg


@pytest.mark.parametrize("raw", ["-lead", "--lead", " -x", "-" + "a" * 70])
def test_check_name_refuses_a_leading_dash(raw):
    with pytest.raises(TerokError) as err:
        check_name(raw)
    assert err.value.option == "name"
    assert "start" in err.value.msg
    assert "name" in err.value.msg


def test_check_name_refuses_non_strings_and_nul():
    with pytest.raises(TerokError) as err:
        check_name(None)
    assert err.value.option == "name"
    with pytest.raises(TerokError) as err:
        check_name(42)
    assert err.value.option == "name"
    with pytest.raises(TerokError) as err:
        check_name("a\x00b")
    assert err.value.option == "name"


def test_check_name_names_the_given_option():
    with pytest.raises(TerokError) as err:
        check_name("!!", option="tasks[0].name")
    assert err.value.option == "tasks[0].name"
    assert "tasks[0].name" in err.value.msg


# Projects -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["demo", "a", "0", "my-proj", "my_proj", "p2", "defaults", "default-2"])
def test_check_project_accepts_valid_names(value):
    assert check_project(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Demo",
        "-demo",
        "_demo",
        "de mo",
        "de/mo",
        "..",
        ".demo",
        "demo\n",  # trailing newline must not pass the [a-z0-9][a-z0-9_-]* rule
        "demo\x00",
        "démo",
        None,
        7,
    ],
)
def test_check_project_refuses_invalid_names(value):
    with pytest.raises(TerokError) as err:
        check_project(value)
    assert err.value.option == "project"
    assert "project" in err.value.msg


def test_check_project_refuses_the_reserved_default():
    with pytest.raises(TerokError) as err:
        check_project("default")
    assert err.value.option == "project"
    assert "reserved" in err.value.msg
    assert "default" in err.value.msg


def test_check_project_names_the_given_option():
    with pytest.raises(TerokError) as err:
        check_project("Bad", option="tasks[1].project")
    assert err.value.option == "tasks[1].project"
    assert "tasks[1].project" in err.value.msg


# Modes and containers ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["cli", "web", "run", "toad"])
def test_check_mode_accepts_terok_modes(mode):
    assert check_container_mode(mode) == mode


@pytest.mark.parametrize("mode", ["", "CLI", "shell", None])
def test_check_mode_refuses_others(mode):
    with pytest.raises(TerokError) as err:
        check_container_mode(mode)
    assert err.value.option == "mode"


def test_container_name():
    assert container_name("demo", "cli", "k7m2q") == "demo-cli-k7m2q"


def test_container_names_cover_every_mode():
    assert container_names("demo", "k7m2q") == [
        "demo-cli-k7m2q",
        "demo-web-k7m2q",
        "demo-run-k7m2q",
        "demo-toad-k7m2q",
    ]
