# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""IKE and ESP proposals as each daemon writes them, in the vocabulary of ``_algorithms``.

Two kinds of input:

- configuration keywords: strongSwan (``aes256gcm16-prfsha256-ecp256``, ``default``, ``esn``),
  libreswan (``aes256-sha2_256;modp2048``, ``aes_gcm256``) and racoon attributes
  (``encryption_algorithm aes 256; hash_algorithm sha1; dh_group modp1024``);
- the daemons' own canonical names in status output and logs: strongSwan
  (``IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048``, ``AES_CBC-256/...``) and
  libreswan (``AES_CBC_256-HMAC_SHA2_256-MODP2048``, ``cipher=AES_GCM_16_256 integ=n/a prf=... ke=DH19``).

Every parser returns ``(proposals, problems)``: a list of proposal dicts (``_algorithms``
shape) and a list of messages about tokens it did not understand. Unknown tokens are kept in the
proposal's ``unknown`` list; they never raise.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _algorithms as alg

INTEG_TO_PRF = {
    "HMAC_MD5_96": "PRF_HMAC_MD5",
    "HMAC_SHA1_96": "PRF_HMAC_SHA1",
    "HMAC_SHA2_256_128": "PRF_HMAC_SHA2_256",
    "HMAC_SHA2_384_192": "PRF_HMAC_SHA2_384",
    "HMAC_SHA2_512_256": "PRF_HMAC_SHA2_512",
    "AES_XCBC_96": "PRF_AES128_XCBC",
    "AES_CMAC_96": "PRF_AES128_CMAC",
}
DH_BY_NAME = dict((name, name) for name in alg.DH_GROUPS.values())
# The classic MODP groups are spelled modp<bits> by strongSwan, libreswan and racoon alike.
MODP_KEYWORDS = dict(("modp" + name[len("MODP_"):], name) for name in alg.DH_GROUPS.values() if re.match(r"^MODP_\d+$", name))


def new_proposal(text, protocol):
    proposal = alg.empty_proposal(text)
    proposal["protocol"] = protocol
    proposal["unknown"] = []
    return proposal


def _add(proposal, kind, names):
    for name in names:
        alg.add_transform(proposal, kind, name)


def _finish(proposal, problems, origin):
    if proposal["unknown"]:
        problems.append("%s proposal '%s': unknown keyword(s) %s" % (origin, proposal["text"], ", ".join(proposal["unknown"])))
    return proposal


def _split_list(text):
    return [part.strip() for part in (text or "").split(",") if part.strip()]


# --- strongSwan keywords ------------------------------------------------------------------------

SWAN_ENC_RE = re.compile(r"^(aes|camellia)(128|192|256)?(ctr|ccm|gcm|gmac)?(8|12|16|64|96|128)?$")
SWAN_ICV = {"8": 8, "64": 8, "12": 12, "96": 12, "16": 16, "128": 16}
SWAN_SIMPLE_ENC = {
    "null": "NULL",
    "des": "DES",
    "3des": "3DES",
    "cast128": "CAST_128",
    "blowfish": "BLOWFISH_128",
    "chacha20poly1305": "CHACHA20_POLY1305",
}
SWAN_INTEG = {
    "md5": "HMAC_MD5_96",
    "md5_128": "HMAC_MD5_128",
    "sha": "HMAC_SHA1_96",
    "sha1": "HMAC_SHA1_96",
    "sha1_160": "HMAC_SHA1_160",
    "sha256": "HMAC_SHA2_256_128",
    "sha2_256": "HMAC_SHA2_256_128",
    "sha256_96": "HMAC_SHA2_256_96",
    "sha2_256_96": "HMAC_SHA2_256_96",
    "sha384": "HMAC_SHA2_384_192",
    "sha2_384": "HMAC_SHA2_384_192",
    "sha512": "HMAC_SHA2_512_256",
    "sha2_512": "HMAC_SHA2_512_256",
    "aesxcbc": "AES_XCBC_96",
    "aescmac": "AES_CMAC_96",
}
SWAN_PRF = {
    "prfmd5": "PRF_HMAC_MD5",
    "prfsha1": "PRF_HMAC_SHA1",
    "prfsha256": "PRF_HMAC_SHA2_256",
    "prfsha384": "PRF_HMAC_SHA2_384",
    "prfsha512": "PRF_HMAC_SHA2_512",
    "prfaesxcbc": "PRF_AES128_XCBC",
    "prfaescmac": "PRF_AES128_CMAC",
}
SWAN_DH = dict(MODP_KEYWORDS)
SWAN_DH.update({
    "modpnone": "NONE",
    "modp1024s160": "MODP_1024_160",
    "modp2048s224": "MODP_2048_224",
    "modp2048s256": "MODP_2048_256",
    "ecp192": "ECP_192",
    "ecp224": "ECP_224",
    "ecp256": "ECP_256",
    "ecp384": "ECP_384",
    "ecp521": "ECP_521",
    "ecp224bp": "ECP_224_BP",
    "ecp256bp": "ECP_256_BP",
    "ecp384bp": "ECP_384_BP",
    "ecp512bp": "ECP_512_BP",
    "curve25519": "CURVE_25519",
    "x25519": "CURVE_25519",
    "curve448": "CURVE_448",
    "x448": "CURVE_448",
    "mlkem512": "ML_KEM_512",
    "mlkem768": "ML_KEM_768",
    "mlkem1024": "ML_KEM_1024",
})
SWAN_ESN = {"esn": "ESN", "noesn": "NO_ESN"}

