# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The rule evaluator on real rulesets (ufw, docker-style, firewalld, nftables examples, our own)."""

from __future__ import annotations

import pytest

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _iptables, _nftables
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _firewall_eval
from ansible_collections.netdoctor.ipsec.tests.unit.cases import assert_subset, fixture_text, load_cases


def load_ruleset(spec: dict) -> list[dict]:
    """Tables from one or more fixtures: {iptables: path, family, backend} or {nft: path, listing: path}."""
    tables: list[dict] = []
    for part in spec if isinstance(spec, list) else [spec]:
        if "iptables" in part:
            text = part["iptables"] if "\n" in part["iptables"] else fixture_text(part["iptables"])
            tables += _iptables.parse_save(text, family=part.get("family", "ip"), backend=part.get("backend", "iptables-legacy"))["tables"]
        else:
            text = part["nft"] if part["nft"].lstrip().startswith("{") else fixture_text(part["nft"])
            listing = fixture_text(part["listing"]) if part.get("listing") else None
            tables += _nftables.parse_json(text, listing)["tables"]
    return tables


@pytest.mark.parametrize("case", load_cases(__file__))
def test_verdict(case):
    result = _firewall_eval.evaluate(load_ruleset(case["ruleset"]), case["packet"])
    assert_subset(result, case["expected"])
    if result["verdict"] == "unknown":
        assert result["because"], "an unknown verdict must say because of which rule"
        assert result["decided_by"] is None
    else:
        assert result["decided_by"] is not None


@pytest.mark.parametrize(
    "packet, message",
    [
        ({"src": "10.0.0.1"}, "path"),
        ({"path": "sideways"}, "path"),
        ({"path": "input", "src": "not-an-ip"}, "not an IP address"),
        ({"path": "input", "src": "10.0.0.1", "dst": "2001:db8::1"}, "different address families"),
        ({"path": "input", "ct_state": "half-open"}, "ct_state"),
        ({"path": "input", "sport": "five hundred"}, "not a number"),
    ],
)
def test_bad_packets_are_clear_errors(packet, message):
    with pytest.raises(ValueError, match=message):
        _firewall_eval.evaluate([], packet)


def test_bad_ruleset_is_a_clear_error():
    with pytest.raises(ValueError, match="tables"):
        _firewall_eval.evaluate({"nothing": 1}, {"path": "input"})


def test_jump_loop_is_unknown_not_a_crash():
    tables = load_ruleset({"iptables": "*filter\n:INPUT ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n-A INPUT -j A\n-A A -j B\n-A B -j A\nCOMMIT\n"})
    result = _firewall_eval.evaluate(tables, {"path": "input", "src": "10.0.0.1", "dst": "10.0.0.2", "proto": "udp"})
    assert result["verdict"] == "unknown"
    assert "loop" in result["because"][0]["reason"]


def test_many_unknown_rules_are_bounded():
    lines = ["*filter", ":INPUT ACCEPT [0:0]"]
    lines += [f"-A INPUT -m set --match-set s{i} src -j {'DROP' if i % 2 else 'ACCEPT'}" for i in range(40)]
    tables = load_ruleset({"iptables": "\n".join(lines + ["COMMIT", ""])})
    result = _firewall_eval.evaluate(tables, {"path": "input", "src": "10.0.0.1", "dst": "10.0.0.2", "proto": "udp"})
    assert result["verdict"] == "unknown"
    assert any("ipset s0" in b["reason"] for b in result["because"])
    assert len(result["outcomes"]) <= _firewall_eval.MAX_RUNS
