# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""firewall_info with replayed commands: all backends, both loaded, missing tools, no permission."""

from __future__ import annotations

import pytest
from ansible.module_utils import _internal as ansible_internal

from ansible_collections.netdoctor.ipsec.plugins.modules import firewall_info
from ansible_collections.netdoctor.ipsec.tests.unit.cases import fixture_text
from ansible_collections.netdoctor.ipsec.tests.unit.module_runner import run_module


@pytest.fixture(autouse=True)
def module_warnings_in_the_result(monkeypatch):
    # Controller-side tests in the same process flip this, and module warnings then go to the
    # display instead of the result.
    monkeypatch.setattr(ansible_internal, "is_controller", False)


SBIN = "/usr/sbin/"
PERMISSION = "iptables-legacy-save v1.8.9 (legacy): Could not fetch rule set generation id: Permission denied (you must be root)"


def call(argv, out="", rc=0, err=""):
    return {"command": [SBIN + argv[0]] + argv[1:], "rc": rc, "out": out, "err": err}


def firewall_calls(legacy="", legacy6="", nft_v4="", nft_v6="", nft_json='{"nftables": []}', nft_text=""):
    return [
        call(["iptables", "--version"], "iptables v1.8.9 (nf_tables)\n"),
        call(["iptables-legacy-save", "-c"], legacy),
        call(["ip6tables-legacy-save", "-c"], legacy6),
        call(["iptables-nft-save", "-c"], nft_v4),
        call(["ip6tables-nft-save", "-c"], nft_v6),
        call(["nft", "-j", "list", "ruleset"], nft_json),
        call(["nft", "-a", "list", "ruleset"], nft_text),
    ]


def host_calls():
    return [
        call(["ip", "-o", "link", "show"], fixture_text("hostfacts/ip_link.txt")),
        call(["ip", "-o", "addr", "show"], fixture_text("hostfacts/ip_addr.txt")),
    ]


def route_calls():
    return [
        call(["ip", "rule", "show"], fixture_text("hostfacts/ip_rule.txt")),
        call(["ip", "route", "show", "table", "220"], fixture_text("hostfacts/ip_route_table_220.txt")),
        call(["ip", "route", "get", "203.0.113.2"], fixture_text("hostfacts/route_get_peer.txt")),
        call(["ip", "route", "get", "10.2.0.1", "from", "10.1.0.1"], fixture_text("hostfacts/route_get_remote.txt")),
        call(["ip", "route", "get", "10.9.0.1", "from", "10.1.0.1"], rc=2, err="RTNETLINK answers: Network is unreachable\n"),
    ]


FILES = {
    "/proc/sys/net/ipv4/ip_forward": "1\n",
    "/proc/sys/net/core/xfrm_larval_drop": "1\n",
    "/proc/sys/net/ipv4/conf/all/rp_filter": "0\n",
    "/proc/sys/net/ipv4/conf/wan0/rp_filter": "1\n",
    "/proc/net/udp": fixture_text("hostfacts/proc_net_udp.txt"),
    "/proc/net/udp6": fixture_text("hostfacts/proc_net_udp6.txt"),
}

ARGS = {"peer_addresses": ["203.0.113.2"], "local_subnets": ["10.1.0.0/24"], "remote_subnets": ["10.2.0.0/24", "10.9.0.0/24"]}


