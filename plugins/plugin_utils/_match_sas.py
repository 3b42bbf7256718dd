# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Is my outbound SA the peer's inbound SA? (and the other way round)

Each kernel SA (an ``xfrm_info`` state) that one gateway sends with must exist on the other
gateway as an inbound SA with the same SPI, the same algorithms, the same ICV length, the same
keys (compared as salted fingerprints), the same encapsulation and the same ESN setting.
Any difference makes the receiver drop every packet (``XfrmInNoStates`` for an unknown SPI,
``XfrmInStateProtoError`` for a wrong key or ICV length, ``XfrmInStateMismatch`` for a wrong
encapsulation).
"""

from __future__ import annotations

import typing as t

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _algorithms
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _side

IPSEC_PROTOS = ("esp", "ah", "comp")


def _alg_name(value: t.Any) -> tuple[str | None, int | None]:
    """A kernel algorithm as (name, key bits), from a dict ``{name, key_bits}`` or plain text."""
    if isinstance(value, dict):
        bits = value.get("key_bits") or value.get("bits")
        return value.get("name"), int(bits) if bits else None
    if isinstance(value, str):
        return value, None
    return None, None


def algorithms(state: dict[str, t.Any]) -> dict[str, t.Any]:
    """Canonical (encryption, integrity, icv_bits) of a state: xfrm_info's canonical names, else derived."""
    encryption = state.get("encryption")
    integrity = state.get("integrity")
    icv_bits = state.get("icv_bits")
    aead, enc, auth = state.get("aead"), state.get("enc"), state.get("auth")
    if not encryption and aead:
        aead_name, aead_bits = _alg_name(aead)
        icv_bits = icv_bits or (aead.get("icv_bits") if isinstance(aead, dict) else None) or 128
        canonical = aead.get("canonical") if isinstance(aead, dict) else None
        if not canonical and aead_bits and aead_name:
            canonical = _algorithms.kernel_aead(aead_name, aead_bits, icv_bits)
        encryption = canonical or aead_name
        integrity = integrity or "NONE"
    if not encryption and enc:
        enc_name, enc_bits = _alg_name(enc)
        canonical = enc.get("canonical") if isinstance(enc, dict) else None
        encryption = canonical or (_algorithms.kernel_encryption(enc_name, enc_bits) if enc_name else None) or enc_name
    if not integrity and auth:
        auth_name, _bits = _alg_name(auth)
        trunc = icv_bits or (auth.get("trunc_bits") if isinstance(auth, dict) else None)
        trunc = trunc or (_algorithms.kernel_auth_default_bits(auth_name) if auth_name else None)
        icv_bits = icv_bits or trunc
        canonical = auth.get("canonical") if isinstance(auth, dict) else None
        integrity = canonical or (_algorithms.kernel_integrity(auth_name, trunc or 0) if auth_name else None) or auth_name
    return {"encryption": encryption, "integrity": integrity, "icv_bits": icv_bits}


def direction(state: dict[str, t.Any], own_addresses: t.Sequence[str]) -> str | None:
    """in/out relative to the gateway: the module's own answer, else from the addresses."""
    if state.get("direction") in ("in", "out"):
        return state["direction"]
    side = {"addresses": list(own_addresses)}
    if _side.owns_address(side, state.get("src")):
        return "out"
    if _side.owns_address(side, state.get("dst")):
        return "in"
    return None


def _encap_type(state: dict[str, t.Any]) -> str | None:
    encap = state.get("encap")
    if not encap:
        return None
    if isinstance(encap, dict):
        return encap.get("type") or "espinudp"
    return str(encap)


def summary(state: dict[str, t.Any]) -> dict[str, t.Any]:
    algs = algorithms(state)
    encap = state.get("encap")
    return {
        "spi": state.get("spi"),
        "src": state.get("src"),
        "dst": state.get("dst"),
        "proto": state.get("proto"),
        "mode": state.get("mode"),
        "encryption": algs["encryption"],
        "integrity": algs["integrity"],
        "icv_bits": algs["icv_bits"],
        "key_fingerprints": dict(state.get("key_fingerprints") or {}),
        "encap": _encap_type(state),
        "encap_ports": [encap.get("sport"), encap.get("dport")] if isinstance(encap, dict) else None,
        "esn": bool(state.get("esn")),
        "packets": (state.get("current") or {}).get("packets"),
    }


