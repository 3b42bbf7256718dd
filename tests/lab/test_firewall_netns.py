# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The evaluator against the real kernel: rulesets loaded in throwaway network namespaces.

Topology (all inside namespaces; nothing touches the root namespace's firewall):
``ndfw-lan`` 10.1.0.5 -- lan0 10.1.0.1 [``ndfw-gw``] wan0 203.0.113.1 -- 203.0.113.2 ``ndfw-peer`` (10.2.0.5 on lo).

For each ruleset (iptables-legacy, iptables-nft, nftables, both at once, and the ufw, docker-style
and firewalld rulesets recorded as fixtures) the test gathers the ruleset with the firewall_info
backend, asks the evaluator for each probe, sends the real packet, gathers again and checks that
the counter of the rule (or chain policy) the evaluator named went up, and that the packet
arrived exactly when the verdict is accept. The host kernel has no ESP, so the policy-match
cases with real SAs are in tests/lab (UML); here ``ipsec_in/out`` is false, as for the packets sent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import typing as t

import pytest

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _command, _firewall
from ansible_collections.netdoctor.ipsec.plugins.modules import firewall_info
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _firewall_checks, _firewall_eval
from ansible_collections.netdoctor.ipsec.tests.unit.cases import fixture_text

GW, PEER, LAN = "ndfw-gw", "ndfw-peer", "ndfw-lan"
pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip"), reason="needs root and iproute2 (network namespaces)")

SENDER = r"""
import socket, struct, sys, json
kind, src, dst, sport, dport = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
if kind == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, sport)); s.sendto(b"netdoctor-probe", (dst, dport))
elif kind == "tcp":
    s = socket.socket(); s.settimeout(0.5); s.bind((src, sport))
    try: s.connect((dst, dport))
    except OSError: pass
elif kind == "esp":
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 50); s.bind((src, 0))
    s.sendto(struct.pack("!II", sport, 1) + b"\0" * 32, (dst, 0))
"""

RECEIVER = r"""
import socket, sys, json, select
kind, port = sys.argv[1], int(sys.argv[2])
if kind == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", port))
elif kind == "tcp":
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", port)); s.listen(1)
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 50)
print("ready", flush=True)
ready, _, _ = select.select([s], [], [], 2.0)
if not ready:
    print(json.dumps(None)); sys.exit(0)
if kind == "tcp":
    conn, addr = s.accept(); print(json.dumps(addr[0]))
else:
    data, addr = s.recvfrom(2048); print(json.dumps(addr[0]))
"""


def sh(*argv: str, check: bool = True, data: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), input=data, capture_output=True, text=True, check=check, timeout=60)


def nsexec(ns: str, *argv: str, check: bool = True, data: str | None = None) -> subprocess.CompletedProcess:
    return sh("ip", "netns", "exec", ns, *argv, check=check, data=data)


class NetnsModule:
    """Just enough of AnsibleModule for CommandRunner, running every command inside one namespace."""

    def __init__(self, ns: str) -> None:
        self.ns = ns

    def get_bin_path(self, tool: str, required: bool = False, opt_dirs: t.Any = None) -> str | None:
        return shutil.which(tool, path=os.pathsep.join([os.environ.get("PATH", "")] + _command.SBIN_DIRS))

    def run_command(self, argv: list[str], data: t.Any = None, environ_update: t.Any = None) -> tuple[int, str, str]:
        done = nsexec(self.ns, *argv, check=False, data=data)
        return done.returncode, done.stdout, done.stderr


def gather(ns: str = GW, peer: str = "203.0.113.2") -> dict:
    """The side record, as firewall_info builds it, read inside the namespace."""
    runner = _command.CommandRunner(NetnsModule(ns))
    gatherer = _firewall.FirewallGatherer(runner)
    side: dict[str, t.Any] = {"firewall": gatherer.gather(), "errors": gatherer.errors}
    errors: list = []
    side["addresses"] = firewall_info._hostfacts.parse_ip_addr(runner.run("ip", ["-o", "addr", "show"])[1])
    params = {"peer_addresses": [peer], "remote_subnets": ["10.2.0.0/24"], "local_subnets": ["10.1.0.0/24"], "local_inner_address": None}
    side["routes"] = firewall_info.gather_routes(runner, params, side["addresses"], errors)
    side["sysctl"] = {"effective_rp_filter": {"wan0": int(nsexec(ns, "sysctl", "-n", "net.ipv4.conf.wan0.rp_filter").stdout.strip() or 0)}}
    assert not side["errors"], side["errors"]
    return side


