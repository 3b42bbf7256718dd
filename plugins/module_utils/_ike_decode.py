# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Decode IKEv1 (ISAKMP) and IKEv2 messages as far as they travel in clear.

The header of every message, the chain of payload types, and for unencrypted messages (IKEv2
IKE_SA_INIT, IKEv1 Main/Aggressive Mode first messages, informational errors) the SA proposals with
their transforms normalised through ``_algorithms``, notify types, the KE group, vendor IDs and NAT
detection hashes. Encrypted payloads (IKEv2 SK/SKF, IKEv1 with the E flag) are reported as such,
with the type of the first payload inside when the header says it.

``decode_message(data)`` returns a dict and never raises: problems are listed in ``errors``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import hashlib
import struct

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _algorithms

HEADER_LEN = 28
MAX_PAYLOADS = 64

IKEV2_EXCHANGES = {
    34: "IKE_SA_INIT",
    35: "IKE_AUTH",
    36: "CREATE_CHILD_SA",
    37: "INFORMATIONAL",
    38: "IKE_SESSION_RESUME",
    43: "IKE_INTERMEDIATE",
    44: "IKE_FOLLOWUP_KE",
}
IKEV1_EXCHANGES = {
    0: "NONE",
    1: "BASE",
    2: "MAIN_MODE",
    3: "AUTH_ONLY",
    4: "AGGRESSIVE",
    5: "INFORMATIONAL_V1",
    6: "TRANSACTION",
    32: "QUICK_MODE",
    33: "NEW_GROUP_MODE",
}
IKEV2_PAYLOADS = {
    33: "SA",
    34: "KE",
    35: "IDi",
    36: "IDr",
    37: "CERT",
    38: "CERTREQ",
    39: "AUTH",
    40: "NONCE",
    41: "NOTIFY",
    42: "DELETE",
    43: "VENDOR_ID",
    44: "TSi",
    45: "TSr",
    46: "SK",
    47: "CP",
    48: "EAP",
    49: "GSPM",
    53: "SKF",
}
IKEV1_PAYLOADS = {
    1: "SA",
    2: "PROPOSAL",
    3: "TRANSFORM",
    4: "KE",
    5: "ID",
    6: "CERT",
    7: "CERTREQ",
    8: "HASH",
    9: "SIG",
    10: "NONCE",
    11: "NOTIFY",
    12: "DELETE",
    13: "VENDOR_ID",
    14: "ATTRIBUTES",
    15: "SAK",
    20: "NAT_D",
    21: "NAT_OA",
    130: "NAT_D_DRAFT",
    131: "NAT_OA_DRAFT",
    132: "FRAGMENT",
}
PROTOCOLS = {1: "IKE", 2: "AH", 3: "ESP", 4: "IPCOMP"}

