# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Inline SVG diagrams of the HTML report: the IKE ladder and one gateway's packet flow.

The packet-flow picture follows the kernel's path for a tunnel gateway: inbound ESP passes
PREROUTING and INPUT, is decrypted (xfrm state in), checked against the in/fwd policies and
forwarded; outbound protected traffic passes FORWARD and POSTROUTING (where a MASQUERADE rewrites
it before the policy lookup), is matched by the out policy and encrypted (xfrm state out), and
the ESP packet leaves through OUTPUT and POSTROUTING. Each box is coloured by the worst finding
of this side that concerns it; the root cause's box is outlined.
"""

from __future__ import annotations

import html
import typing as t

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _finding

COLORS = {"pass": "#d8f0d8", "warn": "#fbe8b0", "fail": "#f6c6c2", "skip": "#ececec", "unknown": "#e4e4f4", None: "#ffffff"}
STROKES = {"pass": "#4a8a4a", "warn": "#b8860b", "fail": "#b22222", "skip": "#999999", "unknown": "#6a6aa0", None: "#888888"}

# Box id -> (column, row, label, sub-label)
BOXES: dict[str, tuple[int, int, str, str]] = {
    "daemon": (3, 0, "IKE daemon", "UDP 500 / 4500"),
    "wire_in": (0, 1, "WAN in", "from the peer"),
    "pre_in": (1, 1, "PREROUTING", "raw, mangle, nat"),
    "route_in": (2, 1, "routing", "local?"),
    "input": (3, 1, "INPUT", "filter: IKE, ESP"),
    "xfrm_in": (4, 1, "xfrm state in", "decrypt, ICV"),
    "policy_in": (5, 1, "xfrm policy", "in / fwd check"),
    "forward_in": (6, 1, "FORWARD", "filter (decapsulated)"),
    "lan_out": (7, 1, "LAN", "to inner hosts"),
    "lan_in": (7, 2, "LAN", "from inner hosts"),
    "route_out": (6, 2, "routing", "route to remote subnet"),
    "forward_out": (5, 2, "FORWARD", "filter"),
    "post_nat": (4, 2, "POSTROUTING", "nat: SNAT/MASQUERADE"),
    "xfrm_out": (3, 2, "xfrm lookup", "policy out, state out"),
    "output": (2, 2, "OUTPUT", "filter: IKE, ESP"),
    "post_out": (1, 2, "POSTROUTING", "ESP packet"),
    "wire_out": (0, 2, "WAN out", "to the peer"),
}
ARROWS = [("wire_in", "pre_in"), ("pre_in", "route_in"), ("route_in", "input"), ("input", "xfrm_in"), ("xfrm_in", "policy_in"),
          ("policy_in", "forward_in"), ("forward_in", "lan_out"), ("lan_in", "route_out"), ("route_out", "forward_out"),
          ("forward_out", "post_nat"), ("post_nat", "xfrm_out"), ("xfrm_out", "output"), ("output", "post_out"),
          ("post_out", "wire_out"), ("input", "daemon"), ("daemon", "output")]
# Finding id -> the boxes it concerns.
FINDING_BOXES: dict[str, tuple[str, ...]] = {
    "HOST.KERNEL": ("daemon",), "HOST.SYSCTL": ("route_in", "route_out"),
    "P1.FW_IKE": ("input", "output"), "P1.REACH": ("wire_in", "wire_out"), "P1.IKE_VERSION": ("daemon",),
    "P1.PROPOSALS": ("daemon",), "P1.PSK": ("daemon",), "P1.IDENTITY": ("daemon",), "P1.NAT": ("wire_in", "wire_out"),
    "P1.SA": ("daemon",), "P1.LOG": ("daemon",), "P2.TRIGGER": ("xfrm_out",), "P2.SELECTORS": ("policy_in", "xfrm_out"),
    "P2.CRYPTO": ("daemon",), "P2.SA_MATCH": ("xfrm_in", "xfrm_out"), "P2.TRUNC": ("xfrm_in",),
    "P2.POLICY": ("policy_in", "xfrm_out"), "P2.ROUTE": ("route_out",), "P2.FW_ESP": ("input", "output"),
    "P2.FORWARD": ("forward_in", "forward_out"), "P2.NAT_EXEMPT": ("post_nat",), "P2.ESP_OUT": ("xfrm_out", "wire_out"),
    "P2.ESP_ONEWAY": ("xfrm_in", "wire_in"), "P2.PROBE": ("lan_in", "lan_out"), "P2.MTU": ("wire_out",),
}

BOX_W, BOX_H, GAP_X, ROW_H = 118, 46, 22, 92


def _esc(text: t.Any) -> str:
    return html.escape(str(text), quote=True)


def _side_status(found: dict[str, t.Any], side: str) -> str | None:
    """A finding's status for one side: its own when it is about this side, else what this side's evidence says."""
    if found["side"] in (side, "both") and found["status"] != "pass":
        return found["status"]
    mine = [item.get("status") for item in found["evidence"] if item["side"] == side and item.get("status") in _finding.SEVERITY]
    if mine:
        return max(mine, key=lambda status: _finding.SEVERITY[status])
    return found["status"] if found["side"] in (side, "both") else None


def box_states(findings: list[dict[str, t.Any]], side: str) -> tuple[dict[str, str], str | None]:
    """Worst status per box for ``side`` and the box of the root cause (when on this side)."""
    states: dict[str, str] = {}
    root_box = None
    for found in findings:
        status = _side_status(found, side)
        if status is None:
            continue
        for box in FINDING_BOXES.get(found["id"], ()):
            current = states.get(box)
            if current is None or _finding.SEVERITY[status] > _finding.SEVERITY[current]:
                states[box] = status
            if found.get("root_cause") and found["side"] in (side, "both") and root_box is None:
                root_box = box
    return states, root_box


def _xy(box: str) -> tuple[int, int]:
    col, row, _label, _sub = BOXES[box]
    return 10 + col * (BOX_W + GAP_X), 34 + row * ROW_H


def flow_svg(findings: list[dict[str, t.Any]], side: str, host: str) -> str:
    """The packet-flow picture of one gateway with this side's findings marked."""
    states, root_box = box_states(findings, side)
    width = 10 + 8 * (BOX_W + GAP_X)
    height = 34 + 3 * ROW_H
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="flow" viewBox="0 0 {width} {height}" width="100%" '
           f'role="img" aria-label="packet flow on {_esc(host)}">',
           '<defs><marker id="arr" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">'
           '<path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
           f'<text x="10" y="18" font-size="14" font-weight="bold">{_esc(host)}: packet flow '
           '(top: ESP in, decrypted, forwarded to the LAN; bottom: LAN traffic matched, NATed?, encrypted, sent)</text>']
    for start, end in ARROWS:
        x1, y1 = _xy(start)
        x2, y2 = _xy(end)
        if y1 == y2:
            if x2 > x1:
                sx, ex = x1 + BOX_W, x2
            else:
                sx, ex = x1, x2 + BOX_W
            out.append(f'<line x1="{sx}" y1="{y1 + BOX_H / 2}" x2="{ex}" y2="{y2 + BOX_H / 2}" stroke="#555" marker-end="url(#arr)"/>')
        else:
            sy, ey = (y1 + BOX_H, y2) if y2 > y1 else (y1, y2 + BOX_H)
            shift = 20 if start == "input" else (-20 if end == "output" else 0)
            out.append(f'<line x1="{x1 + BOX_W / 2 + shift}" y1="{sy}" x2="{x2 + BOX_W / 2 + shift}" y2="{ey}" '
                       'stroke="#555" stroke-dasharray="4 3" marker-end="url(#arr)"/>')
    for box, (_col, _row, label, sub) in BOXES.items():
        x, y = _xy(box)
        status = states.get(box)
        stroke_width = 4 if box == root_box else 1.5
        out.append(f'<g class="box {status or "none"}"><rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" '
                   f'fill="{COLORS[status]}" stroke="{STROKES[status]}" stroke-width="{stroke_width}"/>'
                   f'<text x="{x + BOX_W / 2}" y="{y + 19}" text-anchor="middle" font-size="12" font-weight="bold">{_esc(label)}</text>'
                   f'<text x="{x + BOX_W / 2}" y="{y + 35}" text-anchor="middle" font-size="10">{_esc(sub)}</text></g>')
        if box == root_box:
            out.append(f'<text x="{x + BOX_W / 2}" y="{y - 6 if y > 40 else y + BOX_H + 14}" text-anchor="middle" font-size="11" '
                       f'fill="#b22222" font-weight="bold">root cause</text>')
    out.append("</svg>")
    return "".join(out)


