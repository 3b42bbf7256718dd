# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: firewall_verdict
short_description: Does a packet pass a gateway's firewall, and which rule decides?
version_added: 0.1.0
description:
  - Walks the rulesets gathered by M(netdoctor.ipsec.firewall_info) as the kernel does. For each hook of the packet's
    path, every base chain of every loaded table (iptables-legacy, iptables-nft, nftables) runs in priority order, with
    user chains (jump/goto/return), policies, and NAT chains for the first packet of a connection.
  - Returns the verdict, the rule (or policy) that decided it with its counters, the trail of rules examined, and the
    confidence. A match it cannot evaluate (an ipset, a mark set elsewhere, a conntrack state that was not given, an
    unknown match or target) is never guessed; the walk tries both outcomes and, when they differ, the verdict is
    C(unknown) with the rules in RV(_value.because).
  - With O(check), runs one of the IPsec checklist checks instead (IKE, ESP, forwarding, NAT exemption, route, rp_filter)
    on the side's facts, building the packets itself.
  - The input may also be the text of C(iptables-save) / C(ip6tables-save) or the JSON of C(nft -j list ruleset)
    (for example pasted from a ticket); it is parsed first. This is a filter version of the firewall part of the
    M(netdoctor.ipsec.firewall_info) module.
options:
  _input:
    description:
      - The M(netdoctor.ipsec.firewall_info) result (or its C(firewall) key), a list of its tables, or the text of
        C(iptables-save -c) or C(nft -j list ruleset).
    type: raw
    required: true
  packet:
    description:
      - The packet, a dict. V(path) is required, one of V(input) (to this host), V(forward) (through it), V(output) (from it).
      - V(src), V(dst) (addresses), V(proto) (V(tcp), V(udp), V(esp), V(icmp), a number, ...), V(sport), V(dport),
        V(in_interface), V(out_interface).
      - V(ipsec_in) true for a packet decapsulated by xfrm (inbound inner packet); V(ipsec_out) true for a packet an IPsec
        policy will encapsulate (outbound inner packet). Both default to false.
      - V(ct_state) (V(new), V(established), V(related), V(invalid), V(untracked)); when not given, conntrack matches are
        unknown. V(mark) (when not given, mark matches are unknown unless a rule in the walk sets it).
      - Optional V(icmp_type), V(tcp_flags) (list), V(esp_spi), V(ipsec_sa) (dict of V(reqid), V(spi), V(proto), V(mode),
        V(tunnel_src), V(tunnel_dst) for detailed policy matches), V(rpf) (V(ok) or V(fail), for fib/rpfilter matches),
        V(local_addresses) (list, for addrtype LOCAL), V(dst_local), V(src_local), V(fragment).
    type: dict
  check:
    description: Run a checklist check instead of evaluating O(packet); needs the full M(netdoctor.ipsec.firewall_info) result.
    type: str
    choices: [ike, esp, esp_in_udp, forward, nat_exemption, route, rp_filter, all]
  peer:
    description: Outer address of the peer (checks V(ike), V(esp), V(esp_in_udp), V(all); others use it to find the outer interface).
    type: str
  local:
    description: Local outer address; default the source of the route lookup toward O(peer).
    type: str
  local_subnets:
    description: Protected subnets of this side (checks V(forward), V(nat_exemption), V(all)).
    type: list
    elements: str
  remote_subnets:
    description: Protected subnets of the peer (checks V(forward), V(nat_exemption), V(route), V(rp_filter), V(all)).
    type: list
    elements: str
  lan_interface:
    description: Interface toward the local subnets; default the one holding an address inside them.
    type: str
  wan_interface:
    description: Outer interface; default the device of the route lookup toward O(peer).
    type: str
  encap:
    description: For V(all), check only plain ESP (false) or only ESP in UDP 4500 (true); default both.
    type: bool
seealso:
  - module: netdoctor.ipsec.firewall_info
author:
  - netdoctor.ipsec contributors (@netdoctor-ipsec)
"""

EXAMPLES = r"""
- name: Which rule drops IKE from the peer?
  ansible.builtin.debug:
    msg: "{{ fw | netdoctor.ipsec.firewall_verdict({'path': 'input', 'src': '203.0.113.2', 'dst': '198.51.100.1',
             'proto': 'udp', 'sport': 500, 'dport': 500, 'in_interface': 'eth0', 'ct_state': 'new'}) }}"

- name: Does MASQUERADE catch the tunnel traffic before an IPsec exemption?
  ansible.builtin.debug:
    msg: "{{ fw | netdoctor.ipsec.firewall_verdict(check='nat_exemption', peer='203.0.113.2',
             local_subnets=['10.1.0.0/24'], remote_subnets=['10.2.0.0/24']) }}"

- name: Evaluate pasted iptables-save output
  ansible.builtin.debug:
    msg: "{{ lookup('file', 'ticket-iptables-save.txt') | netdoctor.ipsec.firewall_verdict({'path': 'forward',
             'src': '10.2.0.5', 'dst': '10.1.0.5', 'proto': 'tcp', 'dport': 22, 'ct_state': 'new', 'ipsec_in': true}) }}"