def counter_of(side: dict, ref: dict) -> int | None:
    """Current packet counter of the rule or policy ``ref`` in a fresh gather."""
    for table in side["firewall"]["tables"]:
        if (table["backend"], table["family"], table["name"]) != (ref["backend"], ref["family"], ref["table"]):
            continue
        for chain in table["chains"]:
            if chain["name"] != ref["chain"]:
                continue
            if ref["kind"] == "policy":
                return (chain.get("counters") or {}).get("packets")
            for rule in chain["rules"]:
                if rule["index"] == ref["index"]:
                    return (rule.get("counters") or {}).get("packets")
    return None


@pytest.fixture(scope="module")
def topology():
    for ns in (GW, PEER, LAN):
        sh("ip", "netns", "del", ns, check=False)
        sh("ip", "netns", "add", ns)
        nsexec(ns, "ip", "link", "set", "lo", "up")
    try:
        sh("ip", "link", "add", "ndfw-w", "netns", GW, "type", "veth", "peer", "name", "ndfw-p", "netns", PEER)
        sh("ip", "link", "add", "ndfw-l", "netns", GW, "type", "veth", "peer", "name", "ndfw-h", "netns", LAN)
        nsexec(GW, "ip", "link", "set", "ndfw-w", "name", "wan0")
        nsexec(GW, "ip", "link", "set", "ndfw-l", "name", "lan0")
        for ns, dev, addr in ((GW, "wan0", "203.0.113.1/24"), (GW, "lan0", "10.1.0.1/24"), (PEER, "ndfw-p", "203.0.113.2/24"),
                              (LAN, "ndfw-h", "10.1.0.5/24")):
            nsexec(ns, "ip", "addr", "add", addr, "dev", dev)
            nsexec(ns, "ip", "link", "set", dev, "up")
        nsexec(PEER, "ip", "addr", "add", "10.2.0.5/32", "dev", "lo")
        nsexec(PEER, "ip", "route", "add", "10.1.0.0/24", "via", "203.0.113.1")
        nsexec(LAN, "ip", "route", "add", "default", "via", "10.1.0.1")
        nsexec(GW, "ip", "route", "add", "10.2.0.0/24", "via", "203.0.113.2")
        nsexec(GW, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        yield
    finally:
        for ns in (GW, PEER, LAN):
            for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
                sh("kill", pid, check=False)
            sh("ip", "netns", "del", ns, check=False)


def reset_firewall() -> None:
    nsexec(GW, "nft", "flush", "ruleset")
    for tool in ("iptables-legacy", "iptables-nft"):
        for table in ("filter", "nat", "mangle", "raw"):
            nsexec(GW, tool, "-t", table, "-F", check=False)
            nsexec(GW, tool, "-t", table, "-X", check=False)
            for chain in ("INPUT", "FORWARD", "OUTPUT"):
                nsexec(GW, tool, "-t", table, "-P", chain, "ACCEPT", check=False)
    nsexec(GW, "nft", "flush", "ruleset")


def send_and_observe(probe: dict) -> t.Any:
    """Send the probe's real packet; return the source address the receiver saw, or None."""
    kind, src_ns, dst_ns = probe["send"], probe["from_ns"], probe["to_ns"]
    port = probe.get("dport", 0)
    receiver = subprocess.Popen(["ip", "netns", "exec", dst_ns, "python3", "-c", RECEIVER, kind, str(port)],
                                stdout=subprocess.PIPE, text=True)
    try:
        assert receiver.stdout.readline().strip() == "ready"
        nsexec(src_ns, "python3", "-c", SENDER, kind, probe["src"], probe["dst"], str(probe.get("sport", probe.get("esp_spi", 0))), str(port))
        out, _err = receiver.communicate(timeout=10)
    finally:
        if receiver.poll() is None:
            receiver.kill()
            receiver.wait()
    return json.loads(out.strip().splitlines()[-1])


PEER_IN = {"from_ns": PEER, "to_ns": GW, "path": "input", "src": "203.0.113.2", "dst": "203.0.113.1", "in_interface": "wan0", "ct_state": "new"}
LAN_OUT = {"from_ns": LAN, "to_ns": PEER, "path": "forward", "src": "10.1.0.5", "dst": "10.2.0.5", "in_interface": "lan0",
           "out_interface": "wan0", "ct_state": "new", "ipsec_out": False}


def probe(base: dict, send: str, **extra: t.Any) -> dict:
    packet = dict(base, send=send, proto=send, **extra)
    return packet


OWN_IPTABLES = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -s 10.1.0.0/24 -d 10.2.0.0/24 -m policy --dir out --pol ipsec -j ACCEPT
-A POSTROUTING -s 10.1.0.0/24 -o wan0 -j MASQUERADE
COMMIT
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:from_peer - [0:0]
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -s 203.0.113.2/32 -i wan0 -j from_peer
-A from_peer -p udp -m udp --dport 500 -j DROP
-A from_peer -p udp -m multiport --dports 4500,7000 -j ACCEPT
-A from_peer -p esp -j ACCEPT
-A from_peer -j RETURN
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -i lan0 -o wan0 -p icmp -j DROP
-A FORWARD -s 10.1.0.0/24 -i lan0 -o wan0 -j ACCEPT
COMMIT
"""

OWN_NFT = fixture_text("firewall/own_nft_ipsec.nft")
LEGACY_DROP = fixture_text("firewall/mixed_legacy_drop_ike.txt")

SCENARIOS = {
    "iptables-legacy": ([("iptables-legacy", OWN_IPTABLES)], [
        probe(PEER_IN, "udp", sport=500, dport=500),
        probe(PEER_IN, "udp", sport=4500, dport=4500),
        probe(PEER_IN, "udp", sport=9, dport=9),
        probe(PEER_IN, "esp", esp_spi=0x1000),
        probe(LAN_OUT, "udp", sport=7000, dport=7000),
    ]),
    "iptables-nft": ([("iptables-nft", OWN_IPTABLES)], [
        probe(PEER_IN, "udp", sport=500, dport=500),
        probe(PEER_IN, "udp", sport=4500, dport=4500),
        probe(LAN_OUT, "udp", sport=7001, dport=7001),
        probe(LAN_OUT, "tcp", sport=40000, dport=7002),
    ]),
    "nftables": ([("nft", OWN_NFT)], [
        probe(PEER_IN, "udp", sport=500, dport=500),
        probe(PEER_IN, "udp", sport=9, dport=9),
        probe(PEER_IN, "esp", esp_spi=4096),
        probe(PEER_IN, "esp", esp_spi=4097),
        probe(LAN_OUT, "udp", sport=7003, dport=7003),
    ]),
    "both-loaded": ([("nft", OWN_NFT), ("iptables-legacy", LEGACY_DROP)], [
        probe(PEER_IN, "udp", sport=500, dport=500),
        probe(PEER_IN, "udp", sport=4500, dport=4500),
    ]),
    "ufw": ([("iptables-legacy", fixture_text("firewall/ufw_legacy_ipv4.txt"))], [
        probe(PEER_IN, "udp", sport=500, dport=500),
        probe(PEER_IN, "tcp", sport=40001, dport=23),
        probe(PEER_IN, "esp", esp_spi=0x2000),
        probe(LAN_OUT, "udp", sport=7004, dport=7004),
    ]),
    "docker-style": ([("iptables-nft", fixture_text("firewall/docker_nft_ipv4.txt"))], [
        probe(LAN_OUT, "udp", sport=7005, dport=7005),
        probe(PEER_IN, "udp", sport=500, dport=500),
    ]),
    "firewalld": ([("nft", fixture_text("firewall/firewalld_ruleset.nft"))], [
        probe(PEER_IN, "udp", sport=500, dport=500),
        probe(PEER_IN, "tcp", sport=40002, dport=23),
        probe(LAN_OUT, "udp", sport=7006, dport=7006),
    ]),
}


def load_scenario(parts: list[tuple[str, str]]) -> None:
    reset_firewall()
    tools = {"iptables-legacy": ["iptables-legacy-restore"], "iptables-nft": ["iptables-nft-restore"], "nft": ["nft", "-f", "-"]}
    for kind, text in parts:
        nsexec(GW, *tools[kind], data=text)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_named_rule_counts_the_real_packet(topology, name):
    parts, probes = SCENARIOS[name]
    load_scenario(parts)
    if name == "both-loaded":
        side = gather()
        assert side["firewall"]["both_loaded"] is True
    for item in probes:
        packet = {key: value for key, value in item.items() if key not in ("send", "from_ns", "to_ns")}
        before = gather()
        verdict = _firewall_eval.evaluate(before, packet)
        assert verdict["verdict"] in ("accept", "drop", "reject"), (name, packet, verdict["because"])
        ref = verdict["decided_by"]
        count_before = counter_of(before, ref)
        seen = send_and_observe(item)
        after = gather()
        count_after = counter_of(after, ref)
        where = f"{name}: {packet} -> {verdict['verdict']} by {ref['text']}"
        assert (seen is not None) == (verdict["verdict"] == "accept"), f"{where}; the kernel {'delivered' if seen else 'dropped'} it"
        if count_before is not None:
            assert count_after > count_before, f"{where}; counter stayed at {count_before}"
        print(f"{where}; counter {count_before} -> {count_after}; received from {seen}")
        masquerading = [nat for nat in verdict["nat"] if nat["type"] == "masquerade"]
        if seen is not None and masquerading:
            assert seen == "203.0.113.1", f"{where}: masqueraded by {masquerading[0]['rule']['text']} but seen from {seen}"
        elif seen is not None:
            assert seen == packet["src"], f"{where}: no NAT expected, seen from {seen}"


def test_checks_name_the_breaking_rules(topology):
    """The checklist checks on a gathered side: IKE 500 dropped by the exact rule, MASQUERADE named."""
    load_scenario([("iptables-legacy", OWN_IPTABLES)])
    side = gather()
    result = _firewall_checks.run_all(side, "203.0.113.2", ["10.1.0.0/24"], ["10.2.0.0/24"])
    by_name = {check["check"]: check for check in result["checks"]}
    assert by_name["ike"]["status"] == "fail"
    assert [ref["text"] for ref in by_name["ike"]["blocking"]] == ["-A from_peer -p udp -m udp --dport 500 -j DROP"]
    assert by_name["esp"]["status"] == "pass"
    assert by_name["route"]["status"] == "pass"
    # ICMP probes of the tunnel are dropped in FORWARD by rule 2 (both directions: the policy drops the inbound one).
    assert by_name["forward"]["status"] == "fail"
    assert "-A FORWARD -i lan0 -o wan0 -p icmp -j DROP" in [ref.get("text") for ref in by_name["forward"]["blocking"]]
    # The exemption comes before MASQUERADE, so the tunnel traffic is not rewritten.
    assert by_name["nat_exemption"]["status"] == "pass"
    nsexec(GW, "ip", "route", "del", "10.2.0.0/24")
    try:
        broken = _firewall_checks.check_route(gather(), ["10.2.0.0/24"], "203.0.113.2")
    finally:
        nsexec(GW, "ip", "route", "add", "10.2.0.0/24", "via", "203.0.113.2")
    assert broken["status"] == "fail"
    assert "Network is unreachable" in broken["blocking"][0]["text"]


def test_no_permission_is_a_clear_error(topology):
    """As an unprivileged user the gatherer reports permission errors instead of failing."""
    nobody = shutil.which("setpriv")
    if not nobody:
        pytest.skip("setpriv not installed")

    class Unprivileged(NetnsModule):
        def run_command(self, argv, data=None, environ_update=None):
            done = nsexec(self.ns, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv, check=False)
            return done.returncode, done.stdout, done.stderr

    gatherer = _firewall.FirewallGatherer(_command.CommandRunner(Unprivileged(GW)))
    result = gatherer.gather()
    kinds = {error["kind"] for error in gatherer.errors}
    assert "permission" in kinds, gatherer.errors
    assert result["tables"] == []
