# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""IKEv1 or IKEv2: do the two ends speak the same version?

A connection's ``ike_version`` is 1, 2 or 0 (either: strongSwan ``version = 0``, libreswan
``ikev2=permit``). Racoon speaks IKEv1 only. What went over the wire (the major version of the
IKE messages each side sent, from the captures) confirms or contradicts the configuration.
"""

from __future__ import annotations

import typing as t

IKEV1_ONLY_DAEMONS = {"racoon"}


def _label(version: int | None) -> str:
    return {1: "IKEv1", 2: "IKEv2", 0: "IKEv1 or IKEv2"}.get(version or 0, "unknown")


def accepted(version: int | None) -> set[int]:
    """The versions a connection accepts (0 and unknown accept both)."""
    return {version} if version in (1, 2) else {1, 2}


def compare_ike_versions(
    a_version: int | None,
    b_version: int | None,
    a_daemon: str | None = None,
    b_daemon: str | None = None,
    wire: dict[str, t.Iterable[int]] | None = None,
) -> dict[str, t.Any]:
    """Compare the configured IKE versions of both sides (and, optionally, what each sent).

    ``wire`` maps 'a'/'b' to the major versions seen in the messages that side sent. Returns
    ``compatible``, ``negotiated`` (the version they will use, or None), ``odd_side`` (the side to
    change when incompatible: the IKEv1 side, unless the other side's daemon cannot do IKEv2),
    ``explanation`` and ``wire_notes`` (configuration contradicted by the wire).
    """
    common = accepted(a_version) & accepted(b_version)
    result: dict[str, t.Any] = {
        "a": _label(a_version),
        "b": _label(b_version),
        "compatible": bool(common),
        "negotiated": None,
        "odd_side": None,
        "explanation": "",
        "wire_notes": [],
    }
    if common:
        result["negotiated"] = 2 if 2 in common else 1
        result["explanation"] = f"both sides can use {_label(result['negotiated'])}"
    else:
        v1_side = "a" if a_version == 1 else "b"
        other = "b" if v1_side == "a" else "a"
        other_daemon = b_daemon if other == "b" else a_daemon
        v1_daemon = a_daemon if v1_side == "a" else b_daemon
        if (v1_daemon or "").lower() in IKEV1_ONLY_DAEMONS:
            # The IKEv1 side cannot move (racoon): the other side must step down to IKEv1.
            result["odd_side"] = other
            why = f"{v1_daemon} speaks IKEv1 only, so side {other.upper()} must accept IKEv1"
        elif (other_daemon or "").lower() in IKEV1_ONLY_DAEMONS:
            result["odd_side"] = v1_side
            why = "unexpected: an IKEv1-only daemon is configured for IKEv2"
        else:
            result["odd_side"] = v1_side
            why = f"side {v1_side.upper()} is on the legacy IKEv1; move it to IKEv2"
        result["explanation"] = f"side A is {_label(a_version)}, side B is {_label(b_version)}: {why}"
    for side, version in (("a", a_version), ("b", b_version)):
        sent = sorted(set((wire or {}).get(side) or []))
        unexpected = [v for v in sent if v not in accepted(version)]
        if unexpected:
            result["wire_notes"].append(
                f"side {side.upper()} sent IKEv{unexpected[0]} messages although configured for {_label(version)}"
                " (configuration not loaded?)"
            )
    return result
