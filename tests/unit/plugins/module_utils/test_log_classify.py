# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The IKE log classifier on real logs: both sides of every lab fault in host namespaces (charon and
pluto as the lab configures them) and public pluto/racoon excerpts. For each log the YAML lists the
failure codes in order of first appearance, as (code, view, transforms)."""

from __future__ import annotations

import pytest

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _ike_logs
from ansible_collections.netdoctor.ipsec.tests.unit.cases import load_cases

NOW = 1795844400.0  # 2026-11-28, after the recorded lines


def failures(entries):
    seen = []
    for entry in entries:
        if entry["code"] in _ike_logs.FAILURE_CODES:
            item = [entry["code"], entry["view"], ",".join(entry["transform"])]
            if item not in seen:
                seen.append(item)
    return seen


@pytest.mark.parametrize("case", load_cases(__file__))
def test_classify(case):
    entries = _ike_logs.classify_lines(case["input"].splitlines(), case.get("daemon_hint"), now=NOW)
    assert failures(entries) == case["failures"]
    assert {e["daemon"] for e in entries} == set(case["daemons"])
    assert len(entries) == len([line for line in case["input"].splitlines() if line.strip()]), "a line was dropped"
    for code in case.get("events", []):
        assert code in [e["code"] for e in entries]


def test_strongswan_context_names_the_transform_and_keeps_both_proposal_lists():
    lines = [
        "Nov 28 05:22:30 06[CFG] <2> received proposals: IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048",
        "Nov 28 05:22:30 06[CFG] <2> configured proposals: IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_3072",
        "Nov 28 05:22:30 06[IKE] <2> received proposals unacceptable",
    ]
    entry = _ike_logs.classify_lines(lines, now=NOW)[-1]
    assert entry["code"] == "NO_PROPOSAL_CHOSEN" and entry["view"] == "local" and entry["transform"] == ["dh"]
    assert entry["details"]["received"] == ["IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048"]
    assert entry["sa"] == "2" and entry["time"].startswith("2026-11-28T05:22:30")


def test_pluto_configured_proposals_from_connection_add_name_the_transform():
    lines = [
        '"site": Child SA proposals (connection add):',
        '"site":   1:ESP=AES_GCM_C_256-NONE-NONE-ENABLED+DISABLED',
        '"site" #4: no local proposal matches remote proposals 1:ESP:ENCR=AES_CBC_128;INTEG=HMAC_SHA1_96;ESN=DISABLED',
    ]
    entry = _ike_logs.classify_lines(lines, now=NOW)[-1]
    assert entry["code"] == "NO_PROPOSAL_CHOSEN" and entry["transform"] == ["encryption"]
    assert entry["conn"] == "site" and entry["sa"] == "4"


def test_racoon_rejected_transform_and_syslog_prefix():
    lines = [
        "Oct 22 18:36:59 gw racoon: ERROR: rejected dh_group: DB(prop#1:trns#1):Peer(prop#1:trns#1) = 1024-bit MODP group:1536-bit MODP group",
        "Oct 22 18:37:30 gw racoon: ERROR: phase1 negotiation failed due to time up. 7bbb54cb9d35712c:ba13bf18daf0befb",
        "Oct 22 18:37:31 gw racoon: ERROR: failed to get sainfo.",
        "Oct 22 18:37:32 gw kernel: unrelated line",
    ]
    entries = _ike_logs.classify_lines(lines, now=NOW)
    assert [(e["code"], e["transform"], e["daemon"]) for e in entries[:3]] == [
        ("NO_PROPOSAL_CHOSEN", ["dh"], "racoon"), ("PEER_NOT_RESPONDING", [], "racoon"), ("NO_SAINFO", [], "racoon")]
    assert entries[3]["code"] == "UNKNOWN" and entries[3]["daemon"] is None


def test_key_material_is_withheld():
    lines = [
        "Nov 28 05:20:41 14[IKE] <site|1> Sk_ei secret => 32 bytes @ 0x7f00a0001234",
        "Nov 28 05:20:41 14[IKE] <site|1>    0: 6C 1F 2A 3B 4C 5D 6E 7F 80 91 A2 B3 C4 D5 E6 F7  l.*;L]n.........",
        "Jan  8 17:04:06 R2-1500 pluto[26867]: |   00 00 00 10  00 00 00 01  03 04 00 0e",
    ]
    entries = _ike_logs.classify_lines(lines, now=NOW)
    assert all(e["details"].get("redacted") for e in entries)
    assert "6C 1F" not in repr(entries) and "00 00 00 10" not in repr(entries)


@pytest.mark.parametrize("text, expected", [
    ("Nov 28 05:20:41", "2026-11-28T05:20:41"),
    ("Dec 31 23:59:59", "2025-12-31T23:59:59"),
    ("2015-03-19 04:54:18", "2015-03-19T04:54:18"),
    ("not a time", None),
])
def test_syslog_times_get_the_latest_year_not_in_the_future(text, expected):
    stamp = _ike_logs.parse_time(text, NOW)
    if expected is None:
        assert stamp is None
    else:
        import time

        assert time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(stamp)) == expected
