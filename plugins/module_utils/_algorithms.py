# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""One vocabulary for IKE and ESP transforms, whatever wrote them.

Every source (kernel xfrm names, strongSwan/libreswan/racoon configuration keywords, IKEv1/IKEv2
transform numbers on the wire) is normalised to the same canonical names, close to the IANA
registry and to what strongSwan prints:

- encryption: ``AES_CBC_256``, ``AES_CTR_128``, ``AES_GCM_16_256`` (ICV octets, then key bits),
  ``AES_CCM_8_128``, ``CHACHA20_POLY1305``, ``NULL_AUTH_AES_GMAC_128``, ``3DES``, ``DES``, ``NULL``...
- integrity: ``HMAC_SHA1_96``, ``HMAC_SHA2_256_128``, ``HMAC_SHA2_256_96`` (the draft truncation),
  ``HMAC_SHA2_384_192``, ``HMAC_SHA2_512_256``, ``HMAC_MD5_96``, ``AES_XCBC_96``, ``NONE``...
- prf: ``PRF_HMAC_SHA2_256``...; dh: ``MODP_2048``, ``ECP_256``, ``CURVE_25519``, ``NONE``...;
  esn: ``ESN``, ``NO_ESN``.

A proposal is a dict of lists, one list of alternatives per transform type::

    {"encryption": [...], "integrity": [...], "prf": [...], "dh": [...], "esn": [...], "text": "..."}

An empty list means the proposal does not carry that transform type (e.g. no PFS group in an ESP
proposal, no integrity with an AEAD cipher).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

TRANSFORM_TYPES = ("encryption", "integrity", "prf", "dh", "esn")

# IKEv2 transform type numbers (RFC 7296 3.3.2) -> our keys.
IKEV2_TRANSFORM_TYPES = {1: "encryption", 2: "prf", 3: "integrity", 4: "dh", 5: "esn"}

# IKEv2 ENCR ids: base name, whether the key length attribute applies, AEAD ICV octets.
IKEV2_ENCR = {
    1: ("DES_IV64", False, None),
    2: ("DES", False, None),
    3: ("3DES", False, None),
    4: ("RC5", True, None),
    5: ("IDEA", False, None),
    6: ("CAST", True, None),
    7: ("BLOWFISH", True, None),
    8: ("3IDEA", False, None),
    9: ("DES_IV32", False, None),
    11: ("NULL", False, None),
    12: ("AES_CBC", True, None),
    13: ("AES_CTR", True, None),
    14: ("AES_CCM_8", True, 8),
    15: ("AES_CCM_12", True, 12),
    16: ("AES_CCM_16", True, 16),
    18: ("AES_GCM_8", True, 8),
    19: ("AES_GCM_12", True, 12),
    20: ("AES_GCM_16", True, 16),
    21: ("NULL_AUTH_AES_GMAC", True, 16),
    23: ("CAMELLIA_CBC", True, None),
    24: ("CAMELLIA_CTR", True, None),
    25: ("CAMELLIA_CCM_8", True, 8),
    26: ("CAMELLIA_CCM_12", True, 12),
    27: ("CAMELLIA_CCM_16", True, 16),
    28: ("CHACHA20_POLY1305", False, 16),
}

IKEV2_PRF = {
    1: "PRF_HMAC_MD5",
    2: "PRF_HMAC_SHA1",
    3: "PRF_HMAC_TIGER",
    4: "PRF_AES128_XCBC",
    5: "PRF_HMAC_SHA2_256",
    6: "PRF_HMAC_SHA2_384",
    7: "PRF_HMAC_SHA2_512",
    8: "PRF_AES128_CMAC",
}

IKEV2_INTEG = {
    0: "NONE",
    1: "HMAC_MD5_96",
    2: "HMAC_SHA1_96",
    3: "DES_MAC",
    4: "KPDK_MD5",
    5: "AES_XCBC_96",
    6: "HMAC_MD5_128",
    7: "HMAC_SHA1_160",
    8: "AES_CMAC_96",
    9: "AES_128_GMAC",
    10: "AES_192_GMAC",
    11: "AES_256_GMAC",
    12: "HMAC_SHA2_256_128",
    13: "HMAC_SHA2_384_192",
    14: "HMAC_SHA2_512_256",
}

