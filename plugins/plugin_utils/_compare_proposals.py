# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Do two gateways' IKE or ESP proposals intersect, and if not, which transform of which side fails?

Proposals use the vocabulary of ``module_utils/_algorithms.py``: a dict of lists of alternatives
per transform type (encryption, integrity, prf, dh, esn) plus the original ``text``. Two
proposals match when every transform type has a common alternative, as in IKEv2 negotiation
(RFC 7296 2.7); the negotiation as a whole succeeds when any pair of proposals matches.

What "the same on the wire" means differs from what the names say in one known case:
``HMAC_SHA2_256_96`` (strongSwan ``sha256_96``, libreswan ``sha2-truncbug``) is negotiated with the
same transform id as ``HMAC_SHA2_256_128``; the truncation is a local setting. They intersect
here, and the difference is reported in ``notes`` for the truncation check (P2.TRUNC).
"""

from __future__ import annotations

import itertools
import typing as t

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _algorithms, _proposals

KINDS = ("ike", "esp")
# Wire-identical integrity names (same IANA transform id, different local truncation).
WIRE_INTEGRITY = {"HMAC_SHA2_256_96": "HMAC_SHA2_256_128"}
# Integrity -> the PRF IKE implies when a proposal lists none (strongSwan and libreswan derive it).
INTEGRITY_PRF = dict(_proposals.INTEG_TO_PRF, HMAC_SHA2_256_96="PRF_HMAC_SHA2_256")

# Rough strength of transforms (higher is stronger), used only to say which side of a mismatch is
# the odd one out: the side that holds on to a weaker transform is the one to change.
_WEAK_PATTERNS = (
    ("DES", 5), ("3DES", 15), ("DES_IV", 5), ("NULL", 0), ("BLOWFISH", 20), ("CAST", 20),
    ("HMAC_MD5", 10), ("PRF_HMAC_MD5", 10), ("HMAC_SHA1", 30), ("PRF_HMAC_SHA1", 30),
    ("MODP_768", 5), ("MODP_1024", 15), ("MODP_1536", 25), ("NONE", 20),
)


def strength(name: str) -> int:
    """A coarse strength score of a canonical transform name (100 = modern default)."""
    for prefix, score in _WEAK_PATTERNS:
        if name == prefix or name.startswith(prefix + "_"):
            return score
    for suffix, score in (("_128", 70), ("_192", 80)):
        if name.startswith(("AES_", "CAMELLIA_")) and name.endswith(suffix):
            return score
    return 100


def _wire_integrity(names: t.Iterable[str]) -> list[str]:
    return [WIRE_INTEGRITY.get(name, name) for name in names]


def effective(proposal: dict[str, t.Any], kind: str) -> dict[str, list[str] | None]:
    """The transforms a proposal really offers; None means "anything" (type not given)."""
    encryption = list(proposal.get("encryption") or [])
    integrity = _wire_integrity(proposal.get("integrity") or [])
    all_aead = bool(encryption) and all(_algorithms.is_aead(name) for name in encryption)
    result: dict[str, list[str] | None] = {
        "encryption": encryption or None,
        "integrity": None if all_aead else (integrity or None),
        "esn": list(proposal.get("esn") or []) or None,
    }
    dh = list(proposal.get("dh") or [])
    if kind == "esp":
        # No DH group in an ESP proposal means no PFS: it does not match a proposal that demands one.
        result["dh"] = dh or ["NONE"]
        result["prf"] = None
    else:
        result["dh"] = dh or None
        prf = list(proposal.get("prf") or [])
        if not prf and not all_aead:
            prf = sorted({INTEGRITY_PRF[name] for name in proposal.get("integrity") or [] if name in INTEGRITY_PRF})
        result["prf"] = prf or None
    return result


def _common(first: list[str] | None, second: list[str] | None) -> list[str] | None:
    """Common alternatives in ``first``'s order; None when either side leaves the type open."""
    if first is None:
        return second if second is not None else []
    if second is None:
        return first
    return [name for name in first if name in second]


def match_pair(first: dict[str, t.Any], second: dict[str, t.Any], kind: str) -> dict[str, t.Any]:
    """Per transform type, the alternatives both proposals share; ``ok`` when every type has one."""
    eff_a, eff_b = effective(first, kind), effective(second, kind)
    shared: dict[str, list[str] | None] = {}
    failing: list[str] = []
    for ttype in ("encryption", "integrity", "prf", "dh", "esn"):
        if ttype == "integrity" and (eff_a["integrity"] is None) != (eff_b["integrity"] is None):
            # one side is AEAD-only, the other is not: the encryption mismatch says it already.
            shared[ttype] = []
            continue
        if eff_a[ttype] is None and eff_b[ttype] is None:
            shared[ttype] = None
            continue
        common = _common(eff_a[ttype], eff_b[ttype])
        shared[ttype] = common
        if not common:
            failing.append(ttype)
    return {"ok": not failing, "shared": shared, "failing": failing, "a": eff_a, "b": eff_b}


