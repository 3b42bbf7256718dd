# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""A standard-library client of the kernel's XFRM netlink interface (and of the few rtnetlink
dumps the xfrm records need: local addresses).

``dump()`` runs one netlink dump and yields the payloads; ``decode_state()`` and
``decode_policy()`` turn one ``XFRM_MSG_NEWSA`` / ``XFRM_MSG_NEWPOLICY`` payload into the records of
``_xfrm_record``, with exactly the values and vocabulary that ``ip -s -s xfrm`` prints, so that the
text reader gives the same records. The layouts follow ``include/uapi/linux/xfrm.h``; the only part
that depends on the machine is the padding after structures that hold 64-bit counters, taken from
this interpreter's own ABI (the kernel translates for 32-bit processes, or refuses them, in which
case the caller falls back to the text reader).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import errno
import os
import socket
import struct

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _algorithms
from ansible_collections.netdoctor.ipsec.plugins.module_utils import _xfrm_record as rec

NETLINK_ROUTE = 0
NETLINK_XFRM = 6
NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_DUMP_INTR = 0x10
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3

XFRM_MSG_NEWSA = 0x10
XFRM_MSG_GETSA = 0x12
XFRM_MSG_NEWPOLICY = 0x13
XFRM_MSG_GETPOLICY = 0x15
RTM_NEWADDR = 20
RTM_GETADDR = 22

# enum xfrm_attr_type_t
XFRMA_ALG_AUTH = 1
XFRMA_ALG_CRYPT = 2
XFRMA_ALG_COMP = 3
XFRMA_ENCAP = 4
XFRMA_TMPL = 5
XFRMA_SEC_CTX = 8
XFRMA_REPLAY_VAL = 10
XFRMA_COADDR = 14
XFRMA_LASTUSED = 15
XFRMA_POLICY_TYPE = 16
XFRMA_ALG_AEAD = 18
XFRMA_ALG_AUTH_TRUNC = 20
XFRMA_MARK = 21
XFRMA_TFCPAD = 22
XFRMA_REPLAY_ESN_VAL = 23
XFRMA_SA_EXTRA_FLAGS = 24
XFRMA_PAD = 27
XFRMA_OFFLOAD_DEV = 28
XFRMA_SET_MARK = 29
XFRMA_SET_MARK_MASK = 30
XFRMA_IF_ID = 31
XFRMA_MTIMER_THRESH = 32
XFRMA_SA_DIR = 33
XFRMA_NAT_KEEPALIVE_INTERVAL = 34
XFRMA_SA_PCPU = 35

XFRM_OFFLOAD_INBOUND = 2
XFRM_OFFLOAD_PACKET = 4
XFRM_POLICY_MAX = 3
IFA_ADDRESS = 1
IFA_LOCAL = 2

AF_INET = socket.AF_INET
AF_INET6 = socket.AF_INET6
FAMILIES = {AF_INET: 4, AF_INET6: 6}

_NLMSGHDR = struct.Struct("=IHHII")
_NLATTR = struct.Struct("=HH")
# struct xfrm_selector (56 bytes): ports are big-endian, the rest host order.
_SELECTOR = "16s16sHHHHHBBB3xiI"
_LFT_CFG = "8Q"
_LFT_CUR = "4Q"
# struct xfrm_usersa_info without its tail padding: sel, id (daddr, spi, proto), saddr, lft, curlft,
# stats, seq, reqid, family, mode, replay_window, flags.
_USERSA_INFO = struct.Struct("=" + _SELECTOR + "16s4sB3x16s" + _LFT_CFG + _LFT_CUR + "3IIIHBBB")
# struct xfrm_userpolicy_info without its tail padding.
_USERPOLICY_INFO = struct.Struct("=" + _SELECTOR + _LFT_CFG + _LFT_CUR + "IIBBBB")
# struct xfrm_user_tmpl (64 bytes, no 64-bit members)
_USER_TMPL = struct.Struct("=16s4sB3xH2x16sIBBBxIII")
_ALGO = struct.Struct("=64sI")
_ALGO_WITH_LEN = struct.Struct("=64sII")
_ENCAP = struct.Struct("=HHH2x16s")
_MARK = struct.Struct("=II")
_REPLAY = struct.Struct("=III")
_REPLAY_ESN = struct.Struct("=IIIIII")
_OFFLOAD = struct.Struct("=iB")
_SEC_CTX = struct.Struct("=HHBBH")
_U8 = struct.Struct("=B")
_U32 = struct.Struct("=I")
_U64 = struct.Struct("=Q")
_IFADDRMSG = struct.Struct("=BBBBI")
_ZERO_SELECTOR = b"\0" * 56