def ladder_svg(events: list[dict[str, t.Any]], host_a: str, host_b: str) -> str:
    """Two lifelines (A left, B right) and one arrow per IKE message; lost messages end in a cross."""
    row = 30
    width, left, right = 760, 150, 610
    height = 70 + row * max(len(events), 1)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="ladder" viewBox="0 0 {width} {height}" width="{width}" '
           'role="img" aria-label="IKE ladder">',
           '<defs><marker id="lad" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto">'
           '<path d="M0,0 L10,5 L0,10 z" fill="#333"/></marker></defs>',
           f'<text x="{left}" y="20" text-anchor="middle" font-size="14" font-weight="bold">{_esc(host_a)} (A)</text>',
           f'<text x="{right}" y="20" text-anchor="middle" font-size="14" font-weight="bold">{_esc(host_b)} (B)</text>',
           f'<line x1="{left}" y1="30" x2="{left}" y2="{height - 10}" stroke="#333" stroke-width="2"/>',
           f'<line x1="{right}" y1="30" x2="{right}" y2="{height - 10}" stroke="#333" stroke-width="2"/>']
    if not events:
        out.append(f'<text x="{width / 2}" y="55" text-anchor="middle" font-size="12" fill="#666">'
                   'no IKE message in the capture window</text>')
    for index, event in enumerate(events):
        y = 50 + row * index
        x1, x2 = (left, right) if event["sender"] == "a" else (right, left)
        lost = event.get("seen_by_receiver") is False
        error = any(str(n) in ("NO_PROPOSAL_CHOSEN", "AUTHENTICATION_FAILED", "TS_UNACCEPTABLE", "INVALID_KE_PAYLOAD",
                               "INVALID_SYNTAX", "INVALID_MAJOR_VERSION") for n in event.get("notify") or [])
        color = "#b22222" if lost or error else "#333"
        end = x1 + (x2 - x1) * (0.55 if lost else 1.0)
        out.append(f'<text x="8" y="{y + 4}" font-size="10" fill="#666">+{event.get("offset", 0):.2f} s</text>')
        if lost:
            out.append(f'<line x1="{x1}" y1="{y}" x2="{end}" y2="{y}" stroke="{color}" stroke-dasharray="6 4" stroke-width="1.5"/>'
                       f'<text x="{end}" y="{y + 5}" font-size="16" fill="{color}" text-anchor="middle">&#10007;</text>')
        else:
            out.append(f'<line x1="{x1}" y1="{y}" x2="{end}" y2="{y}" stroke="{color}" stroke-width="1.5" marker-end="url(#lad)"/>')
        suffix = "" if event.get("seen_by_receiver") is not False else " (not received)"
        out.append(f'<text x="{(left + right) / 2}" y="{y - 5}" text-anchor="middle" font-size="11" fill="{color}">'
                   f'{_esc(event["label"] + suffix)}</text>')
    out.append("</svg>")
    return "".join(out)
