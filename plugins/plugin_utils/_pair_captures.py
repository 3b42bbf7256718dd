# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Merge the capture summaries of a tunnel's two gateways into one story.

Each packet one gateway sent is looked up in the other gateway's capture by an identity that does
not change on the way (IKE message digest, ESP SPI and sequence number, ...). That gives, per flow
(IKE each way, ESP per SPI each way), what was sent, what arrived and whether it was answered; the
clock offset between the gateways (from the one-way delays in both directions, NTP style); one
timeline in gateway A's clock; and how far apart the two captures really started. With one summary
(the peer is not ours) the same flows are reported from this side only.
"""

from __future__ import annotations

import statistics
import typing as t

Event = dict[str, t.Any]


def _summary(capture: t.Any, label: str) -> dict[str, t.Any]:
    if not isinstance(capture, dict):
        raise ValueError(f"side {label}: expected the capture module result or its summary, got {type(capture).__name__}")
    summary = capture.get("summary", capture)
    if not isinstance(summary, dict) or "events" not in summary:
        raise ValueError(f"side {label}: no capture summary (missing 'events'); was the capture skipped or did it fail?")
    return summary


def _window(capture: dict[str, t.Any], summary: dict[str, t.Any]) -> tuple[float | None, float | None]:
    window = capture.get("window") if isinstance(capture, dict) else None
    if window:
        return window.get("start"), window.get("end")
    return summary.get("first_time"), summary.get("last_time")


def _watched(capture: dict[str, t.Any], summary: dict[str, t.Any]) -> tuple[float | None, float | None]:
    """The part of a side's window its event list covers (the list is capped: after its last event
    nothing can be said about what arrived)."""
    start, end = _window(capture, summary)
    events = summary.get("events") or []
    if summary.get("events_dropped") and events:
        last = max(event["t"] for event in events)
        end = last if end is None else min(end, last)
    return start, end


def _crossing(events: list[Event], direction: str) -> list[Event]:
    """Events of one direction that travel between the gateways (not traffic on inner interfaces)."""
    return [e for e in events if e.get("dir") == direction and e.get("bucket") != "inner"]


def _occurrences(events: list[Event], direction: str) -> dict[str, list[Event]]:
    """id -> events in time order, for one direction."""
    table: dict[str, list[Event]] = {}
    for event in sorted(_crossing(events, direction), key=lambda e: e["t"]):
        table.setdefault(event["id"], []).append(event)
    return table


def _match(sent: list[Event], received: dict[str, list[Event]]) -> list[tuple[Event, Event | None]]:
    """Each sent event with its received copy (n-th sent occurrence <-> n-th received), or None."""
    used: dict[str, int] = {}
    pairs = []
    for event in sorted(sent, key=lambda e: e["t"]):
        copies = received.get(event["id"], [])
        index = used.get(event["id"], 0)
        if index < len(copies):
            pairs.append((event, copies[index]))
            used[event["id"]] = index + 1
        else:
            pairs.append((event, None))
    return pairs


def clock_offset(pairs_ab: list[tuple[Event, Event]], pairs_ba: list[tuple[Event, Event]]) -> dict[str, t.Any]:
    """Offset of B's clock relative to A's (seconds, B - A) from packets seen on both sides.

    With packets both ways: offset = (min(tB - tA) - min(tA - tB)) / 2, uncertainty half the
    smallest round trip. One way only: the smallest tB - tA, which includes the one-way delay.
    """
    forward = [b["t"] - a["t"] for a, b in pairs_ab]
    backward = [a["t"] - b["t"] for b, a in pairs_ba]
    if forward and backward:
        low_f, low_b = min(forward), min(backward)
        return {"seconds": round((low_f - low_b) / 2, 6), "uncertainty": round(abs(low_f + low_b) / 2, 6),
                "method": "two_way", "samples": len(forward) + len(backward),
                "min_delay_ab": round((low_f + low_b) / 2, 6)}
    if forward or backward:
        low = min(forward) if forward else -min(backward)
        return {"seconds": round(low, 6), "uncertainty": None, "method": "one_way",
                "samples": len(forward) + len(backward), "min_delay_ab": None}
    return {"seconds": 0.0, "uncertainty": None, "method": "none", "samples": 0, "min_delay_ab": None}


def _inside(stamp: float, window: tuple[float | None, float | None], margin: float = 0.0) -> bool:
    start, end = window
    return (start is None or stamp >= start) and (end is None or stamp <= end - margin)


def _flow_key(event: Event) -> tuple[str, str]:
    kind = event["kind"]
    if kind == "esp":
        return kind, event["id"].split(":")[1]
    if kind == "ike":
        return kind, "response" if event.get("response") else "request"
    return kind, event.get("bucket") or ""


def _new_flow(kind: str, detail: str, counters: dict[str, t.Any]) -> dict[str, t.Any]:
    """A flow record: its kind, its counters, then what identifies it (the SPI, or request/response)."""
    flow = {"kind": kind, **counters}
    if kind == "esp":
        flow["spi"] = detail
    elif kind == "ike":
        flow["message"] = detail
    return flow


def _direction_flows(label_from: str, label_to: str, pairs: list[tuple[Event, Event | None]],
                     receiver_window: tuple[float | None, float | None] | None, offset: float) -> dict[tuple, dict]:
    flows: dict[tuple, dict] = {}
    for sent, got in pairs:
        kind, detail = _flow_key(sent)
        key = (kind, detail)
        counters = {"from": label_from, "to": label_to, "sent": 0, "received": 0, "lost": 0, "not_watched": 0,
                    "first_sent": sent["t"], "last_sent": sent["t"]}
        flow = flows.setdefault(key, _new_flow(kind, detail, counters))
        flow["sent"] += 1
        flow["last_sent"] = sent["t"]
        if got is not None:
            flow["received"] += 1
        elif receiver_window is None:
            pass
        elif _inside(sent["t"] + offset, receiver_window, margin=0.05):
            flow["lost"] += 1
        else:
            flow["not_watched"] += 1
    return flows


def _one_sided_flows(label: str, events: list[Event]) -> list[dict[str, t.Any]]:
    flows: dict[tuple, dict] = {}
    for event in events:
        if event.get("dir") not in ("in", "out"):
            continue
        kind, detail = _flow_key(event)
        direction = "sent" if event["dir"] == "out" else "received"
        key = (kind, detail, direction)
        counters = {"side": label, "direction": direction, "packets": 0, "first": event["t"], "last": event["t"]}
        flow = flows.setdefault(key, _new_flow(kind, detail, counters))
        flow["packets"] += 1
        flow["last"] = event["t"]
    return list(flows.values())


def _ike_answers(messages: list[dict[str, t.Any]]) -> dict[str, int]:
    requests = [m for m in messages if m.get("answered") is not None and not m.get("retransmission")]
    return {"requests": len(requests), "answered": sum(1 for m in requests if m.get("answered"))}


def _verdict(flow: dict[str, t.Any]) -> str:
    if flow["sent"] == 0:
        return "none_sent"
    if flow["received"] and not flow["lost"]:
        return "delivered"
    if flow["lost"]:
        return "partly_lost" if flow["received"] else "sent_not_received"
    return "not_watched"


def _ike_flow_summary(flows: list[dict[str, t.Any]], a: str, b: str) -> list[dict[str, t.Any]]:
    """IKE each way: requests sent/received and whether the other side answered."""
    out = []
    for sender, receiver in ((a, b), (b, a)):
        requests = next((f for f in flows if f["kind"] == "ike" and f["from"] == sender and f["message"] == "request"), None)
        answers = next((f for f in flows if f["kind"] == "ike" and f["from"] == receiver and f["message"] == "response"), None)
        if requests is None and answers is None:
            continue
        entry = {
            "from": sender,
            "to": receiver,
            "requests_sent": requests["sent"] if requests else 0,
            "requests_received": requests["received"] if requests else 0,
            "requests_lost": requests["lost"] if requests else 0,
            "responses_sent": answers["sent"] if answers else 0,
            "responses_received": answers["received"] if answers else 0,
        }
        entry["answered"] = entry["responses_sent"] > 0
        if entry["requests_sent"] == 0:
            entry["verdict"] = "no_requests"
        elif entry["requests_received"] == 0 and entry["requests_lost"]:
            entry["verdict"] = "requests_lost"
        elif not entry["answered"]:
            entry["verdict"] = "received_not_answered"
        elif entry["responses_received"] == 0:
            entry["verdict"] = "answer_lost"
        else:
            entry["verdict"] = "answered"
        out.append(entry)
    return out


def _esp_flow_summary(flows: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    out = []
    esp = [f for f in flows if f["kind"] == "esp"]
    for flow in esp:
        entry = {k: flow[k] for k in ("spi", "from", "to", "sent", "received", "lost", "not_watched")}
        entry["answered"] = any(other["from"] == flow["to"] and other["sent"] > 0 for other in esp)
        entry["verdict"] = _verdict(flow)
        out.append(entry)
    return out


def _start_skew(events_a: list[Event], events_b: list[Event], offset: float) -> dict[str, t.Any]:
    """How much later B's capture began than A's (ms, A's clock), from ESP streams seen on both sides.

    For each ESP SPI captured on both gateways: the sender's first sequence number in its capture and
    the receiver's first. If the receiver's first packet is a later one, the receiver started later
    by the time between those two packets (in the sender's clock), and the other way round.
    """
    def by_spi(events: list[Event]) -> dict[str, dict[int, float]]:
        table: dict[str, dict[int, float]] = {}
        for event in events:
            if event["kind"] == "esp":
                _esp, spi, seq = event["id"].split(":")
                table.setdefault(spi, {}).setdefault(int(seq), event["t"])
        return table

    esp_a, esp_b = by_spi(events_a), by_spi(events_b)
    samples = []
    for spi in set(esp_a) & set(esp_b):
        seqs_a, seqs_b = esp_a[spi], esp_b[spi]
        first_a, first_b = min(seqs_a), min(seqs_b)
        if first_b in seqs_a and first_b >= first_a:
            samples.append(seqs_a[first_b] - seqs_a[first_a])  # B began later, in A's clock
        elif first_a in seqs_b:
            samples.append(-(seqs_b[first_a] - seqs_b[first_b]))  # A began later, in B's clock
    if not samples:
        return {"ms": None, "basis": "no ESP stream seen on both sides", "samples": 0}
    return {"ms": round(statistics.median(samples) * 1000, 3), "basis": "first ESP sequence numbers per SPI",
            "samples": len(samples), "max_abs_ms": round(max(abs(s) for s in samples) * 1000, 3)}


def _timeline(pairs_ab, pairs_ba, a: str, b: str, offset: float, limit: int) -> list[dict[str, t.Any]]:
    rows = []
    for sender, receiver, pairs, to_a in ((a, b, pairs_ab, 0.0), (b, a, pairs_ba, -offset)):
        for sent, got in pairs:
            sent_a_clock = sent["t"] + to_a
            row = {"t": round(sent_a_clock, 6), "kind": sent["kind"], "id": sent["id"], "from": sender, "to": receiver,
                   "src": sent.get("src"), "dst": sent.get("dst"), "sent_at": sent["t"],
                   "seen_at": got["t"] if got else None, "delivered": got is not None}
            for key in ("exchange", "response", "message_id", "bucket"):
                if key in sent:
                    row[key] = sent[key]
            if got is not None:
                received_a_clock = got["t"] + (-offset if receiver == b else 0.0)
                row["delay_ms"] = round((received_a_clock - sent_a_clock) * 1000, 3)
            rows.append(row)
    rows.sort(key=lambda row: row["t"])
    return rows[:limit]


def pair_captures(side_a: t.Any, side_b: t.Any = None, names: tuple[str, str] = ("a", "b"),
                  max_timeline: int = 500) -> dict[str, t.Any]:
    """The merged view of one or two capture results (see the module docstring)."""
    a, b = names
    summary_a = _summary(side_a, a)
    if side_b is None:
        events = summary_a["events"]
        return {
            "mode": "one_sided",
            "sides": {a: _side_info(side_a, summary_a)},
            "flows": _one_sided_flows(a, events),
            "ike": _ike_answers(summary_a.get("ike", {}).get("messages", [])),
            "ike_sas": summary_a.get("ike", {}).get("sas", []),
            "clock_offset": None,
            "start_skew": None,
            "timeline": sorted(
                ({"t": e["t"], "kind": e["kind"], "id": e["id"], "direction": e["dir"], "src": e.get("src"),
                  "dst": e.get("dst")} for e in events), key=lambda row: row["t"])[:max_timeline],
        }
    summary_b = _summary(side_b, b)
    events_a, events_b = summary_a["events"], summary_b["events"]
    pairs_ab = _match(_crossing(events_a, "out"), _occurrences(events_b, "in"))
    pairs_ba = _match(_crossing(events_b, "out"), _occurrences(events_a, "in"))
    offset = clock_offset([p for p in pairs_ab if p[1]], [p for p in pairs_ba if p[1]])
    seconds = offset["seconds"]
    window_a, window_b = _window(side_a, summary_a), _window(side_b, summary_b)
    flows_ab = _direction_flows(a, b, pairs_ab, _watched(side_b, summary_b), seconds)
    flows_ba = _direction_flows(b, a, pairs_ba, _watched(side_a, summary_a), -seconds)
    flows = list(flows_ab.values()) + list(flows_ba.values())
    for flow in flows:
        flow["verdict"] = _verdict(flow)
    skew = {"packets": _start_skew(events_a, events_b, seconds)}
    if window_a[0] is not None and window_b[0] is not None:
        skew["declared_ms"] = round((window_b[0] - window_a[0]) * 1000, 3)
        skew["corrected_ms"] = round((window_b[0] - seconds - window_a[0]) * 1000, 3)
    return {
        "mode": "paired",
        "sides": {a: _side_info(side_a, summary_a), b: _side_info(side_b, summary_b)},
        "clock_offset": offset,
        "start_skew": skew,
        "flows": flows,
        "ike": _ike_flow_summary(flows, a, b),
        "esp": _esp_flow_summary(flows),
        "timeline": _timeline(pairs_ab, pairs_ba, a, b, seconds, max_timeline),
        "unmatched_inbound": {
            a: _unmatched_inbound(events_a, pairs_ba),
            b: _unmatched_inbound(events_b, pairs_ab),
        },
    }


def _unmatched_inbound(events: list[Event], pairs_into: list[tuple[Event, Event | None]]) -> int:
    """Inbound packets on a side that the other side's capture never shows leaving (NAT, third party)."""
    matched = {id(got) for _sent, got in pairs_into if got is not None}
    return sum(1 for event in events if event.get("dir") == "in" and id(event) not in matched)


def _side_info(capture: dict[str, t.Any], summary: dict[str, t.Any]) -> dict[str, t.Any]:
    window = _window(capture, summary)
    return {"window": {"start": window[0], "end": window[1]}, "packets": summary.get("packets", {}),
            "events": len(summary.get("events", [])), "events_dropped": summary.get("events_dropped", 0)}
