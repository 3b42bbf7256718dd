# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Kernel xfrm state records -> lines of Wireshark's ``esp_sa`` table ("ESP SAs" UAT).

Wireshark 4.x reads eight double-quoted fields per line: protocol, source, destination, SPI,
encryption, encryption key, authentication, authentication key. The algorithm fields must be one of
the exact strings of ``packet-ipsec.c``; a wrong string makes Wireshark reject the whole table, and a
wrong pairing (AES-GCM with anything but NULL authentication) trips a dissector bug. So an SA that
Wireshark cannot decrypt gets a warning naming it instead of a line.
"""

from __future__ import annotations

import dataclasses
import typing as t

BASELINE_WIRESHARK = (4, 0)
# First release whose ESP dissector has the ChaCha20-Poly1305 strings (not verified on a real build
# here: only 4.0.17 was, which lacks them).
CHACHA20_WIRESHARK = (4, 4)

# kernel enc name -> (Wireshark string, accepted key lengths in bits or None for any)
ENCRYPTION = {
    "ecb(cipher_null)": ("NULL", None),
    "cipher_null": ("NULL", None),
    "cbc(des3_ede)": ("TripleDES-CBC [RFC2451]", (192,)),
    "cbc(aes)": ("AES-CBC [RFC3602]", (128, 192, 256)),
    "rfc3686(ctr(aes))": ("AES-CTR [RFC3686]", (160, 224, 288)),
    "cbc(des)": ("DES-CBC [RFC2405]", (64,)),
    "cbc(cast5)": ("CAST5-CBC [RFC2144]", (128,)),
    "cbc(blowfish)": ("BLOWFISH-CBC [RFC2451]", None),
    "cbc(twofish)": ("TWOFISH-CBC", (128, 256)),
}
AES_GCM = "rfc4106(gcm(aes))"
AES_GCM_ICV_OCTETS = (8, 12, 16)
CHACHA20 = "rfc7539esp(chacha20,poly1305)"
# (kernel auth name, ICV bits) -> Wireshark string with ICV checking
AUTHENTICATION = {
    ("hmac(sha1)", 96): "HMAC-SHA-1-96 [RFC2404]",
    ("hmac(md5)", 96): "HMAC-MD5-96 [RFC2403]",
    ("hmac(sha256)", 96): "HMAC-SHA-256-96 [draft-ietf-ipsec-ciph-sha-256-00]",
    ("hmac(sha256)", 128): "HMAC-SHA-256-128 [RFC4868]",
    ("hmac(sha384)", 192): "HMAC-SHA-384-192 [RFC4868]",
    ("hmac(sha512)", 256): "HMAC-SHA-512-256 [RFC4868]",
    ("hmac(rmd160)", 96): "MAC-RIPEMD-160-96 [RFC2857]",
    ("hmac(ripemd160)", 96): "MAC-RIPEMD-160-96 [RFC2857]",
}
NULL_AUTHENTICATION = ("digest_null",)
UNCHECKED_ICV_BITS = (64, 96, 128, 192, 256)
NATT_PORT = 4500


class EspSaError(Exception):
    """The input is not something esp_sa lines can be made from."""


@dataclasses.dataclass
class EspSaTable:
    """The lines, and for each SA left out or degraded, a warning that names it."""

    lines: list[str] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    skipped: list[dict[str, t.Any]] = dataclasses.field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(line + "\n" for line in self.lines)

    def as_dict(self) -> dict[str, t.Any]:
        return {"text": self.text, "lines": list(self.lines), "warnings": list(self.warnings), "skipped": list(self.skipped)}


def parse_version(value: t.Any) -> tuple[int, int]:
    """``'4.2.5'``, ``4.2`` or ``'4'`` -> (4, 2)."""
    parts = str(value).strip().split(".")
    try:
        numbers = [int(part) for part in parts[:2]]
    except ValueError as exc:
        raise EspSaError(f"wireshark_version must look like 4.0 or 4.2.5; got {value!r}") from exc
    return (numbers + [0])[0], (numbers + [0])[1]


def collect_states(value: t.Any) -> list[dict[str, t.Any]]:
    """State records from a list of them, an xfrm_info result, its ``xfrm`` dict, or a list of results."""
    if isinstance(value, dict):
        if "xfrm" in value:
            return collect_states(value["xfrm"])
        if "states" in value:
            return collect_states(value["states"])
        if "spi" in value:
            return [value]
        raise EspSaError("expected xfrm state records or an xfrm_info result; got a dict without 'states' or 'spi'")
    if isinstance(value, (list, tuple)):
        states: list[dict[str, t.Any]] = []
        for item in value:
            states.extend(collect_states(item))
        return states
    raise EspSaError(f"expected xfrm state records or an xfrm_info result; got {type(value).__name__}")


def describe(state: dict[str, t.Any]) -> str:
    return f"SA {state.get('spi')} {state.get('src')} -> {state.get('dst')}"


def quoted(fields: t.Iterable[str]) -> str:
    return ",".join(f'"{field}"' for field in fields)


def _key(state: dict[str, t.Any], kind: str) -> str:
    key = (state.get("raw_keys") or {}).get(kind)
    if not key:
        raise _Skip(f"has no {kind} key in the input: gather it with include_keys: true")
    return key


class _Skip(Exception):
    """This SA gets no line; the message says why."""


def _aead_fields(state: dict[str, t.Any], version: tuple[int, int]) -> tuple[str, str, str, str]:
    aead = state["aead"]
    name, icv_bits = aead.get("name"), aead.get("icv_bits")
    if name == AES_GCM:
        if not icv_bits or icv_bits % 8 or icv_bits // 8 not in AES_GCM_ICV_OCTETS:
            raise _Skip(f"uses AES-GCM with a {icv_bits}-bit ICV, which Wireshark has no setting for")
        return f"AES-GCM with {icv_bits // 8} octet ICV [RFC4106]", _key(state, "aead"), "NULL", ""
    if name == CHACHA20:
        if version < CHACHA20_WIRESHARK:
            raise _Skip(
                f"uses ChaCha20-Poly1305, which Wireshark {version[0]}.{version[1]} cannot decrypt "
                f"(its ESP dissector gained it around {CHACHA20_WIRESHARK[0]}.{CHACHA20_WIRESHARK[1]})"
            )
        return "ChaCha20 with Poly1305 [RFC7634]", _key(state, "aead"), "NULL", ""
    raise _Skip(f"uses the AEAD {name} (AES-CCM or AES-GMAC), which Wireshark's ESP dissector cannot decrypt")


def _encryption_fields(state: dict[str, t.Any]) -> tuple[str, str]:
    enc = state.get("enc")
    if enc is None:
        return "NULL", ""
    entry = ENCRYPTION.get(enc.get("name"))
    if entry is None:
        raise _Skip(f"uses the cipher {enc.get('name')}, which Wireshark's ESP dissector cannot decrypt")
    label, key_lengths = entry
    if label == "NULL":
        return label, ""
    bits = enc.get("key_bits")
    if key_lengths is not None and bits not in key_lengths:
        raise _Skip(f"uses {enc.get('name')} with a {bits}-bit key; Wireshark accepts only {key_lengths}")
    return label, _key(state, "enc")


def _authentication_fields(state: dict[str, t.Any], warnings: list[str]) -> tuple[str, str]:
    auth = state.get("auth")
    if auth is None or auth.get("name") in NULL_AUTHENTICATION:
        return "NULL", ""
    name, bits = auth.get("name"), auth.get("trunc_bits")
    label = AUTHENTICATION.get((name, bits))
    if label is not None:
        return label, _key(state, "auth")
    if bits in UNCHECKED_ICV_BITS:
        warnings.append(
            f"{describe(state)}: Wireshark has no {name} with a {bits}-bit ICV; the line says "
            f"'ANY {bits} bit authentication' so it decrypts without checking the ICV"
        )
        return f"ANY {bits} bit authentication [no checking]", _key(state, "auth")
    raise _Skip(f"uses {name} with a {bits}-bit ICV, which Wireshark can neither check nor skip")


def sa_line(state: dict[str, t.Any], version: tuple[int, int], warnings: list[str]) -> str:
    """The esp_sa line of one ESP state; raises _Skip when Wireshark cannot decrypt it."""
    if state.get("proto") != "esp":
        raise _Skip(f"is {state.get('proto')}, not ESP")
    if state.get("larval"):
        raise _Skip("has no keys yet (larval/acquire state)")
    family = state.get("family")
    if family not in (4, 6):
        raise _Skip(f"has an unknown address family {family!r}")
    if state.get("aead") is not None:
        encryption, encryption_key, authentication, authentication_key = _aead_fields(state, version)
    else:
        encryption, encryption_key = _encryption_fields(state)
        authentication, authentication_key = _authentication_fields(state, warnings)
    protocol = "IPv4" if family == 4 else "IPv6"
    fields = (protocol, state["src"], state["dst"], state["spi"], encryption, encryption_key, authentication, authentication_key)
    return quoted(fields)


def _notes(state: dict[str, t.Any], warnings: list[str]) -> None:
    if state.get("esn"):
        warnings.append(
            f"{describe(state)} uses extended sequence numbers: Wireshark decrypts it but ignores the high "
            "sequence bits, so its ICV check reports failures (Wireshark issue #19658)"
        )
    encap = state.get("encap")
    if encap and NATT_PORT not in (encap.get("sport"), encap.get("dport")):
        warnings.append(
            f"{describe(state)} is UDP-encapsulated on ports {encap.get('sport')}/{encap.get('dport')}: "
            "use Decode As... UDPENCAP on that port in Wireshark"
        )


def esp_sa_table(value: t.Any, wireshark_version: t.Any = "4.0") -> EspSaTable:
    """The esp_sa lines of every ESP SA in ``value`` (records of one or several gateways).

    The same SA seen on both gateways (A's outbound is B's inbound) gives one line; when the two
    copies carry different keys, the first is kept and a warning says the keys differ.
    """
    version = parse_version(wireshark_version)
    if version < BASELINE_WIRESHARK:
        raise EspSaError(f"Wireshark {version[0]}.{version[1]} predates the esp_sa format this filter writes (4.0+)")
    copies: dict[tuple[t.Any, ...], list[dict[str, t.Any]]] = {}
    for state in collect_states(value):
        if not isinstance(state, dict):
            raise EspSaError(f"an xfrm state record must be a dict; got {type(state).__name__}")
        identity = (state.get("family"), state.get("src"), state.get("dst"), state.get("spi"))
        copies.setdefault(identity, []).append(state)
    table = EspSaTable()
    for states in copies.values():
        _add_sa(table, states, version)
    return table


def _add_sa(table: EspSaTable, states: list[dict[str, t.Any]], version: tuple[int, int]) -> None:
    """One line for the copies of one SA (one per gateway that holds it), or a warning."""
    lines: list[tuple[str, dict[str, t.Any], list[str]]] = []
    reasons: list[str] = []
    for state in states:
        warnings: list[str] = []
        try:
            lines.append((sa_line(state, version, warnings), state, warnings))
        except _Skip as why:
            reasons.append(f"{describe(state)} {why}")
    if not lines:
        first = states[0]
        table.skipped.append({"spi": first.get("spi"), "src": first.get("src"), "dst": first.get("dst"), "reason": reasons[0]})
        table.warnings.append(reasons[0])
        return
    line, state, warnings = lines[0]
    if any(other != line for other, _state, _warnings in lines[1:]):
        table.warnings.append(
            f"{describe(state)} appears on both gateways with different keys or algorithms (they disagree "
            "about this SA); the first copy was kept"
        )
    table.lines.append(line)
    table.warnings.extend(warnings)
    _notes(state, table.warnings)
