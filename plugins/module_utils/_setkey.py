# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""PF_KEY dumps: ``setkey -D`` (SAD), ``setkey -DP`` (SPD) and ``racoonctl show-sa esp|ah|ipsec``
(which prints the SAD in the same layout), on Linux and the BSDs.

Keys in the dump (``E:``/``A:`` lines) are never returned: each becomes a salted fingerprint of its
bytes. Through PF_KEY, Linux truncates HMAC-SHA-256 to 96 bits (the old draft); the BSDs use the
RFC 4868 128 bits: ``platform`` says which to assume.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _fingerprint
from ansible_collections.netdoctor.ipsec.plugins.module_utils import _ike_record as rec

_SA_HEAD = re.compile(r"^(?P<src>[0-9a-fA-F:.]+)(?:\[(?P<sport>\d+)\])? (?P<dst>[0-9a-fA-F:.]+)(?:\[(?P<dport>\d+)\])?\s*$")
_SA_PROTO = re.compile(r"^\s+(?P<proto>esp|ah|ipcomp|esp-udp|tcp)\s+mode=(?P<mode>\S+)\s+spi=(?P<spi>\S+?)"
                       r"(?:\((?P<spihex>[^)]*)\))?\s+reqid=(?P<reqid>\S+?)(?:\([^)]*\))?\s*$")
_KEY = re.compile(r"^\s+(?P<kind>[EAC]):\s+(?P<alg>\S+)\s*(?P<key>(?:[0-9a-fA-FX]+\s*)*)$")
_POLICY_HEAD = re.compile(r"^(?P<src>\S+?)\[(?P<sport>[^\]]+)\] (?P<dst>\S+?)\[(?P<dport>[^\]]+)\] (?P<proto>.+?)\s*$")
_TEMPLATE = re.compile(r"^\s+(?P<proto>esp|ah|ipcomp)/(?P<mode>\w+)/(?P<src>[^-/]*)-?(?P<dst>[^/]*)/(?P<level>\S+)\s*$")

ENC = {
    "des-cbc": ("DES", False),
    "3des-cbc": ("3DES", False),
    "aes-cbc": ("AES_CBC", True),
    "rijndael-cbc": ("AES_CBC", True),
    "aes-ctr": ("AES_CTR", True),
    "blowfish-cbc": ("BLOWFISH", True),
    "cast128-cbc": ("CAST", True),
    "camellia-cbc": ("CAMELLIA_CBC", True),
    "twofish-cbc": ("TWOFISH", True),
    "null": ("NULL", False),
    "aes-gcm-16": ("AES_GCM_16", True),
    "aes-gcm-12": ("AES_GCM_12", True),
    "aes-gcm-8": ("AES_GCM_8", True),
    "aes-gmac": ("NULL_AUTH_AES_GMAC", True),
}
SALT_BITS = {"AES_CTR": 32, "AES_GCM_16": 32, "AES_GCM_12": 32, "AES_GCM_8": 32, "NULL_AUTH_AES_GMAC": 32}
AUTH = {
    "hmac-md5": "HMAC_MD5_96",
    "hmac-sha1": "HMAC_SHA1_96",
    "hmac-sha2-384": "HMAC_SHA2_384_192",
    "hmac-sha2-512": "HMAC_SHA2_512_256",
    "aes-xcbc-mac": "AES_XCBC_96",
    "keyed-md5": "KEYED_MD5",
    "keyed-sha1": "KEYED_SHA1",
    "null": "NONE",
}


def _hex_bits(key):
    digits = re.sub(r"\s+", "", key or "")
    if not re.match(r"^[0-9a-fA-F]+$", digits):
        return None, None
    return digits, len(digits) * 4


def _encryption(alg, key):
    entry = ENC.get(alg.lower())
    digits, bits = _hex_bits(key)
    if entry is None:
        return None
    base, keyed = entry
    if not keyed:
        return base
    if bits is None:
        return base
    return "%s_%d" % (base, bits - SALT_BITS.get(base, 0))


