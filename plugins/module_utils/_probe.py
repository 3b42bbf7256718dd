# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any
# time. Do not use this from other collections or standalone plugins/modules!

"""Probe traffic through the tunnel from an inside source address (``ping -I <inside src>``).

ICMP echo of given sizes (with DF, to expose MTU trouble) over a raw socket, and a TCP connect to a
port; each attempt with its own result and timing. A refused TCP connection still proves that the
path works; a timeout does not. Standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import random
import select
import socket
import struct
import time

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _addr, _packet_decode

IP_MTU_DISCOVER = 10
IP_PMTUDISC_DONT = 0
IP_PMTUDISC_DO = 2
IP_MTU = 14
IPV6_MTU_DISCOVER = 23
IPV6_MTU = 24
IPV6_PMTUDISC_DO = 2
IPV6_PMTUDISC_DONT = 0

TCP_RESULTS = {
    errno.ECONNREFUSED: "refused",
    errno.ETIMEDOUT: "timeout",
    errno.EHOSTUNREACH: "host_unreachable",
    errno.ENETUNREACH: "net_unreachable",
    errno.EACCES: "blocked_locally",
    errno.EPERM: "blocked_locally",
    errno.EADDRNOTAVAIL: "source_not_local",
}


def _checksum(data):
    data = bytearray(data)
    if len(data) % 2:
        data.append(0)
    total = sum((data[i] << 8) + data[i + 1] for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def echo_request(family, ident, seq, size):
    """An ICMP/ICMPv6 echo request with ``size`` bytes of payload (``ping -s``)."""
    icmp_type = 8 if family == 4 else 128
    payload = (struct.pack("!d", time.time()) + b"netdoctor" * (size // 9 + 1))[:size]
    header = struct.pack("!BBHHH", icmp_type, 0, 0, ident, seq)
    if family == 6:
        return header + payload  # the kernel fills in the ICMPv6 checksum
    checksum = _checksum(header + payload)
    return struct.pack("!BBHHH", icmp_type, 0, checksum, ident, seq) + payload


def _path_mtu(family, source, destination):
    """The kernel's MTU toward ``destination`` (route, cached PMTU and any IPsec overhead), or None."""
    sock = socket.socket(socket.AF_INET if family == 4 else socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        sock.bind((source, 0))
        sock.connect((destination, 9))
        if family == 4:
            return sock.getsockopt(socket.IPPROTO_IP, IP_MTU)
        return sock.getsockopt(socket.IPPROTO_IPV6, IPV6_MTU)
    except (socket.error, OSError):
        return None
    finally:
        sock.close()


def _ms(seconds):
    return round(seconds * 1000.0, 3)


class _EchoSocket(object):
    def __init__(self, family, source, df):
        self.family = family
        if family == 4:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
            self.sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO if df else IP_PMTUDISC_DONT)
        else:
            self.sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, getattr(socket, "IPPROTO_ICMPV6", 58))
            self.sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO if df else IPV6_PMTUDISC_DONT)
        self.sock.bind((source, 0))

    def close(self):
        self.sock.close()

    def receive(self, timeout):
        """A decoded ICMP message (dict with ``src`` and ``icmp``) or None after ``timeout``."""
        ready, _w, _x = select.select([self.sock], [], [], max(0.0, timeout))
        if not ready:
            return None
        data, address = self.sock.recvfrom(65535)
        if self.family == 4:
            return _packet_decode.decode_ip(data)
        return {"src": address[0], "icmp": _packet_decode.decode_icmp(data, 6)}


def icmp_echo(source, destination, size=56, df=True, count=3, interval=0.2, timeout=1.0):
    """Send ``count`` echo requests of ``size`` payload bytes; the result dict of this size."""
    family = _addr.address_family(destination)
    result = {"type": "icmp", "source": source, "destination": destination, "size": size, "df": df,
              "sent": 0, "received": 0, "rtt_ms": [], "errors": [], "attempts": []}
    if family is None or _addr.address_family(source) != family:
        result.update(status="error", msg="source %s and destination %s must be addresses of one family" % (source, destination))
        return result
    result["ip_length"] = size + 8 + (20 if family == 4 else 40)
    ident = (os.getpid() ^ random.randint(0, 0xFFFF)) & 0xFFFF
    try:
        sock = _EchoSocket(family, source, df)
    except (socket.error, OSError) as exc:
        result.update(status="error", msg="cannot open an ICMP socket bound to %s: %s" % (source, exc),
                      errno=errno.errorcode.get(getattr(exc, "errno", None) or 0))
        return result
    try:
        for seq in range(1, count + 1):
            result["attempts"].append(_one_echo(sock, family, destination, ident, seq, size, timeout, result))
            if seq < count:
                time.sleep(interval)
    finally:
        sock.close()
    result["path_mtu"] = _path_mtu(family, source, destination)
    result["status"] = _echo_status(result)
    return result


