# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""IPv4/IPv6 addresses and prefixes with the standard library of Python 2.7 and 3.6+.

Python 2.7 has no ``ipaddress`` module, so gateway code uses these small helpers built on
``socket.inet_pton``. A network is a tuple ``(family, int_address, prefix_len)``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import socket

FAMILY_BITS = {4: 32, 6: 128}


def _pton(text):
    for family, af in ((4, socket.AF_INET), (6, socket.AF_INET6)):
        try:
            return family, socket.inet_pton(af, text)
        except (socket.error, ValueError, OSError):
            continue
    return None, None


def address_family(text):
    """4, 6 or None for anything that is not an address."""
    return _pton(text.split("/")[0].split("%")[0])[0] if text else None


def parse_network(text):
    """``'10.1.0.0/24'`` -> (4, int, 24); a bare address is a host prefix. None when invalid."""
    if not text:
        return None
    addr, _sep, plen = text.strip().partition("/")
    family, packed = _pton(addr.split("%")[0])
    if family is None:
        return None
    bits = FAMILY_BITS[family]
    try:
        prefix = int(plen) if plen else bits
    except ValueError:
        return None
    if not 0 <= prefix <= bits:
        return None
    value = int(binascii.hexlify(packed), 16)
    return family, value, prefix


def network_base(net):
    """The network with host bits cleared."""
    family, value, prefix = net
    bits = FAMILY_BITS[family]
    mask = ((1 << bits) - 1) ^ ((1 << (bits - prefix)) - 1)
    return family, value & mask, prefix


def format_address(family, value):
    width = FAMILY_BITS[family] // 4
    packed = binascii.unhexlify("%0*x" % (width, value))
    return socket.inet_ntop(socket.AF_INET if family == 4 else socket.AF_INET6, packed)


def format_network(net):
    family, value, prefix = network_base(net)
    return "%s/%d" % (format_address(family, value), prefix)


def normalize_network(text):
    """Canonical ``addr/prefix`` text (host bits cleared), or None when invalid."""
    net = parse_network(text)
    return format_network(net) if net else None


def network_contains(outer, inner):
    """True when network ``inner`` lies within ``outer`` (both parsed tuples)."""
    if outer[0] != inner[0] or inner[2] < outer[2]:
        return False
    return network_base((outer[0], inner[1], outer[2]))[1] == network_base(outer)[1]


def address_in(address, network_text):
    """True when the address text lies in the network text."""
    addr = parse_network(address)
    net = parse_network(network_text)
    return bool(addr and net and network_contains(net, addr))
