# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The HTML report: one self-contained page (inline CSS and SVG, no script, no external asset).

Root cause and fix first, the two gateways side by side, the checklist with each finding's
evidence per side, the IKE ladder from the paired captures, ESP per direction, and the packet-flow
picture of each gateway with the failing stage marked.
"""

from __future__ import annotations

import html
import typing as t

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _report_svg

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:24px;color:#1d1d1f;background:#fafafa}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#555;font-size:13px}.badge{display:inline-block;padding:2px 10px;border-radius:10px;font-weight:bold;font-size:13px}
.pass{background:#d8f0d8;color:#1e5b1e}.warn{background:#fbe8b0;color:#6b4e00}.fail{background:#f6c6c2;color:#8b1a1a}
.skip{background:#ececec;color:#555}.unknown{background:#e4e4f4;color:#3c3c78}
.root{border:2px solid #b22222;background:#fff5f4;border-radius:8px;padding:12px 16px;margin:16px 0}
.root h2{border:none;margin:0 0 6px;color:#8b1a1a}.fix{font-family:ui-monospace,Menlo,Consolas,monospace;background:#f3f3f3;
padding:8px;border-radius:4px;white-space:pre-wrap;font-size:13px}.ok{border:2px solid #4a8a4a;background:#f3fbf3;border-radius:8px;padding:12px 16px}
table{border-collapse:collapse;width:100%;font-size:13px;background:#fff}th,td{border:1px solid #ddd;padding:5px 7px;vertical-align:top;text-align:left}
th{background:#f0f0f0}.sides td:first-child{font-weight:bold;width:16%}.sides td{width:42%}
tr.rootrow td{outline:2px solid #b22222}code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
details summary{cursor:pointer}.ev{display:grid;grid-template-columns:1fr 1fr;gap:6px;margin-top:4px}
.ev div{background:#f8f8f8;border-radius:4px;padding:4px 6px;font-size:12px}.ev .full{grid-column:1 / span 2}
.diagram{background:#fff;border:1px solid #ddd;border-radius:8px;padding:8px;margin:8px 0;overflow-x:auto}
.small{font-size:12px;color:#555}
"""


def _e(text: t.Any) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _host(diagnosis: dict[str, t.Any], side: str) -> str:
    return diagnosis["sides"][side]["host"] if side in ("a", "b") else side


def _badge(status: str) -> str:
    return f'<span class="badge {_e(status)}">{_e(status.upper())}</span>'


def _root(diagnosis: dict[str, t.Any]) -> str:
    root = diagnosis["root_cause"]
    if not root:
        verdict = "No failing check" + (" (warnings below)" if diagnosis["status"] in ("warn", "unknown") else "")
        return f'<div class="ok"><strong>{_e(verdict)}.</strong></div>'
    consequences = [f for f in diagnosis["findings"] if f.get("consequence_of") == root["id"]]
    parts = [f'<div class="root"><h2>Root cause: {_e(root["id"])} on {_e(root["host"])}</h2>',
             f'<div>{_e(root["title"])}</div><p><strong>{_e(root["summary"])}</strong></p>']
    if root["fix"]:
        parts.append(f'<div><strong>Fix</strong></div><div class="fix">{_e(root["fix"])}</div>')
    if consequences:
        parts.append('<p class="small">Consequences of it: ' + ", ".join(
            f'{_e(f["id"])} ({_e(_host(diagnosis, f["side"]))})' for f in consequences) + "</p>")
    independent = [f for f in diagnosis["findings"] if f.get("independent")]
    if independent:
        parts.append('<p class="small"><strong>Also broken, independently:</strong> ' + "; ".join(
            f'{_e(f["id"])} on {_e(_host(diagnosis, f["side"]))}: {_e(f["summary"])}' for f in independent) + "</p>")
    parts.append("</div>")
    return "".join(parts)


def _list(values: t.Iterable[t.Any]) -> str:
    items = [v for v in values if v not in (None, "")]
    return "<br>".join(_e(v) for v in items) or "-"


