# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""firewall_info and the firewall checks on the real lab: UML kernel, real SAs, iptables-legacy.

The tunnels (LAB_TUNNELS, in the shared ``lab_session`` of conftest.py, one boot for every lab
test module selected): a healthy one, one through NAT (NAT-T), one per firewall fault of the
catalogue (fw-ike, fw-esp, forward-drop, masquerade, no-route, each on a known side) and one
healthy tunnel on which the tests themselves build a MASQUERADE with and without an IPsec policy
exemption, and a FORWARD DROP with ``-m policy`` exceptions. The real ``netdoctor.ipsec.firewall_info``
module runs on the gateways through ``ansible-playbook`` over SSH (pipelining, check mode), with
the lab inventory's variables; the checks and the evaluator run on the controller through the
``firewall_verdict`` filter.

What is shown, against the truth the lab records (``lab/faults.yml``, inventory ``lab_fault*``):
- on the fault side the check of the fault's finding fails and names exactly the rule the lab put
  there (or the deleted route), with its counter; on the peer side that check passes; every other
  failing check is an expected consequence listed in CONSEQUENCES; healthy and NAT-T tunnels pass;
- sending the packet through the lab (ping through the tunnel, IKE re-initiation) raises the
  counter of the rule the evaluator named;
- ``-m policy --dir out --pol ipsec`` before a MASQUERADE, on real SAs: with the exemption the NAT
  check passes, the exemption's counter counts the tunnel traffic and ping works; without it the
  check names the MASQUERADE, whose counter goes up while the ping leaves in clear and fails;
- ``-m policy --dir in|out --pol ipsec`` in a FORWARD DROP chain: the evaluator names them and
  their counters count the ping.

