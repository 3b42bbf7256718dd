# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""A standard-library packet capture for gateways without tcpdump: Linux AF_PACKET sockets.

One SOCK_DGRAM packet socket per interface, filtered in Python with the same choice as the tcpdump
expression (``_capture_filter.Selector``), written as pcap with the Linux cooked (SLL) link type so
that each packet keeps its direction (the kernel's packet type: outgoing or to us). Timestamps come
from the kernel (SIOCGSTAMP), not from when Python got round to reading the packet.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import os
import select
import socket
import struct
import time

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _packet_decode, _pcap

ETH_P_ALL = 0x0003
SIOCGSTAMP = 0x8906
TIMEVAL = struct.Struct("@ll")
RECV_SIZE = 65535 + 64


def available():
    """None when AF_PACKET capture can work here, else the reason it cannot."""
    if not hasattr(socket, "AF_PACKET"):
        return "this Python has no AF_PACKET sockets (not Linux?)"
    try:
        probe = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
    except (socket.error, OSError) as exc:
        return "cannot open a packet socket: %s" % exc
    probe.close()
    return None


def sll_header(pkttype, hatype, address, protocol):
    """The 16-byte LINKTYPE_LINUX_SLL header libpcap writes for a cooked capture."""
    address = bytes(address or b"")[:8]
    return struct.pack("!HHH", pkttype, hatype, len(address)) + address.ljust(8, b"\0") + struct.pack("!H", protocol)


class Capture(object):
    """Capture on ``interfaces`` into ``paths`` (one pcap per interface) until ``stop()`` or a bound.

    ``run(deadline)`` blocks until the deadline (time.time() value), ``max_packets`` kept packets in
    total, ``max_bytes`` written in total, or ``stop()`` from another thread; it returns the reason.
    ``listening_at`` is when the sockets were bound.
    """

    def __init__(self, interfaces, paths, selector, max_packets=None, max_bytes=None, snaplen=262144):
        self.interfaces = list(interfaces)
        self.paths = list(paths)
        self.selector = selector
        self.max_packets = max_packets
        self.max_bytes = max_bytes
        self.snaplen = snaplen
        self.kept = 0
        self.seen = 0
        self.listening_at = None
        self._stop = False
        self._sockets = []
        self._writers = []
        self._files = []

    def open(self):
        for interface, path in zip(self.interfaces, self.paths):
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
            sock.bind((interface, ETH_P_ALL))
            sock.setblocking(False)
            handle = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")
            self._sockets.append(sock)
            self._files.append(handle)
            self._writers.append(_pcap.PcapWriter(handle, _pcap.LINKTYPE_LINUX_SLL, self.snaplen))
        self.listening_at = time.time()

    def stop(self):
        self._stop = True

    def close(self):
        for sock in self._sockets:
            sock.close()
        for handle in self._files:
            try:
                handle.close()
            except (IOError, OSError):
                pass
        self._sockets, self._files = [], []

    @property
    def bytes_written(self):
        return sum(writer.bytes for writer in self._writers)

    def run(self, deadline):
        try:
            while True:
                if self._stop:
                    return "stopped"
                remaining = deadline - time.time()
                if remaining <= 0:
                    return "duration"
                try:
                    ready, _w, _x = select.select(self._sockets, [], [], min(remaining, 0.1))
                except (select.error, OSError) as exc:
                    if exc.args and exc.args[0] == errno.EINTR:
                        continue
                    raise
                for sock in ready:
                    reason = self._drain(sock)
                    if reason:
                        return reason
        finally:
            for writer in self._writers:
                writer.flush()

    def _drain(self, sock):
        index = self._sockets.index(sock)
        while True:
            try:
                data, address = sock.recvfrom(RECV_SIZE)
            except (socket.error, OSError) as exc:
                if exc.args and exc.args[0] in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR):
                    return None
                raise
            stamp = _kernel_stamp(sock)
            self.seen += 1
            _ifname, protocol, pkttype, hatype, hwaddr = address[:5]
            frame = sll_header(pkttype, hatype, hwaddr, protocol) + data
            decoded = _packet_decode.decode(_pcap.LINKTYPE_LINUX_SLL, frame)
            if not self.selector(decoded):
                continue
            self._writers[index].write(stamp, frame[:self.snaplen], len(frame))
            self.kept += 1
            if self.max_packets and self.kept >= self.max_packets:
                return "packets"
            if self.max_bytes and self.bytes_written >= self.max_bytes:
                return "size"


def _kernel_stamp(sock):
    try:
        seconds, micros = TIMEVAL.unpack(fcntl.ioctl(sock.fileno(), SIOCGSTAMP, b"\0" * TIMEVAL.size))
        return seconds + micros / 1e6
    except (IOError, OSError, struct.error):
        return time.time()
