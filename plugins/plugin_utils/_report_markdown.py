# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The Markdown report of a diagnosis (for tickets and chat): root cause, sides, checklist, evidence."""

from __future__ import annotations

import typing as t

ICONS = {"pass": "✅ pass", "warn": "⚠️ warn", "fail": "❌ fail", "skip": "⏭ skip", "unknown": "❔ unknown"}


def _cell(text: t.Any) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def _host(diagnosis: dict[str, t.Any], side: str) -> str:
    return diagnosis["sides"][side]["host"] if side in ("a", "b") else side


def _sides_table(diagnosis: dict[str, t.Any]) -> list[str]:
    a, b = diagnosis["sides"]["a"], diagnosis["sides"]["b"]

    def children(side: dict[str, t.Any]) -> str:
        return "; ".join(f"{', '.join(c['local_ts'])} ⇄ {', '.join(c['remote_ts'])} ({c['mode']}; {', '.join(c['esp_proposals'])})"
                         for c in side["children"]) or "-"

    def sas(side: dict[str, t.Any]) -> str:
        return "; ".join(f"{sa['state']}" + (f" ({len(sa['children'])} child)" if sa["children"] else "") for sa in side["ike_sas"]) or "none"

    rows = [
        ("gateway", a["host"], b["host"]),
        ("IKE daemon", f"{a['daemon'] or '-'} {a['daemon_version'] or ''}", f"{b['daemon'] or '-'} {b['daemon_version'] or ''}"),
        ("outer address", a["endpoint"], b["endpoint"]),
        ("connection", a["connection"], b["connection"]),
        ("IKE version", a["ike_version"], b["ike_version"]),
        ("identities (local / remote)", f"{a['local_id']} / {a['remote_id']}", f"{b['local_id']} / {b['remote_id']}"),
        ("IKE proposals", ", ".join(a["ike_proposals"]), ", ".join(b["ike_proposals"])),
        ("children", children(a), children(b)),
        ("IKE SAs", sas(a), sas(b)),
        ("kernel SAs", ", ".join(f"{s['spi']} {s['direction'] or ''}" for s in a["states"]) or "none",
         ", ".join(f"{s['spi']} {s['direction'] or ''}" for s in b["states"]) or "none"),
    ]
    lines = ["| | A | B |", "|---|---|---|"]
    lines += [f"| {_cell(name)} | {_cell(left)} | {_cell(right)} |" for name, left, right in rows]
    return lines


def render(diagnosis: dict[str, t.Any]) -> str:
    root = diagnosis["root_cause"]
    lines = [f"# IPsec diagnosis: {diagnosis['tunnel']}", ""]
    lines.append(f"**Status: {diagnosis['status'].upper()}** — {diagnosis['sides']['a']['host']} (A) ⇄ {diagnosis['sides']['b']['host']} (B)"
                 + (" — one-sided (the peer is not managed)" if diagnosis["one_sided"] else ""))
    if diagnosis.get("generated"):
        lines.append(f"Generated {diagnosis['generated']}.")
    lines.append("")
    if root:
        lines += ["## Root cause", "", f"**{root['id']}** ({root['title']}) on **{root['host']}**: {root['summary']}", ""]
        if root["fix"]:
            lines += ["**Fix:** " + root["fix"], ""]
        consequences = [f for f in diagnosis["findings"] if f.get("consequence_of") == root["id"]]
        if consequences:
            lines += ["Consequences: " + ", ".join(f"{f['id']} ({_host(diagnosis, f['side'])})" for f in consequences), ""]
    else:
        lines += ["No failing check.", ""]
    independent = [f for f in diagnosis["findings"] if f.get("independent")]
    if independent:
        lines += ["## Also broken", ""] + [f"- **{f['id']}** on {_host(diagnosis, f['side'])}: {f['summary']} — fix: {f['fix']}" for f in independent] + [""]
    lines += ["## The two gateways", ""] + _sides_table(diagnosis) + [""]
    lines += ["## Checklist", "", "| id | check | status | side | summary |", "|---|---|---|---|---|"]
    for found in diagnosis["findings"]:
        summary = found["summary"] or found["reason"]
        if found.get("root_cause"):
            summary = "**ROOT CAUSE** " + summary
        lines.append(f"| {found['id']} | {_cell(found['title'])} | {ICONS[found['status']]} | {_host(diagnosis, found['side'])} | {_cell(summary)} |")
    for side, paths in ((diagnosis.get("traffic") or {}).get("trace") or {}).items():
        lines += ["", f"## Traced rule path on {_host(diagnosis, side)}", ""] + [f"- `{path}`" for path in paths]
    lines += ["", "## Evidence", ""]
    for found in diagnosis["findings"]:
        if not found["evidence"] and not found["fix"]:
            continue
        lines.append(f"### {found['id']} — {ICONS[found['status']]}")
        lines.append("")
        for item in found["evidence"]:
            lines.append(f"- `{_host(diagnosis, item['side']) if item['side'] in ('a', 'b') else item['side']}` {item['text']}")
        if found["fix"] and found["status"] in ("fail", "warn"):
            lines.append(f"- **fix:** {found['fix']}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