class NetlinkError(Exception):
    """The netlink interface cannot be used (no permission, no xfrm_user, a layout we do not know)."""

    def __init__(self, message, error_number=None):
        super(NetlinkError, self).__init__(message)
        self.errno = error_number


def _align4(length):
    return (length + 3) & ~3


def _u64_alignment():
    """Alignment of a 64-bit integer inside a C struct for this interpreter (4 on i386, else 8)."""
    return struct.calcsize("@BQ") - struct.calcsize("@Q")


def _padded(size, alignment):
    return (size + alignment - 1) // alignment * alignment


USERSA_INFO_SIZE = _padded(_USERSA_INFO.size, _u64_alignment())
USERPOLICY_INFO_SIZE = _padded(_USERPOLICY_INFO.size, _u64_alignment())


# --- the socket -------------------------------------------------------------------------------


def dump(protocol, msg_type, payload=b"", reply_type=None):
    """Payloads (bytes) of the messages of one netlink dump; raises NetlinkError.

    ``reply_type`` filters the messages (others are skipped). A dump the kernel marks as
    interrupted (the table changed meanwhile) raises NetlinkError with errno EINTR.
    """
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, protocol)
    except (socket.error, OSError, AttributeError) as exc:
        raise NetlinkError("cannot open a netlink socket (protocol %d): %s" % (protocol, exc), getattr(exc, "errno", None))
    try:
        return list(_dump_on(sock, msg_type, payload, reply_type))
    except (socket.error, OSError) as exc:
        raise NetlinkError("netlink dump %d failed: %s" % (msg_type, exc), getattr(exc, "errno", None))
    finally:
        sock.close()


def _dump_on(sock, msg_type, payload, reply_type):
    sock.bind((0, 0))
    sequence = 1
    request = _NLMSGHDR.pack(_NLMSGHDR.size + len(payload), msg_type, NLM_F_REQUEST | NLM_F_DUMP, sequence, 0)
    sock.send(request + payload)
    interrupted = False
    while True:
        data = sock.recv(1 << 17)
        if not data:
            raise NetlinkError("netlink dump %d ended without NLMSG_DONE" % msg_type)
        offset = 0
        while offset + _NLMSGHDR.size <= len(data):
            length, kind, flags, seq, _pid = _NLMSGHDR.unpack_from(data, offset)
            if length < _NLMSGHDR.size or offset + length > len(data):
                raise NetlinkError("malformed netlink message (length %d)" % length)
            body = data[offset + _NLMSGHDR.size:offset + length]
            offset += _align4(length)
            if seq != sequence:
                continue
            if flags & NLM_F_DUMP_INTR:
                interrupted = True
            if kind == NLMSG_DONE:
                if interrupted:
                    raise NetlinkError("the kernel table changed during the dump", errno.EINTR)
                return
            if kind == NLMSG_ERROR:
                code = -struct.unpack_from("=i", body)[0]
                if code == 0:
                    continue
                raise NetlinkError("netlink dump %d: %s" % (msg_type, os.strerror(code)), code)
            if reply_type is None or kind == reply_type:
                yield body


# --- attributes -------------------------------------------------------------------------------


def attributes(data, offset):
    """(type, payload) pairs of the netlink attributes in ``data`` from ``offset`` to the end."""
    found = []
    end = len(data)
    while offset + 4 <= end:
        length, kind = _NLATTR.unpack_from(data, offset)
        if length < 4 or offset + length > end:
            raise NetlinkError("malformed netlink attribute (type %d, length %d)" % (kind, length))
        found.append((kind & 0x3FFF, data[offset + 4:offset + length]))
        offset += _align4(length)
    return found


