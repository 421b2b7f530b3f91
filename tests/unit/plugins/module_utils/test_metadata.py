# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import json
import os

import pytest
import yaml

from ansible_collections.terok.lifecycle.plugins.module_utils import _metadata
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._metadata import (
    MANAGED_BY,
    MANAGED_KEY,
    MAX_BYTES,
    dossier_bytes,
    dump_yaml,
    load_yaml,
    meta_bytes,
    read_dossier,
    read_meta,
    write_dossier,
    write_meta,
)


def test_yaml_is_available_in_the_test_environment():
    assert _metadata.HAS_YAML
    assert _metadata.YAML_IMPORT_ERROR is None


def test_managed_mark():
    assert (MANAGED_KEY, MANAGED_BY) == ("managed_by", "terok.lifecycle")


# Dossier --------------------------------------------------------------------------------------------


def test_dossier_bytes_exact_format():
    assert dossier_bytes("demo", "k7m2q", "fix-auth") == (
        b'{\n  "project": "demo",\n  "task": "k7m2q",\n  "name": "fix-auth"\n}\n'
    )


def test_dossier_bytes_matches_terok_json_dump():
    # terok writes json.dumps(dossier, indent=2, ensure_ascii=False) + "\n"
    expected = json.dumps({"project": "p", "task": "g1abc", "name": "n"}, indent=2, ensure_ascii=False) + "\n"
    assert dossier_bytes("p", "g1abc", "n") == expected.encode("utf-8")


def test_dossier_bytes_keeps_other_keys_after_terok_keys_and_overrides_name():
    data = dossier_bytes("demo", "k7m2q", "new", existing={"extra": [1, 2], "name": "old", "project": "x"})
    parsed = json.loads(data.decode("utf-8"))
    assert list(parsed) == ["project", "task", "name", "extra"]
    assert parsed == {"project": "demo", "task": "k7m2q", "name": "new", "extra": [1, 2]}
    assert data.endswith(b"}\n")


def test_dossier_never_holds_the_collection_mark():
    parsed = json.loads(dossier_bytes("demo", "k7m2q", "n").decode("utf-8"))
    assert MANAGED_KEY not in parsed


def test_write_and_read_dossier(tmp_path):
    path = str(tmp_path / "k7m2q_dossier.json")
    write_dossier(path, "demo", "k7m2q", "fix-auth")
    assert read_dossier(path) == {"project": "demo", "task": "k7m2q", "name": "fix-auth"}
    assert os.listdir(str(tmp_path)) == ["k7m2q_dossier.json"]


def test_read_dossier_missing_is_none(tmp_path):
    assert read_dossier(str(tmp_path / "nope.json")) is None


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"a": 1', b"\xff\xfe\x00garbage", b"[1, 2]", b'"string"', b"42", b"null"],
)
def test_read_dossier_malformed_raises(tmp_path, content):
    path = tmp_path / "g1abc_dossier.json"
    path.write_bytes(content)
    with pytest.raises(TerokError) as err:
        read_dossier(str(path))
    assert str(path) in err.value.msg


@pytest.mark.parametrize("content", [b"", b"  \n"])
def test_read_dossier_empty_is_an_empty_mapping_as_terok_reads_it(tmp_path, content):
    # terok 0.9 (_read_json_meta): ``json.loads(text) if text.strip() else {}``
    path = tmp_path / "g1abc_dossier.json"
    path.write_bytes(content)
    assert read_dossier(str(path)) == {}


def test_read_dossier_oversized_raises(tmp_path):
    path = tmp_path / "g1abc_dossier.json"
    path.write_bytes(b'{"name": "' + b"x" * (MAX_BYTES + 10) + b'"}')
    with pytest.raises(TerokError) as err:
        read_dossier(str(path))
    assert str(path) in err.value.msg


def test_read_dossier_at_the_size_limit_is_fine(tmp_path):
    path = tmp_path / "g1abc_dossier.json"
    head = b'{"name": "'
    tail = b'"}'
    path.write_bytes(head + b"x" * (MAX_BYTES - len(head) - len(tail)) + tail)
    assert len(read_dossier(str(path))["name"]) == MAX_BYTES - len(head) - len(tail)


