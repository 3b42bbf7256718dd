# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The `ip xfrm state|policy` text parsers, on real outputs (UML lab kernel, libreswan's test suite)."""

from __future__ import annotations

import json
import time

import pytest

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _xfrm_record, _xfrm_stat, _xfrm_text

from ansible_collections.netdoctor.ipsec.tests.unit.cases import assert_subset, fixture_text, load_cases

SALT = "unit-test-salt"


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    """The recorded outputs print times in UTC (the recording host's zone)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def run_case(case):
    warnings = []
    kind = case.get("kind", "state")
    if kind == "state":
        options = _xfrm_record.RecordOptions(SALT, include_keys=case.get("include_keys", False),
                                             local_addresses=case.get("local_addresses", []))
        records, orphans = _xfrm_text.state_records(case["input"], options, warnings.append)
    elif kind == "policy":
        records, orphans = _xfrm_text.policy_records(case["input"], warnings.append)
    else:
        records, orphans = _xfrm_stat.parse_xfrm_stat(case["input"])
    return {"records": records, "orphans": orphans, "warnings": warnings}


@pytest.mark.parametrize("case", load_cases(__file__))
def test_parser_cases(case):
    result = run_case(case)
    assert_subset(result, case["expected"])
    for text in case.get("warnings_contain", []):
        assert any(text in warning for warning in result["warnings"]), (text, result["warnings"])
    for text in case.get("absent", []):
        assert text not in json.dumps(result), text


KEY_HEX = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"


def test_no_key_leaves_without_include_keys():
    warnings = []
    options = _xfrm_record.RecordOptions(SALT, local_addresses=["198.51.100.1"])
    states, _orphans = _xfrm_text.state_records(fixture_text("xfrm/uml_manual_ip_ss_state.txt"), options, warnings.append)
    dumped = json.dumps([states, warnings])
    assert "0001020304050607" not in dumped
    assert all("raw_keys" not in state for state in states)
    assert sum(bool(state["key_fingerprints"]) for state in states) == 20


def test_include_keys_returns_them_and_fingerprints_follow_the_salt():
    text = fixture_text("xfrm/uml_traffic_gw_a_ip_ss_state.txt")
    one = _xfrm_text.state_records(text, _xfrm_record.RecordOptions("salt-1", include_keys=True), lambda w: None)[0]
    same = _xfrm_text.state_records(text, _xfrm_record.RecordOptions("salt-1"), lambda w: None)[0]
    other = _xfrm_text.state_records(text, _xfrm_record.RecordOptions("salt-2"), lambda w: None)[0]
    assert one[1]["raw_keys"] == {"enc": "0x" + KEY_HEX[:32], "auth": "0x" + KEY_HEX}
    assert [s["key_fingerprints"] for s in one] == [s["key_fingerprints"] for s in same]
    assert one[1]["key_fingerprints"]["enc"] != other[1]["key_fingerprints"]["enc"]


def test_keys_in_lines_the_parser_rejects_are_redacted():
    text = "src 192.0.2.1 dst 192.0.2.2\n\tproto esp spi 0x1 reqid 1 mode tunnel\n\tenc cbc(aes) 0x%s extra junk\n" % KEY_HEX
    warnings = []
    states, _orphans = _xfrm_text.state_records(text, _xfrm_record.RecordOptions(SALT), warnings.append)
    assert states[0]["unparsed"] == ["enc cbc(aes) <key> extra junk"]
    assert KEY_HEX not in json.dumps([states, warnings])


@pytest.mark.parametrize("plain, stats", [("uml_manual_ip_plain_state.txt", "uml_manual_ip_ss_state.txt"),
                                          ("uml_manual_ip_oneline_state.txt", "uml_manual_ip_ss_state.txt")])
def test_plain_and_oneline_agree_with_stats_output_on_what_they_print(plain, stats):
    options = _xfrm_record.RecordOptions(SALT, include_keys=True)
    short = _xfrm_text.state_records(fixture_text("xfrm/" + plain), options, lambda w: None)[0]
    full = _xfrm_text.state_records(fixture_text("xfrm/" + stats), options, lambda w: None)[0]
    assert len(short) == len(full) == 25
    shared = ("src", "dst", "spi", "reqid", "mode", "enc", "auth", "aead", "comp", "raw_keys", "key_fingerprints",
              "encap", "esn", "mark", "output_mark", "if_id", "tfcpad", "icv_bits", "larval")
    for brief, verbose in zip(short, full):
        assert dict((k, brief[k]) for k in shared) == dict((k, verbose[k]) for k in shared)
        assert brief["lifetime"] is None and verbose["lifetime"] is not None


def test_unknown_algorithms_and_lines_are_kept_with_warnings_never_raised():
    text = (
        "src 192.0.2.1 dst 192.0.2.2\n"
        "\tproto esp spi 0x00000010 reqid 1 mode tunnel\n"
        "\tenc cbc(sm4) 0x00112233445566778899aabbccddeeff\n"
        "\tauth-trunc hmac(sm3) 0x00112233445566778899aabbccddeeff 96\n"
        "\tfuture-attribute 42\n"
        "garbage outside any block\n"
    )
    warnings = []
    states, orphans = _xfrm_text.state_records(text, _xfrm_record.RecordOptions(SALT), warnings.append)
    assert states[0]["enc"] == {"name": "cbc(sm4)", "canonical": None, "key_bits": 128}
    assert states[0]["auth"]["trunc_bits"] == 96 and states[0]["icv_bits"] == 96
    assert states[0]["unparsed"] == ["future-attribute 42"]
    assert orphans == ["garbage outside any block"]
    assert any("unknown enc algorithm 'cbc(sm4)'" in w for w in warnings)
    assert any("unknown auth algorithm 'hmac(sm3)'" in w for w in warnings)
    assert any("future-attribute 42" in w for w in warnings)


@pytest.mark.parametrize("text", ["", "\n\n", "src", "src 1 dst", "\tproto esp", "src 192.0.2.1 dst 192.0.2.2\n\treplay-window x",
                                  "src 10.0.0.0/8 dst 10.0.0.0/8\n\tdir", "\\\\\\", "src 192.0.2.1 dst 192.0.2.2\n\tanti-replay esn context:\n\t zz"])
def test_odd_input_never_raises(text):
    _xfrm_text.state_records(text, _xfrm_record.RecordOptions(SALT), lambda w: None)
    _xfrm_text.policy_records(text, lambda w: None)