# Diffie-Hellman / key exchange groups; the numbers are shared by IKEv1 and IKEv2.
DH_GROUPS = {
    0: "NONE",
    1: "MODP_768",
    2: "MODP_1024",
    5: "MODP_1536",
    14: "MODP_2048",
    15: "MODP_3072",
    16: "MODP_4096",
    17: "MODP_6144",
    18: "MODP_8192",
    19: "ECP_256",
    20: "ECP_384",
    21: "ECP_521",
    22: "MODP_1024_160",
    23: "MODP_2048_224",
    24: "MODP_2048_256",
    25: "ECP_192",
    26: "ECP_224",
    27: "ECP_224_BP",
    28: "ECP_256_BP",
    29: "ECP_384_BP",
    30: "ECP_512_BP",
    31: "CURVE_25519",
    32: "CURVE_448",
    35: "ML_KEM_512",
    36: "ML_KEM_768",
    37: "ML_KEM_1024",
}
DH_NUMBERS = dict((name, number) for number, name in DH_GROUPS.items())

IKEV2_ESN = {0: "NO_ESN", 1: "ESN"}

# IKEv1 phase 1 attribute values (RFC 2409 appendix A).
IKEV1_ENCR = {1: "DES", 2: "IDEA", 3: "BLOWFISH", 4: "RC5", 5: "3DES", 6: "CAST", 7: "AES_CBC", 8: "CAMELLIA_CBC"}
IKEV1_HASH = {1: "MD5", 2: "SHA1", 3: "TIGER", 4: "SHA2_256", 5: "SHA2_384", 6: "SHA2_512"}
IKEV1_AUTH_METHOD = {
    1: "psk",
    2: "dss",
    3: "rsa-sig",
    4: "rsa-enc",
    5: "rsa-enc-revised",
    9: "ecdsa-256",
    10: "ecdsa-384",
    11: "ecdsa-521",
    64221: "hybrid-rsa",
    65001: "xauth-psk",
    65003: "xauth-rsa",
}
# IKEv1 phase 2 (IPsec DOI, RFC 2407): ESP transform ids and the auth algorithm attribute. The ESP
# transform ids decoded here mean what the IKEv2 ENCR ids of the same number mean (IANA kept them).
IKEV1_ESP_TRANSFORM = dict((tid, IKEV2_ENCR[tid]) for tid in (2, 3, 11, 12, 13, 14, 15, 16, 18, 19, 20, 23))
IKEV1_ESP_AUTH = {
    1: "HMAC_MD5_96",
    2: "HMAC_SHA1_96",
    5: "HMAC_SHA2_256_128",
    6: "HMAC_SHA2_384_192",
    7: "HMAC_SHA2_512_256",
    9: "AES_XCBC_96",
}

# A hash as IKEv1 (and strongSwan's IKE keywords) use it: the integrity and the PRF it implies.
HASH_IMPLIES = {
    "MD5": ("HMAC_MD5_96", "PRF_HMAC_MD5"),
    "SHA1": ("HMAC_SHA1_96", "PRF_HMAC_SHA1"),
    "SHA2_256": ("HMAC_SHA2_256_128", "PRF_HMAC_SHA2_256"),
    "SHA2_384": ("HMAC_SHA2_384_192", "PRF_HMAC_SHA2_384"),
    "SHA2_512": ("HMAC_SHA2_512_256", "PRF_HMAC_SHA2_512"),
}

AEAD_PREFIXES = ("AES_GCM_", "AES_CCM_", "CAMELLIA_CCM_", "CHACHA20_POLY1305", "NULL_AUTH_AES_GMAC")


def encryption_name(base, key_bits=None):
    """``('AES_CBC', 256)`` -> ``'AES_CBC_256'``; ciphers without a key length keep their name."""
    if key_bits:
        return "%s_%d" % (base, key_bits)
    return base


def is_aead(name):
    return bool(name) and name.startswith(AEAD_PREFIXES)