IKEV2_NOTIFIES = {
    1: "UNSUPPORTED_CRITICAL_PAYLOAD",
    4: "INVALID_IKE_SPI",
    5: "INVALID_MAJOR_VERSION",
    7: "INVALID_SYNTAX",
    9: "INVALID_MESSAGE_ID",
    11: "INVALID_SPI",
    14: "NO_PROPOSAL_CHOSEN",
    17: "INVALID_KE_PAYLOAD",
    24: "AUTHENTICATION_FAILED",
    34: "SINGLE_PAIR_REQUIRED",
    35: "NO_ADDITIONAL_SAS",
    36: "INTERNAL_ADDRESS_FAILURE",
    37: "FAILED_CP_REQUIRED",
    38: "TS_UNACCEPTABLE",
    39: "INVALID_SELECTORS",
    40: "UNACCEPTABLE_ADDRESSES",
    41: "UNEXPECTED_NAT_DETECTED",
    42: "USE_ASSIGNED_HoA",
    43: "TEMPORARY_FAILURE",
    44: "CHILD_SA_NOT_FOUND",
    45: "INVALID_GROUP_ID",
    46: "AUTHORIZATION_FAILED",
    47: "STATE_NOT_FOUND",
    16384: "INITIAL_CONTACT",
    16385: "SET_WINDOW_SIZE",
    16386: "ADDITIONAL_TS_POSSIBLE",
    16387: "IPCOMP_SUPPORTED",
    16388: "NAT_DETECTION_SOURCE_IP",
    16389: "NAT_DETECTION_DESTINATION_IP",
    16390: "COOKIE",
    16391: "USE_TRANSPORT_MODE",
    16392: "HTTP_CERT_LOOKUP_SUPPORTED",
    16393: "REKEY_SA",
    16394: "ESP_TFC_PADDING_NOT_SUPPORTED",
    16395: "NON_FIRST_FRAGMENTS_ALSO",
    16396: "MOBIKE_SUPPORTED",
    16397: "ADDITIONAL_IP4_ADDRESS",
    16398: "ADDITIONAL_IP6_ADDRESS",
    16399: "NO_ADDITIONAL_ADDRESSES",
    16400: "UPDATE_SA_ADDRESSES",
    16401: "COOKIE2",
    16402: "NO_NATS_ALLOWED",
    16403: "AUTH_LIFETIME",
    16404: "MULTIPLE_AUTH_SUPPORTED",
    16405: "ANOTHER_AUTH_FOLLOWS",
    16406: "REDIRECT_SUPPORTED",
    16407: "REDIRECT",
    16408: "REDIRECTED_FROM",
    16418: "CHILDLESS_IKEV2_SUPPORTED",
    16419: "QUICK_CRASH_DETECTION",
    16420: "IKEV2_MESSAGE_ID_SYNC_SUPPORTED",
    16421: "IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED",
    16430: "IKEV2_FRAGMENTATION_SUPPORTED",
    16431: "SIGNATURE_HASH_ALGORITHMS",
    16435: "USE_PPK",
    16438: "INTERMEDIATE_EXCHANGE_SUPPORTED",
    16441: "ADDITIONAL_KEY_EXCHANGE",
    16442: "USE_AGGFRAG",
}
IKEV1_NOTIFIES = {
    1: "INVALID_PAYLOAD_TYPE",
    2: "DOI_NOT_SUPPORTED",
    3: "SITUATION_NOT_SUPPORTED",
    4: "INVALID_COOKIE",
    5: "INVALID_MAJOR_VERSION",
    6: "INVALID_MINOR_VERSION",
    7: "INVALID_EXCHANGE_TYPE",
    8: "INVALID_FLAGS",
    9: "INVALID_MESSAGE_ID",
    10: "INVALID_PROTOCOL_ID",
    11: "INVALID_SPI",
    12: "INVALID_TRANSFORM_ID",
    13: "ATTRIBUTES_NOT_SUPPORTED",
    14: "NO_PROPOSAL_CHOSEN",
    15: "BAD_PROPOSAL_SYNTAX",
    16: "PAYLOAD_MALFORMED",
    17: "INVALID_KEY_INFORMATION",
    18: "INVALID_ID_INFORMATION",
    19: "INVALID_CERT_ENCODING",
    20: "INVALID_CERTIFICATE",
    21: "CERT_TYPE_UNSUPPORTED",
    22: "INVALID_CERT_AUTHORITY",
    23: "INVALID_HASH_INFORMATION",
    24: "AUTHENTICATION_FAILED",
    25: "INVALID_SIGNATURE",
    26: "ADDRESS_NOTIFICATION",
    27: "NOTIFY_SA_LIFETIME",
    28: "CERTIFICATE_UNAVAILABLE",
    29: "UNSUPPORTED_EXCHANGE_TYPE",
    30: "UNEQUAL_PAYLOAD_LENGTHS",
    16384: "CONNECTED",
    24576: "RESPONDER_LIFETIME",
    24577: "REPLAY_STATUS",
    24578: "INITIAL_CONTACT",
    36136: "R_U_THERE",
    36137: "R_U_THERE_ACK",
}

