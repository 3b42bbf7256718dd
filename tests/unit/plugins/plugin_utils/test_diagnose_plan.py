# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The diagnose role's inventory model (tunnel_plan) and gathering targets (gather_targets), and trace parsing."""

from __future__ import annotations

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _inventory, _targets, _trace

GROUPS = {
    "all": ["a_left", "a_right", "b_left", "b_right", "solo", "x", "y"],
    "ungrouped": ["solo", "x", "y"],
    "lab_gateways": ["a_left", "a_right", "b_left", "b_right"],
    "tunnel_a": ["a_left", "a_right"],
    "tunnel_b": ["b_left", "b_right"],
}


def hostvars(groups=None, **extra):
    groups = groups or GROUPS
    base = {host: {"group_names": sorted(g for g, members in groups.items() if host in members and g not in ("all",))}
            for host in groups["all"]}
    for host, values in extra.items():
        base[host].update(values)
    return base


def test_groups_of_two_are_tunnels_first_host_is_side_a():
    plan = _inventory.plan(GROUPS["lab_gateways"], GROUPS, hostvars())
    assert plan["errors"] == {}
    assert plan["hosts"]["a_left"] == {"tunnel": "tunnel_a", "side": "a", "peer_host": "a_right", "one_sided": False, "peer_address": None}
    assert plan["hosts"]["b_right"]["side"] == "b" and plan["tunnels"]["tunnel_b"] == {"a": "b_left", "b": "b_right", "one_sided": False}


def test_a_parent_group_with_the_same_two_hosts_is_the_same_tunnel():
    groups = {"all": ["a_left", "a_right"], "lab_gateways": ["a_left", "a_right"], "tunnel_a": ["a_left", "a_right"]}
    plan = _inventory.plan(["a_left", "a_right"], groups, {h: {"group_names": ["lab_gateways", "tunnel_a"]} for h in groups["all"]})
    assert plan["errors"] == {} and set(plan["tunnels"]) == {"tunnel_a"}


def test_peer_host_and_one_sided_modes():
    variables = hostvars(x={"ipsec_peer_host": "y"}, y={"ipsec_peer_host": "x"}, solo={"ipsec_peer_address": "203.0.113.50"})
    plan = _inventory.plan(["x", "y", "solo"], GROUPS, variables)
    assert plan["hosts"]["x"]["tunnel"] == "x<->y" and plan["hosts"]["y"]["side"] == "b"
    assert plan["hosts"]["solo"] == {"tunnel": "solo", "side": "a", "peer_host": None, "one_sided": True, "peer_address": "203.0.113.50"}


def test_limit_to_one_gateway_falls_back_to_one_sided_or_explains():
    plan = _inventory.plan(["a_left"], GROUPS, hostvars(a_left={"ipsec_peer_address": "203.0.113.6"}))
    assert plan["hosts"]["a_left"]["one_sided"] and plan["hosts"]["a_left"]["tunnel"] == "tunnel_a"
    plan = _inventory.plan(["a_left"], GROUPS, hostvars())
    assert "a_right" in plan["errors"]["a_left"] and "ipsec_peer_address" in plan["errors"]["a_left"]


def test_hosts_without_a_peer_and_ambiguous_groups_are_errors():
    groups = dict(GROUPS, pair2=["a_left", "b_left"])
    plan = _inventory.plan(["solo", "a_left", "b_left"], groups, hostvars(groups))
    assert "has no peer" in plan["errors"]["solo"]
    assert "ipsec_tunnel_group" in plan["errors"]["a_left"]
    plan = _inventory.plan(["a_left", "a_right"], groups, hostvars(groups, a_left={"ipsec_tunnel_group": "tunnel_a"}))
    assert plan["hosts"]["a_left"]["tunnel"] == "tunnel_a"


def test_targets_from_the_inventory_or_the_configuration():
    ike = {"ike": {"connections": [
        {"name": "site", "remote_addrs": ["203.0.113.6"], "local_ts": ["10.1.1.7/24"], "remote_ts": ["10.1.2.0/24[tcp/80]"]},
        {"name": "other", "remote_addrs": ["%any"], "local_ts": ["10.9.0.0/16"], "remote_ts": ["10.8.0.0/16"]}],
        "sas": [{"name": "site", "remote_host": "203.0.113.6"}]}}
    found = _targets.targets(ike, peer_address="203.0.113.6")
    assert found == {"peer_addresses": ["203.0.113.6"], "local_subnets": ["10.1.1.0/24"], "remote_subnets": ["10.1.2.0/24"],
                     "connections": ["site"]}
    assert _targets.targets(ike, connection="other")["local_subnets"] == ["10.9.0.0/16"]
    assert _targets.targets(None, "198.51.100.9", local_subnets=["10.0.0.0/8"], remote_subnets=["172.16.0.0/12"]) == {
        "peer_addresses": ["198.51.100.9"], "local_subnets": ["10.0.0.0/8"], "remote_subnets": ["172.16.0.0/12"], "connections": []}


def test_trace_lines_group_per_packet():
    text = ("[  10.1] TRACE: raw:PREROUTING:rule:2 IN=wan0 OUT= MAC=aa SRC=10.1.1.1 DST=10.1.2.10 LEN=84 PROTO=ICMP ID=7\n"
            "noise\n"
            "[  10.1] TRACE: filter:FORWARD:rule:1 IN=wan0 OUT=lan0 SRC=10.1.1.1 DST=10.1.2.10 LEN=84 PROTO=ICMP ID=7\n"
            "[  10.2] TRACE: raw:OUTPUT:policy:3 IN= OUT=wan0 SRC=10.1.2.1 DST=10.1.1.10 LEN=84 PROTO=ICMP ID=9\n")
    packets = _trace.parse(text)
    assert [p["id"] for p in packets] == ["7", "9"]
    assert _trace.describe(packets[0]) == "10.1.1.1 -> 10.1.2.10 ICMP: raw:PREROUTING#2 > filter:FORWARD#1"
    assert packets[1]["steps"][0] == {"table": "raw", "chain": "OUTPUT", "kind": "policy", "number": 3, "in": None, "out": "wan0"}
