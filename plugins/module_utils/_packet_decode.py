# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Decode captured frames down to what IPsec debugging needs.

Link layer (Ethernet with VLAN tags, Linux cooked SLL/SLL2, raw IP, BSD loopback), IPv4 and IPv6
(extension headers, fragments), UDP, TCP ports and flags, ICMP/ICMPv6 errors with the packet they
quote, ESP (SPI, sequence number) and UDP-encapsulated ESP, IKE on UDP 500 and on UDP 4500 behind
the non-ESP marker, NAT-T keepalives.

``decode(linktype, data)`` returns a dict and never raises: what could not be decoded is named in
``error``; a frame cut short by the snap length or the file is flagged ``truncated``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import struct

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _pcap

ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
VLAN_TYPES = (0x8100, 0x88A8, 0x9100)
IKE_PORT = 500
NATT_PORT = 4500

PROTO_NAMES = {1: "icmp", 6: "tcp", 17: "udp", 50: "esp", 51: "ah", 58: "icmpv6", 47: "gre", 132: "sctp"}
IPV6_EXTENSIONS = (0, 43, 60)
IPV6_FRAGMENT = 44
PROTO_AH = 51

# Linux packet types (SLL, AF_PACKET) -> direction relative to the capturing host
SLL_DIRECTIONS = {0: "in", 1: "in", 2: "in", 3: "other", 4: "out"}

ICMP4_ERRORS = {3: "destination_unreachable", 4: "source_quench", 5: "redirect", 11: "time_exceeded", 12: "parameter_problem"}
ICMP4_UNREACH_CODES = {
    0: "net_unreachable",
    1: "host_unreachable",
    2: "protocol_unreachable",
    3: "port_unreachable",
    4: "fragmentation_needed",
    5: "source_route_failed",
    9: "net_prohibited",
    10: "host_prohibited",
    13: "communication_prohibited",
}
ICMP6_ERRORS = {1: "destination_unreachable", 2: "packet_too_big", 3: "time_exceeded", 4: "parameter_problem"}
ICMP6_UNREACH_CODES = {0: "no_route", 1: "communication_prohibited", 3: "address_unreachable", 4: "port_unreachable"}
ECHO_TYPES = {(4, 8): "echo_request", (4, 0): "echo_reply", (6, 128): "echo_request", (6, 129): "echo_reply"}


def _ntop(family, raw):
    return socket.inet_ntop(socket.AF_INET if family == 4 else socket.AF_INET6, bytes(raw))


def strip_link(linktype, data):
    """(ethertype, offset of the network header, link info dict) or (None, 0, info with error)."""
    info = {}
    size = len(data)
    if linktype == _pcap.LINKTYPE_ETHERNET:
        if size < 14:
            return None, 0, {"error": "short ethernet header"}
        info["dst_mac"] = _mac(data[0:6])
        info["src_mac"] = _mac(data[6:12])
        ethertype = struct.unpack("!H", data[12:14])[0]
        offset = 14
        while ethertype in VLAN_TYPES and size >= offset + 4:
            info.setdefault("vlans", []).append(struct.unpack("!H", data[offset:offset + 2])[0] & 0x0FFF)
            ethertype = struct.unpack("!H", data[offset + 2:offset + 4])[0]
            offset += 4
        return ethertype, offset, info
    if linktype == _pcap.LINKTYPE_LINUX_SLL:
        if size < 16:
            return None, 0, {"error": "short SLL header"}
        pkttype, _hatype, addrlen = struct.unpack("!HHH", data[0:6])
        info["direction"] = SLL_DIRECTIONS.get(pkttype)
        info["src_mac"] = _mac(data[6:6 + min(addrlen, 8)]) if addrlen == 6 else None
        return struct.unpack("!H", data[14:16])[0], 16, info
    if linktype == _pcap.LINKTYPE_LINUX_SLL2:
        if size < 20:
            return None, 0, {"error": "short SLL2 header"}
        ethertype, _reserved, ifindex, _hatype, pkttype, addrlen = struct.unpack("!HHIHBB", data[0:12])
        info["direction"] = SLL_DIRECTIONS.get(pkttype)
        info["ifindex"] = ifindex
        info["src_mac"] = _mac(data[12:18]) if addrlen == 6 else None
        return ethertype, 20, info
    if linktype in (_pcap.LINKTYPE_RAW, 12, 14, _pcap.LINKTYPE_IPV4, _pcap.LINKTYPE_IPV6):
        if size < 1:
            return None, 0, {"error": "empty raw IP frame"}
        version = bytearray(data[0:1])[0] >> 4
        return {4: ETH_P_IP, 6: ETH_P_IPV6}.get(version), 0, info
    if linktype in (_pcap.LINKTYPE_NULL, _pcap.LINKTYPE_LOOP):
        if size < 4:
            return None, 0, {"error": "short loopback header"}
        family = struct.unpack("!I" if linktype == _pcap.LINKTYPE_LOOP else "=I", data[0:4])[0]
        if family not in (2, 24, 28, 30):
            family = struct.unpack("<I", data[0:4])[0]  # written on a host of the other byte order
        return {2: ETH_P_IP, 24: ETH_P_IPV6, 28: ETH_P_IPV6, 30: ETH_P_IPV6}.get(family), 4, info
    return None, 0, {"error": "unknown link type %s" % _pcap.linktype_name(linktype), "unknown_linktype": True}


