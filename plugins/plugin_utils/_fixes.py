# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Concrete fixes: the configuration line to write, in the dialect of the daemon that reads it.

A finding's fix names the file, the section and the line (strongSwan swanctl.conf or ipsec.conf,
libreswan ipsec.conf, racoon racoon.conf), or the command. Canonical transform names (see
``module_utils/_algorithms.py``) are written back as each daemon's proposal keywords.
"""

from __future__ import annotations

import typing as t

# canonical -> strongSwan proposal keyword
STRONGSWAN = {
    "AES_CBC_128": "aes128", "AES_CBC_192": "aes192", "AES_CBC_256": "aes256",
    "AES_CTR_128": "aes128ctr", "AES_CTR_192": "aes192ctr", "AES_CTR_256": "aes256ctr",
    "AES_GCM_16_128": "aes128gcm16", "AES_GCM_16_192": "aes192gcm16", "AES_GCM_16_256": "aes256gcm16",
    "AES_GCM_12_128": "aes128gcm12", "AES_GCM_12_256": "aes256gcm12",
    "AES_GCM_8_128": "aes128gcm8", "AES_GCM_8_256": "aes256gcm8",
    "AES_CCM_16_128": "aes128ccm16", "AES_CCM_16_256": "aes256ccm16",
    "CHACHA20_POLY1305": "chacha20poly1305", "3DES": "3des", "DES": "des", "NULL": "null",
    "CAMELLIA_CBC_128": "camellia128", "CAMELLIA_CBC_256": "camellia256",
    "HMAC_MD5_96": "md5", "HMAC_SHA1_96": "sha1", "HMAC_SHA2_256_128": "sha256", "HMAC_SHA2_256_96": "sha256_96",
    "HMAC_SHA2_384_192": "sha384", "HMAC_SHA2_512_256": "sha512", "AES_XCBC_96": "aesxcbc", "AES_CMAC_96": "aescmac",
    "PRF_HMAC_MD5": "prfmd5", "PRF_HMAC_SHA1": "prfsha1", "PRF_HMAC_SHA2_256": "prfsha256",
    "PRF_HMAC_SHA2_384": "prfsha384", "PRF_HMAC_SHA2_512": "prfsha512", "PRF_AES128_XCBC": "prfaesxcbc",
    "PRF_AES128_CMAC": "prfaescmac",
    "MODP_768": "modp768", "MODP_1024": "modp1024", "MODP_1536": "modp1536", "MODP_2048": "modp2048",
    "MODP_3072": "modp3072", "MODP_4096": "modp4096", "MODP_6144": "modp6144", "MODP_8192": "modp8192",
    "ECP_256": "ecp256", "ECP_384": "ecp384", "ECP_521": "ecp521", "CURVE_25519": "curve25519", "CURVE_448": "curve448",
    "ESN": "esn", "NO_ESN": "noesn",
}
# canonical -> libreswan (4.x) algorithm keyword
LIBRESWAN = {
    "AES_CBC_128": "aes128", "AES_CBC_192": "aes192", "AES_CBC_256": "aes256",
    "AES_CTR_128": "aesctr128", "AES_CTR_256": "aesctr256",
    "AES_GCM_16_128": "aes_gcm128", "AES_GCM_16_256": "aes_gcm256",
    "AES_GCM_12_128": "aes_gcm_b128", "AES_GCM_12_256": "aes_gcm_b256",
    "AES_GCM_8_128": "aes_gcm_a128", "AES_GCM_8_256": "aes_gcm_a256",
    "AES_CCM_16_128": "aes_ccm_c128", "AES_CCM_16_256": "aes_ccm_c256",
    "CHACHA20_POLY1305": "chacha20_poly1305", "3DES": "3des", "NULL": "null",
    "CAMELLIA_CBC_128": "camellia128", "CAMELLIA_CBC_256": "camellia256",
    "HMAC_MD5_96": "md5", "HMAC_SHA1_96": "sha1", "HMAC_SHA2_256_128": "sha2_256", "HMAC_SHA2_256_96": "sha2_256",
    "HMAC_SHA2_384_192": "sha2_384", "HMAC_SHA2_512_256": "sha2_512", "AES_XCBC_96": "aes_xcbc",
    "AES_CMAC_96": "aes_cmac",
    "PRF_HMAC_MD5": "md5", "PRF_HMAC_SHA1": "sha1", "PRF_HMAC_SHA2_256": "sha2_256",
    "PRF_HMAC_SHA2_384": "sha2_384", "PRF_HMAC_SHA2_512": "sha2_512", "PRF_AES128_XCBC": "aes_xcbc",
    "MODP_1024": "modp1024", "MODP_1536": "modp1536", "MODP_2048": "modp2048", "MODP_3072": "modp3072",
    "MODP_4096": "modp4096", "MODP_8192": "modp8192", "ECP_256": "dh19", "ECP_384": "dh20", "ECP_521": "dh21",
    "CURVE_25519": "dh31",
}
# canonical -> racoon keyword (phase 1 hash_algorithm / phase 2 authentication_algorithm differ)
RACOON_ENC = {"AES_CBC_128": "aes 128", "AES_CBC_192": "aes 192", "AES_CBC_256": "aes 256", "3DES": "3des", "DES": "des",
              "BLOWFISH": "blowfish", "CAST": "cast128", "NULL": "null_enc"}
RACOON_HASH = {"HMAC_MD5_96": "md5", "HMAC_SHA1_96": "sha1", "HMAC_SHA2_256_128": "sha256",
               "HMAC_SHA2_384_192": "sha384", "HMAC_SHA2_512_256": "sha512"}
RACOON_DH = {"MODP_768": "1", "MODP_1024": "2", "MODP_1536": "5", "MODP_2048": "14", "MODP_3072": "15",
             "MODP_4096": "16", "MODP_6144": "17", "MODP_8192": "18"}


def daemon_of(side: dict[str, t.Any]) -> str:
    return (side["ike"].get("daemon") or "").lower() or "unknown"


def _keyword(table: dict[str, str], name: str) -> str:
    return table.get(name, name.lower())


def proposal_text(daemon: str, transforms: dict[str, t.Any], kind: str) -> str:
    """Transforms (canonical names, one or a list per type) written as a proposal for ``daemon``."""
    def names(ttype: str) -> list[str]:
        value = transforms.get(ttype) or []
        values = [value] if isinstance(value, str) else list(value)
        return [v for v in values if v and v != "NONE" and not (ttype == "esn" and v == "NO_ESN")]

    order = ("encryption", "integrity", "prf", "dh", "esn") if kind == "ike" else ("encryption", "integrity", "dh", "esn")
    if daemon == "libreswan":
        enc_integ = [_keyword(LIBRESWAN, n) for tt in ("encryption", "integrity") for n in names(tt)]
        dh = [_keyword(LIBRESWAN, n) for n in names("dh")]
        return "-".join(enc_integ) + (";" + "-".join(dh) if dh else "")
    if daemon == "racoon":
        lines = []
        for name in names("encryption"):
            lines.append(f"encryption_algorithm {_keyword(RACOON_ENC, name)};")
        for name in names("integrity"):
            key = "hash_algorithm" if kind == "ike" else "authentication_algorithm"
            value = _keyword(RACOON_HASH, name)
            lines.append(f"{key} {value if kind == 'ike' else 'hmac_' + value};")
        for name in names("dh"):
            lines.append(f"{'dh_group' if kind == 'ike' else 'pfs_group'} {_keyword(RACOON_DH, name)};")
        return " ".join(lines)
    return "-".join(_keyword(STRONGSWAN, n) for tt in order for n in names(tt))


def where(side: dict[str, t.Any], conn: dict[str, t.Any] | None, setting: str, child: dict[str, t.Any] | None = None) -> str:
    """Where ``setting`` lives for this side's daemon: file, section and option name.

    ``setting`` is one of: ike_version, ike_proposals, esp_proposals, local_id, remote_id,
    local_ts, remote_ts, psk, mode, start_action, encap.
    """
    daemon = daemon_of(side)
    name = (conn or {}).get("name") or "<conn>"
    child_name = (child or {}).get("name") or name
    source = (conn or {}).get("psk_source") if setting == "psk" else None
    source = source or (conn or {}).get("config_file")
    if daemon == "libreswan":
        option = {
            "ike_version": "ikev2", "ike_proposals": "ike", "esp_proposals": "esp", "local_id": "leftid",
            "remote_id": "rightid", "local_ts": "leftsubnet", "remote_ts": "rightsubnet", "psk": "PSK",
            "mode": "type", "start_action": "auto", "encap": "encapsulation",
        }[setting]
        if setting == "psk":
            return f"{source or '/etc/ipsec.secrets'}: the line '<leftid> <rightid> : PSK \"...\"' of conn {name}"
        return f"{source or '/etc/ipsec.conf'} (conn {name}): {option}="
    if daemon == "racoon":
        option = {
            "ike_version": "exchange_mode", "ike_proposals": "remote/proposal", "esp_proposals": "sainfo",
            "local_id": "my_identifier", "remote_id": "peers_identifier", "local_ts": "sainfo address (local)",
            "remote_ts": "sainfo address (remote)", "psk": "psk.txt", "mode": "setkey spdadd ... tunnel",
            "start_action": "setkey spdadd (require)", "encap": "nat_traversal",
        }[setting]
        if setting == "psk":
            return f"{source or '/etc/racoon/psk.txt'}: the line for the peer"
        return f"{source or '/etc/racoon/racoon.conf'} ({option}) for remote {name}"
    if daemon == "strongswan":
        if setting == "psk":
            ids = "/".join(str(i) for i in ((conn or {}).get("local_id"), (conn or {}).get("remote_id")) if i)
            return f"{source or '/etc/swanctl/swanctl.conf'}: the secrets.ike-* entry of connection {name}" + (f" (ids {ids})" if ids else "")
        path = {
            "ike_version": f"connections.{name}.version",
            "ike_proposals": f"connections.{name}.proposals",
            "esp_proposals": f"connections.{name}.children.{child_name}.esp_proposals",
            "local_id": f"connections.{name}.local.id",
            "remote_id": f"connections.{name}.remote.id",
            "local_ts": f"connections.{name}.children.{child_name}.local_ts",
            "remote_ts": f"connections.{name}.children.{child_name}.remote_ts",
            "mode": f"connections.{name}.children.{child_name}.mode",
            "start_action": f"connections.{name}.children.{child_name}.start_action",
            "encap": f"connections.{name}.encap",
        }[setting]
        return f"{source or '/etc/swanctl/swanctl.conf'}: {path}"
    return f"the IKE daemon's configuration ({setting}) for connection {name}"


def set_line(side: dict[str, t.Any], conn: dict[str, t.Any] | None, setting: str, value: str,
             child: dict[str, t.Any] | None = None) -> str:
    """'on gw_b, in FILE (section): option = value' for the side's daemon."""
    location = where(side, conn, setting, child)
    daemon = daemon_of(side)
    if daemon == "strongswan" and ": connections." in location:
        text = f"{location} = {value}"
    elif daemon == "libreswan" and location.endswith("="):
        text = f"{location}{value}"
    else:
        text = f"{location}: {value}"
    return f"on {side['host']}: {text}"


def reload_hint(side: dict[str, t.Any]) -> str:
    daemon = daemon_of(side)
    if daemon == "strongswan":
        return "then `swanctl --load-all` (or `ipsec reload` for ipsec.conf setups)"
    if daemon == "libreswan":
        return "then `ipsec auto --replace <conn>` (or `ipsec restart`)"
    if daemon == "racoon":
        return "then `racoonctl reload-config` (or restart racoon)"
    return "then reload the IKE daemon"


def version_value(side: dict[str, t.Any], version: int) -> str:
    daemon = daemon_of(side)
    if daemon == "libreswan":
        return "insist" if version == 2 else "no"
    if daemon == "racoon":
        return "main (racoon speaks IKEv1 only)"
    return str(version)