# Vendor IDs by their (prefix) hex: the MD5 of a well-known string, or a vendor's fixed value.
VENDOR_IDS = (
    ("4a131c81070358455c5728f20e95452f", "RFC 3947 (NAT-T)"),
    ("90cb80913ebb696e086381b5ec427b1f", "draft-ietf-ipsec-nat-t-ike-02"),
    ("cd60464335df21f87cfdb2fc68b6a448", "draft-ietf-ipsec-nat-t-ike-02 (newline)"),
    ("7d9419a65310ca6f2c179d9215529d56", "draft-ietf-ipsec-nat-t-ike-03"),
    ("afcad71368a1f1c96b8696fc77570100", "Dead Peer Detection"),
    ("882fe56d6fd20dbc2251613b2ebe5beb", "strongSwan"),
    ("4048b7d56ebce88525e7de7f00d6c2d3", "IKE fragmentation"),
    ("09002689dfd6b712", "XAuth"),
    ("12f5f28c457168a9702d9fe274cc0100", "Cisco Unity"),
    ("4f45", "libreswan/Openswan (OE)"),
    ("1e2b516905991c7d7c96fcbfb587e461", "Microsoft Windows"),
)

# IKEv1 phase 1 attribute types (RFC 2409 appendix A) and IPsec DOI attribute types (RFC 2407 4.5)
IKEV1_P1_ATTRS = {1: "encryption", 2: "hash", 3: "auth_method", 4: "group", 11: "life_type", 12: "life_duration", 14: "key_length"}
IKEV1_P2_ATTRS = {1: "life_type", 2: "life_duration", 3: "group", 4: "encapsulation", 5: "auth", 6: "key_length"}
IKEV1_ENCAPSULATION = {1: "tunnel", 2: "transport", 3: "udp-tunnel", 4: "udp-transport", 61443: "udp-tunnel", 61444: "udp-transport"}
KEY_LENGTH_ATTR = 14


def _hex(data):
    return binascii.hexlify(bytes(data)).decode("ascii")


def decode_message(data):
    """Decode one IKE message (the UDP payload after any non-ESP marker); see the module docstring."""
    msg = {"errors": []}
    data = bytes(data)
    if len(data) < HEADER_LEN:
        msg["errors"].append("short IKE header (%d bytes)" % len(data))
        msg["truncated"] = True
        return msg
    ispi, rspi = data[0:8], data[8:16]
    first, version, exchange, flags, message_id, length = struct.unpack("!BBBBII", data[16:28])
    major, minor = version >> 4, version & 0x0F
    msg.update(
        ispi=_hex(ispi),
        rspi=_hex(rspi),
        version="%d.%d" % (major, minor),
        major_version=major,
        exchange_type=exchange,
        message_id=message_id,
        length=length,
        flags=flags,
    )
    if length > len(data):
        msg["truncated"] = True
    body_end = min(len(data), length) if length >= HEADER_LEN else len(data)
    if major == 2:
        msg["exchange"] = IKEV2_EXCHANGES.get(exchange, "UNKNOWN_%d" % exchange)
        msg["initiator"] = bool(flags & 0x08)
        msg["response"] = bool(flags & 0x20)
        msg["encrypted"] = False
        _walk_v2(data, HEADER_LEN, body_end, first, msg)
    elif major == 1:
        msg["exchange"] = IKEV1_EXCHANGES.get(exchange, "UNKNOWN_%d" % exchange)
        msg["encrypted"] = bool(flags & 0x01)
        msg["commit"] = bool(flags & 0x02)
        if msg["encrypted"]:
            msg["payloads"] = []
            msg["encrypted_first_payload"] = IKEV1_PAYLOADS.get(first, "UNKNOWN_%d" % first)
        else:
            _walk_v1(data, HEADER_LEN, body_end, first, msg)
    else:
        msg["exchange"] = "UNKNOWN_%d" % exchange
        msg["errors"].append("unknown IKE major version %d" % major)
    _finish(msg)
    return msg


def _finish(msg):
    for key in ("proposals", "notifies", "vendor_ids", "nat_detection"):
        msg.setdefault(key, [])
    msg.setdefault("payloads", [])
    msg["notify_types"] = [notify["type"] for notify in msg["notifies"]]