def _mac(raw):
    return ":".join("%02x" % b for b in bytearray(raw))


def decode(linktype, data, wire_len=None):
    """Everything we know about one frame, as a dict (see the module docstring)."""
    packet = {"length": wire_len if wire_len is not None else len(data)}
    if wire_len is not None and wire_len > len(data):
        packet["truncated"] = True
    try:
        ethertype, offset, link = strip_link(linktype, data)
        packet.update(link)
        if ethertype == ETH_P_IP:
            _decode_ipv4(data, offset, packet)
        elif ethertype == ETH_P_IPV6:
            _decode_ipv6(data, offset, packet)
        elif ethertype is not None:
            packet["ethertype"] = ethertype
    except (struct.error, ValueError, IndexError, socket.error, OSError) as exc:
        packet["error"] = "undecodable packet: %s" % exc
    return packet


def decode_ip(data):
    """Decode a bare IP packet (reassembled datagrams, quoted packets)."""
    return decode(_pcap.LINKTYPE_RAW, data)


def decode_icmp(data, family):
    """The ``icmp`` dict of a bare ICMP (family 4) or ICMPv6 (family 6) message."""
    packet = {}
    try:
        _decode_icmp(data, 0, len(data), family, packet)
    except (struct.error, ValueError, IndexError, socket.error, OSError):
        pass
    return packet.get("icmp", {})


def _decode_ipv4(data, offset, packet):
    if len(data) < offset + 20:
        packet["error"] = "short IPv4 header"
        return
    vihl, _tos, total, ident, frag, ttl, proto = struct.unpack("!BBHHHBB", data[offset:offset + 10])
    ihl = (vihl & 0x0F) * 4
    if vihl >> 4 != 4 or ihl < 20:
        packet["error"] = "bad IPv4 header"
        return
    packet.update(
        family=4,
        src=_ntop(4, data[offset + 12:offset + 16]),
        dst=_ntop(4, data[offset + 16:offset + 20]),
        proto=proto,
        ttl=ttl,
        ip_id=ident,
        df=bool(frag & 0x4000),
        ip_length=total,
    )
    frag_offset = (frag & 0x1FFF) * 8
    more = bool(frag & 0x2000)
    end = min(len(data), offset + total) if total >= ihl else len(data)
    if total > len(data) - offset:
        packet["truncated"] = True
    payload_start = offset + ihl
    if more or frag_offset:
        packet["fragment"] = {"id": ident, "offset": frag_offset, "more": more}
        packet["fragment_payload"] = data[payload_start:end]
        if frag_offset:
            return
    _decode_transport(data, payload_start, end, proto, packet)


def _decode_ipv6(data, offset, packet):
    if len(data) < offset + 40:
        packet["error"] = "short IPv6 header"
        return
    payload_len, next_header, hlim = struct.unpack("!HBB", data[offset + 4:offset + 8])
    packet.update(
        family=6,
        src=_ntop(6, data[offset + 8:offset + 24]),
        dst=_ntop(6, data[offset + 24:offset + 40]),
        ttl=hlim,
        ip_length=payload_len + 40,
    )
    end = min(len(data), offset + 40 + payload_len)
    if offset + 40 + payload_len > len(data):
        packet["truncated"] = True
    pos = offset + 40
    fragment = None
    for _hop in range(16):
        if next_header in IPV6_EXTENSIONS:
            if end < pos + 8:
                break
            next_header, ext_len = struct.unpack("!BB", data[pos:pos + 2])
            pos += (ext_len + 1) * 8
        elif next_header == IPV6_FRAGMENT:
            if end < pos + 8:
                break
            nxt, _res, offmore, ident = struct.unpack("!BBHI", data[pos:pos + 8])
            fragment = {"id": ident, "offset": offmore & 0xFFF8, "more": bool(offmore & 1)}
            next_header = nxt
            pos += 8
        elif next_header == PROTO_AH:
            if end < pos + 8:
                break
            nxt, ah_len = struct.unpack("!BB", data[pos:pos + 2])
            packet["ah_spi"] = "0x%08x" % struct.unpack("!I", data[pos + 4:pos + 8])[0]
            next_header = nxt
            pos += (ah_len + 2) * 4
        else:
            break
    packet["proto"] = next_header
    if fragment:
        packet["fragment"] = fragment
        packet["fragment_payload"] = data[pos:end]
        if fragment["offset"]:
            return
    _decode_transport(data, pos, end, next_header, packet)


def _decode_transport(data, pos, end, proto, packet):
    if proto == 17:
        _decode_udp(data, pos, end, packet)
    elif proto == 6:
        if end >= pos + 14:
            sport, dport = struct.unpack("!HH", data[pos:pos + 4])
            flags = bytearray(data[pos + 13:pos + 14])[0]
            packet.update(sport=sport, dport=dport, tcp_flags=_tcp_flags(flags))
        else:
            packet["error"] = "short TCP header"
    elif proto == 50:
        _decode_esp(data, pos, end, packet)
    elif proto in (1, 58):
        _decode_icmp(data, pos, end, 4 if proto == 1 else 6, packet)