def _integrity(alg, platform):
    alg = alg.lower()
    if alg == "hmac-sha2-256":
        return "HMAC_SHA2_256_96" if platform == "linux" else "HMAC_SHA2_256_128"
    return AUTH.get(alg)


def _spi(text, hex_text):
    for candidate in (hex_text, text):
        if candidate and re.match(r"^(0x)?[0-9a-fA-F]+$", candidate):
            if candidate == text and not candidate.startswith("0x"):
                try:
                    return "0x%08x" % int(candidate)
                except ValueError:
                    return None
            return rec.spi_hex(candidate)
    return None


def parse_sad(text, salt=None, platform="linux"):
    """SA entries of ``setkey -D`` -> ``(states, warnings, unparsed)``; keys become fingerprints."""
    salt = salt or _fingerprint.random_salt()
    states, warnings, unparsed = [], [], []
    current = None
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        if line.strip() in ("No SAD entries.", "No SPD entries."):
            continue
        head = _SA_HEAD.match(line)
        if head:
            current = {"src": head.group("src"), "dst": head.group("dst"),
                       "src_port": rec.to_int(head.group("sport")), "dst_port": rec.to_int(head.group("dport")),
                       "proto": None, "mode": None, "spi": None, "reqid": None, "encryption": None,
                       "integrity": None, "compression": None, "enc_alg": None, "auth_alg": None,
                       "key_fingerprints": {}, "state": None, "seq": None, "replay": None, "flags": None,
                       "lifetime": {}, "current": {}, "pid": None, "refcnt": None, "encap": False}
            states.append(current)
            continue
        if current is None:
            unparsed.append(line.strip())
            continue
        if not _sa_detail(current, line, salt, platform):
            unparsed.append(line.strip())
    for state in states:
        if state["proto"] is None:
            warnings.append("SA %s -> %s has no protocol line (truncated output?)" % (state["src"], state["dst"]))
        elif state["state"] is None:
            warnings.append("SA %s -> %s has no state line (truncated output?)" % (state["src"], state["dst"]))
    warnings.extend(rec.unparsed_warnings(unparsed, "the SAD dump"))
    return states, warnings, unparsed


def _sa_detail(sa, line, salt, platform):
    match = _SA_PROTO.match(line)
    if match:
        sa["proto"] = match.group("proto").replace("-udp", "")
        sa["encap"] = match.group("proto") == "esp-udp"
        sa["mode"] = match.group("mode")
        sa["spi"] = _spi(match.group("spi"), match.group("spihex"))
        sa["reqid"] = rec.to_int(match.group("reqid"))
        return True
    match = _KEY.match(line)
    if match:
        kind, alg, key = match.group("kind"), match.group("alg"), match.group("key")
        digits, _bits = _hex_bits(key)
        fingerprint = _fingerprint.fingerprint_hex_key(digits, salt) if digits else None
        if kind == "E":
            sa["enc_alg"] = alg
            sa["encryption"] = _encryption(alg, key)
            sa["key_fingerprints"]["enc"] = fingerprint
        elif kind == "A":
            sa["auth_alg"] = alg
            sa["integrity"] = _integrity(alg, platform)
            sa["key_fingerprints"]["auth"] = fingerprint
        else:
            sa["compression"] = alg
        return True
    stripped = line.strip()
    if stripped.startswith("seq="):
        fields = dict(re.findall(r"(\w+)=(\S+)", stripped))
        sa["seq"] = fields.get("seq")
        sa["replay"] = rec.to_int(fields.get("replay"))
        sa["flags"] = fields.get("flags")
        sa["state"] = fields.get("state")
        return True
    if stripped.startswith(("created:", "last:")):
        return True
    if stripped.startswith("diff:"):
        values = dict(re.findall(r"(\w+): (\d+)\(s\)", stripped))
        sa["lifetime"].update({"age": rec.to_int(values.get("diff")), "hard_seconds": rec.to_int(values.get("hard")),
                               "soft_seconds": rec.to_int(values.get("soft"))})
        return True
    if stripped.startswith("current:") and "bytes" in stripped:
        values = dict(re.findall(r"(\w+): (\d+)\(bytes\)", stripped))
        sa["current"]["bytes"] = rec.to_int(values.get("current"))
        sa["lifetime"]["hard_bytes"] = rec.to_int(values.get("hard"))
        return True
    if stripped.startswith("allocated:"):
        sa["current"]["allocations"] = rec.to_int(stripped.split()[1])
        return True
    if stripped.startswith("sadb_seq="):
        fields = dict(re.findall(r"(\w+)=(\S+)", stripped))
        sa["pid"] = rec.to_int(fields.get("pid"))
        sa["refcnt"] = rec.to_int(fields.get("refcnt"))
        return True
    return False