def ikev2_transform(ttype, tid, key_bits=None):
    """(type key, canonical name) of an IKEv2 transform; unknown ids give ``'UNKNOWN_<type>_<id>'``."""
    kind = IKEV2_TRANSFORM_TYPES.get(ttype, "type%d" % ttype)
    if kind == "encryption":
        entry = IKEV2_ENCR.get(tid)
        if entry is None:
            return kind, "UNKNOWN_ENCR_%d" % tid
        base, keyed, _icv = entry
        return kind, encryption_name(base, key_bits if keyed else None)
    table = {"prf": IKEV2_PRF, "integrity": IKEV2_INTEG, "dh": DH_GROUPS, "esn": IKEV2_ESN}.get(kind)
    if table is None:
        return kind, "UNKNOWN_%d" % tid
    return kind, table.get(tid, "UNKNOWN_%s_%d" % (kind.upper(), tid))


def empty_proposal(text=""):
    proposal = dict((kind, []) for kind in TRANSFORM_TYPES)
    proposal["text"] = text
    return proposal


def add_transform(proposal, kind, name):
    """Append ``name`` to the proposal's ``kind`` list unless already there."""
    if name not in proposal[kind]:
        proposal[kind].append(name)
    return proposal


# --- kernel (xfrm) algorithm names -------------------------------------------------------------

# enc name -> (base, bits of nonce/salt included in the key)
KERNEL_ENC = {
    "cbc(aes)": ("AES_CBC", 0),
    "rfc3686(ctr(aes))": ("AES_CTR", 32),
    "cbc(des3_ede)": ("3DES", None),
    "cbc(des)": ("DES", None),
    "ecb(cipher_null)": ("NULL", None),
    "cipher_null": ("NULL", None),
    "cbc(cast5)": ("CAST", 0),
    "cbc(blowfish)": ("BLOWFISH", 0),
    "cbc(twofish)": ("TWOFISH", 0),
    "cbc(serpent)": ("SERPENT", 0),
    "cbc(camellia)": ("CAMELLIA_CBC", 0),
}
# aead name -> (base without ICV, bits of salt included in the key)
KERNEL_AEAD = {
    "rfc4106(gcm(aes))": ("AES_GCM", 32),
    "rfc4309(ccm(aes))": ("AES_CCM", 24),
    "rfc4543(gcm(aes))": ("NULL_AUTH_AES_GMAC", 32),
    "rfc7539esp(chacha20,poly1305)": ("CHACHA20_POLY1305", 32),
}
# auth name -> (canonical prefix, kernel default truncation in bits when `auth` (not auth-trunc) is used)
KERNEL_AUTH = {
    "hmac(md5)": ("HMAC_MD5", 96),
    "hmac(sha1)": ("HMAC_SHA1", 96),
    "hmac(sha256)": ("HMAC_SHA2_256", 96),
    "hmac(sha384)": ("HMAC_SHA2_384", 192),
    "hmac(sha512)": ("HMAC_SHA2_512", 256),
    "hmac(rmd160)": ("HMAC_RIPEMD160", 96),
    "hmac(ripemd160)": ("HMAC_RIPEMD160", 96),
    "xcbc(aes)": ("AES_XCBC", 96),
    "cmac(aes)": ("AES_CMAC", 96),
    "digest_null": ("NONE", 0),
}


def kernel_auth_default_bits(name):
    """The ICV length the kernel uses for ``auth NAME`` without an explicit truncation, or None."""
    entry = KERNEL_AUTH.get(name)
    return entry[1] if entry else None


def kernel_encryption(name, key_bits):
    """Canonical encryption name of a kernel ``enc`` algorithm, or None when unknown."""
    entry = KERNEL_ENC.get(name)
    if entry is None:
        return None
    base, salt_bits = entry
    if salt_bits is None or not key_bits:
        return base
    return encryption_name(base, key_bits - salt_bits)


def kernel_aead(name, key_bits, icv_bits):
    """Canonical name of a kernel ``aead`` algorithm, or None when unknown."""
    entry = KERNEL_AEAD.get(name)
    if entry is None:
        return None
    base, salt_bits = entry
    if base == "CHACHA20_POLY1305":
        return base
    if base == "NULL_AUTH_AES_GMAC":
        return encryption_name(base, key_bits - salt_bits)
    return "%s_%d_%d" % (base, icv_bits // 8, key_bits - salt_bits)


def kernel_integrity(name, trunc_bits):
    """Canonical integrity name of a kernel ``auth``/``auth-trunc`` algorithm, or None when unknown."""
    entry = KERNEL_AUTH.get(name)
    if entry is None:
        return None
    prefix = entry[0]
    if prefix == "NONE":
        return "NONE"
    return "%s_%d" % (prefix, trunc_bits)