def _tcp_flags(flags):
    return "".join(name for bit, name in ((0x02, "S"), (0x10, "A"), (0x01, "F"), (0x04, "R"), (0x08, "P")) if flags & bit)


def _decode_udp(data, pos, end, packet):
    if end < pos + 8:
        packet["error"] = "short UDP header"
        return
    sport, dport, _ulen = struct.unpack("!HHH", data[pos:pos + 6])
    packet.update(sport=sport, dport=dport)
    body = data[pos + 8:end]
    if NATT_PORT in (sport, dport):
        if len(body) == 1 and bytearray(body)[0] == 0xFF:
            packet["natt_keepalive"] = True
        elif len(body) >= 4 and body[:4] == b"\0\0\0\0":
            packet["ike"] = body[4:]
            packet["non_esp_marker"] = True
        elif len(body) >= 8:
            packet["udp_encap"] = True
            _decode_esp(body, 0, len(body), packet)
        else:
            packet["error"] = "short UDP 4500 payload (%d bytes)" % len(body)
    elif IKE_PORT in (sport, dport):
        packet["ike"] = body


def _decode_esp(data, pos, end, packet):
    if end < pos + 8:
        packet["error"] = "short ESP header"
        return
    spi, seq = struct.unpack("!II", data[pos:pos + 8])
    packet["esp"] = {"spi": "0x%08x" % spi, "seq": seq, "payload_length": max(0, end - pos)}


def _decode_icmp(data, pos, end, family, packet):
    if end < pos + 4:
        packet["error"] = "short ICMP header"
        return
    icmp_type, code = struct.unpack("!BB", data[pos:pos + 2])
    icmp = {"type": icmp_type, "code": code}
    packet["icmp"] = icmp
    echo = ECHO_TYPES.get((family, icmp_type))
    if echo:
        icmp["kind"] = echo
        if end >= pos + 8:
            icmp["id"], icmp["seq"] = struct.unpack("!HH", data[pos + 4:pos + 8])
        return
    errors = ICMP4_ERRORS if family == 4 else ICMP6_ERRORS
    if icmp_type not in errors:
        return
    icmp["kind"] = "error"
    icmp["error"] = errors[icmp_type]
    if icmp_type == (3 if family == 4 else 1):
        icmp["reason"] = (ICMP4_UNREACH_CODES if family == 4 else ICMP6_UNREACH_CODES).get(code, "code_%d" % code)
    if family == 4 and icmp_type == 3 and code == 4 and end >= pos + 8:
        icmp["mtu"] = struct.unpack("!H", data[pos + 6:pos + 8])[0]
    if family == 6 and icmp_type == 2 and end >= pos + 8:
        icmp["mtu"] = struct.unpack("!I", data[pos + 4:pos + 8])[0]
    icmp["quoted"] = _quoted(data[pos + 8:end])


def _quoted(raw):
    """The header fields of the packet an ICMP error quotes (often cut short)."""
    inner = decode(_pcap.LINKTYPE_RAW, raw)
    quoted = dict((key, inner[key]) for key in ("src", "dst", "proto", "sport", "dport") if key in inner)
    if "esp" in inner:
        quoted["spi"] = inner["esp"]["spi"]
    if "ike" in inner:
        quoted["ike"] = True
    return quoted


class Reassembler(object):
    """Joins IP fragments back into datagrams, so that fragmented IKE messages can be decoded.

    ``add(packet)`` takes a decoded fragment and returns the decoded reassembled datagram once its
    last piece has arrived, else None. Incomplete datagrams are counted by ``pending()``.
    """

    def __init__(self, max_datagrams=256):
        self._parts = {}
        self._max = max_datagrams
        self.reassembled = 0

    def add(self, packet):
        frag = packet.get("fragment")
        if not frag:
            return None
        key = (packet.get("family"), packet.get("src"), packet.get("dst"), packet.get("proto"), frag["id"])
        if key not in self._parts and len(self._parts) >= self._max:
            return None
        parts = self._parts.setdefault(key, {})
        parts[frag["offset"]] = (packet.get("fragment_payload") or b"", frag["more"])
        payload = self._complete(parts)
        if payload is None:
            return None
        del self._parts[key]
        self.reassembled += 1
        return _reassembled_packet(packet, payload)

    @staticmethod
    def _complete(parts):
        position, chunks = 0, []
        for offset in sorted(parts):
            data, more = parts[offset]
            if offset != position:
                return None
            chunks.append(data)
            position += len(data)
            if not more:
                return b"".join(chunks)
        return None

    def pending(self):
        return len(self._parts)


def _reassembled_packet(first, payload):
    packet = dict((key, first[key]) for key in ("family", "src", "dst", "proto", "ttl") if key in first)
    packet["length"] = len(payload)
    packet["reassembled"] = True
    _decode_transport(payload, 0, len(payload), first.get("proto"), packet)
    return packet


def proto_name(number):
    return PROTO_NAMES.get(number, str(number))