def _payload_chain(data, pos, end, first, names, msg):
    """(type, name, body) of each generic payload; stops at damage with an error."""
    next_type = first
    for _count in range(MAX_PAYLOADS):
        if next_type == 0:
            return
        if pos + 4 > end:
            msg["errors"].append("payload %s cut short" % names.get(next_type, next_type))
            msg["truncated"] = True
            return
        following, _critical, plen = struct.unpack("!BBH", data[pos:pos + 4])
        if plen < 4:
            msg["errors"].append("payload %s with bad length %d" % (names.get(next_type, next_type), plen))
            return
        body = data[pos + 4:pos + plen]
        if pos + plen > end:
            msg["truncated"] = True
        yield next_type, names.get(next_type, "UNKNOWN_%d" % next_type), body, following
        pos += plen
        next_type = following
    msg["errors"].append("more than %d payloads" % MAX_PAYLOADS)


def _decode_payload(decode, ptype, name, body, msg):
    """One payload into ``msg``; a malformed one is an error of the message, never an exception."""
    try:
        decode(ptype, body, msg)
    except (struct.error, IndexError, ValueError, TypeError, KeyError) as exc:
        msg["errors"].append("malformed %s payload: %s" % (name, exc))


def _walk_v2(data, pos, end, first, msg):
    payloads = msg.setdefault("payloads", [])
    for ptype, name, body, following in _payload_chain(data, pos, end, first, IKEV2_PAYLOADS, msg):
        payloads.append(name)
        if ptype in (46, 53):
            msg["encrypted"] = True
            msg["encrypted_first_payload"] = IKEV2_PAYLOADS.get(following, "UNKNOWN_%d" % following)
            return
        _decode_payload(_v2_payload, ptype, name, body, msg)


def _v2_payload(ptype, body, msg):
    if ptype == 33:
        msg.setdefault("proposals", []).extend(_v2_proposals(body, msg))
    elif ptype == 34:
        group = struct.unpack("!H", body[0:2])[0]
        msg["ke_group"] = _algorithms.DH_GROUPS.get(group, "UNKNOWN_DH_%d" % group)
        msg["ke_group_number"] = group
    elif ptype == 41:
        protocol, spi_size, ntype = struct.unpack("!BBH", body[0:4])
        _add_notify(msg, ntype, IKEV2_NOTIFIES, protocol, body[4:4 + spi_size], body[4 + spi_size:])
    elif ptype == 43:
        msg.setdefault("vendor_ids", []).append(_vendor(body))


def _add_notify(msg, ntype, table, protocol, spi, ndata):
    notify = {
        "type": table.get(ntype, "UNKNOWN_%d" % ntype),
        "number": ntype,
        "error": ntype < 16384,
        "protocol": PROTOCOLS.get(protocol, None if protocol == 0 else "PROTOCOL_%d" % protocol),
    }
    if spi:
        notify["spi"] = "0x" + _hex(spi)
    if ntype in (16388, 16389, 20, 130):
        notify["hash"] = _hex(ndata)
        msg.setdefault("nat_detection", []).append(
            {"kind": "source" if ntype == 16388 else "destination", "hash": _hex(ndata)}
        )
    elif ntype == 17 and len(ndata) >= 2:
        number = struct.unpack("!H", ndata[0:2])[0]
        notify["accepted_group"] = _algorithms.DH_GROUPS.get(number, "UNKNOWN_DH_%d" % number)
    elif ntype == 16390:
        notify["cookie_length"] = len(ndata)
    msg.setdefault("notifies", []).append(notify)


def _vendor(body):
    value = _hex(body)
    for prefix, name in VENDOR_IDS:
        if value.startswith(prefix):
            return {"id": value, "name": name}
    return {"id": value, "name": None}


def _v2_proposals(body, msg):
    proposals = []
    pos = 0
    for _count in range(MAX_PAYLOADS):
        if pos + 8 > len(body):
            break
        last, _res, plen, number, protocol, spi_size, count = struct.unpack("!BBHBBBB", body[pos:pos + 8])
        if plen < 8:
            msg["errors"].append("proposal with bad length %d" % plen)
            break
        raw = body[pos:pos + plen]
        spi = raw[8:8 + spi_size]
        transforms = _v2_transforms(raw[8 + spi_size:], count, msg)
        proposals.append(_v2_normalise(number, protocol, spi, transforms))
        pos += plen
        if last == 0:
            break
    return proposals