def _text(raw):
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def address(family, raw):
    """Text of an ``xfrm_address_t`` in ``family`` (AF_INET or AF_INET6)."""
    if family == AF_INET:
        return socket.inet_ntop(AF_INET, raw[:4])
    if family == AF_INET6:
        return socket.inet_ntop(AF_INET6, raw[:16])
    raise NetlinkError("unknown address family %d" % family)


def _hex(raw):
    return binascii.hexlify(raw).decode("ascii")


class InterfaceNames(object):
    """Interface index -> name, as ``ip`` prints it (``if<N>`` when the index is unknown)."""

    def __init__(self):
        self._names = None

    def __call__(self, index):
        if self._names is None:
            self._names = _interface_table()
        name = self._names.get(index)
        if name is None and hasattr(socket, "if_indextoname"):
            try:
                name = socket.if_indextoname(index)
            except (socket.error, OSError, ValueError):
                name = None
        return name or "if%d" % index


def _interface_table():
    names = {}
    try:
        entries = os.listdir("/sys/class/net")
    except OSError:
        return names
    for entry in entries:
        try:
            with open(os.path.join("/sys/class/net", entry, "ifindex")) as handle:
                names[int(handle.read().strip())] = entry
        except (IOError, OSError, ValueError):
            continue
    return names


# --- pieces -------------------------------------------------------------------------------------


def _names(table):
    """iproute2's name of every value of an 8-bit field (the number as text when it has none)."""
    return [table.get(value, "%d" % value) for value in range(256)]


_XFRM_PROTO_NAMES = _names(rec.XFRM_PROTOS)
_MODE_NAMES = _names(rec.MODES)
_SHARE_NAMES = _names(rec.SHARES)
_LEVEL_NAMES = _names(rec.TEMPLATE_LEVELS)
_ACTION_NAMES = _names(rec.POLICY_ACTIONS)
_PTYPE_NAMES = _names(rec.POLICY_TYPES)
_POLICY_DIR_NAMES = _names(rec.POLICY_DIRS)
_U32_ATTRIBUTE_KEYS = {XFRMA_IF_ID: "if_id", XFRMA_TFCPAD: "tfcpad", XFRMA_SA_PCPU: "pcpu",
                       XFRMA_MTIMER_THRESH: "mapping_maxage", XFRMA_NAT_KEEPALIVE_INTERVAL: "nat_keepalive_interval"}


def _mark(data):
    value, mask = _MARK.unpack_from(data)
    return {"value": value, "mask": mask}


def _replay_esn(data):
    bmp_len, oseq, seq, oseq_hi, seq_hi, window = _REPLAY_ESN.unpack_from(data)
    words = struct.unpack_from("=%dI" % bmp_len, data, _REPLAY_ESN.size)
    return {"esn_context": True, "window": window, "seq": seq, "oseq": oseq, "seq_hi": seq_hi,
            "oseq_hi": oseq_hi, "bitmap_length": bmp_len,
            "bitmap": "".join("%08x" % word for word in reversed(words))}


def _sec_ctx(data):
    _len, _exttype, _alg, _doi, ctx_len = _SEC_CTX.unpack_from(data)
    return data[_SEC_CTX.size:_SEC_CTX.size + ctx_len].decode("utf-8", "replace")


def _unknown(record, kind, data):
    record["unparsed"].append("netlink attribute %d (%d bytes)" % (kind, len(data)))


def _check_family(family, what):
    if family not in FAMILIES:
        raise NetlinkError("%s with address family %d: unknown layout" % (what, family))


