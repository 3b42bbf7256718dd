# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ike_info and xfrm_info read the host's addresses and UDP sockets through _hostfacts' readers."""

from __future__ import annotations

import sys

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _hostfacts, _ike_host

# `ip -o addr show` of a point-to-point link: the local address has no prefix, the peer has one.
PTP_ADDR = "4: ppp0    inet 203.0.113.9 peer 203.0.113.1/32 scope global ppp0\\       valid_lft forever\n"
# /proc/net/udp as a little-endian kernel prints 203.0.113.6:500 and 0.0.0.0:4500.
PROC_UDP_LE = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
    "  1: 067100CB:01F4 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4321 2 0 0\n"
    "  2: 00000000:1194 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4322 2 0 0\n"
)


def test_point_to_point_local_address_is_read():
    assert [entry["address"] for entry in _hostfacts.parse_ip_addr(PTP_ADDR)] == ["203.0.113.9"]


def test_ike_host_sockets_come_from_the_hostfacts_reader(monkeypatch):
    monkeypatch.setattr(sys, "byteorder", "little")
    sockets = _ike_host.parse_proc_udp(PROC_UDP_LE, 4)
    assert sockets == [
        {"address": "203.0.113.6", "port": 500, "inode": 4321, "family": 4},
        {"address": "0.0.0.0", "port": 4500, "inode": 4322, "family": 4},
    ]
    # A big-endian kernel prints the same socket with the bytes in network order.
    monkeypatch.setattr(sys, "byteorder", "big")
    assert _ike_host.parse_proc_udp(PROC_UDP_LE.replace("067100CB", "CB007106"), 4)[0]["address"] == "203.0.113.6"
