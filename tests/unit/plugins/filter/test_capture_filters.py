# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""capture_summary and pair_captures as filters, on the controller, from fetched lab pcaps."""

from __future__ import annotations

import os

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.netdoctor.ipsec.plugins.filter.capture_summary import FilterModule as SummaryFilters
from ansible_collections.netdoctor.ipsec.plugins.filter.capture_summary import capture_summary
from ansible_collections.netdoctor.ipsec.plugins.filter.pair_captures import FilterModule as PairFilters
from ansible_collections.netdoctor.ipsec.plugins.filter.pair_captures import pair_captures
from ansible_collections.netdoctor.ipsec.tests.unit.cases import FIXTURES


def pcap(name):
    return os.path.join(FIXTURES, "pcap", name)


def test_filters_are_registered():
    assert SummaryFilters().filters()["capture_summary"] is capture_summary
    assert PairFilters().filters()["pair_captures"] is pair_captures


def test_fetched_pcaps_of_both_gateways_pair_up():
    left = capture_summary([{"path": pcap("lab-fw-esp-a.pcap"), "interface": "wan0"}], peer_addresses=["203.0.113.14"],
                           local_subnets=["10.2.1.0/24"], remote_subnets=["10.2.2.0/24"])
    right = capture_summary(pcap("lab-fw-esp-b.pcap"), peer_addresses=["203.0.113.9"],
                            local_subnets=["10.2.2.0/24"], remote_subnets=["10.2.1.0/24"])
    assert right["interfaces"] == {"lab-fw-esp-b": 7}
    paired = pair_captures(left, right, names=["gw_a", "gw_b"])
    assert [(e["from"], e["sent"], e["received"], e["answered"]) for e in paired["esp"]] == [("gw_a", 8, 7, False)]


def test_inner_interfaces_are_not_leaks():
    summary = capture_summary([{"path": pcap("lab-healthy-b-lan0.pcap"), "interface": "lan0"}],
                              local_subnets=["10.1.2.0/24"], remote_subnets=["10.1.1.0/24"], inner_interfaces=["lan0"])
    assert summary["cleartext"]["inner"]["packets"] == 19 and summary["cleartext"]["outbound_leak"]["packets"] == 0


@pytest.mark.parametrize("value, message", [
    (42, "must be a path or a list"),
    ([{"interface": "wan0"}], "must be a path or a list"),
    ("/nonexistent/capture.pcap", "no such file: /nonexistent/capture.pcap"),
])
def test_bad_input(value, message):
    with pytest.raises(AnsibleFilterError, match=message):
        capture_summary(value)