def test_read_dossier_directory_raises_terok_error(tmp_path):
    path = tmp_path / "g1abc_dossier.json"
    path.mkdir()
    with pytest.raises(TerokError):
        read_dossier(str(path))


# Meta ----------------------------------------------------------------------------------------------------


TEROK_META = """\
mode: cli
workspace: /var/lib/terok/sandbox-live/tasks/demo/k7m2q
web_port: null
created_at: '2026-11-28T09:15:02.118470+00:00'
ready_at: '2026-11-28T09:16:00+00:00'
exit_code: 0
unrestricted: false
agent: claude
hooks_fired:
  - post_create
future_key:
  nested: {a: 1}
"""


def test_meta_round_trip_keeps_unknown_keys_and_order(tmp_path):
    path = tmp_path / "k7m2q_meta.yml"
    path.write_text(TEROK_META)
    meta = read_meta(str(path))
    assert meta["future_key"] == {"nested": {"a": 1}}
    meta[MANAGED_KEY] = MANAGED_BY
    write_meta(str(path), meta)
    again = read_meta(str(path))
    assert again == meta
    assert list(again) == list(meta)
    assert again["hooks_fired"] == ["post_create"]
    assert again["web_port"] is None
    assert again["exit_code"] == 0
    # and terok's own loader reads it the same
    assert yaml.safe_load(path.read_text()) == meta


def test_meta_bytes_is_block_style_utf8_in_insertion_order():
    text = meta_bytes({"zeta": 1, "alpha": "ünïcode", "mode": None}).decode("utf-8")
    assert text.splitlines()[0].startswith("zeta:")
    assert "ünïcode" in text
    assert "{" not in text
    assert yaml.safe_load(text) == {"zeta": 1, "alpha": "ünïcode", "mode": None}


def test_dump_and_load_yaml():
    assert load_yaml(dump_yaml({"a": [1, 2], "b": None})) == {"a": [1, 2], "b": None}
    assert load_yaml(b"a: 1\n") == {"a": 1}


def test_load_yaml_is_safe():
    with pytest.raises(yaml.YAMLError):
        load_yaml("!!python/object/apply:os.system ['true']")


def test_meta_with_a_yaml_timestamp_survives_a_rewrite(tmp_path):
    path = tmp_path / "g1abc_meta.yml"
    path.write_text("created_at: 2026-11-28 09:15:02\nmode: null\n")
    meta = read_meta(str(path))
    assert isinstance(meta["created_at"], datetime.datetime)
    write_meta(str(path), meta)
    assert read_meta(str(path)) == meta


def test_read_meta_missing_is_none(tmp_path):
    assert read_meta(str(tmp_path / "nope.yml")) is None


@pytest.mark.parametrize("content", [b"", b"\n", b"# just a comment\n", b"---\n", b"null\n"])
def test_read_meta_empty_is_an_empty_mapping(tmp_path, content):
    path = tmp_path / "g1abc_meta.yml"
    path.write_bytes(content)
    assert read_meta(str(path)) == {}


@pytest.mark.parametrize(
    "content",
    [
        b"mode: [unclosed\n",
        b"a: b: c\n",
        b"\tmode: cli\n",
        b"- a\n- b\n",
        b"just a string\n",
        b"42\n",
        b"\xff\xfe\xfa invalid utf-8\n",
        b"!!python/object/apply:os.system ['true']\n",
    ],
)
def test_read_meta_malformed_raises(tmp_path, content):
    path = tmp_path / "g1abc_meta.yml"
    path.write_bytes(content)
    with pytest.raises(TerokError) as err:
        read_meta(str(path))
    assert str(path) in err.value.msg
    assert "\n" not in err.value.msg


def test_read_meta_oversized_raises(tmp_path):
    path = tmp_path / "g1abc_meta.yml"
    path.write_bytes(b"k: '" + b"x" * MAX_BYTES + b"'\n")
    with pytest.raises(TerokError) as err:
        read_meta(str(path))
    assert str(path) in err.value.msg


def test_write_meta_mode_and_no_temp(tmp_path):
    path = tmp_path / "g1abc_meta.yml"
    write_meta(str(path), {"mode": None}, mode=0o600)
    assert os.stat(str(path)).st_mode & 0o777 == 0o600
    assert os.listdir(str(tmp_path)) == ["g1abc_meta.yml"]