# strongSwan's "default" keyword (5.9, src/libstrongswan/crypto/proposal/proposal.c): a classic and,
# for IKE, an AEAD proposal built from the loaded crypto plugins. These are the lists for a build
# with the usual plugins; a daemon without some plugin proposes a subset.
_SWAN_IKE_DH_DEFAULT = [
    "ECP_256", "ECP_384", "ECP_521", "ECP_256_BP", "ECP_384_BP", "ECP_512_BP", "CURVE_25519", "CURVE_448",
    "MODP_3072", "MODP_4096", "MODP_6144", "MODP_8192", "MODP_2048",
]
_SWAN_IKE_PRF_DEFAULT = ["PRF_HMAC_SHA2_256", "PRF_HMAC_SHA2_384", "PRF_HMAC_SHA2_512", "PRF_AES128_XCBC", "PRF_AES128_CMAC", "PRF_HMAC_SHA1"]
SWAN_DEFAULTS = {
    "ike": [
        {"encryption": ["AES_CBC_128", "AES_CBC_192", "AES_CBC_256", "AES_CTR_128", "AES_CTR_192", "AES_CTR_256",
                        "CAMELLIA_CBC_128", "CAMELLIA_CBC_192", "CAMELLIA_CBC_256", "3DES"],
         "integrity": ["HMAC_SHA2_256_128", "HMAC_SHA2_384_192", "HMAC_SHA2_512_256", "AES_XCBC_96", "AES_CMAC_96", "HMAC_SHA1_96"],
         "prf": _SWAN_IKE_PRF_DEFAULT, "dh": _SWAN_IKE_DH_DEFAULT, "esn": []},
        {"encryption": ["AES_GCM_16_128", "AES_GCM_16_192", "AES_GCM_16_256", "CHACHA20_POLY1305",
                        "AES_CCM_16_128", "AES_CCM_16_192", "AES_CCM_16_256", "AES_GCM_12_128", "AES_GCM_12_192",
                        "AES_GCM_12_256", "AES_GCM_8_128", "AES_GCM_8_192", "AES_GCM_8_256"],
         "integrity": [], "prf": _SWAN_IKE_PRF_DEFAULT, "dh": _SWAN_IKE_DH_DEFAULT, "esn": []},
    ],
    "esp": [
        {"encryption": ["AES_CBC_128", "AES_CBC_192", "AES_CBC_256"],
         "integrity": ["HMAC_SHA2_256_128", "HMAC_SHA2_384_192", "HMAC_SHA2_512_256", "HMAC_SHA1_96", "AES_XCBC_96"],
         "prf": [], "dh": [], "esn": ["NO_ESN"]},
        {"encryption": ["AES_GCM_16_128", "AES_GCM_16_192", "AES_GCM_16_256"],
         "integrity": [], "prf": [], "dh": [], "esn": ["NO_ESN"]},
    ],
}