Run: ``. tools/env.sh && cd $ND_COLLECTION && python -m pytest -q -s tests/lab/test_firewall_lab.py``
(as root; lab folder $ND_LAB_DIR, default .lab-test, slot $ND_LAB_SLOT, default the first free one).
"""

from __future__ import annotations

import json
import shlex
import shutil
import tempfile
import time
import typing as t
from pathlib import Path

import pytest

from ansible_collections.netdoctor.ipsec.plugins.filter.firewall_verdict import firewall_verdict

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "tests/lab/playbooks/firewall_info.yml"

# short name -> tunnel spec; in the session lab each is the tunnel "fw_<short name>"
TUNNELS: dict[str, dict[str, t.Any]] = {
    "healthy": {},
    "nat-t": {"fault": "nat-t"},
    "fw-ike": {"fault": "fw-ike", "fault_side": "right"},
    "fw-esp": {"fault": "fw-esp", "fault_side": "left"},
    "forward-drop": {"fault": "forward-drop", "fault_side": "right"},
    "masquerade": {"fault": "masquerade", "fault_side": "left"},
    "no-route": {"fault": "no-route", "fault_side": "right", "right": "libreswan"},
    "exemption": {},
}
LAB_TUNNELS = {"fw_" + name.replace("-", "_"): spec for name, spec in TUNNELS.items()}
HEALTHY = ("healthy", "nat-t")
FIREWALL_FAULTS = ("fw-ike", "fw-esp", "forward-drop", "masquerade", "no-route")

# The check that must name the fault, per the catalogue's finding.
CHECK_OF_FINDING = {"P1.FW_IKE": "ike", "P2.FW_ESP": "esp", "P2.FORWARD": "forward", "P2.NAT_EXEMPT": "nat_exemption",
                    "P2.ROUTE": "route"}
# Checks that also fail, and why (each a true statement about the broken gateway, not noise).
CONSEQUENCES: dict[str, dict[str, set[str]]] = {
    # the same DROP rule covers udp/4500, so ESP in UDP cannot get in either; with no CHILD SA,
    # strongSwan has no route to the remote subnet in table 220 on either side
    "fw-ike": {"fault": {"esp_in_udp", "route"}, "peer": {"route"}},
}
# ... each only while the lab observes the state that explains it
CONSEQUENCE_NEEDS = {"route": lambda observed: observed["child_sa"]["left"] == observed["child_sa"]["right"] == "down"}

pytestmark = pytest.mark.skipif(shutil.which("ansible-playbook") is None, reason="ansible-playbook not on PATH (. tools/env.sh)")


# ---- the lab ------------------------------------------------------------------------------------


class FirewallLab:
    """This module's tunnels of the session lab, and the Ansible runs against them."""

    def __init__(self, session: t.Any) -> None:
        self.session = session
        self.tunnels = {name: session.tunnel("fw_" + name.replace("-", "_")) for name in TUNNELS}
        self.hostvars: dict[str, dict] = {}
        for tunnel in self.tunnels.values():
            self.hostvars.update(tunnel.hostvars)
        self.tmp = Path(tempfile.mkdtemp(prefix="fwlab-", dir=session.cfg.lab_dir))
        self.gathers: list[dict] = []

    def host(self, name: str, side: str) -> str:
        return f"{self.tunnels[name].letter}_{side}"

    def fault_side(self, name: str) -> str:
        return self.tunnels[name].fault_side

    def observed(self, name: str) -> dict:
        return self.tunnels[name].observed

    def vars(self, host: str) -> dict:
        return self.hostvars[host]

    def gather(self, hosts: list[str]) -> dict[str, dict]:
        """Run firewall_info through ansible-playbook on ``hosts``; {host: module result}."""
        out = self.tmp / f"gather-{len(self.gathers)}.json"
        started = time.monotonic()
        done = self.session.playbook(PLAYBOOK, ",".join(hosts), "-e", json.dumps({"out_file": str(out)}), timeout=900)
        took = time.monotonic() - started
        assert done.returncode == 0, f"ansible-playbook failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}"
        results = json.loads(out.read_text())
        assert sorted(results) == sorted(hosts)
        self.gathers.append({"hosts": len(hosts), "seconds": round(took, 1)})
        return results

    def exec(self, target: str, argv: list[str], timeout: float = 60) -> t.Any:
        return self.session.exec(target, argv, timeout=timeout)

    def ping(self, name: str, src_side: str, dst_side: str, count: int = 3) -> int:
        """Echo replies received by src's inner host from dst's inner host, through the tunnel."""
        src = self.vars(self.host(name, src_side))
        target = self.vars(self.host(name, dst_side))["lab_inner_host_address"]
        res = self.exec(src["lab_inner_host"], ["ping", "-n", "-q", "-c", str(count), "-i", "0.2", "-w", "4", target])
        for word_index, word in enumerate(res.out.split()):
            if word.startswith("received"):
                return int(res.out.split()[word_index - 1])
        return 0

    def wan_counter(self, name: str, comment: str) -> int:
        """Packets the tunnel's WAN router counted under ``comment`` (esp_/ike_/clear_<from>_to_<to>)."""
        from lab import observe

        res = self.exec(f"{self.tunnels[name].letter}_wan", ["iptables-legacy-save", "-c", "-t", "mangle"])
        return observe.parse_counters(res.out).get(comment, 0)

    def checks(self, result: dict, host: str) -> dict:
        """All checklist checks of one side, through the firewall_verdict filter as a playbook would."""
        hv = self.vars(host)
        return firewall_verdict(result, check="all", peer=hv["ipsec_peer_address"], local_subnets=hv["ipsec_local_subnets"],
                                remote_subnets=hv["ipsec_remote_subnets"])


@pytest.fixture(scope="module")
def fwlab(lab_session: t.Any) -> t.Iterator[FirewallLab]:
    fw = FirewallLab(lab_session)
    try:
        yield fw
    finally:
        shutil.rmtree(fw.tmp, ignore_errors=True)
        print(f"\nfirewall lab: lab up in {lab_session.state.get('up_seconds')}s; firewall_info runs "
              f"(hosts, seconds): {[(g['hosts'], g['seconds']) for g in fw.gathers]}")


