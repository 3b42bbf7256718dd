#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: firewall_info
short_description: Firewall rules with counters, IPsec sysctls, IKE listeners and route lookups of a gateway
version_added: 0.1.0
description:
  - Reads the complete firewall of an IPsec gateway from every backend the kernel may run at the same time
    (C(iptables-save -c) and C(ip6tables-save -c) of the legacy and the nf_tables variants, C(nft -j list ruleset)),
    normalised into tables, chains (hook, priority, type, policy) and ordered rules with their matches,
    verdict, actions, counters and raw text.
  - Says which backend the C(iptables) command uses and whether legacy and nf_tables rules are loaded at
    once (the kernel then runs both).
  - Also gathers the host facts of the IPsec checklist, the sysctls (C(ip_forward), C(rp_filter) for all,
    default and each interface, redirects, C(disable_policy), C(disable_xfrm), C(xfrm_larval_drop)),
    the UDP 500/4500 listeners, interfaces with their MTU and addresses, the policy routing rules and
    their tables (for example strongSwan's table 220), and C(ip route get) lookups toward each peer and
    toward each remote subnet from the local inner address.
  - Read-only. A missing tool or a missing permission becomes an entry of RV(errors); the rest still runs.
  - The result feeds the P(netdoctor.ipsec.firewall_verdict#filter) filter, which answers whether a packet passes
    and which rule decides.
author:
  - netdoctor.ipsec contributors (@netdoctor-ipsec)
extends_documentation_fragment:
  - netdoctor.ipsec._attributes
  - netdoctor.ipsec._attributes.INFO_MODULE
  - netdoctor.ipsec._attributes.IDEMPOTENT_NOT_MODIFY_STATE
options:
  peer_addresses:
    description: Outer addresses of the IPsec peers; a route lookup is made toward each.
    type: list
    elements: str
    default: []
  local_subnets:
    description:
      - Protected subnets behind this gateway. The first local address inside one of them is the source of
        the lookups toward the remote subnets when O(local_inner_address) is not set.
    type: list
    elements: str
    default: []
  remote_subnets:
    description: Protected subnets behind the peer; a route lookup is made toward the first host of each.
    type: list
    elements: str
    default: []
  local_inner_address:
    description: Source address of the lookups toward the remote subnets.
    type: str
  gather:
    description: What to read.
    type: list
    elements: str
    choices: [rules, sysctls, listeners, interfaces, routes]
    default: [rules, sysctls, listeners, interfaces, routes]
  rule_text:
    description: Also run C(nft -a list ruleset) so that each nftables rule keeps its exact text (matched by handle).
    type: bool
    default: true
seealso:
  - plugin: netdoctor.ipsec.firewall_verdict
    plugin_type: filter
notes:
  - Needs root to read the rulesets (C(iptables-save) and C(nft) refuse otherwise); without it the result says so in RV(errors).
  - C(iptables-legacy-save) only reads tables that already exist; nothing is loaded or changed.
"""

EXAMPLES = r"""
- name: Read the firewall and host facts of both gateways
  netdoctor.ipsec.firewall_info:
    peer_addresses: ["{{ ipsec_peer_address }}"]
    local_subnets: [10.1.0.0/24]
    remote_subnets: [10.2.0.0/24]
  register: fw

- name: Does IKE from the peer get in?
  ansible.builtin.debug:
    msg: "{{ fw | netdoctor.ipsec.firewall_verdict({'path': 'input', 'src': ipsec_peer_address, 'dst': '198.51.100.1',
             'proto': 'udp', 'sport': 500, 'dport': 500, 'ct_state': 'new'}) }}"