def _swan_encryption(token):
    if token in SWAN_SIMPLE_ENC:
        return SWAN_SIMPLE_ENC[token]
    match = re.match(r"^(blowfish|twofish|serpent)(128|192|256)$", token)
    if match:
        return "%s_%s" % (match.group(1).upper(), match.group(2))
    match = SWAN_ENC_RE.match(token)
    if not match:
        return None
    family, bits, mode, icv = match.groups()
    bits = int(bits or 128)
    if icv and mode not in ("ccm", "gcm"):
        return None
    family = family.upper()
    if mode == "gmac":
        return "NULL_AUTH_AES_GMAC_%d" % bits if family == "AES" else None
    if mode in ("ccm", "gcm"):
        return "%s_%s_%d_%d" % (family, mode.upper(), SWAN_ICV.get(icv or "16"), bits)
    return "%s_%s_%d" % (family, (mode or "cbc").upper(), bits)


def _swan_token(proposal, token):
    token = token.strip().lower()
    if not token:
        return
    for table, kind in ((SWAN_INTEG, "integrity"), (SWAN_PRF, "prf"), (SWAN_DH, "dh"), (SWAN_ESN, "esn")):
        if token in table:
            alg.add_transform(proposal, kind, table[token])
            return
    name = _swan_encryption(token)
    if name:
        alg.add_transform(proposal, "encryption", name)
    else:
        proposal["unknown"].append(token)


def _swan_defaults(protocol, text):
    proposals = []
    for template in SWAN_DEFAULTS.get(protocol, []):
        proposal = new_proposal(text, protocol)
        for kind in alg.TRANSFORM_TYPES:
            _add(proposal, kind, template[kind])
        proposal["default"] = True
        proposals.append(proposal)
    return proposals


def _swan_complete(proposal):
    """What charon adds on its own: PRFs from the integrity algorithms, no integrity with AEAD, NO_ESN."""
    protocol = proposal["protocol"]
    encryption = proposal["encryption"]
    aead_only = bool(encryption) and all(alg.is_aead(name) for name in encryption)
    if protocol == "ike" and not proposal["prf"]:
        _add(proposal, "prf", [INTEG_TO_PRF[name] for name in proposal["integrity"] if name in INTEG_TO_PRF])
    if aead_only:
        proposal["integrity"] = []
    if protocol in ("esp", "ah") and not proposal["esn"]:
        proposal["esn"] = ["NO_ESN"]
    return proposal


def parse_strongswan(text, protocol="ike"):
    """strongSwan proposal keywords (swanctl.conf ``proposals``/``esp_proposals``, ipsec.conf ``ike``/``esp``).

    ``protocol`` is ``ike``, ``esp`` or ``ah``. A trailing ``!`` (ipsec.conf: strict) is accepted and
    reported by ``strongswan_is_strict``. ``default`` expands to charon's default proposals, flagged
    ``default: true``.
    """
    proposals, problems = [], []
    for part in _split_list((text or "").rstrip().rstrip("!")):
        if part.lower() == "default":
            proposals.extend(_swan_defaults(protocol, part))
            continue
        proposal = new_proposal(part, protocol)
        for token in part.split("-"):
            _swan_token(proposal, token)
        proposals.append(_finish(_swan_complete(proposal), problems, "strongSwan"))
    return proposals, problems


def strongswan_is_strict(text):
    """ipsec.conf ``ike=...!``: only the listed proposals (no defaults appended)."""
    return (text or "").rstrip().endswith("!")


# --- libreswan keywords -------------------------------------------------------------------------