@pytest.fixture(scope="module")
def gathered(fwlab: FirewallLab) -> dict[str, dict]:
    """firewall_info of both gateways of every tunnel but the one the tests change, once."""
    return fwlab.gather([fwlab.host(name, side) for name in TUNNELS if name != "exemption" for side in ("left", "right")])


# ---- helpers ------------------------------------------------------------------------------------


def fault_rule(name: str) -> dict:
    """What the lab put on the fault side, from the catalogue: the rule as iptables-save prints it,
    or the policy (``-P``), or the route (``route: delete``)."""
    from lab import faults

    fault = faults.get(name)
    if fault.kind == "route":
        return {"kind": "route"}
    (rule,) = fault.apply["firewall"]
    words = shlex.split(rule.format(wan="wan0"))
    table = "filter"
    if words[0] == "-t":
        table, words = words[1], words[2:]
    if words[0] == "-P":
        return {"kind": "policy", "table": table, "chain": words[1], "policy": words[2].lower()}
    return {"kind": "rule", "table": table, "chain": words[1], "text": " ".join(words)}


def by_name(checks: dict) -> dict[str, dict]:
    return {check["check"]: check for check in checks["checks"]}


def failing(checks: dict) -> set[str]:
    return {check["check"] for check in checks["checks"] if check["status"] == "fail"}


def same_rule(ref: dict, want: dict) -> bool:
    if ref.get("kind") != want["kind"]:
        return False
    if want["kind"] == "route":
        return True
    if (ref.get("backend"), ref.get("family"), ref.get("table"), ref.get("chain")) != ("iptables-legacy", "ip", want["table"], want["chain"]):
        return False
    if want["kind"] == "policy":
        return ref.get("policy") == want["policy"]
    return ref.get("text") == want["text"]


def counter(result: dict, ref: dict) -> int | None:
    """Packet counter, in a (later) firewall_info result, of the rule or policy ``ref`` names."""
    for table in result["firewall"]["tables"]:
        if (table["backend"], table["family"], table["name"]) != (ref["backend"], ref["family"], ref["table"]):
            continue
        for chain in table["chains"]:
            if chain["name"] != ref["chain"]:
                continue
            if ref["kind"] == "policy":
                return (chain.get("counters") or {}).get("packets")
            for rule in chain["rules"]:
                if rule["index"] == ref["index"] and rule["text"] == ref["text"]:
                    return (rule.get("counters") or {}).get("packets")
    return None


def describe(checks: dict) -> str:
    return "\n".join(f"  {c['check']}: {c['status']}: {c['summary']}" for c in checks["checks"])


# ---- the module on the real gateways ---------------------------------------------------------------


def test_module_reads_every_gateway(fwlab: FirewallLab, gathered: dict[str, dict]) -> None:
    for host, result in gathered.items():
        hv = fwlab.vars(host)
        assert result["changed"] is False
        assert result["errors"] == [], (host, result["errors"])
        fw = result["firewall"]
        assert fw["both_loaded"] is False
        # the lab's firewall faults are iptables-legacy rules; the healthy gateways have none
        has_rules = hv["lab_fault_here"] and hv["lab_fault"] in ("fw-ike", "fw-esp", "forward-drop", "masquerade")
        assert fw["backend"] == ("iptables-legacy" if has_rules else None), (host, fw["backend"], fw["backends"])
        # route lookups answered by the gateway's kernel: toward the peer always via wan0
        peer = next(entry for entry in result["routes"]["lookups"] if entry["purpose"] == "peer")
        assert peer["reachable"] is True and peer["dev"] == "wan0", (host, peer)
        assert result["routes"]["local_inner_address"] == hv["ipsec_inside_address"]
        # the IKE daemon listens on 500 and 4500 (charon and pluto alike)
        ports = {listener["port"] for listener in result["listeners"]}
        assert {500, 4500} <= ports, (host, result["listeners"])
        assert result["sysctl"]["ip_forward"] == 1