def test_full_gather_with_both_backends_loaded(monkeypatch, capsys):
    monkeypatch.setattr(firewall_info, "read_file", FILES.get)
    calls = firewall_calls(
        legacy=fixture_text("firewall/mixed_legacy_drop_ike.txt"), nft_v4=fixture_text("firewall/ufw_nft_ipv4.txt"),
        nft_v6=fixture_text("firewall/ufw_nft_ipv6.txt"), nft_json=fixture_text("firewall/ufw_nft_ruleset.json"),
    )
    calls += host_calls() + route_calls()
    result = run_module(monkeypatch, capsys, firewall_info.main, ARGS, calls)
    fw = result["firewall"]
    assert result["changed"] is False and result["errors"] == []
    assert fw["iptables_command"] == "iptables-nft" and fw["iptables_version"] == "1.8.9"
    assert fw["both_loaded"] is True and fw["backend"] == "mixed"
    assert fw["active_backends"] == ["iptables-legacy", "iptables-nft"]
    assert fw["backends"]["iptables-legacy"] == {"available": True, "loaded": True, "tables": 1, "rules": 1}
    # The nf_tables copies of the iptables-nft tables are kept but marked, so nothing is evaluated twice.
    copies = [t for t in fw["tables"] if t["backend"] == "nftables"]
    assert copies and all(t["managed_by"] == "iptables-nft" and t["evaluate"] is False for t in copies)
    assert any("loaded at the same time" in str(w) for w in result["warnings"])
    assert result["sysctl"]["effective_rp_filter"]["wan0"] == 1 and result["sysctl"]["ip_forward"] == 1
    listeners = [(sock["address"], sock["port"]) for sock in result["listeners"]]
    assert listeners == [("0.0.0.0", 500), ("203.0.113.1", 4500), ("::", 500), ("2001:db8::1", 4500)]
    assert {i["name"]: i["mtu"] for i in result["interfaces"]}["wan0"] == 1400
    routes = result["routes"]
    assert routes["local_inner_address"] == "10.1.0.1"
    assert routes["tables"]["220"][0]["dst"] == "10.2.0.0/24"
    lookups = {(l["purpose"], l.get("subnet")): l for l in routes["lookups"]}
    assert lookups[("peer", None)]["dev"] == "wan0" and lookups[("peer", None)]["reachable"] is True
    assert lookups[("remote_subnet", "10.2.0.0/24")]["table"] == "220"
    expected = {"lookup": "10.9.0.1", "from": "10.1.0.1", "reachable": False, "error": "Network is unreachable",
                "purpose": "remote_subnet", "subnet": "10.9.0.0/24"}
    assert lookups[("remote_subnet", "10.9.0.0/24")] == expected


def test_no_permission_and_missing_tools_are_errors_not_failures(monkeypatch, capsys):
    monkeypatch.setattr(firewall_info, "read_file", FILES.get)
    binaries = {"iptables": None, "iptables-nft-save": None, "ip6tables-nft-save": None, "iptables-save": None, "ip6tables-save": None}
    calls = [
        call(["iptables-legacy-save", "-c"], rc=1, err=PERMISSION),
        call(["ip6tables-legacy-save", "-c"], rc=1, err=PERMISSION.replace("iptables", "ip6tables")),
        call(["nft", "-j", "list", "ruleset"], rc=1, err="Error: Operation not permitted (you must be root)\n"),
    ] + host_calls()
    result = run_module(monkeypatch, capsys, firewall_info.main, {"gather": ["rules", "interfaces"]}, calls, binaries)
    fw = result["firewall"]
    assert fw["iptables_command"] is None and fw["backend"] is None and fw["tables"] == []
    assert fw["backends"]["iptables-nft"]["available"] is False
    assert [(e["source"], e["kind"]) for e in result["errors"]] == [
        ("iptables-legacy-save -c", "permission"), ("ip6tables-legacy-save -c", "permission"), ("nft -j list ruleset", "permission")]
    assert "Permission denied" in result["errors"][0]["message"]
    assert result["interfaces"], "the rest of the gathering still runs"


def test_no_tools_at_all(monkeypatch, capsys):
    names = ["iptables", "iptables-legacy-save", "ip6tables-legacy-save", "iptables-nft-save", "ip6tables-nft-save",
             "iptables-save", "ip6tables-save", "nft", "ip"]
    result = run_module(monkeypatch, capsys, firewall_info.main, dict(ARGS, gather=["rules", "routes"]), [], {n: None for n in names})
    assert result["firewall"]["tables"] == [] and result["firewall"]["backends"]["nftables"]["available"] is False
    assert all(e["kind"] == "missing" for e in result["errors"])
    assert {l["lookup"]: l["reachable"] for l in result["routes"]["lookups"]} == {"203.0.113.2": None, "10.2.0.1": None, "10.9.0.1": None}


