# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The checklist checks on side records built from recorded rulesets and route lookups."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _iptables, _nftables
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _firewall_checks
from ansible_collections.netdoctor.ipsec.tests.unit.cases import fixture_text

PEER = "203.0.113.2"
LOCAL_NETS, REMOTE_NETS = ["10.1.0.0/24"], ["10.2.0.0/24"]


def side_with(tables: list[dict]) -> dict:
    return {
        "firewall": {"tables": tables},
        "addresses": [{"interface": "wan0", "address": "203.0.113.1"}, {"interface": "lan0", "address": "10.1.0.1"}],
        "sysctl": {"effective_rp_filter": {"wan0": 1}},
        "routes": {
            "local_inner_address": "10.1.0.1",
            "lookups": [
                {"purpose": "peer", "lookup": PEER, "reachable": True, "dev": "wan0", "src": "203.0.113.1"},
                {"purpose": "remote_subnet", "subnet": "10.2.0.0/24", "lookup": "10.2.0.1", "from": "10.1.0.1", "reachable": True,
                 "dev": "wan0", "via": PEER, "table": "220"},
            ],
        },
    }


def iptables(name: str) -> list[dict]:
    return _iptables.parse_save(fixture_text(f"firewall/{name}"))["tables"]


def nft(name: str) -> list[dict]:
    return _nftables.parse_json(fixture_text(f"firewall/{name}.json"), fixture_text(f"firewall/{name}.nft"))["tables"]


def by_check(result: dict) -> dict:
    return {check["check"]: check for check in result["checks"]}


def test_healthy_ruleset_passes_everything_that_matters():
    checks = by_check(_firewall_checks.run_all(side_with(nft("own_nft_ipsec")), PEER, LOCAL_NETS, REMOTE_NETS))
    assert checks["ike"]["status"] == "pass", checks["ike"]["summary"]
    assert checks["esp_in_udp"]["status"] == "pass"
    assert checks["nat_exemption"]["status"] == "pass"
    assert checks["route"]["status"] == "pass" and checks["rp_filter"]["status"] == "pass"
    # ESP with an SPI the ruleset singles out: unknown, naming that rule, not a guess.
    assert checks["esp"]["status"] == "unknown" and "esp spi 4096 drop" in checks["esp"]["summary"]


def test_firewalld_masquerade_is_named():
    check = _firewall_checks.check_nat_exemption(side_with(nft("firewalld_ruleset")), LOCAL_NETS, REMOTE_NETS, PEER)
    assert check["status"] == "fail"
    assert [ref["text"] for ref in check["blocking"]] == ['meta nfproto ipv4 oifname != "lo" masquerade'] * 2
    assert "before the IPsec policy lookup" in check["summary"]


def test_firewalld_forward_reject_is_named_on_the_inbound_side():
    check = _firewall_checks.check_forward(side_with(nft("firewalld_ruleset")), LOCAL_NETS, REMOTE_NETS, PEER)
    assert check["status"] == "fail"
    failing = [item for item in check["items"] if item["verdict"] != "accept"]
    assert [item["name"] for item in failing] == ["forward 10.2.0.0/24 -> 10.1.0.0/24 (decapsulated)"]
    assert check["blocking"][0]["chain"] == "filter_FWD_public"


def test_iptables_exemption_and_ike_drop():
    tables = iptables("mixed_legacy_drop_ike.txt")
    checks = by_check(_firewall_checks.run_all(side_with(tables), PEER, LOCAL_NETS, REMOTE_NETS, encap=False))
    assert checks["ike"]["status"] == "fail"
    assert checks["ike"]["blocking"][0]["text"] == "-A INPUT -p udp -m udp --dport 500 -j DROP"
    assert "esp_in_udp" not in checks


def test_route_missing_and_rp_filter_strict():
    side = side_with([])
    side["routes"]["lookups"][1] = {"purpose": "remote_subnet", "subnet": "10.2.0.0/24", "lookup": "10.2.0.1", "from": "10.1.0.1",
                                    "reachable": False, "error": "Network is unreachable"}
    route = _firewall_checks.check_route(side, REMOTE_NETS, PEER)
    assert route["status"] == "fail"
    assert route["blocking"][0]["text"] == "ip route get 10.2.0.1 from 10.1.0.1: Network is unreachable"
    assert _firewall_checks.check_rp_filter(side, REMOTE_NETS, PEER)["status"] == "fail"
    other = side_with([])
    other["routes"]["lookups"][1]["dev"] = "eth9"
    strict = _firewall_checks.check_rp_filter(other, REMOTE_NETS, PEER)
    assert strict["status"] == "fail" and "leaves via eth9, not wan0" in strict["blocking"][0]["text"]
    other["sysctl"]["effective_rp_filter"]["wan0"] = 2
    assert _firewall_checks.check_rp_filter(other, REMOTE_NETS, PEER)["status"] == "pass"


def test_missing_facts_skip_with_a_reason():
    bare = {"firewall": {"tables": []}}
    assert _firewall_checks.check_ike(bare, PEER)["status"] == "skip"
    assert "route lookup" in _firewall_checks.check_ike(bare, PEER)["summary"]
    assert _firewall_checks.check_route(bare, REMOTE_NETS)["status"] == "skip"
    assert _firewall_checks.check_rp_filter(bare, REMOTE_NETS, PEER)["status"] == "skip"
    assert _firewall_checks.check_forward(bare, [], REMOTE_NETS)["status"] == "skip"


@pytest.mark.parametrize("encap", [True, False])
def test_ike_with_explicit_local_address(encap):
    side = copy.deepcopy(side_with(iptables("own_iptables_ipsec.txt")))
    side["routes"]["lookups"] = []
    result = _firewall_checks.check_esp(side, PEER, local="203.0.113.1", wan_interface="wan0", encap=encap)
    assert result["status"] == "pass"