LSW_ENC = {
    "3des": ("3DES", False),
    "3des_cbc": ("3DES", False),
    "aes": ("AES_CBC", True),
    "aes_cbc": ("AES_CBC", True),
    "aesctr": ("AES_CTR", True),
    "aes_ctr": ("AES_CTR", True),
    "aes_gcm": ("AES_GCM_16", True),
    "aes_gcm_c": ("AES_GCM_16", True),
    "aes_gcm_16": ("AES_GCM_16", True),
    "aes_gcm16": ("AES_GCM_16", True),
    "aes_gcm_b": ("AES_GCM_12", True),
    "aes_gcm_12": ("AES_GCM_12", True),
    "aes_gcm_a": ("AES_GCM_8", True),
    "aes_gcm_8": ("AES_GCM_8", True),
    "aes_ccm": ("AES_CCM_16", True),
    "aes_ccm_c": ("AES_CCM_16", True),
    "aes_ccm_16": ("AES_CCM_16", True),
    "aes_ccm_b": ("AES_CCM_12", True),
    "aes_ccm_12": ("AES_CCM_12", True),
    "aes_ccm_a": ("AES_CCM_8", True),
    "aes_ccm_8": ("AES_CCM_8", True),
    "aes_gmac": ("NULL_AUTH_AES_GMAC", True),
    "null_auth_aes_gmac": ("NULL_AUTH_AES_GMAC", True),
    "camellia": ("CAMELLIA_CBC", True),
    "camellia_cbc": ("CAMELLIA_CBC", True),
    "camellia_ctr": ("CAMELLIA_CTR", True),
    "chacha20poly1305": ("CHACHA20_POLY1305", False),
    "chacha20_poly1305": ("CHACHA20_POLY1305", False),
    "null": ("NULL", False),
}
LSW_INTEG = {
    "md5": "HMAC_MD5_96",
    "hmac_md5": "HMAC_MD5_96",
    "sha": "HMAC_SHA1_96",
    "sha1": "HMAC_SHA1_96",
    "sha1_96": "HMAC_SHA1_96",
    "hmac_sha1": "HMAC_SHA1_96",
    "sha2": "HMAC_SHA2_256_128",
    "sha256": "HMAC_SHA2_256_128",
    "sha2_256": "HMAC_SHA2_256_128",
    "sha2_256_128": "HMAC_SHA2_256_128",
    "hmac_sha2_256": "HMAC_SHA2_256_128",
    "sha384": "HMAC_SHA2_384_192",
    "sha2_384": "HMAC_SHA2_384_192",
    "sha2_384_192": "HMAC_SHA2_384_192",
    "hmac_sha2_384": "HMAC_SHA2_384_192",
    "sha512": "HMAC_SHA2_512_256",
    "sha2_512": "HMAC_SHA2_512_256",
    "sha2_512_256": "HMAC_SHA2_512_256",
    "hmac_sha2_512": "HMAC_SHA2_512_256",
    "aes_xcbc": "AES_XCBC_96",
    "aes128_xcbc": "AES_XCBC_96",
    "aes128_xcbc_96": "AES_XCBC_96",
    "aes_cmac": "AES_CMAC_96",
    "none": "NONE",
    "null": "NONE",
}
LSW_DH = dict(MODP_KEYWORDS)
LSW_DH.update({
    "none": "NONE",
    "null": "NONE",
    "dh0": "NONE",
    "dh2": "MODP_1024",
    "dh5": "MODP_1536",
    "dh14": "MODP_2048",
    "dh15": "MODP_3072",
    "dh16": "MODP_4096",
    "dh17": "MODP_6144",
    "dh18": "MODP_8192",
    "dh19": "ECP_256",
    "ecp_256": "ECP_256",
    "ecp256": "ECP_256",
    "dh20": "ECP_384",
    "ecp_384": "ECP_384",
    "ecp384": "ECP_384",
    "dh21": "ECP_521",
    "ecp_521": "ECP_521",
    "ecp521": "ECP_521",
    "dh22": "MODP_1024_160",
    "dh23": "MODP_2048_224",
    "dh24": "MODP_2048_256",
    "dh31": "CURVE_25519",
    "curve25519": "CURVE_25519",
    "ml_kem_768": "ML_KEM_768",
    "ml_kem_1024": "ML_KEM_1024",
})
# libreswan 4.10's IKEv2 defaults (`algparse -v2 ike` / `esp`).
LSW_IKE_DH_DEFAULT = ["MODP_2048", "MODP_3072", "MODP_4096", "MODP_8192", "ECP_256", "ECP_384", "ECP_521", "CURVE_25519"]
LSW_DEFAULTS = {
    "ike": ["aes_gcm_16_256-sha2_512+sha2_256", "aes_gcm_16_128-sha2_512+sha2_256",
            "aes_cbc_256-sha2_512+sha2_256", "aes_cbc_128-sha2_512+sha2_256"],
    "esp": ["aes_gcm_16_256-none", "aes_gcm_16_128-none", "aes_cbc_256-sha2_512+sha2_256", "aes_cbc_128-sha2_512+sha2_256"],
}
_LSW_ENC_RE = re.compile(r"^([a-z0-9_]+?)_?(128|192|256)$")