def _sides(diagnosis: dict[str, t.Any]) -> str:
    a, b = diagnosis["sides"]["a"], diagnosis["sides"]["b"]

    def children(side: dict[str, t.Any]) -> str:
        return _list(f"{c['name']}: {', '.join(c['local_ts'])} ⇄ {', '.join(c['remote_ts'])} ({c['mode']}; "
                     f"ESP {', '.join(c['esp_proposals']) or '-'})" for c in side["children"])

    def ike_sas(side: dict[str, t.Any]) -> str:
        return _list(f"{sa['state']} ({sa['spi_i'] or '?'}/{sa['spi_r'] or '?'})"
                     + "".join(f"; child {c['state']} in {c['spi_in']} out {c['spi_out']}" for c in sa["children"])
                     for sa in side["ike_sas"])

    def sources(side: dict[str, t.Any]) -> str:
        return _list(f"{name}: {info['status']}" + (f" ({info['reason']})" if info["status"] not in ("ok",) and info["reason"] else "")
                     for name, info in side["sources"].items())

    rows = [
        ("Gateway", a["host"] + ("" if a["managed"] else " (unmanaged)"), b["host"] + ("" if b["managed"] else " (unmanaged)")),
        ("IKE daemon", f"{a['daemon'] or '-'} {a['daemon_version'] or ''}", f"{b['daemon'] or '-'} {b['daemon_version'] or ''}"),
        ("Outer address", a["endpoint"], b["endpoint"]),
        ("Knows the peer as", ", ".join(a["peers"]), ", ".join(b["peers"])),
        ("Connection", a["connection"], b["connection"]),
        ("IKE version", a["ike_version"], b["ike_version"]),
        ("Identities (local / remote)", f"{a['local_id']} / {a['remote_id']}", f"{b['local_id']} / {b['remote_id']}"),
    ]
    html_rows = [f"<tr><td>{_e(n)}</td><td>{_e(x)}</td><td>{_e(y)}</td></tr>" for n, x, y in rows]
    html_rows.append(f"<tr><td>IKE proposals</td><td>{_list(a['ike_proposals'])}</td><td>{_list(b['ike_proposals'])}</td></tr>")
    html_rows.append(f"<tr><td>Children</td><td>{children(a)}</td><td>{children(b)}</td></tr>")
    html_rows.append(f"<tr><td>IKE / CHILD SAs</td><td>{ike_sas(a)}</td><td>{ike_sas(b)}</td></tr>")
    html_rows.append("<tr><td>Kernel SAs</td>" + "".join(
        "<td>" + _list(f"{s['spi']} {s['src']} → {s['dst']} ({s['direction'] or '?'}{', UDP-encap' if s['encap'] else ''}"
                       f"{', ESN' if s['esn'] else ''})" for s in side["states"]) + "</td>" for side in (a, b)) + "</tr>")
    html_rows.append("<tr><td>Kernel policies</td>" + "".join(
        "<td>" + _list(f"{p['dir']} {p['src']} → {p['dst']} {p['action']} via {', '.join(p['tmpls']) or '-'}" for p in side["policies"])
        + "</td>" for side in (a, b)) + "</tr>")
    html_rows.append(f"<tr><td>Gathered</td><td>{sources(a)}</td><td>{sources(b)}</td></tr>")
    if a["warnings"] or b["warnings"]:
        html_rows.append(f"<tr><td>Warnings</td><td>{_list(a['warnings'])}</td><td>{_list(b['warnings'])}</td></tr>")
    return ('<table class="sides"><tr><th></th><th>A</th><th>B</th></tr>' + "".join(html_rows) + "</table>")


def _evidence(diagnosis: dict[str, t.Any], found: dict[str, t.Any]) -> str:
    columns: dict[str, list[str]] = {"a": [], "b": [], "full": []}
    for item in found["evidence"]:
        key = item["side"] if item["side"] in ("a", "b") else "full"
        columns[key].append(_e(item["text"]))
    parts = []
    if columns["a"] or columns["b"]:
        parts.append(f'<div><strong>{_e(_host(diagnosis, "a"))}</strong><br>{"<br>".join(columns["a"]) or "-"}</div>')
        parts.append(f'<div><strong>{_e(_host(diagnosis, "b"))}</strong><br>{"<br>".join(columns["b"]) or "-"}</div>')
    if columns["full"]:
        parts.append(f'<div class="full">{"<br>".join(columns["full"])}</div>')
    if found["fix"] and found["status"] in ("fail", "warn"):
        parts.append(f'<div class="full"><strong>Fix:</strong> <code>{_e(found["fix"])}</code></div>')
    return f'<div class="ev">{"".join(parts)}</div>' if parts else ""


