# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The paired diagnosis: both side records in, the checklist's findings and the root cause out.

Rules run in packet-flow order. The root cause is the first failing finding that is a cause
(a configuration or state that breaks the tunnel: a dropped port, a proposal mismatch, a missing
route); only when no cause fails is it the first failing symptom (no answer, no SA, lost probe).
Every other failing symptom is linked to it as a consequence; other failing causes are reported
as independent problems. The result is a plain dict with a versioned schema (``SCHEMA``,
``SCHEMA_VERSION``; documented in the diagnose_pair filter and docs/report-schema.md).
"""

from __future__ import annotations

import typing as t

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _context, _finding, _ladder, _pair, _rules, _side, _trace, _traffic

SCHEMA = "netdoctor.ipsec/diagnosis"
SCHEMA_VERSION = 1


def pick_root(findings: list[dict[str, t.Any]]) -> dict[str, t.Any] | None:
    failing = [f for f in findings if f["status"] == "fail"]
    causes = [f for f in failing if not f["symptom"]]
    if causes:
        return causes[0]
    return failing[0] if failing else None


def link(findings: list[dict[str, t.Any]], root: dict[str, t.Any] | None) -> None:
    """Mark the root cause, the consequences linked to it and the independent problems."""
    for found in findings:
        found["root_cause"] = found is root
        found["consequence_of"] = None
        found["independent"] = False
        if root is None or found is root or found["status"] != "fail":
            continue
        if found["symptom"]:
            found["consequence_of"] = root["id"]
        else:
            found["independent"] = True


def counts(findings: list[dict[str, t.Any]]) -> dict[str, int]:
    result = {status: 0 for status in _finding.STATUSES}
    for found in findings:
        result[found["status"]] += 1
    return result


def worst_status(findings: list[dict[str, t.Any]]) -> str:
    if not findings:
        return "pass"
    worst = max(findings, key=lambda f: _finding.SEVERITY[f["status"]])
    return worst["status"] if _finding.SEVERITY[worst["status"]] else "pass"


def _side_summary(tunnel: _pair.Tunnel, name: str) -> dict[str, t.Any]:
    side = tunnel.side(name)
    conn = tunnel.conn[name]
    return {
        "host": side["host"],
        "managed": side["managed"],
        "daemon": side["ike"].get("daemon"),
        "daemon_version": side["ike"].get("version"),
        "endpoint": tunnel.endpoint[name],
        "peers": tunnel.peers[name],
        "connection": conn.get("name") if conn else None,
        "ike_version": conn.get("ike_version") if conn else None,
        "local_id": conn.get("local_id") if conn else None,
        "remote_id": conn.get("remote_id") if conn else None,
        "ike_proposals": [p.get("text") for p in conn["ike_proposals"]] if conn else [],
        "children": [
            {"name": c["name"], "local_ts": c["local_ts"], "remote_ts": c["remote_ts"], "mode": c["mode"],
             "esp_proposals": [p.get("text") for p in c["esp_proposals"]]}
            for c in (conn["children"] if conn else [])
        ],
        "ike_sas": [{"state": sa["state"], "established": sa["established"], "spi_i": sa["spi_i"], "spi_r": sa["spi_r"],
                     "children": [{"state": c["state"], "spi_in": c["spi_in"], "spi_out": c["spi_out"]} for c in sa["children"]]}
                    for sa in tunnel.ike_sas[name]],
        "states": [{"spi": s["spi"], "src": s["src"], "dst": s["dst"], "direction": s.get("direction"),
                    "encap": bool(s.get("encap")), "esn": s["esn"]} for s in tunnel.states[name]],
        "policies": [{"dir": p["dir"], "src": p.get("src"), "dst": p.get("dst"), "action": p["action"],
                      "tmpls": [f"{tm.get('src')}->{tm.get('dst')}" for tm in p["tmpls"]]} for p in tunnel.policies[name]],
        "sources": side["sources"],
        "warnings": side["warnings"],
    }


def diagnose(
    side_a: dict[str, t.Any],
    side_b: dict[str, t.Any] | None = None,
    *,
    tunnel_name: str | None = None,
    connection: str | None = None,
    peer_address: str | None = None,
    options: dict[str, t.Any] | None = None,
    generated: str | None = None,
) -> dict[str, t.Any]:
    """Diagnose the tunnel between side records ``side_a`` and ``side_b``.

    Without ``side_b`` (one-sided mode) the peer is the unmanaged ``peer_address`` (or side A's
    ``peer_address``). ``options`` carries what the role knows beyond the records (inside
    addresses ``inner_a``/``inner_b``, written ``artifacts``). Pure: no I/O.
    """
    side_a = _side.normalise_side(side_a)
    if side_b is None:
        address = peer_address or side_a.get("peer_address")
        if not address:
            raise ValueError("one-sided mode needs the peer's address (peer_address or side A's peer_address)")
        side_b = _side.unmanaged_side(address)
        side_a["peer_address"] = address
    tunnel = _pair.pair_sides(side_a, side_b, connection, options)
    ctx = _context.Context(tunnel)
    findings = _rules.run_all(ctx)
    root = pick_root(findings)
    link(findings, root)
    status = worst_status(findings)
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "generated": generated,
        "tunnel": tunnel_name or f"{tunnel.host('a')}<->{tunnel.host('b')}",
        "one_sided": tunnel.one_sided,
        "status": status,
        "root_cause": None if root is None else {
            "id": root["id"], "title": root["title"], "side": root["side"],
            "host": _host_of(tunnel, root["side"]), "summary": root["summary"], "fix": root["fix"],
        },
        "counts": counts(findings),
        "findings": findings,
        "sides": {"a": _side_summary(tunnel, "a"), "b": _side_summary(tunnel, "b")},
        "traffic": _traffic_summary(tunnel),
        "selection": tunnel.selection_notes,
        "options": {k: v for k, v in tunnel.options.items() if k in ("inner_a", "inner_b", "capture", "probe")},
    }


def _traffic_summary(tunnel: _pair.Tunnel) -> dict[str, t.Any]:
    """What the report draws: the IKE ladder, ESP per direction, the probes and the xfrm counters that moved."""
    captured = {name: tunnel.side(name)["managed"] and _traffic.capture_of(tunnel.side(name)) is not None for name in ("a", "b")}
    return {
        "captured": captured,
        "capture_problems": {name: _traffic.capture_problem(tunnel.side(name)) for name in ("a", "b")
                             if tunnel.side(name)["managed"] and _traffic.capture_problem(tunnel.side(name))},
        "window": {name: _traffic.window(tunnel.side(name)) for name in ("a", "b") if captured[name]},
        "ladder": _ladder.build(tunnel.a, tunnel.b),
        "esp": _ladder.esp_summary(tunnel.a, tunnel.b),
        "probes": {name: _traffic.probe_of(tunnel.side(name)) for name in ("a", "b") if tunnel.side(name)["managed"]},
        "xfrm_stat_delta": {name: _traffic.stat_delta(tunnel.side(name)) for name in ("a", "b") if tunnel.side(name)["managed"]},
        "files": {name: list((tunnel.side(name).get("capture") or {}).get("files") or []) for name in ("a", "b")},
        "trace": {name: [_trace.describe(packet) for packet in tunnel.side(name).get("trace") or []]
                  for name in ("a", "b") if tunnel.side(name).get("trace")},
    }


def _host_of(tunnel: _pair.Tunnel, side: str) -> str:
    if side in ("a", "b"):
        return tunnel.host(side)
    return f"{tunnel.host('a')} and {tunnel.host('b')}"


def failing(diagnosis: dict[str, t.Any], threshold: str = "fail") -> list[dict[str, t.Any]]:
    """Findings at or above ``threshold`` (fail, warn, unknown; never gives none)."""
    return [f for f in diagnosis["findings"] if _finding.at_or_above(f["status"], threshold)]