def _lsw_encryption(token, protocol):
    """Canonical names for a libreswan encryption token; an AES without key size proposes two sizes
    (IKE: 256 then 128; ESP: 128 then 256), as pluto does."""
    entry = LSW_ENC.get(token)
    bits = None
    if entry is None:
        match = _LSW_ENC_RE.match(token)
        if not match or match.group(1) not in LSW_ENC:
            return None
        entry, bits = LSW_ENC[match.group(1)], int(match.group(2))
    base, keyed = entry
    if not keyed:
        return [base]
    if bits:
        return ["%s_%d" % (base, bits)]
    return ["%s_256" % base, "%s_128" % base] if protocol == "ike" else ["%s_128" % base, "%s_256" % base]


def _lsw_prf(integ_name):
    return INTEG_TO_PRF.get(integ_name)


def _lsw_parse_one(part, protocol, problems):
    proposal = new_proposal(part, protocol)
    main, _sep, dh_text = part.partition(";")
    tokens = [token for token in main.lower().split("-") if token]
    dh_tokens = [token for token in dh_text.lower().replace("-", "+").split("+") if token]
    if not tokens:
        proposal["unknown"].append(part)
        return _finish(proposal, problems, "libreswan")
    for token in tokens[0].split("+"):
        names = _lsw_encryption(token, protocol)
        if names is None:
            proposal["unknown"].append(token)
        else:
            _add(proposal, "encryption", names)
    rest = tokens[1:]
    # A trailing DH may be written with '-' instead of ';'.
    if rest and all(t in LSW_DH for t in rest[-1].split("+")) and (len(rest) > 1 or rest[-1] not in LSW_INTEG):
        dh_tokens = rest[-1].split("+") + dh_tokens
        rest = rest[:-1]
    aead = bool(proposal["encryption"]) and all(alg.is_aead(name) for name in proposal["encryption"])
    for group in rest:
        for token in group.split("+"):
            integ = LSW_INTEG.get(token)
            if integ is None:
                proposal["unknown"].append(token)
                continue
            if protocol == "ike":
                prf = _lsw_prf(integ)
                if prf:
                    alg.add_transform(proposal, "prf", prf)
                if not aead and integ != "NONE":
                    alg.add_transform(proposal, "integrity", integ)
            elif integ != "NONE":
                alg.add_transform(proposal, "integrity", integ)
    for token in dh_tokens:
        name = LSW_DH.get(token)
        if name is None:
            proposal["unknown"].append(token)
        else:
            alg.add_transform(proposal, "dh", name)
    if protocol == "ike" and not proposal["dh"]:
        _add(proposal, "dh", LSW_IKE_DH_DEFAULT)
    if protocol == "ike" and not rest:
        _add(proposal, "prf", ["PRF_HMAC_SHA2_512", "PRF_HMAC_SHA2_256"])
        if not aead:
            _add(proposal, "integrity", ["HMAC_SHA2_512_256", "HMAC_SHA2_256_128"])
    if protocol == "esp" and not rest and not aead:
        _add(proposal, "integrity", ["HMAC_SHA2_512_256", "HMAC_SHA2_256_128"])
    return _finish(proposal, problems, "libreswan")


def parse_libreswan(text, protocol="ike"):
    """libreswan ``ike=``/``esp=`` (a missing value means pluto's defaults, flagged ``default: true``)."""
    problems = []
    if not (text or "").strip():
        proposals = [_lsw_parse_one(part, protocol, problems) for part in LSW_DEFAULTS.get(protocol, [])]
        for proposal in proposals:
            proposal["default"] = True
            proposal["text"] = "default"
        return proposals, problems
    return [_lsw_parse_one(part, protocol, problems) for part in _split_list(text)], problems