def _checklist(diagnosis: dict[str, t.Any]) -> str:
    rows = ['<table class="checklist"><tr><th>ID</th><th>Check</th><th>Status</th><th>Side</th><th>Finding and evidence</th></tr>']
    for found in diagnosis["findings"]:
        summary = found["summary"] or found["reason"]
        note = ""
        if found.get("root_cause"):
            note = " <strong>(root cause)</strong>"
        elif found.get("consequence_of"):
            note = f' <span class="small">(consequence of {_e(found["consequence_of"])})</span>'
        evidence = _evidence(diagnosis, found)
        body = f'<details><summary>{_e(summary)}{note}</summary>{evidence}</details>' if evidence else f"{_e(summary)}{note}"
        css = ' class="rootrow"' if found.get("root_cause") else ""
        rows.append(f'<tr{css}><td><code>{_e(found["id"])}</code></td><td>{_e(found["title"])}</td>'
                    f'<td>{_badge(found["status"])}</td><td>{_e(_host(diagnosis, found["side"]))}</td><td>{body}</td></tr>')
    rows.append("</table>")
    return "".join(rows)


def _traffic(diagnosis: dict[str, t.Any]) -> str:
    traffic = diagnosis.get("traffic") or {}
    a, b = diagnosis["sides"]["a"]["host"], diagnosis["sides"]["b"]["host"]
    parts = ['<div class="diagram">', _report_svg.ladder_svg(traffic.get("ladder") or [], a, b), "</div>"]
    esp = traffic.get("esp") or {}
    if esp:
        rows = "".join(f"<tr><td>{_e(a if d.startswith('a') else b)} → {_e(b if d.startswith('a') else a)}</td>"
                       f"<td>{_e(v.get('sent') if v.get('sent') is not None else 'not captured')}</td>"
                       f"<td>{_e(v.get('received') if v.get('received') is not None else 'not captured')}</td></tr>" for d, v in esp.items())
        parts.append(f"<table><tr><th>ESP</th><th>sent</th><th>received</th></tr>{rows}</table>")
    deltas = traffic.get("xfrm_stat_delta") or {}
    moved = [f"{_host(diagnosis, side)}: " + ", ".join(f"{k} +{v}" for k, v in sorted(delta.items())) for side, delta in deltas.items() if delta]
    if moved:
        parts.append(f'<p class="small">xfrm_stat counters that moved in the window: {_e("; ".join(moved))}</p>')
    for side, paths in (traffic.get("trace") or {}).items():
        parts.append(f'<p class="small"><strong>Traced rule path on {_e(_host(diagnosis, side))}</strong> (iptables TRACE, opt-in):<br>'
                     + "<br>".join(_e(path) for path in paths) + "</p>")
    for side, problem in (traffic.get("capture_problems") or {}).items():
        parts.append(f'<p class="small">Capture on {_e(_host(diagnosis, side))} not used: {_e(problem)}.</p>')
    if not any((traffic.get("captured") or {}).values()):
        parts.append('<p class="small">No capture in this run: the ladder is empty.</p>')
    return "".join(parts)


def render(diagnosis: dict[str, t.Any]) -> str:
    a, b = diagnosis["sides"]["a"], diagnosis["sides"]["b"]
    flows = "".join(f'<div class="diagram">{_report_svg.flow_svg(diagnosis["findings"], side, diagnosis["sides"][side]["host"])}</div>'
                    for side in ("a", "b") if diagnosis["sides"][side]["managed"])
    counts = ", ".join(f"{n} {s}" for s, n in diagnosis["counts"].items() if n)
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>IPsec diagnosis {_e(diagnosis['tunnel'])}</title><style>{CSS}</style></head><body>",
        f"<h1>IPsec diagnosis: {_e(diagnosis['tunnel'])} {_badge(diagnosis['status'])}</h1>",
        f'<div class="meta">{_e(a["host"])} (A) ⇄ {_e(b["host"])} (B)'
        + (" — one-sided: the peer is not managed" if diagnosis["one_sided"] else "")
        + (f" — generated {_e(diagnosis['generated'])}" if diagnosis.get("generated") else "") + f" — {_e(counts)}</div>",
        _root(diagnosis),
        "<h2>The two gateways</h2>", _sides(diagnosis),
        "<h2>Checklist</h2>", _checklist(diagnosis),
        "<h2>IKE exchange (paired captures)</h2>", _traffic(diagnosis),
        "<h2>Packet flow</h2>", flows,
        f'<p class="small">netdoctor.ipsec report, schema {_e(diagnosis["schema"])} v{_e(diagnosis["schema_version"])}. '
        "Secrets appear only as salted fingerprints.</p>",
        "</body></html>\n",
    ])