def _one_echo(sock, family, destination, ident, seq, size, timeout, result):
    attempt = {"seq": seq, "sent_at": time.time()}
    try:
        sock.sock.sendto(echo_request(family, ident, seq, size), (destination, 0))
    except (socket.error, OSError) as exc:
        attempt["result"] = "message_too_long" if getattr(exc, "errno", None) == errno.EMSGSIZE else "send_failed"
        attempt["msg"] = str(exc)
        return attempt
    result["sent"] += 1
    deadline = attempt["sent_at"] + timeout
    while True:
        try:
            reply = sock.receive(deadline - time.time())
        except (socket.error, OSError) as exc:
            attempt.update(result="receive_failed", msg=str(exc))
            return attempt
        if reply is None:
            attempt["result"] = "timeout"
            return attempt
        verdict = _match_reply(reply, family, destination, ident, seq)
        if verdict is None:
            continue
        if verdict == "reply":
            elapsed = time.time() - attempt["sent_at"]
            result["received"] += 1
            result["rtt_ms"].append(_ms(elapsed))
            attempt.update(result="reply", rtt_ms=_ms(elapsed))
        else:
            icmp = reply["icmp"]
            error = {"from": reply.get("src"), "error": icmp.get("error"), "reason": icmp.get("reason"), "mtu": icmp.get("mtu")}
            result["errors"].append(error)
            attempt.update(result=icmp.get("reason") or icmp.get("error"), error=error)
        return attempt


def _match_reply(reply, family, destination, ident, seq):
    """'reply', 'error' or None (not about our request)."""
    icmp = reply.get("icmp") or {}
    if icmp.get("kind") == "echo_reply":
        if icmp.get("id") == ident and icmp.get("seq") == seq and reply.get("src") == destination:
            return "reply"
        return None
    if icmp.get("kind") == "error":
        quoted = icmp.get("quoted") or {}
        if quoted.get("dst") == destination and quoted.get("proto") in (1, 58):
            return "error"
    return None


def _echo_status(result):
    outcomes = [attempt.get("result") for attempt in result["attempts"]]
    if result["received"] == len(outcomes) and outcomes:
        return "ok"
    if result["received"]:
        return "partial"
    if "message_too_long" in outcomes or "fragmentation_needed" in outcomes or "packet_too_big" in outcomes:
        return "mtu_exceeded"
    if any(outcome not in ("timeout", "send_failed", "receive_failed") for outcome in outcomes):
        return "icmp_error"
    if "send_failed" in outcomes:
        return "send_failed"
    return "no_reply"


def tcp_connect(source, destination, port, timeout=3.0):
    """Connect from ``source`` to ``destination:port``; result dict with status and timing."""
    family = _addr.address_family(destination)
    result = {"type": "tcp", "source": source, "destination": destination, "port": port}
    if family is None or _addr.address_family(source) != family:
        result.update(status="error", msg="source %s and destination %s must be addresses of one family" % (source, destination))
        return result
    sock = socket.socket(socket.AF_INET if family == 4 else socket.AF_INET6, socket.SOCK_STREAM)
    started = time.time()
    try:
        sock.bind((source, 0))
        sock.settimeout(timeout)
        code = sock.connect_ex((destination, port))
    except socket.timeout:
        code = errno.ETIMEDOUT
    except (socket.error, OSError) as exc:
        code = getattr(exc, "errno", None) or errno.EIO
    finally:
        sock.close()
    elapsed = time.time() - started
    if code in (errno.EAGAIN, errno.EINPROGRESS):
        code = errno.ETIMEDOUT
    status = "connected" if code == 0 else TCP_RESULTS.get(code, "error")
    result.update(status=status, time_ms=_ms(elapsed), started_at=started,
                  path_works=status in ("connected", "refused"))
    if code:
        result["errno"] = errno.errorcode.get(code, str(code))
        result["msg"] = os.strerror(code)
    return result


def run_probe(spec):
    """All probes of ``spec`` (the module's ``probe`` option) in order; a list of results."""
    results = []
    source, destination = spec["source"], spec["destination"]
    for size in spec.get("icmp_sizes") or []:
        results.append(icmp_echo(source, destination, size, spec.get("df", True), spec.get("count", 3),
                                 spec.get("interval", 0.2), spec.get("timeout", 1.0)))
    if spec.get("tcp_port"):
        results.append(tcp_connect(source, destination, spec["tcp_port"], spec.get("tcp_timeout", 3.0)))
    return results
