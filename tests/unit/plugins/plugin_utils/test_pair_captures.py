# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""pair_captures on summaries of real simultaneous captures of both gateways (fixtures/pcap)."""

from __future__ import annotations

import copy
import os

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.netdoctor.ipsec.plugins.filter.pair_captures import pair_captures as pair_filter
from ansible_collections.netdoctor.ipsec.plugins.module_utils import _capture_summary
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils._pair_captures import pair_captures
from ansible_collections.netdoctor.ipsec.tests.unit.cases import FIXTURES

SUBNETS = {"a": ("10.1.0.0/24", "10.2.0.0/24"), "b": ("10.2.0.0/24", "10.1.0.0/24")}


def side(scenario, label, peer):
    local, remote = SUBNETS[label]
    return _capture_summary.summarize_files(
        [(os.path.join(FIXTURES, "pcap", f"ns-{scenario}-{label}.pcap"), "wan0")],
        {"peer_addresses": [peer], "local_subnets": [local], "remote_subnets": [remote]},
    )


def pair(scenario, peer_of_a="203.0.113.2", peer_of_b="203.0.113.1"):
    return pair_captures(side(scenario, "a", peer_of_a), side(scenario, "b", peer_of_b), ("gw_a", "gw_b"))


def test_healthy_ike_is_answered_both_ways_and_clocks_agree():
    result = pair("healthy")
    assert result["mode"] == "paired"
    assert result["ike"] == [
        {"from": "gw_a", "to": "gw_b", "requests_sent": 3, "requests_received": 3, "requests_lost": 0,
         "responses_sent": 3, "responses_received": 3, "answered": True, "verdict": "answered"}
    ]
    offset = result["clock_offset"]
    assert offset["method"] == "two_way" and offset["samples"] == 6
    assert abs(offset["seconds"]) < 0.001  # one host clock: the namespaces share it
    assert all(row["delivered"] for row in result["timeline"])
    assert [row["exchange"] for row in result["timeline"]] == ["IKE_SA_INIT"] * 2 + ["IKE_AUTH"] * 2 + ["INFORMATIONAL"] * 2
    assert [row["from"] for row in result["timeline"]] == ["gw_a", "gw_b"] * 3


def test_fw_ike_requests_arrive_but_are_never_answered():
    result = pair("fw-ike")
    assert result["ike"][0]["verdict"] == "received_not_answered"
    assert result["ike"][0]["requests_sent"] == 3 and result["ike"][0]["responses_sent"] == 0
    assert result["clock_offset"]["method"] == "one_way"


def test_ike_lost_between_the_gateways():
    result = pair("lost-ike", peer_of_b="203.0.113.254")
    entry = result["ike"][0]
    assert entry["verdict"] == "requests_lost"
    assert (entry["requests_sent"], entry["requests_received"], entry["requests_lost"]) == (3, 0, 3)
    assert [f["verdict"] for f in result["flows"]] == ["sent_not_received"]
    assert result["clock_offset"]["method"] == "none"
    assert not any(row["delivered"] for row in result["timeline"])


def test_nat_t_messages_are_matched_through_the_nat():
    result = pair("nat-t", peer_of_b="203.0.113.254")
    assert [e["verdict"] for e in result["ike"]] == ["answered", "answered"]
    assert result["unmatched_inbound"] == {"gw_a": 0, "gw_b": 0}
    rows = [r for r in result["timeline"] if r["from"] == "gw_a"]
    assert rows[0]["src"] == "10.99.0.1"  # as sent, before the NAT


def test_clear_text_flows_pair_up():
    result = pair("cleartext")
    clear = [f for f in result["flows"] if f["kind"] == "clear"]
    assert sorted((f["from"], f["sent"], f["received"], f["verdict"]) for f in clear) == [
        ("gw_a", 2, 2, "delivered"), ("gw_b", 2, 2, "delivered")]


def test_clock_offset_is_recovered_from_packets():
    a, b = side("healthy", "a", "203.0.113.2"), side("healthy", "b", "203.0.113.1")
    shifted = copy.deepcopy(b)
    for event in shifted["events"]:
        event["t"] += 5.25
    result = pair_captures(a, shifted)
    assert result["clock_offset"]["seconds"] == pytest.approx(5.25, abs=0.001)
    assert result["clock_offset"]["uncertainty"] < 0.001
    assert [row["delivered"] for row in result["timeline"]] == [True] * 6
    assert all(abs(row["delay_ms"]) < 1 for row in result["timeline"])


def test_one_sided_mode_reports_what_this_side_saw():
    result = pair_captures({"summary": side("fw-ike", "a", "203.0.113.2")})
    assert result["mode"] == "one_sided"
    assert result["ike"] == {"requests": 1, "answered": 0}
    assert result["flows"] == [{"kind": "ike", "side": "a", "direction": "sent", "message": "request", "packets": 3,
                                "first": result["flows"][0]["first"], "last": result["flows"][0]["last"]}]
    assert result["ike_sas"][0]["retransmissions"] == 2
    answered = pair_captures(side("ike-proposal", "a", "203.0.113.2"))
    assert answered["ike"] == {"requests": 1, "answered": 1}


def test_lost_only_counts_what_the_receiver_could_have_seen():
    a = {"summary": side("lost-ike", "a", "203.0.113.2")}
    b = {"summary": side("lost-ike", "b", "203.0.113.254"), "window": {"start": 0.0, "end": 1.0}}
    result = pair_captures(a, b)
    assert result["flows"][0]["lost"] == 0 and result["flows"][0]["not_watched"] == 3
    assert result["flows"][0]["verdict"] == "not_watched"


def test_filter_names_sides_and_rejects_bad_input():
    a, b = side("healthy", "a", "203.0.113.2"), side("healthy", "b", "203.0.113.1")
    assert set(pair_filter(a, b, names=["left", "right"])["sides"]) == {"left", "right"}
    with pytest.raises(AnsibleFilterError, match="pair_captures: side a: no capture summary"):
        pair_filter({"changed": False, "skipped": True}, b)
    with pytest.raises(AnsibleFilterError, match="names must be two"):
        pair_filter(a, b, names=["only"])
    with pytest.raises(AnsibleFilterError, match="expected the capture module result"):
        pair_filter("text", b)


def test_a_capped_event_list_is_not_taken_for_loss():
    def lab_side(label, peer, local, remote, **limits):
        context = {"peer_addresses": [peer], "local_subnets": [local], "remote_subnets": [remote]}
        context.update(limits)
        return _capture_summary.summarize_files(
            [(os.path.join(FIXTURES, "pcap", f"lab-healthy-{label}.pcap"), "wan0")], context)

    a = lab_side("a", "203.0.113.6", "10.1.1.0/24", "10.1.2.0/24")
    b = lab_side("b", "203.0.113.1", "10.1.2.0/24", "10.1.1.0/24", max_events=8)
    assert b["events_dropped"] > 0
    result = pair_captures(a, b)
    forward = [e for e in result["esp"] if e["from"] == "a"][0]
    assert forward["lost"] == 0 and forward["not_watched"] > 0 and forward["received"] > 0
    assert forward["verdict"] == "delivered"
    full = pair_captures(a, lab_side("b", "203.0.113.1", "10.1.2.0/24", "10.1.1.0/24"))
    assert [e["verdict"] for e in full["esp"]] == ["delivered", "delivered"]
    assert all(e["not_watched"] == 0 and e["sent"] == e["received"] for e in full["esp"])