def parse_spd(text):
    """Policies of ``setkey -DP`` -> ``(policies, warnings, unparsed)``."""
    policies, warnings, unparsed = [], [], []
    current = None
    for line in (text or "").splitlines():
        if not line.strip() or line.strip() == "No SPD entries.":
            continue
        if not line[0].isspace():
            head = _POLICY_HEAD.match(line)
            if head:
                current = {"src": rec.normalize_ts(head.group("src")), "dst": rec.normalize_ts(head.group("dst")),
                           "src_port": head.group("sport"), "dst_port": head.group("dport"),
                           "upper_proto": head.group("proto"), "dir": None, "action": None, "priority": None,
                           "templates": [], "spid": None}
                policies.append(current)
                continue
            unparsed.append(line.strip())
            current = None
            continue
        if current is None:
            unparsed.append(line.strip())
            continue
        stripped = line.strip()
        match = re.match(r"^(in|out|fwd)(?: prio (\S+))?(?: \S+)* (ipsec|none|discard|entrust|bypass)$", stripped)
        if match:
            current["dir"], current["priority"], current["action"] = match.group(1), match.group(2), match.group(3)
            continue
        match = _TEMPLATE.match(line)
        if match:
            current["templates"].append({"proto": match.group("proto"), "mode": match.group("mode"),
                                         "src": match.group("src") or None, "dst": match.group("dst") or None,
                                         "level": match.group("level")})
            continue
        if stripped.startswith(("spid=", "refcnt=", "created:", "lifetime:")):
            spid = re.search(r"spid=(\d+)", stripped)
            if spid:
                current["spid"] = int(spid.group(1))
            continue
        unparsed.append(stripped)
    warnings.extend(rec.unparsed_warnings(unparsed, "the SPD dump"))
    return policies, warnings, unparsed


def child_sas(states, local_addresses):
    """Pair inbound/outbound SAD entries by peer into child SA records (racoon's phase 2 view)."""
    local = set(local_addresses or [])
    children = {}
    order = []
    for sa in states:
        if sa["proto"] not in ("esp", "ah"):
            continue
        inbound = sa["dst"] in local
        peer = sa["src"] if inbound else sa["dst"]
        key = (peer, sa["reqid"], sa["mode"], sa["proto"])
        child = children.get(key)
        if child is None:
            child = rec.child_sa("%s" % peer)
            child["mode"] = sa["mode"]
            child["protocol"] = sa["proto"]
            child["reqid"] = sa["reqid"]
            child["extra"]["peer"] = peer
            children[key] = child
            order.append(key)
        child["state"] = sa["state"]
        child["installed"] = sa["state"] == "mature"
        child["encap"] = child["encap"] or sa["encap"]
        if inbound:
            child["spi_in"] = sa["spi"]
            child["bytes_in"] = sa["current"].get("bytes")
        else:
            child["spi_out"] = sa["spi"]
            child["bytes_out"] = sa["current"].get("bytes")
        if sa["encryption"] or sa["integrity"]:
            proposal = {"encryption": [sa["encryption"]] if sa["encryption"] else [],
                        "integrity": [sa["integrity"]] if sa["integrity"] and sa["integrity"] != "NONE" else [],
                        "prf": [], "dh": [], "esn": ["NO_ESN"], "text": "%s/%s" % (sa["enc_alg"], sa["auth_alg"]),
                        "protocol": sa["proto"], "unknown": []}
            child["proposal"] = proposal
    return [children[key] for key in order]
