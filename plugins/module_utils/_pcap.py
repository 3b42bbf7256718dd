# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Reading and writing capture files: classic pcap (micro/nanosecond, either byte order) and pcapng.

The reader never raises on bad input: a truncated or damaged file ends the iteration and leaves a
message in ``reader.warnings``. Each packet says its link type, so the decoder can strip the right
link-layer header (Ethernet, Linux cooked SLL/SLL2, raw IP, BSD loopback).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import struct

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

LINKTYPE_NAMES = {
    LINKTYPE_NULL: "NULL",
    LINKTYPE_ETHERNET: "EN10MB",
    12: "RAW",
    14: "RAW",
    LINKTYPE_RAW: "RAW",
    LINKTYPE_LOOP: "LOOP",
    LINKTYPE_LINUX_SLL: "LINUX_SLL",
    LINKTYPE_IPV4: "IPV4",
    LINKTYPE_IPV6: "IPV6",
    LINKTYPE_LINUX_SLL2: "LINUX_SLL2",
}

PCAP_MAGIC = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BYTE_ORDER_MAGIC = 0x1A2B3C4D
PCAPNG_IDB = 1
PCAPNG_PB = 2
PCAPNG_SPB = 3
PCAPNG_EPB = 6
MAX_BLOCK = 16 * 1024 * 1024
MAX_RECORD = 1024 * 1024

# pcapng epb_flags direction bits -> our direction words
EPB_DIRECTIONS = {1: "in", 2: "out"}


def linktype_name(linktype):
    return LINKTYPE_NAMES.get(linktype, "LINKTYPE_%d" % linktype)


class Packet(object):
    """One captured frame: when, on which link type and interface, and its bytes (maybe cut short)."""

    __slots__ = ("time", "linktype", "data", "wire_len", "interface", "direction")

    def __init__(self, time, linktype, data, wire_len, interface=None, direction=None):
        self.time = time
        self.linktype = linktype
        self.data = data
        self.wire_len = wire_len
        self.interface = interface
        self.direction = direction

    @property
    def truncated(self):
        return len(self.data) < self.wire_len