def _chosen(shared: dict[str, list[str] | None]) -> dict[str, str]:
    return {ttype: values[0] for ttype, values in shared.items() if values}


def _odd_side(a_values: list[str], b_values: list[str]) -> tuple[str, str]:
    weakest_a = min((strength(name) for name in a_values), default=100)
    weakest_b = min((strength(name) for name in b_values), default=100)
    if weakest_a < weakest_b:
        return "a", f"{', '.join(a_values)} is weaker than {', '.join(b_values)}"
    if weakest_b < weakest_a:
        return "b", f"{', '.join(b_values)} is weaker than {', '.join(a_values)}"
    return "both", "neither side's choice is weaker; agree on one"


def _truncation_notes(a_list: list[dict[str, t.Any]], b_list: list[dict[str, t.Any]]) -> list[str]:
    def truncated(proposals: list[dict[str, t.Any]]) -> bool:
        return any("HMAC_SHA2_256_96" in (p.get("integrity") or []) for p in proposals)

    notes = []
    if truncated(a_list) != truncated(b_list):
        side = "a" if truncated(a_list) else "b"
        notes.append(
            f"side {side} uses HMAC-SHA-256 truncated to 96 bits, the other 128 bits: they negotiate "
            "(same transform id) but the kernels will reject each other's ESP (see P2.TRUNC)"
        )
    return notes


def compare_proposals(
    a_list: t.Sequence[dict[str, t.Any]], b_list: t.Sequence[dict[str, t.Any]], kind: str = "ike"
) -> dict[str, t.Any]:
    """Compare side A's and side B's proposals (each a list of proposal dicts).

    Returns ``match`` (bool), ``chosen`` (first matching pair in A's order: indexes and transforms),
    and when nothing matches ``mismatch``: the closest pair of proposals, the transform types that
    fail there with both sides' alternatives, and ``odd_side``/``odd_reason`` (the side holding the
    weaker transform, or both). ``notes`` carries differences that negotiate but matter elsewhere.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    a_list, b_list = list(a_list or []), list(b_list or [])
    result: dict[str, t.Any] = {
        "kind": kind,
        "match": False,
        "chosen": None,
        "mismatch": None,
        "a": [p.get("text") or _describe(p) for p in a_list],
        "b": [p.get("text") or _describe(p) for p in b_list],
        "notes": _truncation_notes(a_list, b_list),
        "explanation": "",
    }
    if not a_list or not b_list:
        missing = "A" if not a_list else "B"
        result["explanation"] = f"side {missing} has no {kind.upper()} proposals to compare"
        return result
    best: tuple[int, int, int, dict[str, t.Any]] | None = None
    for (ia, pa), (ib, pb) in itertools.product(enumerate(a_list), enumerate(b_list)):
        pair = match_pair(pa, pb, kind)
        if pair["ok"]:
            result["match"] = True
            result["chosen"] = {"a_index": ia, "b_index": ib, "transforms": _chosen(pair["shared"])}
            result["explanation"] = (
                f"{kind.upper()} proposals intersect: " + ", ".join(_chosen(pair["shared"]).values())
            )
            return result
        if best is None or len(pair["failing"]) < best[0]:
            best = (len(pair["failing"]), ia, ib, pair)
    if best is None:  # unreachable: both lists are non-empty here
        raise ValueError("no proposal pair to compare")
    _count, ia, ib, pair = best
    types = []
    odd_votes = set()
    reasons = []
    for ttype in pair["failing"]:
        a_values = pair["a"][ttype] or []
        b_values = pair["b"][ttype] or []
        odd, why = _odd_side(a_values, b_values)
        odd_votes.add(odd)
        reasons.append(f"{ttype}: {why}")
        types.append({"type": ttype, "a": a_values, "b": b_values, "odd_side": odd})
    if odd_votes == {"a"} or odd_votes == {"a", "both"}:
        odd_side = "a"
    elif odd_votes == {"b"} or odd_votes == {"b", "both"}:
        odd_side = "b"
    else:
        odd_side = "both"
    result["mismatch"] = {
        "a_index": ia,
        "b_index": ib,
        "types": types,
        "odd_side": odd_side,
        "odd_reason": "; ".join(reasons),
    }
    result["explanation"] = "no common {kind} proposal; closest pair fails on {what}".format(
        kind=kind.upper(),
        what="; ".join(f"{item['type']} (A: {', '.join(item['a']) or '-'} / B: {', '.join(item['b']) or '-'})" for item in types),
    )
    return result


def _describe(proposal: dict[str, t.Any]) -> str:
    parts = []
    for ttype in ("encryption", "integrity", "prf", "dh", "esn"):
        parts.extend(proposal.get(ttype) or [])
    return "-".join(parts) or "(empty)"
