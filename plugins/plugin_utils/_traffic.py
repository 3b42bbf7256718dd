# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""What the two captures say, as the questions the checklist asks.

Each side's capture summary (module ``capture``) lists the IKE messages and ESP flows it saw on
the interface facing the peer, with their direction relative to that gateway. Sent by A and seen
by B, answered by B and seen by A: counting both sides' own directions answers "are we sending,
does the peer receive, does it answer, do we receive" without aligning the two clocks.
"""

from __future__ import annotations

import typing as t

STAT_REASONS = {
    "XfrmInNoStates": "no inbound SA for the SPI/address (SPI or SA missing on the receiver)",
    "XfrmInStateProtoError": "ESP failed its integrity check or decryption (wrong key or ICV length)",
    "XfrmInStateMismatch": "the packet does not fit the SA (e.g. UDP encapsulation differs)",
    "XfrmInTmplMismatch": "decrypted, but no inbound policy template matches (selectors/policy)",
    "XfrmInNoPols": "decrypted, but no inbound policy for the inner addresses",
    "XfrmInPolBlock": "an inbound policy blocks the traffic",
    "XfrmInStateSeqError": "sequence number out of the replay window",
    "XfrmInStateExpired": "the inbound SA has expired",
    "XfrmInStateInvalid": "the inbound SA is not valid (being deleted)",
    "XfrmInBufferError": "no buffer for the packet",
    "XfrmInHdrError": "malformed ESP header",
    "XfrmOutNoStates": "an outbound policy matched but no SA exists (tunnel not up)",
    "XfrmOutPolBlock": "an outbound policy blocks the traffic",
    "XfrmOutStateProtoError": "encryption failed on the outbound SA",
    "XfrmOutStateExpired": "the outbound SA has expired",
    "XfrmOutBundleGenError": "could not build the outbound transform bundle",
    "XfrmFwdHdrError": "forwarding of a decrypted packet is not allowed (fwd policy missing)",
}


def capture_problem(side: dict[str, t.Any]) -> str | None:
    """Why a side's capture cannot be used (None when it can): it failed, or its window was empty."""
    capture = side.get("capture")
    if not isinstance(capture, dict):
        return None
    if capture.get("failed"):
        return "the capture failed"
    start, end = capture.get("start"), capture.get("end")
    if isinstance(start, (int, float)) and isinstance(end, (int, float)) and end <= start:
        late = capture.get("late_ms")
        return (f"the capture started {late / 1000:.1f} s late, after its window had ended (raise ipsec_capture_lead)"
                if isinstance(late, (int, float)) else "the capture window was empty")
    return None


def capture_of(side: dict[str, t.Any]) -> dict[str, t.Any] | None:
    """The side's capture summary when it can be used."""
    capture = side.get("capture")
    return capture if isinstance(capture, dict) and capture_problem(side) is None else None


def ike_messages(side: dict[str, t.Any], direction: str, response: bool | None = None) -> list[dict[str, t.Any]]:
    capture = capture_of(side) or {}
    return [
        msg
        for msg in capture.get("ike") or []
        if msg.get("dir") == direction and (response is None or bool(msg.get("response")) == response)
    ]


def reach(sender: dict[str, t.Any], receiver: dict[str, t.Any] | None) -> dict[str, t.Any]:
    """IKE requests sent by ``sender`` and what became of them (receiver may be unmanaged: None)."""
    sent = ike_messages(sender, "out", response=False)
    answers_back = ike_messages(sender, "in", response=True)
    result = {
        "sent": len(sent),
        "received": None,
        "answered": None,
        "answers_received": len(answers_back),
        "versions_sent": sorted({m.get("version") for m in sent if m.get("version")}),
        "exchanges_sent": sorted({m.get("exchange") for m in sent if m.get("exchange")}),
        "notifies_received": sorted({n for m in answers_back for n in m.get("notify") or []}),
    }
    if receiver is not None and capture_of(receiver) is not None:
        result["received"] = len(ike_messages(receiver, "in", response=False))
        result["answered"] = len(ike_messages(receiver, "out", response=True))
    return result


def esp_flows(side: dict[str, t.Any], direction: str) -> list[dict[str, t.Any]]:
    capture = capture_of(side) or {}
    return [flow for flow in capture.get("esp") or [] if flow.get("dir") == direction]


def esp_packets(side: dict[str, t.Any], direction: str) -> int:
    return sum(int(flow.get("packets") or 0) for flow in esp_flows(side, direction))


def plaintext_out(side: dict[str, t.Any]) -> int:
    capture = capture_of(side) or {}
    value = capture.get("plaintext_out")
    if value is None and isinstance(capture.get("plaintext"), dict):
        value = capture["plaintext"].get("out")
    return int(value or 0)


def stat_delta(side: dict[str, t.Any]) -> dict[str, int]:
    """xfrm_stat counters that grew in the window (capture's delta, else before/after reads)."""
    capture = capture_of(side) or {}
    delta = capture.get("xfrm_stat_delta")
    if isinstance(delta, dict):
        return {k: int(v) for k, v in delta.items() if isinstance(v, (int, float)) and v > 0}
    before = (side.get("xfrm") or {}).get("stat") or {}
    after = (side.get("xfrm_after") or {}).get("stat") or {}
    return {k: int(after[k]) - int(before.get(k, 0)) for k in after if int(after[k]) > int(before.get(k, 0))}


def stat_reasons(delta: dict[str, int]) -> list[str]:
    return [f"{name} +{count}: {STAT_REASONS.get(name, 'see Documentation/networking/xfrm_proc.rst')}"
            for name, count in sorted(delta.items())]


def probe_of(side: dict[str, t.Any]) -> dict[str, t.Any] | None:
    probe = side.get("probe")
    if isinstance(probe, dict) and probe.get("ran", True):
        return probe
    capture = capture_of(side) or {}
    probe = capture.get("probe")
    return probe if isinstance(probe, dict) and probe.get("ran", True) else None


def window(side: dict[str, t.Any]) -> str:
    capture = capture_of(side) or {}
    return f"{capture.get('start', '?')} .. {capture.get('end', '?')}"