# --- racoon attributes --------------------------------------------------------------------------

RACOON_ENC = {
    "des": ("DES", False),
    "3des": ("3DES", False),
    "blowfish": ("BLOWFISH", True),
    "cast128": ("CAST", True),
    "aes": ("AES_CBC", True),
    "rijndael": ("AES_CBC", True),
    "camellia": ("CAMELLIA_CBC", True),
    "twofish": ("TWOFISH", True),
    "null_enc": ("NULL", False),
    "null": ("NULL", False),
}
RACOON_DEFAULT_KEYLEN = {"AES_CBC": 128, "CAMELLIA_CBC": 128, "BLOWFISH": 128, "CAST": 128, "TWOFISH": 128}
RACOON_HASH = {"md5": "MD5", "sha1": "SHA1", "sha256": "SHA2_256", "sha384": "SHA2_384", "sha512": "SHA2_512"}
RACOON_AUTH = {
    "hmac_md5": "HMAC_MD5_96",
    "hmac_sha1": "HMAC_SHA1_96",
    "hmac_sha256": "HMAC_SHA2_256_128",
    "hmac_sha2_256": "HMAC_SHA2_256_128",
    "hmac_sha384": "HMAC_SHA2_384_192",
    "hmac_sha2_384": "HMAC_SHA2_384_192",
    "hmac_sha512": "HMAC_SHA2_512_256",
    "hmac_sha2_512": "HMAC_SHA2_512_256",
    "non_auth": "NONE",
}
RACOON_DH = dict(MODP_KEYWORDS)


def racoon_dh(token):
    """racoon ``dh_group``/``pfs_group``: a number or a modpNNNN name; None when unknown."""
    token = (token or "").strip().lower()
    if token.isdigit():
        return alg.DH_GROUPS.get(int(token))
    return RACOON_DH.get(token)


def racoon_encryption(token, keylen=None):
    """``aes 256`` -> ``AES_CBC_256``; ciphers without key length keep their name; None when unknown."""
    entry = RACOON_ENC.get((token or "").strip().lower())
    if entry is None:
        return None
    base, keyed = entry
    if not keyed:
        return base
    return alg.encryption_name(base, int(keylen) if keylen else RACOON_DEFAULT_KEYLEN.get(base))


def racoon_phase1(encryption, keylen, hash_name, dh_group, text=""):
    """One racoon ``proposal {}`` block (IKEv1 main/aggressive mode) as a proposal dict."""
    proposal = new_proposal(text, "ike")
    problems = []
    enc = racoon_encryption(encryption, keylen)
    if enc:
        alg.add_transform(proposal, "encryption", enc)
    elif encryption:
        proposal["unknown"].append(encryption)
    hash_key = RACOON_HASH.get((hash_name or "").lower())
    if hash_key:
        integ, prf = alg.HASH_IMPLIES[hash_key]
        alg.add_transform(proposal, "integrity", integ)
        alg.add_transform(proposal, "prf", prf)
    elif hash_name:
        proposal["unknown"].append(hash_name)
    group = racoon_dh(dh_group)
    if group:
        alg.add_transform(proposal, "dh", group)
    elif dh_group:
        proposal["unknown"].append(dh_group)
    return _finish(proposal, problems, "racoon"), problems


def racoon_phase2(encryptions, authentications, pfs_group, text=""):
    """A racoon ``sainfo`` block's algorithms (lists of ``(name, keylen)`` / names) as one ESP proposal."""
    proposal = new_proposal(text, "esp")
    problems = []
    for name, keylen in encryptions:
        enc = racoon_encryption(name, keylen)
        if enc:
            alg.add_transform(proposal, "encryption", enc)
        else:
            proposal["unknown"].append(name)
    for name in authentications:
        integ = RACOON_AUTH.get(name.lower())
        if integ is None:
            proposal["unknown"].append(name)
        elif integ != "NONE":
            alg.add_transform(proposal, "integrity", integ)
    if pfs_group:
        group = racoon_dh(pfs_group)
        if group:
            alg.add_transform(proposal, "dh", group)
        else:
            proposal["unknown"].append(pfs_group)
    proposal["esn"] = ["NO_ESN"]
    return _finish(proposal, problems, "racoon"), problems


