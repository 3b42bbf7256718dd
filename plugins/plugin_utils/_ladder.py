# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The IKE exchange as a ladder: who sent which message when, and whether the other side saw it.

Each side's capture lists the IKE messages it sent (direction out) and received (in), each with a
digest of its bytes that is the same on both gateways (even through NAT). A message sent by A is
matched with the same digest received by B; in one-sided mode the peer's messages are those A
received. Times stay on each gateway's own clock (the captures start together; the skew is small).
"""

from __future__ import annotations

import typing as t

MAX_EVENTS = 60


def _label(message: dict[str, t.Any]) -> str:
    parts = [str(message.get("exchange") or "IKE")]
    if message.get("version") == 1:
        parts.append("(v1)")
    parts.append("response" if message.get("response") else "request")
    notify = [n for n in message.get("notify") or [] if not str(n).startswith(("NAT_DETECTION", "SIGNATURE_HASH", "REDIRECT_SUPPORTED", "IKEV2_FRAGMENTATION"))]
    if notify:
        parts.append("[" + ", ".join(str(n) for n in notify[:3]) + "]")
    if message.get("retransmit"):
        parts.append("(retransmit)")
    return " ".join(parts)


def _messages(side: dict[str, t.Any], direction: str) -> list[dict[str, t.Any]]:
    capture = side.get("capture") if side.get("managed") else None
    if not isinstance(capture, dict):
        return []
    return [m for m in capture.get("ike") or [] if m.get("dir") == direction and isinstance(m.get("time"), (int, float))]


def build(a: dict[str, t.Any], b: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """Events ``{time, sender, receiver, label, received_at, seen_by_receiver, notify}`` in time order.

    ``seen_by_receiver`` is True/False when the receiver's capture could tell, None when it was not
    captured (unmanaged peer or no capture on that side).
    """
    sides = {"a": a, "b": b}
    events = []
    for sender, receiver in (("a", "b"), ("b", "a")):
        inbound = {}
        for message in _messages(sides[receiver], "in"):
            inbound.setdefault(message.get("digest"), message)
        receiver_captured = isinstance(sides[receiver].get("capture"), dict) and sides[receiver].get("managed")
        for message in _messages(sides[sender], "out"):
            seen = inbound.get(message.get("digest")) if message.get("digest") else None
            events.append({
                "time": message["time"], "sender": sender, "receiver": receiver, "label": _label(message),
                "received_at": seen["time"] if seen else None,
                "seen_by_receiver": (seen is not None) if receiver_captured else None,
                "notify": list(message.get("notify") or []), "response": bool(message.get("response")),
            })
        if not sides[sender].get("managed"):
            # The unmanaged peer's messages are what the managed side received.
            for message in _messages(sides[receiver], "in"):
                events.append({"time": message["time"], "sender": sender, "receiver": receiver, "label": _label(message),
                               "received_at": message["time"], "seen_by_receiver": True,
                               "notify": list(message.get("notify") or []), "response": bool(message.get("response"))})
    events.sort(key=lambda e: e["time"])
    if events:
        start = events[0]["time"]
        for event in events:
            event["offset"] = round(event["time"] - start, 3)
            event["received_offset"] = round(event["received_at"] - start, 3) if event["received_at"] is not None else None
    return events[:MAX_EVENTS]


def esp_summary(a: dict[str, t.Any], b: dict[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    """ESP packets per direction: sent (sender's capture) and received (receiver's capture)."""
    sides = {"a": a, "b": b}

    def count(side: dict[str, t.Any], direction: str) -> int | None:
        capture = side.get("capture") if side.get("managed") else None
        if not isinstance(capture, dict):
            return None
        return sum(int(f.get("packets") or 0) for f in capture.get("esp") or [] if f.get("dir") == direction)

    result = {}
    for sender, receiver in (("a", "b"), ("b", "a")):
        sent = count(sides[sender], "out")
        received = count(sides[receiver], "in")
        if not sides[sender].get("managed"):
            sent = count(sides[receiver], "in")
        result[f"{sender}->{receiver}"] = {"sent": sent, "received": received}
    return result