def _compare(sender: dict[str, t.Any], receiver: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    mismatches = []
    for field in ("proto", "mode", "encryption", "integrity", "icv_bits", "encap", "esn"):
        if sender[field] != receiver[field] and not (field == "mode" and None in (sender[field], receiver[field])):
            mismatches.append({"field": field, "sender": sender[field], "receiver": receiver[field]})
    keys_s, keys_r = sender["key_fingerprints"], receiver["key_fingerprints"]
    for key in sorted(set(keys_s) & set(keys_r)):
        if keys_s[key] and keys_r[key] and keys_s[key] != keys_r[key]:
            mismatches.append({"field": f"key:{key}", "sender": keys_s[key], "receiver": keys_r[key]})
    return mismatches


def _ipsec_states(states: t.Sequence[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    return [s for s in states or [] if (s.get("proto") or "esp").lower() in IPSEC_PROTOS and s.get("spi")]


def match_sas(
    a_states: t.Sequence[dict[str, t.Any]],
    b_states: t.Sequence[dict[str, t.Any]],
    a_addresses: t.Sequence[str] = (),
    b_addresses: t.Sequence[str] = (),
    labels: dict[str, str] | None = None,
) -> dict[str, t.Any]:
    """Pair A's outbound SAs with B's inbound SAs by SPI, and B's outbound with A's inbound.

    Returns ``pairs`` (direction a->b or b->a, the SPI, both summaries, ``mismatches`` as
    ``{field, sender, receiver}``, ``ok``), ``orphans`` (an outbound SA the receiver does not
    have, or an inbound SA nobody sends with), ``directions`` (per direction: pairs found and
    whether one of them is fully consistent) and ``ok`` (both directions have a consistent pair).
    ``labels`` names the sides in the explanations (default A and B).
    """
    names = {"a": "A", "b": "B", **(labels or {})}
    sides = {
        "a": (_ipsec_states(a_states), list(a_addresses)),
        "b": (_ipsec_states(b_states), list(b_addresses)),
    }
    result: dict[str, t.Any] = {"pairs": [], "orphans": [], "directions": {}, "ok": False}
    used_inbound: dict[str, set[str]] = {"a": set(), "b": set()}
    for sender, receiver in (("a", "b"), ("b", "a")):
        send_states, send_addrs = sides[sender]
        recv_states, recv_addrs = sides[receiver]
        inbound = {s["spi"]: s for s in recv_states if direction(s, recv_addrs) != "out"}
        name = f"{sender}->{receiver}"
        found = []
        for state in send_states:
            if direction(state, send_addrs) != "out":
                continue
            peer = inbound.get(state["spi"])
            if peer is None:
                result["orphans"].append(
                    {
                        "side": sender,
                        "direction": "out",
                        "spi": state["spi"],
                        "explanation": (
                            f"{names[sender]} sends with SPI {state['spi']} ({state.get('src')} -> {state.get('dst')}) "
                            f"but {names[receiver]} has no inbound SA with that SPI: it drops the packets (XfrmInNoStates)"
                        ),
                    }
                )
                continue
            used_inbound[receiver].add(state["spi"])
            sent, received = summary(state), summary(peer)
            mismatches = _compare(sent, received)
            pair = {"direction": name, "spi": state["spi"], "sender": sent, "receiver": received,
                    "mismatches": mismatches, "ok": not mismatches}
            result["pairs"].append(pair)
            found.append(pair)
        result["directions"][name] = {"pairs": len(found), "ok": any(p["ok"] for p in found)}
    for receiver in ("a", "b"):
        recv_states, recv_addrs = sides[receiver]
        for state in recv_states:
            if direction(state, recv_addrs) == "in" and state["spi"] not in used_inbound[receiver]:
                result["orphans"].append(
                    {
                        "side": receiver,
                        "direction": "in",
                        "spi": state["spi"],
                        "explanation": (
                            f"{names[receiver]} has inbound SPI {state['spi']} that the other side does not send with "
                            "(stale after a rekey or restart?)"
                        ),
                    }
                )
    result["ok"] = all(d["ok"] for d in result["directions"].values())
    return result
