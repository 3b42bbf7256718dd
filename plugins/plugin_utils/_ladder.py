# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The IKE exchange as a ladder: who sent which message when, and whether the other side saw it.

Each side's capture lists the IKE messages it sent and received and the pairing events of the
capture module; ``pair_captures`` matches a message sent by A with the same packet received by B
(an identity that survives NAT) and puts both clocks on A's. The labels (exchange, request or
response, error notifies) come from the decoded messages. In one-sided mode the peer's messages
are those A received.
"""

from __future__ import annotations

import typing as t

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _pair_captures

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


def _as_capture(side: dict[str, t.Any]) -> dict[str, t.Any] | None:
    """What pair_captures reads, from the side record's capture (IKE events only)."""
    capture = side.get("capture") if side.get("managed") else None
    if not isinstance(capture, dict) or not capture.get("events"):
        return None
    return {"window": {"start": capture.get("start"), "end": capture.get("end")},
            "summary": {"events": capture["events"], "ike": {"messages": []}}}


def _paired(a: dict[str, t.Any], b: dict[str, t.Any]) -> list[dict[str, t.Any]] | None:
    """Both captures merged by pair_captures (packet identity, clock offset), one event per IKE message."""
    capture_a, capture_b = _as_capture(a), _as_capture(b)
    if capture_a is None or capture_b is None:
        return None
    try:
        merged = _pair_captures.pair_captures(capture_a, capture_b)
    except (ValueError, TypeError, KeyError) as exc:  # a summary pair_captures cannot read: list each side's own
        del exc
        return None
    by_digest = {m.get("digest"): m for side in (a, b) for m in _messages(side, "out") if m.get("digest")}
    events = []
    for row in merged["timeline"]:
        if row.get("kind") != "ike":
            continue
        message = by_digest.get(row.get("id")) or {"exchange": row.get("exchange"), "response": row.get("response")}
        offset = (merged.get("clock_offset") or {}).get("seconds") or 0.0
        received = row.get("seen_at")
        if received is not None and row["to"] == "a":
            received_a_clock = received
        elif received is not None:
            received_a_clock = received - offset
        else:
            received_a_clock = None
        events.append({"time": row["t"], "sender": row["from"], "receiver": row["to"], "label": _label(message),
                       "received_at": received_a_clock, "seen_by_receiver": bool(row.get("delivered")),
                       "notify": list(message.get("notify") or []), "response": bool(message.get("response"))})
    return events


def build(a: dict[str, t.Any], b: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """Events ``{time, sender, receiver, label, received_at, seen_by_receiver, notify}`` in time order.

    With both captures the messages are paired by ``pair_captures`` (times in A's clock);
    otherwise each side's own messages are listed, ``seen_by_receiver`` None where the receiver's
    capture cannot tell (unmanaged peer, or no capture there).
    """
    events = _paired(a, b)
    if events is None:
        events = []
        sides = {"a": a, "b": b}
        for sender, receiver in (("a", "b"), ("b", "a")):
            for message in _messages(sides[sender], "out"):
                events.append({"time": message["time"], "sender": sender, "receiver": receiver, "label": _label(message),
                               "received_at": None, "seen_by_receiver": None,
                               "notify": list(message.get("notify") or []), "response": bool(message.get("response"))})
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
