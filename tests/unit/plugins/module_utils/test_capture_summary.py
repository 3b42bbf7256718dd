# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The capture summary on real captures (tests/unit/fixtures/pcap, see README.md there)."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _capture_summary, _pcap
from ansible_collections.netdoctor.ipsec.tests.unit.cases import FIXTURES, assert_subset, load_cases


def pcap(name):
    return os.path.join(FIXTURES, "pcap", name)


@pytest.mark.parametrize("case", load_cases(__file__))
def test_summary(case):
    files = [(pcap(entry["file"]), entry.get("interface", "wan0")) for entry in case["files"]]
    summary = _capture_summary.summarize_files(files, case.get("context"))
    json.dumps(summary)  # the module returns it: it must be plain JSON data
    assert_subset(summary, case["expected"])


def test_window_excludes_packets_outside():
    files = [(pcap("ns-fw-ike-a.pcap"), "wan0")]
    full = _capture_summary.summarize_files(files, {})
    first_ike = full["ike"]["messages"][0]["time"]
    later = _capture_summary.summarize_files(files, {"window": (first_ike + 0.5, None)})
    assert later["packets"]["outside_window"] > 0
    assert len(later["ike"]["messages"]) == len(full["ike"]["messages"]) - 1
    assert later["ike"]["messages"][0]["retransmission"] is False  # its first copy is outside the window


def test_limits_cap_lists_and_count_what_was_dropped():
    summary = _capture_summary.summarize_files([(pcap("ns-invalid-ke-a.pcap"), "wan0")], {"max_events": 3, "max_ike_messages": 4})
    assert len(summary["events"]) == 3 and summary["events_dropped"] == 11
    assert len(summary["ike"]["messages"]) == 4 and summary["ike"]["messages_dropped"] == 10


def test_missing_file_is_a_warning():
    summary = _capture_summary.summarize_files([("/nonexistent/x.pcap", "wan0")], {})
    assert summary["packets"]["total"] == 0
    assert "cannot read /nonexistent/x.pcap" in summary["warnings"][0]


def test_esp_sequence_gaps_replays_and_reordering():
    """Real lab ESP frames, with loss, a replay and a reordering applied to one SPI's packets."""
    with open(pcap("lab-healthy-b.pcap"), "rb") as handle:
        packets = list(_pcap.CaptureReader(handle, "wan0"))
    inbound = [p for p in packets if b"\xc1\x4f\x77\xd7" in p.data[:60]]  # SPI 0xc14f77d7, seq 1240..1249
    assert len(inbound) == 10
    others = [p for p in packets if p not in inbound]
    kept = inbound[:2] + inbound[3:5] + [inbound[6], inbound[5]] + inbound[8:] + [inbound[0]]
    summary = _capture_summary.summarize(others + kept, {"peer_addresses": ["203.0.113.1"]})
    entry = [e for e in summary["esp"] if e["spi"] == "0xc14f77d7"][0]
    assert (entry["packets"], entry["first_seq"], entry["last_seq"]) == (9, 1240, 1249)
    assert entry["gaps"] == 2 and entry["gap_ranges"] == [[1242, 1242], [1247, 1247]]
    assert entry["replays"] == 1
    assert entry["out_of_order"] == 1