def _v2_transforms(raw, count, msg):
    transforms = []
    pos = 0
    for _count in range(min(count, MAX_PAYLOADS)):
        if pos + 8 > len(raw):
            msg["errors"].append("transform list cut short")
            break
        _last, _res, tlen, ttype, _res2, tid = struct.unpack("!BBHBBH", raw[pos:pos + 8])
        if tlen < 8:
            msg["errors"].append("transform with bad length %d" % tlen)
            break
        attributes = dict(_attributes(raw[pos + 8:pos + tlen]))
        transforms.append((ttype, tid, _number(attributes.get(KEY_LENGTH_ATTR))))
        pos += tlen
    return transforms


def _v2_normalise(number, protocol, spi, transforms):
    proposal = _algorithms.empty_proposal()
    details = []
    for ttype, tid, key_bits in transforms:
        kind, name = _algorithms.ikev2_transform(ttype, tid, key_bits)
        if kind in _algorithms.TRANSFORM_TYPES:
            _algorithms.add_transform(proposal, kind, name)
        details.append({"type": kind, "id": tid, "name": name, "key_length": key_bits})
    protocol_name = PROTOCOLS.get(protocol, "PROTOCOL_%d" % protocol)
    names = [name for kind in _algorithms.TRANSFORM_TYPES for name in proposal[kind]]
    proposal["text"] = "%s:%s" % (protocol_name, "/".join(names))
    proposal.update(number=number, protocol=protocol_name, transforms=details)
    if spi:
        proposal["spi"] = "0x" + _hex(spi)
    return proposal


def _number(value):
    return value if isinstance(value, int) else None


def _attributes(raw):
    """(type, value) of data attributes in TV or TLV form; TLV values wider than 4 octets stay bytes."""
    pos = 0
    while pos + 4 <= len(raw):
        atype, value = struct.unpack("!HH", raw[pos:pos + 4])
        if atype & 0x8000:
            yield atype & 0x7FFF, value
            pos += 4
            continue
        data = raw[pos + 4:pos + 4 + value]
        pos += 4 + value
        if 0 < len(data) <= 4:
            yield atype, int(_hex(data), 16)
        else:
            yield atype, _hex(data)  # not a number we use: keep it JSON-safe


# --- IKEv1 --------------------------------------------------------------------------------------


def _walk_v1(data, pos, end, first, msg):
    payloads = msg.setdefault("payloads", [])
    for ptype, name, body, _following in _payload_chain(data, pos, end, first, IKEV1_PAYLOADS, msg):
        payloads.append(name)
        _decode_payload(_v1_payload, ptype, name, body, msg)


def _v1_payload(ptype, body, msg):
    if ptype == 1:
        msg.setdefault("proposals", []).extend(_v1_sa(body, msg))
    elif ptype == 11:
        _doi, protocol, spi_size, ntype = struct.unpack("!IBBH", body[0:8])
        _add_notify(msg, ntype, IKEV1_NOTIFIES, protocol, body[8:8 + spi_size], body[8 + spi_size:])
    elif ptype == 13:
        msg.setdefault("vendor_ids", []).append(_vendor(body))
    elif ptype in (20, 130):
        msg.setdefault("nat_detection", []).append({"kind": "v1", "hash": _hex(body)})
    elif ptype == 4:
        msg["ke_length"] = len(body)