"""

RETURN = r"""
firewall:
  description: The rulesets of every backend, normalised, with backend facts.
  returned: when O(gather) contains C(rules)
  type: dict
  contains:
    iptables_command:
      description: The variant the plain C(iptables) command uses (C(iptables-nft) or C(iptables-legacy)); null when not installed.
      type: str
      sample: iptables-nft
    iptables_version:
      description: Version of the C(iptables) command.
      type: str
      sample: 1.8.9
    backend:
      description: The one backend holding rules, C(mixed) when several do, null when none does.
      type: str
      sample: iptables-nft
    active_backends:
      description: Backends with at least one rule or a base chain policy other than accept.
      type: list
      elements: str
      sample: [iptables-nft]
    both_loaded:
      description: True when iptables-legacy rules and nf_tables (iptables-nft or nftables) rules are loaded at once.
      type: bool
      sample: false
    backends:
      description: Per backend (C(iptables-legacy), C(iptables-nft), C(nftables)) whether its tool exists and what it holds.
      type: dict
      sample:
        iptables-legacy: {available: true, loaded: false, tables: 0, rules: 0}
        iptables-nft: {available: true, loaded: true, tables: 3, rules: 12}
        nftables: {available: true, loaded: false, tables: 0, rules: 0, version: 1.0.6}
    tables:
      description:
        - Every table of every backend. Tables that C(iptables-nft-save) shows also appear in the C(nftables) listing;
          that copy has RV(firewall.tables[].managed_by=iptables-nft) and RV(firewall.tables[].evaluate=false).
      type: list
      elements: dict
      contains:
        backend:
          description: C(iptables-legacy), C(iptables-nft) or C(nftables).
          type: str
        family:
          description: C(ip) (IPv4), C(ip6), C(inet) (both), C(netdev), C(bridge) or C(arp).
          type: str
        name:
          description: Table name (C(filter), C(nat), C(mangle), C(raw), C(security) for iptables).
          type: str
        handle:
          description: nftables handle of the table (nftables only).
          type: int
        managed_by:
          description: C(iptables-nft) when this nftables table is the nf_tables copy of an iptables-nft table.
          type: str
        evaluate:
          description: false when the evaluator must skip this table (it is shown by another backend).
          type: bool
        sets:
          description:
            - Named sets and maps (nftables).
            - Elements are addresses, prefixes C(a/n), ranges C(a-b) or C([low, high]) ports, or C([key, verdict]) pairs for verdict maps.
          type: list
          elements: dict
          sample: [{name: allowed, kind: set, type: ipv4_addr, flags: [interval], elements: [10.0.0.0/8, 198.51.100.7]}]
        chains:
          description: Chains in listing order.
          type: list
          elements: dict
          contains:
            name:
              description: Chain name.
              type: str
            base:
              description: True for a base chain (attached to a hook); false for a user chain reached by jump/goto.
              type: bool
            hook:
              description: C(prerouting), C(input), C(forward), C(output), C(postrouting), C(ingress); null for user chains.
              type: str
            priority:
              description: Hook priority (iptables tables get netfilter's fixed ones, raw -300, mangle -150, DNAT -100, filter 0, security 50, SNAT 100).
              type: int
            type:
              description: C(filter), C(nat) or C(route); null for user chains.
              type: str
            policy:
              description: C(accept) or C(drop) for base chains; null for user chains.
              type: str
            device:
              description: Device of a netdev ingress chain.
              type: str
            counters:
              description: Policy counters of an iptables builtin chain, C({packets, bytes}).
              type: dict
            rules:
              description: Rules in evaluation order.
              type: list
              elements: dict
              contains:
                index:
                  description: 1-based position in the chain (the number of C(iptables -L --line-numbers)).
                  type: int
                handle:
                  description: nftables rule handle; null for iptables.
                  type: int
                line:
                  description: Line number in the C(iptables-save) output (iptables only).
                  type: int
                text:
                  description: The rule as the tool prints it (C(-A INPUT ...) or the nft rule line).
                  type: str
                  sample: "-A INPUT -p udp -m udp --dport 500 -j ACCEPT"
                counters:
                  description: C({packets, bytes}) hit counters; null when the rule has no counter (nftables without C(counter)).
                  type: dict
                  sample: {packets: 12, bytes: 3456}
                comment:
                  description: The rule's comment, if any.
                  type: str
                matches:
                  description:
                    - Normalised conditions, all of which must hold. Each has C(field), C(op) (C(==) or C(!=)), C(value) and C(text).
                    - "Fields: C(saddr)/C(daddr) (list of prefixes, addresses, C(a-b) ranges, or C({set: name})),
                      C(iifname)/C(oifname) (names, C(+) or C(*) suffix is a wildcard), C(l4proto) (names), C(nfproto),
                      C(sport)/C(dport)/C(port) and C(esp_spi) (list of C([low, high])), C(ct_state) (list),
                      C(ipsec) (C({dir: in|out, pol: ipsec|none, reqid, spi, proto, mode, tunnel_src, tunnel_dst, strict})),
                      C(mark) (C({value, mask})), C(src_type)/C(dst_type) (addrtype), C(icmp_type), C(tcp_flags)
                      (C({mask, set})), C(pkttype), C(fragment), C(fib), C(concat), C(assumed) (a rate limit: assumed to match),
                      and C(unknown) (not evaluated; C(reason) says why)."
                    - C(implicit=true) marks a dependency nft adds by itself (C(tcp dport) implies C(l4proto tcp)).
                  type: list
                  elements: dict
                  sample: [{field: l4proto, op: "==", value: [udp], text: "--protocol udp"}, {field: dport, op: "==", value: [[500, 500]], text: "--dport 500"}]
                verdict:
                  description:
                    - "C(type): C(accept), C(drop), C(reject), C(return), C(jump), C(goto) (with C(target)), C(queue), C(continue)
                      (the rule does not end the chain), C(masquerade), C(snat), C(dnat), C(redirect), C(netmap), C(vmap)
                      (nft verdict map, with C(key) and C(map) or C(elements)), or C(unknown) (with C(reason))."
                    - C(options) holds the target options (C(to-source), C(reject-with), ...); C(text) the original text.
                  type: dict
                  sample: {type: accept, text: "-j ACCEPT"}
                actions:
                  description:
                    - Non-terminal effects when the rule matches (C(log), C(nflog), C(trace), C(mark), C(mangle), C(notrack), ...).
                    - C(sets) names what they change (C(mark), C(notrack)).
                  type: list
                  elements: dict
sysctl:
  description: Sysctls that matter for IPsec.
  returned: when O(gather) contains C(sysctls)
  type: dict
  contains:
    ip_forward:
      description: net.ipv4.ip_forward.
      type: int
    ipv6_forwarding:
      description: net.ipv6.conf.all.forwarding.
      type: int
    xfrm_larval_drop:
      description: net.core.xfrm_larval_drop (1 drops packets while IKE negotiates the SA).
      type: int
    xfrm_acq_expires:
      description: net.core.xfrm_acq_expires.
      type: int
    ip_no_pmtu_disc:
      description: net.ipv4.ip_no_pmtu_disc.
      type: int
    conf:
      description:
        - Per scope (C(all), C(default) and each interface) the values of C(rp_filter), C(accept_redirects), C(send_redirects),
          C(disable_policy), C(disable_xfrm), C(forwarding).
      type: dict
      sample: {all: {rp_filter: 0, accept_redirects: 1, send_redirects: 1, disable_policy: 0, disable_xfrm: 0, forwarding: 1}}
    effective_rp_filter:
      description: Per interface the rp_filter mode the kernel applies, max(conf.all, conf.<interface>) (0 off, 1 strict, 2 loose).
      type: dict
      sample: {eth0: 1}
listeners:
  description: UDP sockets bound to port 500 or 4500 (from /proc/net/udp and udp6).
  returned: when O(gather) contains C(listeners)
  type: list
  elements: dict
  sample: [{family: ipv4, address: 0.0.0.0, port: 500, inode: 12345}]
interfaces:
  description: Interfaces with their MTU (C(ip -o link show)).
  returned: when O(gather) contains C(interfaces)
  type: list
  elements: dict
  sample: [{index: 2, name: eth0, flags: [BROADCAST, MULTICAST, UP, LOWER_UP], mtu: 1500, state: UP, master: null}]
addresses:
  description: Addresses of the interfaces (C(ip -o addr show)).
  returned: when O(gather) contains C(interfaces)
  type: list
  elements: dict
  sample: [{interface: eth0, family: ipv4, address: 198.51.100.1, prefix: 24}]
routes:
  description: Policy routing and route lookups.
  returned: when O(gather) contains C(routes)
  type: dict
  contains:
    rules:
      description: C(ip rule show) entries C({priority, selector, table, action}) (IPv4; IPv6 added when an IPv6 peer or subnet is given).
      type: list
      elements: dict
      sample: [{priority: 220, selector: "from all lookup 220", table: "220", action: lookup}]
    tables:
      description: Routes of each table referenced by an ip rule other than local/main/default, by table name.
      type: dict
      sample: {"220": [{type: unicast, dst: 10.2.0.0/24, via: 198.51.100.2, dev: eth0, proto: static, src: 10.1.0.1}]}
    lookups:
      description:
        - One entry per lookup, C(purpose) C(peer) or C(remote_subnet) with the C(subnet); C(lookup) and C(from) are the
          queried addresses; C(reachable) false with C(error) when the kernel has no route, null with C(error) when the
          answer could not be read (the lookup is then also in RV(errors)); otherwise the route keys
          (C(type), C(dst), C(via), C(dev), C(src), C(table), C(mtu), ...).
      type: list
      elements: dict
      sample: [{purpose: remote_subnet, subnet: 10.2.0.0/24, lookup: 10.2.0.1, from: 10.1.0.1, reachable: true,
                type: unicast, dst: 10.2.0.1, via: 198.51.100.2, dev: eth0, table: "220", src: 10.1.0.1}]
    local_inner_address:
      description: The source used for the remote subnet lookups (given, or found inside O(local_subnets)).
      type: str
errors:
  description: What could not be read, C({source, kind, message}); C(kind) is C(missing) (tool not installed), C(permission) or C(failed).
  returned: always
  type: list
  elements: dict
  sample: [{source: nft -j list ruleset, kind: permission, message: "'nft -j list ruleset' failed with rc=1: Operation not permitted"}]
"""

import io
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _addr, _command, _firewall, _hostfacts

GATHER_CHOICES = ["rules", "sysctls", "listeners", "interfaces", "routes"]


def read_file(path):
    try:
        with io.open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def _run_text(runner, args, errors, source=None):
    try:
        return runner.run("ip", args)[1]
    except _command.CommandError as exc:
        errors.append(_firewall.command_error(source or "ip " + " ".join(args), exc))
        return None


def gather_routes(runner, params, addresses, errors):
    families = set(_addr.address_family(text) for text in params["peer_addresses"] + params["remote_subnets"])
    rules = _hostfacts.parse_ip_rules(_run_text(runner, ["rule", "show"], errors) or "")
    if 6 in families:
        rules += _hostfacts.parse_ip_rules(_run_text(runner, ["-6", "rule", "show"], errors) or "")
    tables = {}
    for table in _hostfacts.policy_tables(rules):
        tables[table] = _hostfacts.parse_routes(_run_text(runner, ["route", "show", "table", table], errors) or "")
    inner = params["local_inner_address"] or _hostfacts.local_inner_address(addresses, params["local_subnets"])
    lookups = []
    for peer in params["peer_addresses"]:
        entry = _hostfacts.route_lookup(runner, peer, errors=errors)
        entry["purpose"] = "peer"
        lookups.append(entry)
    for subnet in params["remote_subnets"]:
        target = _hostfacts.first_host(subnet)
        if target is None:
            errors.append({"source": "remote_subnets", "kind": "failed", "message": "%r is not a subnet" % subnet})
            continue
        source = inner if inner and _addr.address_family(inner) == _addr.address_family(target) else None
        entry = _hostfacts.route_lookup(runner, target, source, errors=errors)
        entry["purpose"] = "remote_subnet"
        entry["subnet"] = _addr.normalize_network(subnet)
        lookups.append(entry)
    return {"rules": rules, "tables": tables, "lookups": lookups, "local_inner_address": inner}


def _conf_interfaces():
    try:
        return sorted(name for name in os.listdir("/proc/sys/net/ipv4/conf") if name not in ("all", "default"))
    except OSError:
        return []


def gather_listeners():
    sockets = []
    for family, path in ((4, "/proc/net/udp"), (6, "/proc/net/udp6")):
        sockets.extend(_hostfacts.parse_proc_net_udp(read_file(path) or "", family))
    return _hostfacts.ike_listeners(sockets)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            peer_addresses=dict(type="list", elements="str", default=[]),
            local_subnets=dict(type="list", elements="str", default=[]),
            remote_subnets=dict(type="list", elements="str", default=[]),
            local_inner_address=dict(type="str"),
            gather=dict(type="list", elements="str", choices=GATHER_CHOICES, default=GATHER_CHOICES),
            rule_text=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    for key in ("peer_addresses", "local_subnets", "remote_subnets"):
        bad = [value for value in params[key] if _addr.parse_network(value) is None]
        if bad:
            module.fail_json(msg="%s: not an address or subnet: %s" % (key, ", ".join(bad)))
    runner = _command.CommandRunner(module)
    errors = []
    result = {"changed": False, "errors": errors}
    gather = set(params["gather"])
    if "rules" in gather:
        gatherer = _firewall.FirewallGatherer(runner)
        result["firewall"] = gatherer.gather(with_text=params["rule_text"])
        errors.extend(gatherer.errors)
        for warning in gatherer.warnings:
            module.warn(warning)
    links = []
    addresses = []
    if "interfaces" in gather or "sysctls" in gather or "routes" in gather:
        links = _hostfacts.parse_ip_link(_run_text(runner, ["-o", "link", "show"], errors) or "")
        addresses = _hostfacts.parse_ip_addr(_run_text(runner, ["-o", "addr", "show"], errors) or "")
    if "interfaces" in gather:
        result["interfaces"] = links
        result["addresses"] = addresses
    if "sysctls" in gather:
        names = [link["name"] for link in links] or _conf_interfaces()
        result["sysctl"] = _hostfacts.collect_sysctls(read_file, names)
    if "listeners" in gather:
        result["listeners"] = gather_listeners()
    if "routes" in gather:
        result["routes"] = gather_routes(runner, params, addresses, errors)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