def test_strongswan_routes_in_table_220(fwlab: FirewallLab, gathered: dict[str, dict]) -> None:
    host = fwlab.host("healthy", "left")
    routes = gathered[host]["routes"]
    lookup = next(entry for entry in routes["lookups"] if entry["purpose"] == "remote_subnet")
    assert lookup["reachable"] is True and lookup["table"] == "220" and lookup["dev"] == "wan0", lookup
    assert lookup["from"] == fwlab.vars(host)["ipsec_inside_address"]
    assert any(rule.get("table") == "220" for rule in routes["rules"]), routes["rules"]
    assert any(route["dst"] == fwlab.vars(host)["ipsec_remote_subnets"][0] for route in routes["tables"]["220"])


# ---- the checks: the exact rule, on the right side ------------------------------------------------


@pytest.mark.parametrize("name", HEALTHY)
def test_healthy_tunnel_passes_every_check(fwlab: FirewallLab, gathered: dict[str, dict], name: str) -> None:
    for side in ("left", "right"):
        host = fwlab.host(name, side)
        checks = fwlab.checks(gathered[host], host)
        assert checks["status"] == "pass", f"{host}:\n{describe(checks)}"
    # ... and the kernel agrees: traffic flows both ways
    assert fwlab.ping(name, "left", "right") > 0
    assert fwlab.ping(name, "right", "left") > 0


@pytest.mark.parametrize("name", FIREWALL_FAULTS)
def test_fault_is_named_on_its_side(fwlab: FirewallLab, gathered: dict[str, dict], name: str) -> None:
    from lab import faults

    fault_side = fwlab.fault_side(name)
    peer_side = "left" if fault_side == "right" else "right"
    check_name = CHECK_OF_FINDING[faults.get(name).finding]
    want = fault_rule(name)
    allowed = CONSEQUENCES.get(name, {"fault": set(), "peer": set()})

    fault_host, peer_host = fwlab.host(name, fault_side), fwlab.host(name, peer_side)
    fault_checks = fwlab.checks(gathered[fault_host], fault_host)
    peer_checks = fwlab.checks(gathered[peer_host], peer_host)
    assert failing(fault_checks) == {check_name} | allowed["fault"], f"{fault_host}:\n{describe(fault_checks)}"
    assert failing(peer_checks) == allowed["peer"], f"{peer_host}:\n{describe(peer_checks)}"
    observed = fwlab.observed(name)
    for consequence in allowed["fault"] | allowed["peer"]:
        assert CONSEQUENCE_NEEDS.get(consequence, lambda _o: True)(observed), (consequence, observed)

    check = by_name(fault_checks)[check_name]
    assert check["blocking"], check
    for ref in check["blocking"]:
        assert same_rule(ref, want), (ref, want)
    if want["kind"] == "route":
        hv = fwlab.vars(fault_host)
        ref = check["blocking"][0]
        assert ref["error"] and ref["lookup"] == hv["ipsec_remote_subnets"][0].replace(".0/24", ".1")
        assert ref["from"] == hv["ipsec_inside_address"]
    else:
        # the rule's counter comes along; the lab's own probe already sent packets into it
        assert all(ref["counters"]["packets"] > 0 for ref in check["blocking"]), check["blocking"]
        assert check["items"] and all(item["confidence"] == "certain" for item in check["items"])


# ---- the kernel agrees: the counter of the named rule goes up ------------------------------------------