class Decoder(object):
    """Decodes the messages of one dump. Tables of thousands of SAs repeat the same few addresses
    and lifetimes, so their text is computed once per dump."""

    def __init__(self, ifname=None):
        self.ifname = ifname or InterfaceNames()
        self._addresses = {AF_INET: {}, AF_INET6: {}}
        self._lifetimes = {}

    def address(self, family, raw):
        known = self._addresses[family]
        text = known.get(raw)
        if text is None:
            text = known[raw] = address(family, raw)
        return text

    def lifetime(self, cfg):
        known = self._lifetimes.get(cfg)
        if known is None:
            known = self._lifetimes[cfg] = {
                "soft_bytes": rec.limit(cfg[0]), "hard_bytes": rec.limit(cfg[1]),
                "soft_packets": rec.limit(cfg[2]), "hard_packets": rec.limit(cfg[3]),
                "soft_add_seconds": cfg[4], "hard_add_seconds": cfg[5],
                "soft_use_seconds": cfg[6], "hard_use_seconds": cfg[7],
            }
        return dict(known)

    @staticmethod
    def current(cur):
        return {"bytes": cur[0], "packets": cur[1], "add_time": cur[2] or None, "use_time": cur[3] or None}

    def selector(self, values, default_family, into):
        """Fill ``into`` with the selector of the 12 unpacked xfrm_selector fields."""
        daddr, saddr, dport, dport_mask, sport, sport_mask, family, plen_d, plen_s, proto, ifindex, user = values
        family = family or default_family
        _check_family(family, "xfrm selector")
        into["src"] = "%s/%d" % (self.address(family, saddr), plen_s)
        into["dst"] = "%s/%d" % (self.address(family, daddr), plen_d)
        into["family"] = FAMILIES[family]
        into["uid"] = user
        if proto:
            into["proto"] = proto
            into["proto_name"] = rec.protocol_name(proto)
            if proto in rec.ICMP_PROTOCOLS:
                into["type"] = socket.ntohs(sport) if sport_mask else None
                into["code"] = socket.ntohs(dport) if dport_mask else None
                sport_mask = dport_mask = 0
            elif proto == rec.GRE_PROTOCOL:
                if sport_mask or dport_mask:
                    into["gre_key"] = (socket.ntohs(sport) << 16) + socket.ntohs(dport)
                sport_mask = dport_mask = 0
            elif proto == rec.MH_PROTOCOL:
                into["type"] = socket.ntohs(sport) if sport_mask else None
                sport_mask = dport_mask = 0
        if sport_mask:
            into["sport"] = socket.ntohs(sport)
        if dport_mask:
            into["dport"] = socket.ntohs(dport)
        if ifindex > 0:
            into["dev"] = self.ifname(ifindex)
        return into

    def algorithm(self, state, kind, data, with_length):
        if with_length:
            name, key_bits, extra = _ALGO_WITH_LEN.unpack_from(data)
            start = _ALGO_WITH_LEN.size
        else:
            name, key_bits = _ALGO.unpack_from(data)
            extra, start = None, _ALGO.size
        name = _text(name)
        if kind == "auth" and extra is None:
            extra = _algorithms.kernel_auth_default_bits(name)
        rec.set_algorithm(state, kind, name, _hex(data[start:start + key_bits // 8]), key_bits, extra)

    def offload(self, data, with_dir):
        ifindex, flags = _OFFLOAD.unpack_from(data)
        return {"dev": self.ifname(ifindex),
                "dir": ("in" if flags & XFRM_OFFLOAD_INBOUND else "out") if with_dir else None,
                "mode": "packet" if flags & XFRM_OFFLOAD_PACKET else "crypto"}

    def template(self, data, offset):
        (daddr, spi, proto, family, saddr, reqid, mode, share, optional,
         aalgos, ealgos, calgos) = _USER_TMPL.unpack_from(data, offset)
        _check_family(family, "xfrm template")
        return {
            "src": self.address(family, saddr),
            "dst": self.address(family, daddr),
            "family": FAMILIES[family],
            "proto": _XFRM_PROTO_NAMES[proto],
            "spi": "0x" + _hex(spi),
            "reqid": reqid,
            "mode": _MODE_NAMES[mode],
            "level": _LEVEL_NAMES[optional],
            "share": _SHARE_NAMES[share],
            "enc_mask": "%08x" % ealgos,
            "auth_mask": "%08x" % aalgos,
            "comp_mask": "%08x" % calgos,
        }

    # --- records --------------------------------------------------------------------------------

    def state(self, data):
        """The state record (before ``finish_state``) of one XFRM_MSG_NEWSA payload."""
        if len(data) < USERSA_INFO_SIZE:
            raise NetlinkError("xfrm state message of %d bytes: unknown layout" % len(data))
        values = _USERSA_INFO.unpack_from(data)
        daddr, spi, proto, saddr = values[12:16]
        (replay_window_stat, replay_stat, integrity_failed, seq, reqid, family, mode,
         replay_window, flags) = values[28:37]
        _check_family(family, "xfrm state")
        state = rec.new_state()
        state["src"] = self.address(family, saddr)
        state["dst"] = self.address(family, daddr)
        state["family"] = FAMILIES[family]
        state["proto"] = _XFRM_PROTO_NAMES[proto]
        state["spi"] = "0x" + _hex(spi)
        state["reqid"] = reqid
        state["mode"] = _MODE_NAMES[mode]
        state["replay_window"] = replay_window
        state["seq"] = seq
        state["flags"] = rec.flag_names(flags, rec.STATE_FLAGS) if flags else []
        state["lifetime"] = self.lifetime(values[16:24])
        state["current"] = self.current(values[24:28])
        state["stats"] = {"replay_window": replay_window_stat, "replay": replay_stat, "integrity_failed": integrity_failed}
        if data[:56] != _ZERO_SELECTOR:
            state["selector"] = self.selector(values[:12], family, rec.new_selector())
        attrs = dict(attributes(data, USERSA_INFO_SIZE))
        for kind in sorted(attrs):
            self.state_attribute(state, kind, attrs[kind], attrs, family)
        return state

    def state_attribute(self, state, kind, data, attrs, family):
        if kind == XFRMA_ALG_CRYPT:
            self.algorithm(state, "enc", data, False)
        elif kind == XFRMA_ALG_AUTH:
            if XFRMA_ALG_AUTH_TRUNC not in attrs:
                self.algorithm(state, "auth", data, False)
        elif kind == XFRMA_ALG_AUTH_TRUNC:
            self.algorithm(state, "auth", data, True)
        elif kind == XFRMA_ALG_AEAD:
            self.algorithm(state, "aead", data, True)
        elif kind == XFRMA_ALG_COMP:
            rec.set_algorithm(state, "comp", _text(_ALGO.unpack_from(data)[0]), None, None)
        elif kind == XFRMA_ENCAP:
            encap_type, sport, dport, oa = _ENCAP.unpack_from(data)
            state["encap"] = {"type": rec.name_of(rec.ENCAP_TYPES, encap_type), "sport": socket.ntohs(sport),
                              "dport": socket.ntohs(dport), "oa": self.address(family, oa)}
        elif kind == XFRMA_MARK:
            state["mark"] = _mark(data)
        elif kind == XFRMA_SET_MARK:
            mask = attrs.get(XFRMA_SET_MARK_MASK)
            state["output_mark"] = {"value": _U32.unpack_from(data)[0],
                                    "mask": _U32.unpack_from(mask)[0] if mask is not None else None}
        elif kind == XFRMA_REPLAY_VAL:
            oseq, seq, bitmap = _REPLAY.unpack_from(data)
            state["replay"] = {"esn_context": False, "window": state["replay_window"], "seq": seq, "oseq": oseq,
                               "seq_hi": None, "oseq_hi": None, "bitmap_length": None, "bitmap": "%08x" % bitmap}
        elif kind == XFRMA_REPLAY_ESN_VAL:
            state["replay"] = _replay_esn(data)
        elif kind == XFRMA_LASTUSED:
            state["lastused"] = _U64.unpack_from(data)[0] or None
        elif kind == XFRMA_COADDR:
            state["coa"] = address(family, data)
        elif kind == XFRMA_OFFLOAD_DEV:
            state["offload"] = self.offload(data, True)
        elif kind in _U32_ATTRIBUTE_KEYS:
            state[_U32_ATTRIBUTE_KEYS[kind]] = _U32.unpack_from(data)[0]
        elif kind == XFRMA_SA_DIR:
            value = _U8.unpack_from(data)[0]
            state["sa_dir"] = rec.SA_DIRS.get(value, "other (%d)" % value)
        elif kind == XFRMA_SA_EXTRA_FLAGS:
            state["extra_flags"] = rec.flag_names(_U32.unpack_from(data)[0], rec.STATE_EXTRA_FLAGS)
        elif kind == XFRMA_SEC_CTX:
            state["sec_ctx"] = _sec_ctx(data)
        elif kind not in (XFRMA_SET_MARK_MASK, XFRMA_PAD):
            _unknown(state, kind, data)

    def policy(self, data):
        """The policy record of one XFRM_MSG_NEWPOLICY payload."""
        if len(data) < USERPOLICY_INFO_SIZE:
            raise NetlinkError("xfrm policy message of %d bytes: unknown layout" % len(data))
        values = _USERPOLICY_INFO.unpack_from(data)
        priority, index, direction, action, flags, share = values[24:30]
        policy = rec.new_policy()
        if values[6]:
            self.selector(values[:12], values[6], policy)
        socket_policy = direction >= XFRM_POLICY_MAX
        policy["socket"] = socket_policy
        policy["dir"] = _POLICY_DIR_NAMES[direction - XFRM_POLICY_MAX if socket_policy else direction]
        policy["action"] = _ACTION_NAMES[action]
        policy["priority"] = priority
        policy["index"] = index
        policy["share"] = _SHARE_NAMES[share]
        if flags:
            policy["flags"] = rec.flag_names(flags, rec.POLICY_FLAGS)
        policy["lifetime"] = self.lifetime(values[12:20])
        policy["current"] = self.current(values[20:24])
        for kind, attr in attributes(data, USERPOLICY_INFO_SIZE):
            if kind == XFRMA_TMPL:
                policy["tmpls"] = [self.template(attr, offset) for offset in range(0, len(attr) - 63, 64)]
            elif kind == XFRMA_POLICY_TYPE:
                policy["ptype"] = _PTYPE_NAMES[_U8.unpack_from(attr)[0]]
            elif kind == XFRMA_MARK:
                policy["mark"] = _mark(attr)
            elif kind == XFRMA_IF_ID:
                policy["if_id"] = _U32.unpack_from(attr)[0]
            elif kind == XFRMA_OFFLOAD_DEV:
                policy["offload"] = self.offload(attr, False)
            elif kind == XFRMA_SEC_CTX:
                policy["sec_ctx"] = _sec_ctx(attr)
            elif kind != XFRMA_PAD:
                _unknown(policy, kind, attr)
        return policy


def decode_state(data, ifname):
    """The state record (before ``finish_state``) of one XFRM_MSG_NEWSA payload."""
    return Decoder(ifname).state(data)


def decode_policy(data, ifname):
    """The policy record of one XFRM_MSG_NEWPOLICY payload."""
    return Decoder(ifname).policy(data)


# --- the kernel's tables ------------------------------------------------------------------------


def dump_states(ifname=None):
    """State records (before ``finish_state``) of every SA in this network namespace."""
    decoder = Decoder(ifname)
    return [decoder.state(body) for body in dump(NETLINK_XFRM, XFRM_MSG_GETSA, reply_type=XFRM_MSG_NEWSA)]


def dump_policies(ifname=None):
    """Policy records of every policy (including per-socket policies) in this network namespace."""
    decoder = Decoder(ifname)
    return [decoder.policy(body) for body in dump(NETLINK_XFRM, XFRM_MSG_GETPOLICY, reply_type=XFRM_MSG_NEWPOLICY)]


def local_addresses():
    """Every address configured on this host's interfaces (rtnetlink RTM_GETADDR)."""
    found = []
    request = _IFADDRMSG.pack(0, 0, 0, 0, 0)
    for body in dump(NETLINK_ROUTE, RTM_GETADDR, request, reply_type=RTM_NEWADDR):
        family = _IFADDRMSG.unpack_from(body)[0]
        if family not in FAMILIES:
            continue
        attrs = dict(attributes(body, _IFADDRMSG.size))
        raw = attrs.get(IFA_LOCAL, attrs.get(IFA_ADDRESS))
        if raw is not None:
            found.append(address(family, raw))
    return found