def _v1_sa(body, msg):
    """Each IKEv1 transform is a complete alternative: one normalised proposal per transform."""
    proposals = []
    # DOI (4) and situation (4), then proposal payloads chained by their generic headers
    chain = _payload_chain(body, 8, len(body), 2, IKEV1_PAYLOADS, msg)
    for _ptype, _name, pbody, _following in chain:
        number, protocol, spi_size, _count = struct.unpack("!BBBB", pbody[0:4])
        spi = pbody[4:4 + spi_size]
        transforms = _payload_chain(pbody, 4 + spi_size, len(pbody), 3, IKEV1_PAYLOADS, msg)
        for _ttype, _tname, tbody, _tnext in transforms:
            tnumber, tid = struct.unpack("!BB", tbody[0:2])
            attributes = dict(_attributes(tbody[4:]))
            proposals.append(_v1_normalise(number, protocol, spi, tnumber, tid, attributes))
    return proposals


def _v1_normalise(number, protocol, spi, tnumber, tid, attributes):
    proposal = _algorithms.empty_proposal()
    protocol_name = PROTOCOLS.get(protocol, "PROTOCOL_%d" % protocol)
    key_bits = _number(attributes.get(14 if protocol == 1 else 6))
    extra = {}
    if protocol == 1:
        encr = _algorithms.IKEV1_ENCR.get(attributes.get(1))
        if encr:
            keyed = encr in ("AES_CBC", "CAMELLIA_CBC", "BLOWFISH", "RC5", "CAST")
            _algorithms.add_transform(proposal, "encryption", _algorithms.encryption_name(encr, key_bits if keyed else None))
        elif 1 in attributes:
            _algorithms.add_transform(proposal, "encryption", "UNKNOWN_ENCR_%s" % attributes[1])
        hash_name = _algorithms.IKEV1_HASH.get(attributes.get(2))
        if hash_name in _algorithms.HASH_IMPLIES:
            integ, prf = _algorithms.HASH_IMPLIES[hash_name]
            _algorithms.add_transform(proposal, "integrity", integ)
            _algorithms.add_transform(proposal, "prf", prf)
        elif 2 in attributes:
            _algorithms.add_transform(proposal, "integrity", "UNKNOWN_HASH_%s" % attributes[2])
        if 3 in attributes:
            extra["auth_method"] = _algorithms.IKEV1_AUTH_METHOD.get(_number(attributes[3]), "UNKNOWN_%s" % attributes[3])
        group = _number(attributes.get(4))
    else:
        entry = _algorithms.IKEV1_ESP_TRANSFORM.get(tid) if protocol == 3 else None
        if entry:
            base, keyed, _icv = entry
            _algorithms.add_transform(proposal, "encryption", _algorithms.encryption_name(base, key_bits if keyed else None))
        elif protocol == 3:
            _algorithms.add_transform(proposal, "encryption", "UNKNOWN_ENCR_%d" % tid)
        if 5 in attributes:
            _algorithms.add_transform(
                proposal, "integrity", _algorithms.IKEV1_ESP_AUTH.get(attributes[5], "UNKNOWN_AUTH_%s" % attributes[5])
            )
        if 4 in attributes:
            extra["mode"] = IKEV1_ENCAPSULATION.get(attributes[4], "UNKNOWN_%s" % attributes[4])
        group = _number(attributes.get(3))
    if group is not None:
        _algorithms.add_transform(proposal, "dh", _algorithms.DH_GROUPS.get(group, "UNKNOWN_DH_%s" % group))
    lifetime = attributes.get(12 if protocol == 1 else 2)
    if isinstance(lifetime, int):
        extra["lifetime"] = lifetime
    names = [name for kind in _algorithms.TRANSFORM_TYPES for name in proposal[kind]]
    proposal["text"] = "%s:%s" % (protocol_name, "/".join(names))
    proposal.update(number=number, protocol=protocol_name, transform_number=tnumber, transform_id=tid)
    proposal.update(extra)
    if spi:
        proposal["spi"] = "0x" + _hex(spi)
    return proposal


# --- NAT detection --------------------------------------------------------------------------------


def nat_detection_hash(ispi_hex, rspi_hex, address_packed, port, digest="sha1"):
    """The NAT detection hash of RFC 7296 2.23 / RFC 3947 (IKEv1 uses the negotiated hash)."""
    data = binascii.unhexlify(ispi_hex) + binascii.unhexlify(rspi_hex) + address_packed + struct.pack("!H", port)
    return hashlib.new(digest, data).hexdigest()