def _send(fwlab: FirewallLab, name: str) -> None:
    """Send what the fault breaks, the way a user's traffic would."""
    fault_side = fwlab.fault_side(name)
    peer_side = "left" if fault_side == "right" else "right"
    if name == "fw-ike":
        peer = fwlab.vars(fwlab.host(name, peer_side))
        assert peer["ipsec_daemon"] == "strongswan"
        res = fwlab.exec(fwlab.host(name, peer_side),
                         ["swanctl", "--initiate", "--child", peer["ipsec_connection"], "--timeout", "4"], timeout=30)
        assert not res.ok, "IKE initiation must fail while the peer drops IKE"
    elif name == "masquerade":
        assert fwlab.ping(name, fault_side, peer_side) == 0
    else:
        assert fwlab.ping(name, peer_side, fault_side) == 0


@pytest.fixture(scope="module")
def after_traffic(fwlab: FirewallLab, gathered: dict[str, dict]) -> dict[str, dict]:
    names = ("fw-ike", "fw-esp", "forward-drop", "masquerade")
    for name in names:
        _send(fwlab, name)
    return fwlab.gather([fwlab.host(name, fwlab.fault_side(name)) for name in names])


@pytest.mark.parametrize("name", ("fw-ike", "fw-esp", "forward-drop", "masquerade"))
def test_named_rule_counts_the_real_packet(fwlab: FirewallLab, gathered: dict[str, dict],
                                           after_traffic: dict[str, dict], name: str) -> None:
    from lab import faults

    host = fwlab.host(name, fwlab.fault_side(name))
    check_name = CHECK_OF_FINDING[faults.get(name).finding]
    (ref,) = {json.dumps(ref, sort_keys=True): ref
              for ref in by_name(fwlab.checks(gathered[host], host))[check_name]["blocking"]}.values()
    before, after = counter(gathered[host], ref), counter(after_traffic[host], ref)
    assert before is not None and after is not None, ref
    assert after > before, f"{ref['text']}: {before} -> {after}"
    # and the evaluator still names the same rule after the traffic
    again = by_name(fwlab.checks(after_traffic[host], host))[check_name]
    assert again["status"] == "fail" and all(same_rule(r, fault_rule(name)) for r in again["blocking"])


def test_no_route_fails_in_the_kernel_too(fwlab: FirewallLab) -> None:
    """ESP of the probe arrives and decrypts on the fault side; the answer has no route back."""
    name = "no-route"
    fault_host = fwlab.host(name, fwlab.fault_side(name))
    target = fwlab.vars(fault_host)["ipsec_remote_inside_address"]
    res = fwlab.exec(fault_host, ["ip", "route", "get", target, "from", fwlab.vars(fault_host)["ipsec_inside_address"]])
    assert not res.ok and "unreachable" in (res.err + res.out).lower(), (res.out, res.err)
    assert fwlab.ping(name, "left", "right") == 0


# ---- the ipsec policy match on real SAs -----------------------------------------------------------------

EXEMPTION = ["-t", "nat", "-I", "POSTROUTING", "1", "-m", "policy", "--dir", "out", "--pol", "ipsec", "-j", "ACCEPT"]
MASQUERADE = ["-t", "nat", "-A", "POSTROUTING", "-o", "wan0", "-j", "MASQUERADE"]


