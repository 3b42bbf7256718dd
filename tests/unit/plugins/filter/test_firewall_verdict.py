# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The firewall_verdict filter: structured and pasted-text input, checks, clear errors."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.netdoctor.ipsec.plugins.filter.firewall_verdict import FilterModule
from ansible_collections.netdoctor.ipsec.tests.unit.cases import fixture_text

verdict = FilterModule().filters()["firewall_verdict"]
IKE = {"path": "input", "src": "203.0.113.2", "dst": "203.0.113.1", "proto": "udp", "sport": 500, "dport": 500,
       "in_interface": "wan0", "ct_state": "new"}


def test_pasted_iptables_save_text():
    result = verdict(fixture_text("firewall/mixed_legacy_drop_ike.txt"), IKE)
    assert result["verdict"] == "drop" and result["decided_by"]["index"] == 1


def test_pasted_nft_json_text():
    result = verdict(fixture_text("firewall/own_nft_ipsec.json"), IKE)
    assert result["verdict"] == "accept" and result["decided_by"]["chain"] == "input"


def test_check_all_on_a_side_record():
    side = {"firewall": {"tables": []}, "routes": {"lookups": [{"purpose": "peer", "lookup": "203.0.113.2", "src": "203.0.113.1",
                                                                "dev": "wan0", "reachable": True}]}}
    result = verdict(side, check="all", peer="203.0.113.2", local_subnets=["10.1.0.0/24"], remote_subnets=["10.2.0.0/24"])
    statuses = {check["check"]: check["status"] for check in result["checks"]}
    assert statuses["ike"] == "pass" and statuses["forward"] == "pass" and statuses["route"] == "unknown"


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        (("garbage text",), {"packet": IKE}, "neither iptables-save output nor nft -j JSON"),
        (({"firewall": {"tables": []}},), {}, "needs a packet dict"),
        (({"firewall": {"tables": []}},), {"check": "bogus"}, "check must be one of"),
        (({"firewall": {"tables": []}},), {"check": "ike"}, "needs peer="),
        (("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n",), {"check": "ike", "peer": "x"}, "need the firewall_info result"),
        (({"firewall": {"tables": []}},), {"packet": {"path": "input", "src": "300.1.1.1"}}, "not an IP address"),
    ],
)
def test_errors_name_the_filter(args, kwargs, message):
    with pytest.raises(AnsibleFilterError, match=message) as info:
        verdict(*args, **kwargs)
    assert "firewall_verdict" in str(info.value)