# --- daemons' canonical names ------------------------------------------------------------------

_ENC_ALIASES = {
    "3DES_CBC": "3DES",
    "DES_CBC": "DES",
    "BLOWFISH_CBC": "BLOWFISH",
    "CAST_CBC": "CAST",
    "NULL_AES_GMAC": "NULL_AUTH_AES_GMAC",
}
_ENC_PREFIXES = ("AES_", "3DES", "DES", "CAMELLIA", "CHACHA20", "BLOWFISH", "CAST", "NULL", "TWOFISH", "SERPENT")
_DH_RE = re.compile(r"^(?:MODP|ECP|CURVE|DH|ML_KEM)")


def canonical_encryption(name, key_bits=None):
    """A daemon's encryption name (``AES_CBC``+256, ``AES_CBC_256``, ``3DES_CBC``, ``AES_GCM_16-256``) -> ours."""
    name = name.upper().replace("-", "_")
    match = re.match(r"^(.*?)(?:_(\d+))?$", name)
    base, bits = match.group(1), match.group(2)
    if base in ("AES_GCM", "AES_CCM", "CAMELLIA_CCM") and bits in ("8", "12", "16"):
        base, bits = "%s_%s" % (base, bits), None
    if bits is None and key_bits:
        bits = "%s" % key_bits
    base = _ENC_ALIASES.get(base, base)
    if base.startswith("CHACHA20_POLY1305") or base in ("3DES", "DES", "NULL"):
        return "CHACHA20_POLY1305" if base.startswith("CHACHA") else base
    return "%s_%s" % (base, bits) if bits else base


def canonical_dh(name):
    """``MODP2048``/``MODP_2048``/``DH19``/``ECP_256``/``CURVE25519`` -> ours; None when not a DH name."""
    name = name.upper().strip()
    if name in DH_BY_NAME:
        return name
    match = re.match(r"^DH(\d+)$", name)
    if match:
        return alg.DH_GROUPS.get(int(match.group(1)))
    match = re.match(r"^(MODP|ECP)_?(\d+)(?:_?(BP))?$", name)
    if match:
        candidate = "%s_%s%s" % (match.group(1), match.group(2), "_BP" if match.group(3) else "")
        return candidate if candidate in DH_BY_NAME else None
    if name in ("CURVE25519", "X25519"):
        return "CURVE_25519"
    if name in ("CURVE448", "X448"):
        return "CURVE_448"
    if name in ("NONE", "MODP_NONE", "MODP_NULL"):
        return "NONE"
    return None


def _classify_canonical(proposal, token, ike_hash_is_prf):
    """Put one canonical-looking name in its place."""
    upper = token.upper()
    if upper in ("NO_EXT_SEQ", "NO_ESN", "ESN_NO"):
        alg.add_transform(proposal, "esn", "NO_ESN")
    elif upper in ("EXT_SEQ", "ESN", "ESN_YES"):
        alg.add_transform(proposal, "esn", "ESN")
    elif upper.startswith("PRF_"):
        alg.add_transform(proposal, "prf", upper)
    elif upper == "NONE":
        return
    elif upper == "AES_XCBC" and ike_hash_is_prf:
        alg.add_transform(proposal, "prf", "PRF_AES128_XCBC")
        alg.add_transform(proposal, "integrity", "AES_XCBC_96")
    elif canonical_dh(upper):
        alg.add_transform(proposal, "dh", canonical_dh(upper))
    elif upper.startswith(("HMAC_", "AES_XCBC", "AES_CMAC", "AES_128_GMAC", "AES_256_GMAC")):
        if ike_hash_is_prf and upper.startswith("HMAC_") and upper.count("_") <= 3 and not re.search(r"_\d+_\d+$", upper):
            # libreswan IKE: "HMAC_SHA2_256" names the PRF (and the integrity with it)
            prf = "PRF_" + upper
            alg.add_transform(proposal, "prf", prf)
            integ = dict((v, k) for k, v in INTEG_TO_PRF.items()).get(prf)
            if integ and not all(alg.is_aead(e) for e in proposal["encryption"] or ["x"]):
                alg.add_transform(proposal, "integrity", integ)
        elif upper == "HMAC_SHA2_256_TRUNCBUG":
            alg.add_transform(proposal, "integrity", "HMAC_SHA2_256_96")
        else:
            alg.add_transform(proposal, "integrity", upper)
    elif upper.startswith(_ENC_PREFIXES):
        alg.add_transform(proposal, "encryption", canonical_encryption(upper))
    else:
        proposal["unknown"].append(token)