class CaptureReader(object):
    """Iterate over the packets of a pcap or pcapng file object.

    ``interface`` names the interface for a classic pcap (which carries none); pcapng files name
    their own interfaces. After iteration ``warnings`` says what was skipped or cut short and
    ``format`` is ``pcap``, ``pcapng`` or None when the file is neither.
    """

    def __init__(self, fileobj, interface=None):
        self._file = fileobj
        self._interface = interface
        self.warnings = []
        self.format = None
        self.linktypes = []

    def __iter__(self):
        head = self._file.read(4)
        if len(head) < 4:
            self.warnings.append("empty capture file (no header)")
            return iter(())
        if head in PCAP_MAGIC:
            self.format = "pcap"
            return self._pcap(head)
        if struct.unpack("<I", head)[0] == PCAPNG_SHB:
            self.format = "pcapng"
            return self._pcapng(head)
        self.warnings.append("not a pcap or pcapng file (magic %s)" % _hex(head))
        return iter(())

    # -- classic pcap ------------------------------------------------------------------------
    def _pcap(self, magic):
        endian, resolution = PCAP_MAGIC[magic]
        rest = self._file.read(20)
        if len(rest) < 20:
            self.warnings.append("truncated pcap file header")
            return
        _vmaj, _vmin, _zone, _sigfigs, _snaplen, linkfield = struct.unpack(endian + "HHiIII", rest)
        linktype = linkfield & 0x0FFFFFFF
        self.linktypes.append(linktype)
        header = struct.Struct(endian + "IIII")
        count = 0
        while True:
            raw = self._file.read(16)
            if not raw:
                return
            if len(raw) < 16:
                self.warnings.append("truncated pcap record header after %d packets" % count)
                return
            seconds, fraction, caplen, wire_len = header.unpack(raw)
            if caplen > MAX_RECORD:
                self.warnings.append("implausible pcap record length %d after %d packets; stopped" % (caplen, count))
                return
            data = self._file.read(caplen)
            if len(data) < caplen:
                self.warnings.append("truncated pcap record %d (%d of %d bytes)" % (count + 1, len(data), caplen))
                return
            count += 1
            yield Packet(seconds + fraction * resolution, linktype, data, max(wire_len, caplen), self._interface)

    # -- pcapng --------------------------------------------------------------------------------
    def _pcapng(self, first):
        endian = None
        interfaces = []
        count = 0
        type_raw = first
        while True:
            if type_raw is None:
                type_raw = self._file.read(4)
                if not type_raw:
                    return
            len_raw = self._file.read(4)
            if len(type_raw) < 4 or len(len_raw) < 4:
                self.warnings.append("truncated pcapng block header after %d packets" % count)
                return
            if struct.unpack("<I", type_raw)[0] == PCAPNG_SHB:
                bom = self._file.read(4)
                if len(bom) < 4:
                    self.warnings.append("truncated pcapng section header")
                    return
                endian = "<" if struct.unpack("<I", bom)[0] == PCAPNG_BYTE_ORDER_MAGIC else ">"
                interfaces = []
                total = struct.unpack(endian + "I", len_raw)[0]
                rest = self._read_exact(total - 12) if total >= 16 else None
                body = None if rest is None else bom + rest
            elif endian is None:
                self.warnings.append("pcapng block before any section header")
                return
            else:
                total = struct.unpack(endian + "I", len_raw)[0]
                body = self._read_exact(total - 8) if total >= 12 else None
            block_type = struct.unpack((endian or "<") + "I", type_raw)[0]
            type_raw = None
            if body is None or total % 4:
                self.warnings.append("truncated or damaged pcapng block (type %d) after %d packets" % (block_type, count))
                return
            body = body[:-4]  # the trailing copy of the block length
            if block_type == PCAPNG_IDB:
                interfaces.append(self._interface_description(endian, body))
                self.linktypes.append(interfaces[-1][0])
            elif block_type in (PCAPNG_EPB, PCAPNG_PB, PCAPNG_SPB):
                packet = self._packet_block(endian, block_type, body, interfaces)
                if packet is None:
                    self.warnings.append("malformed pcapng packet block after %d packets" % count)
                    continue
                count += 1
                yield packet

    def _read_exact(self, size):
        if size < 0 or size > MAX_BLOCK:
            return None
        data = self._file.read(size)
        return data if len(data) == size else None

    def _interface_description(self, endian, body):
        if len(body) < 8:
            return (LINKTYPE_ETHERNET, None, 1e-6)
        linktype = struct.unpack(endian + "H", body[:2])[0]
        name, resolution = None, 1e-6
        for code, value in _options(endian, body[8:]):
            if code == 2:
                name = value.rstrip(b"\0").decode("utf-8", "replace")
            elif code == 9 and value:
                raw = ord(value[0:1])
                resolution = 2.0 ** -(raw & 0x7F) if raw & 0x80 else 10.0 ** -raw
        return (linktype, name, resolution)

    def _packet_block(self, endian, block_type, body, interfaces):
        try:
            if block_type == PCAPNG_EPB:
                if_id, high, low, caplen, wire_len = struct.unpack(endian + "IIIII", body[:20])
                data = body[20:20 + caplen]
                options = body[20 + _pad4(caplen):]
            elif block_type == PCAPNG_PB:
                if_id, _drops, high, low, caplen, wire_len = struct.unpack(endian + "HHIIII", body[:20])
                data = body[20:20 + caplen]
                options = b""
            else:
                if_id, high, low = 0, 0, 0
                wire_len = struct.unpack(endian + "I", body[:4])[0]
                data = body[4:4 + wire_len]
                options = b""
        except struct.error:
            return None
        if if_id >= len(interfaces):
            return None
        linktype, name, resolution = interfaces[if_id]
        direction = None
        for code, value in _options(endian, options):
            if code == 2 and len(value) >= 4:
                direction = EPB_DIRECTIONS.get(struct.unpack(endian + "I", value[:4])[0] & 3)
        stamp = ((high << 32) | low) * resolution
        return Packet(stamp, linktype, data, max(wire_len, len(data)), name or self._interface or str(if_id), direction)


def _pad4(length):
    return (length + 3) & ~3


def _options(endian, raw):
    """(code, value) pairs of a pcapng options area; stops quietly at damage or opt_endofopt."""
    offset = 0
    while offset + 4 <= len(raw):
        code, length = struct.unpack(endian + "HH", raw[offset:offset + 4])
        if code == 0:
            return
        value = raw[offset + 4:offset + 4 + length]
        if len(value) < length:
            return
        yield code, value
        offset += 4 + _pad4(length)


def _hex(data):
    return "".join("%02x" % b for b in bytearray(data))


def read_file(path, interface=None):
    """All packets of the capture file at ``path`` and the reader (for ``warnings`` and ``format``)."""
    with open(path, "rb") as handle:
        reader = CaptureReader(handle, interface)
        packets = list(reader)
    return packets, reader


class PcapWriter(object):
    """Writes a classic pcap file (microsecond stamps, host byte order little-endian)."""

    def __init__(self, fileobj, linktype, snaplen=262144):
        self._file = fileobj
        self._file.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype))
        self.count = 0
        self.bytes = 24

    def write(self, timestamp, data, wire_len=None):
        seconds = int(timestamp)
        micros = int(round((timestamp - seconds) * 1e6))
        if micros >= 1000000:
            seconds, micros = seconds + 1, micros - 1000000
        self._file.write(struct.pack("<IIII", seconds, micros, len(data), wire_len or len(data)))
        self._file.write(data)
        self.count += 1
        self.bytes += 16 + len(data)

    def flush(self):
        self._file.flush()
