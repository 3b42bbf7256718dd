# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""What a tunnel capture keeps, written twice from one description: as a tcpdump (BPF) expression
and as a predicate over decoded packets for the standard-library AF_PACKET capture.

Kept: IKE (UDP 500/4500), ESP, NAT-T keepalives, ICMP and IP fragments exchanged with the peer;
traffic between the protected subnets (clear text on the outer interface is what leak detection
looks for); ICMP errors from anywhere (a router's "fragmentation needed" is not from the peer).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _addr

IPV4_FRAGMENT = "(ip[6:2] & 0x3fff != 0)"
IPV6_FRAGMENT = "(ip6 and ip6[6] == 44)"
ICMP4_ERRORS = "(icmp[0] == 3 or icmp[0] == 4 or icmp[0] == 5 or icmp[0] == 11 or icmp[0] == 12)"
ICMP6_ERRORS = "(icmp6 and ip6[40] >= 1 and ip6[40] <= 4)"


def _any_of(primitive, values):
    terms = ["%s %s" % (primitive, value) for value in values]
    return terms[0] if len(terms) == 1 else "(%s)" % " or ".join(terms)


def _net(text):
    return _addr.normalize_network(text) or text


def bpf(peers, local_subnets=None, remote_subnets=None):
    """The tcpdump expression for a tunnel to ``peers`` protecting local<->remote subnets."""
    clauses = []
    if peers:
        families = set(_addr.address_family(peer) for peer in peers)
        kinds = ["udp port 500", "udp port 4500"]
        if 4 in families:
            kinds += ["ip proto 50", "icmp", IPV4_FRAGMENT]
        if 6 in families:
            kinds += ["ip6 proto 50", "icmp6", IPV6_FRAGMENT]
        clauses.append("(%s and (%s))" % (_any_of("host", peers), " or ".join(kinds)))
    if local_subnets and remote_subnets:
        local = _any_of("net", [_net(net) for net in local_subnets])
        remote = _any_of("net", [_net(net) for net in remote_subnets])
        clauses.append("(%s and %s)" % (local, remote))
    clauses.append("(icmp and %s)" % ICMP4_ERRORS)
    clauses.append(ICMP6_ERRORS)
    return " or ".join(clauses)


class Selector(object):
    """The same choice as ``bpf`` over a dict from ``_packet_decode.decode``."""

    def __init__(self, peers, local_subnets=None, remote_subnets=None):
        self.peers = set(peers or [])
        self.local = [n for n in (_addr.parse_network(t) for t in local_subnets or []) if n]
        self.remote = [n for n in (_addr.parse_network(t) for t in remote_subnets or []) if n]

    def __call__(self, decoded):
        src, dst = decoded.get("src"), decoded.get("dst")
        if src is None:
            return False
        icmp = decoded.get("icmp") or {}
        if icmp.get("kind") == "error":
            return True
        if src in self.peers or dst in self.peers:
            if decoded.get("proto") in (1, 58, 50) or decoded.get("fragment"):
                return True
            ports = (decoded.get("sport"), decoded.get("dport"))
            if decoded.get("proto") == 17 and (500 in ports or 4500 in ports):
                return True
        if self.local and self.remote:
            return (self._within(src, self.local) and self._within(dst, self.remote)) or (
                self._within(src, self.remote) and self._within(dst, self.local))
        return False

    @staticmethod
    def _within(address, networks):
        host = _addr.parse_network(address)
        return bool(host) and any(_addr.network_contains(net, host) for net in networks)