def test_bad_subnet_is_a_clear_failure(monkeypatch, capsys):
    result = run_module(monkeypatch, capsys, firewall_info.main, {"remote_subnets": ["10.2.0.0/33"]}, [])
    assert result["failed"] is True and "remote_subnets" in result["msg"]


def test_old_iptables_without_variant_names_is_legacy(monkeypatch, capsys):
    binaries = {"iptables-legacy-save": None, "ip6tables-legacy-save": None, "iptables-nft-save": None, "ip6tables-nft-save": None, "nft": None}
    calls = [
        call(["iptables", "--version"], "iptables v1.4.21\n"),
        call(["iptables-save", "-c"], fixture_text("firewall/own_iptables_ipsec.txt")),
        call(["ip6tables-save", "-c"], ""),
    ]
    result = run_module(monkeypatch, capsys, firewall_info.main, {"gather": ["rules"]}, calls, binaries)
    fw = result["firewall"]
    assert fw["iptables_command"] == "iptables-legacy" and fw["backend"] == "iptables-legacy"
    assert {t["name"] for t in fw["tables"]} == {"mangle", "nat", "filter"}


def test_lost_command_output_is_an_error_not_an_empty_answer(monkeypatch, capsys):
    """On the UML lab, AnsibleModule.run_command sometimes returned rc 0 and no output (gateways a_right:
    nft -j, a_left: ip route get). Neither may read as "no nftables rules" or "route exists"."""
    monkeypatch.setattr(firewall_info, "read_file", FILES.get)
    calls = firewall_calls(legacy=fixture_text("firewall/lab_exempted_masquerade_legacy.txt"), nft_json="")
    calls.remove(call(["nft", "-a", "list", "ruleset"], ""))
    calls += host_calls() + [
        call(["ip", "rule", "show"], fixture_text("hostfacts/ip_rule.txt")),
        call(["ip", "route", "show", "table", "220"], fixture_text("hostfacts/ip_route_table_220.txt")),
        call(["ip", "route", "get", "203.0.113.2"], fixture_text("hostfacts/route_get_peer.txt")),
        call(["ip", "route", "get", "10.2.0.1", "from", "10.1.0.1"], ""),
    ]
    args = dict(ARGS, remote_subnets=["10.2.0.0/24"])
    result = run_module(monkeypatch, capsys, firewall_info.main, args, calls)
    assert [(e["source"], e["kind"]) for e in result["errors"]] == [
        ("nft -j list ruleset", "failed"), ("ip route get 10.2.0.1 from 10.1.0.1", "failed")]
    assert "printed no JSON" in result["errors"][0]["message"] and "printed no route" in result["errors"][1]["message"]
    assert result["firewall"]["backend"] == "iptables-legacy"  # what was read is still there
    remote = [l for l in result["routes"]["lookups"] if l["purpose"] == "remote_subnet"][0]
    assert remote["reachable"] is None and "printed no route" in remote["error"]


def test_empty_nftables_ruleset_needs_no_text_listing(monkeypatch, capsys):
    """nft -j on a lab gateway without nftables tables (recorded on the UML lab): no second nft run."""
    empty = '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}]}\n'
    calls = firewall_calls(legacy=fixture_text("firewall/lab_exempted_masquerade_legacy.txt"), nft_json=empty)
    calls.remove(call(["nft", "-a", "list", "ruleset"], ""))
    result = run_module(monkeypatch, capsys, firewall_info.main, {"gather": ["rules"]}, calls)
    fw = result["firewall"]
    assert result["errors"] == [] and fw["backend"] == "iptables-legacy"
    assert fw["backends"]["nftables"] == {"available": True, "loaded": False, "tables": 0, "rules": 0, "version": "1.0.6"}