def test_policy_exemption_before_masquerade(fwlab: FirewallLab) -> None:
    name, side = "exemption", "left"
    host = fwlab.host(name, side)
    hv = fwlab.vars(host)
    assert hv["lab_fault"] == "none"

    def iptables(args: list[str]) -> None:
        res = fwlab.exec(host, ["iptables-legacy", *args], timeout=30)
        assert res.ok, res.err

    def nat_check(result: dict) -> dict:
        return by_name(fwlab.checks(result, host))["nat_exemption"]

    iptables(MASQUERADE)
    try:
        # without the exemption: the check names the MASQUERADE, and the tunnel traffic leaves in clear
        without = fwlab.gather([host])[host]
        check = nat_check(without)
        assert check["status"] == "fail", check["summary"]
        (masq,) = {json.dumps(ref, sort_keys=True): ref for ref in check["blocking"]}.values()
        assert same_rule(masq, {"kind": "rule", "table": "nat", "chain": "POSTROUTING", "text": "-A POSTROUTING -o wan0 -j MASQUERADE"})
        clear_before = fwlab.wan_counter(name, "clear_left_to_right")
        assert fwlab.ping(name, side, "right") == 0
        assert fwlab.wan_counter(name, "clear_left_to_right") > clear_before, "the masqueraded ping left in clear"

        # with the exemption first: the check passes, the exemption decides in the NAT chain, traffic flows
        iptables(EXEMPTION)
        with_exemption = fwlab.gather([host])[host]
        assert counter(with_exemption, masq | {"index": 2}) > counter(without, masq), "the masqueraded ping was counted"
        check = nat_check(with_exemption)
        assert check["status"] == "pass", check["summary"]
        exemption_text = "-A POSTROUTING -m policy --dir out --pol ipsec -j ACCEPT"
        nat_stages = [stage for item in check["items"] for stage in firewall_verdict(with_exemption, item["packet"])["stages"]
                      if stage["type"] == "nat" and stage["hook"] == "postrouting"]
        assert nat_stages and all(stage["by"]["text"] == exemption_text for stage in nat_stages), nat_stages
        exemption_ref = nat_stages[0]["by"]
        assert fwlab.ping(name, side, "right") > 0
        after = fwlab.gather([host])[host]
        assert counter(after, exemption_ref) > counter(with_exemption, exemption_ref)
        assert fwlab.checks(after, host)["status"] == "pass"
    finally:
        fwlab.exec(host, ["iptables-legacy", "-t", "nat", "-D", "POSTROUTING", "-m", "policy", "--dir", "out",
                          "--pol", "ipsec", "-j", "ACCEPT"], timeout=30)
        fwlab.exec(host, ["iptables-legacy", "-t", "nat", "-D", "POSTROUTING", "-o", "wan0", "-j", "MASQUERADE"], timeout=30)


FORWARD_POLICY_RULES = [["-A", "FORWARD", "-m", "policy", "--dir", "in", "--pol", "ipsec", "-j", "ACCEPT"],
                        ["-A", "FORWARD", "-m", "policy", "--dir", "out", "--pol", "ipsec", "-j", "ACCEPT"]]


def test_forward_policy_match_on_real_sas(fwlab: FirewallLab) -> None:
    """FORWARD DROP except IPsec: --dir in matches the decapsulated packet, --dir out the one to encapsulate."""
    name, side = "exemption", "right"
    host = fwlab.host(name, side)
    assert fwlab.vars(host)["lab_fault"] == "none"
    try:
        for args in [["-P", "FORWARD", "DROP"], *FORWARD_POLICY_RULES]:
            res = fwlab.exec(host, ["iptables-legacy", *args], timeout=30)
            assert res.ok, res.err
        before = fwlab.gather([host])[host]
        check = by_name(fwlab.checks(before, host))["forward"]
        assert check["status"] == "pass", check["summary"]
        decided = {item["name"].rsplit("(", 1)[-1].rstrip(")"): item["decided_by"]["text"] for item in check["items"]}
        assert decided == {"decapsulated": "-A FORWARD -m policy --dir in --pol ipsec -j ACCEPT",
                           "to be encapsulated": "-A FORWARD -m policy --dir out --pol ipsec -j ACCEPT"}, decided
        refs = [item["decided_by"] for item in check["items"]]
        received = fwlab.ping(name, "left", side)
        assert received > 0
        after = fwlab.gather([host])[host]
        for ref in refs:  # the filter table counts every packet: each request in, each reply out
            assert counter(after, ref) >= counter(before, ref) + received, ref["text"]
    finally:
        fwlab.exec(host, ["iptables-legacy", "-F", "FORWARD"], timeout=30)
        fwlab.exec(host, ["iptables-legacy", "-P", "FORWARD", "ACCEPT"], timeout=30)