def parse_strongswan_names(text):
    """strongSwan canonical proposals: ``IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_.../MODP_2048``, several
    separated by ``, ``; also the ``swanctl --list-sas`` form ``AES_CBC-256/HMAC_.../MODP_2048``."""
    proposals, problems = [], []
    for part in _split_list(text):
        protocol = "ike"
        body = part
        if ":" in part:
            prefix, body = part.split(":", 1)
            protocol = prefix.strip().lower()
        proposal = new_proposal(part, protocol)
        for token in body.split("/"):
            token = token.strip()
            if token:
                _classify_canonical(proposal, re.sub(r"^(AES_[A-Z]+(?:_\d+)?|CAMELLIA_[A-Z]+)-(\d+)$", r"\1_\2", token), False)
        proposals.append(_finish(proposal, problems, "strongSwan"))
    return proposals, problems


def parse_libreswan_names(text, protocol="ike"):
    """libreswan canonical proposals: ``AES_CBC_256-HMAC_SHA2_256-MODP2048`` (IKE: the hash is the PRF),
    ``AES_GCM_16_256-NONE`` (ESP), several separated by ``,`` or spaces; ``+`` separates alternatives."""
    proposals, problems = [], []
    for part in re.split(r"[,\s]+", (text or "").strip()):
        if not part:
            continue
        proposal = new_proposal(part, protocol)
        for group in part.split("-"):
            for token in group.split("+"):
                if token:
                    _classify_canonical(proposal, token, protocol == "ike")
        proposals.append(_finish(proposal, problems, "libreswan"))
    return proposals, problems


def parse_libreswan_chosen(fields, protocol="ike"):
    """pluto's chosen-proposal fields ``{cipher, integ, prf, ke}`` (``integ=n/a`` for AEAD) -> proposal."""
    proposal = new_proposal(" ".join("%s=%s" % item for item in sorted(fields.items())), protocol)
    if fields.get("cipher"):
        alg.add_transform(proposal, "encryption", canonical_encryption(fields["cipher"]))
    integ = fields.get("integ")
    if integ and integ.lower() not in ("n/a", "none"):
        alg.add_transform(proposal, "integrity", "HMAC_SHA2_256_96" if integ == "HMAC_SHA2_256_TRUNCBUG" else integ.upper())
    if fields.get("prf"):
        alg.add_transform(proposal, "prf", "PRF_" + fields["prf"].upper().replace("PRF_", ""))
    for key in ("ke", "dh", "group", "pfsgroup"):
        value = fields.get(key)
        if value and value.lower() not in ("n/a",):
            dh = canonical_dh(value)
            if dh:
                alg.add_transform(proposal, "dh", dh)
            else:
                proposal["unknown"].append(value)
    return proposal


def failing_transforms(received, configured):
    """Transform types for which no received proposal shares a name with any configured one.

    Both are lists of proposal dicts. The answer names the transform(s) that make the negotiation
    fail, e.g. ``['dh']`` when encryption, integrity and PRF would match but the groups differ.
    Only the types present on both sides are compared.
    """
    failing = []
    for kind in alg.TRANSFORM_TYPES:
        mine = set()
        theirs = set()
        for proposal in configured:
            mine.update(proposal.get(kind) or [])
        for proposal in received:
            theirs.update(proposal.get(kind) or [])
        if kind == "dh":
            mine.discard("NONE")
            theirs.discard("NONE")
        if mine and theirs and not mine & theirs:
            failing.append(kind)
    return failing