"""

RETURN = r"""
_value:
  description:
    - With O(packet), the evaluation below.
    - "With O(check), C({check, status, summary, items, blocking}) (for V(all), C({checks, status, failing})), where C(status) is
      C(pass), C(fail), C(unknown) or C(skip), C(blocking) lists the rules/routes that break the tunnel and each of C(items)
      carries the packet and its evaluation. A check whose packets pass the rules that were read is C(unknown), with
      C(unread) listing the errors, when the result's C(errors) say a ruleset dump (C(iptables-save), C(nft -j)) failed."
  type: dict
  contains:
    verdict:
      description: "C(accept), C(drop), C(reject) or C(unknown)."
      type: str
      sample: drop
    passes:
      description: "True for accept, false for drop/reject, null for unknown."
      type: bool
    confidence:
      description: "C(certain); C(assumed) when the verdict rests on recorded RV(_value.assumptions) (a rate limit, NAT for the first packet); C(unknown)."
      type: str
    decided_by:
      description:
        - "The rule that decided, C({kind: rule, backend, family, table, chain, index, handle, text, counters}), or the chain
          policy C({kind: policy, policy, backend, family, table, chain, counters, text}). For accept, the last explicit
          accept of a filter chain (else its policy). Null when unknown."
      type: dict
      sample: {kind: rule, backend: iptables-legacy, family: ip, table: filter, chain: INPUT, index: 3, handle: null,
               text: "-A INPUT -p udp -m udp --dport 500 -j DROP", counters: {packets: 4, bytes: 1440}}
    hook:
      description: "Hook where the verdict fell (C(prerouting), C(input), C(forward), C(output), C(postrouting))."
      type: str
    because:
      description: "When unknown, the rules whose matches could not be evaluated, C({rule, reason, hook})."
      type: list
      elements: dict
    assumptions:
      description: "Things taken as true and recorded (C({reason, text})), e.g. a rate limit not exceeded."
      type: list
      elements: dict
    nat:
      description: "Address translations on the way, C({type: masquerade|snat|dnat|redirect|netmap, hook, rule})."
      type: list
      elements: dict
    stages:
      description: "Every base chain run, in order, C({hook, backend, family, table, chain, priority, type, verdict, by})."
      type: list
      elements: dict
    trail:
      description:
        - "Rules examined, C({hook, backend, family, table, chain, index, result, text}); C(result) is C(match), C(no match),
          C(assumed match), C(assumed no match) or C(unknown (...))."
        - Non-matching rules past 400 entries are counted in RV(_value.trail_omitted).
      type: list
      elements: dict
    trail_omitted:
      description: "Non-matching rules examined but left out of the trail."
      type: int
    rules_examined:
      description: "Number of rules examined on the main path."
      type: int
    outcomes:
      description: "When unknown matches forked the walk, each branch C({verdict, decided_by, assuming, nat})."
      type: list
      elements: dict
    packet:
      description: "The packet as understood."
      type: dict
"""

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _iptables, _nftables
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _firewall_checks, _firewall_eval

CHECKS = ("ike", "esp", "esp_in_udp", "forward", "nat_exemption", "route", "rp_filter", "all")


def _ruleset(value: t.Any) -> t.Any:
    """Parse text input (iptables-save or nft -j); pass structured input through."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        return value
    stripped = value.lstrip()
    if stripped.startswith("{"):
        return {"tables": _nftables.parse_json(stripped)["tables"]}
    family = "ip6" if ("ip6tables" in value[:200] or ":" in _first_address(value)) else "ip"
    parsed = _iptables.parse_save(value, family=family, backend="iptables")
    if not parsed["tables"]:
        raise AnsibleFilterError("netdoctor.ipsec.firewall_verdict: the text is neither iptables-save output nor nft -j JSON")
    return {"tables": parsed["tables"]}


def _first_address(text: str) -> str:
    for word in text.split():
        if "/" in word and word[0].isalnum() and word.split("/")[0].count(":") >= 2:
            return ":"
    return ""


def firewall_verdict(value: t.Any, packet: dict | None = None, check: str | None = None, peer: str | None = None,
                     local: str | None = None, local_subnets: list | None = None, remote_subnets: list | None = None,
                     lan_interface: str | None = None, wan_interface: str | None = None, encap: bool | None = None) -> dict:
    try:
        if check is None:
            if not isinstance(packet, dict):
                raise AnsibleFilterError("netdoctor.ipsec.firewall_verdict needs a packet dict or check=...")
            return _firewall_eval.evaluate(_ruleset(value), packet)
        if check not in CHECKS:
            raise AnsibleFilterError(f"netdoctor.ipsec.firewall_verdict: check must be one of {', '.join(CHECKS)}")
        if not isinstance(value, dict):
            raise AnsibleFilterError("netdoctor.ipsec.firewall_verdict: checks need the firewall_info result (a dict)")
        local_subnets = list(local_subnets or [])
        remote_subnets = list(remote_subnets or [])
        if check in ("ike", "esp", "esp_in_udp", "all") and not peer:
            raise AnsibleFilterError(f"netdoctor.ipsec.firewall_verdict: check={check} needs peer=")
        if check == "ike":
            return _firewall_checks.check_ike(value, peer, local, wan_interface)
        if check in ("esp", "esp_in_udp"):
            return _firewall_checks.check_esp(value, peer, local, wan_interface, encap=check == "esp_in_udp")
        if check == "forward":
            return _firewall_checks.check_forward(value, local_subnets, remote_subnets, peer, lan_interface, wan_interface)
        if check == "nat_exemption":
            return _firewall_checks.check_nat_exemption(value, local_subnets, remote_subnets, peer, lan_interface, wan_interface)
        if check == "route":
            return _firewall_checks.check_route(value, remote_subnets, peer)
        if check == "rp_filter":
            return _firewall_checks.check_rp_filter(value, remote_subnets, peer, wan_interface)
        return _firewall_checks.run_all(value, peer, local_subnets, remote_subnets, local, encap, lan_interface, wan_interface)
    except ValueError as exc:
        raise AnsibleFilterError(f"netdoctor.ipsec.firewall_verdict: {exc}") from exc


class FilterModule:
    def filters(self) -> dict[str, t.Callable]:
        return {"firewall_verdict": firewall_verdict}
