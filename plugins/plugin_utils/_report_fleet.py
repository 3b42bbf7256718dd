# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The audit's fleet table: one row per tunnel (HTML, CSV, JSON, terminal), and the fail query.

What fails an audit job is the user's to say: a JMESPath expression over ``{"tunnels":
[diagnosis, ...]}`` selects the findings (or anything) that fail it; by default every finding at
or above a threshold does.
"""

from __future__ import annotations

import csv
import html
import io
import json
import typing as t

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _diagnosis, _finding

SCHEMA = "netdoctor.ipsec/fleet"
SCHEMA_VERSION = 1
COLUMNS = ("tunnel", "host_a", "host_b", "status", "root_cause", "side", "host", "summary", "fix", "fail", "warn", "unknown",
           "pass", "skip")


def row(diagnosis: dict[str, t.Any]) -> dict[str, t.Any]:
    root = diagnosis.get("root_cause") or {}
    counts = diagnosis.get("counts") or {}
    return {
        "tunnel": diagnosis.get("tunnel"),
        "host_a": diagnosis["sides"]["a"]["host"],
        "host_b": diagnosis["sides"]["b"]["host"],
        "status": diagnosis.get("status"),
        "root_cause": root.get("id"),
        "side": root.get("side"),
        "host": root.get("host"),
        "summary": root.get("summary") or "",
        "fix": root.get("fix") or "",
        **{status: counts.get(status, 0) for status in ("fail", "warn", "unknown", "pass", "skip")},
    }


def table(diagnoses: t.Sequence[dict[str, t.Any]], generated: str | None = None) -> dict[str, t.Any]:
    rows = [row(d) for d in diagnoses]
    totals = {status: sum(1 for r in rows if r["status"] == status) for status in ("fail", "warn", "unknown", "pass")}
    return {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "generated": generated, "tunnels": rows, "totals": totals}


def render_json(diagnoses: t.Sequence[dict[str, t.Any]], generated: str | None = None) -> str:
    return json.dumps(table(diagnoses, generated), indent=2, ensure_ascii=False) + "\n"


def render_csv(diagnoses: t.Sequence[dict[str, t.Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for item in diagnoses:
        writer.writerow(row(item))
    return out.getvalue()


def render_terminal(diagnoses: t.Sequence[dict[str, t.Any]]) -> str:
    rows = [row(d) for d in diagnoses]
    width = max([len(str(r["tunnel"])) for r in rows] + [6])
    lines = [f"{'tunnel':<{width}}  status   root cause      where   summary"]
    for r in sorted(rows, key=lambda r: (-_finding.SEVERITY.get(r["status"], 0), str(r["tunnel"]))):
        lines.append(f"{r['tunnel']:<{width}}  {str(r['status']).upper():<7}  {r['root_cause'] or '-':<14}  {r['host'] or '-':<6}  "
                     f"{r['summary'][:70]}")
    totals = table(diagnoses)["totals"]
    lines.append(f"{len(rows)} tunnels: " + ", ".join(f"{n} {s}" for s, n in totals.items() if n))
    return "\n".join(lines) + "\n"


def render_html(diagnoses: t.Sequence[dict[str, t.Any]], generated: str | None = None, links: dict[str, str] | None = None) -> str:
    def e(text: t.Any) -> str:
        return html.escape("" if text is None else str(text), quote=True)

    rows = [row(d) for d in diagnoses]
    rows.sort(key=lambda r: (-_finding.SEVERITY.get(r["status"], 0), str(r["tunnel"])))
    body = []
    for r in rows:
        link = (links or {}).get(str(r["tunnel"]))
        name = f'<a href="{e(link)}">{e(r["tunnel"])}</a>' if link else e(r["tunnel"])
        body.append(f'<tr><td>{name}</td><td>{e(r["host_a"])} ⇄ {e(r["host_b"])}</td><td><span class="badge {e(r["status"])}">'
                    f'{e(str(r["status"]).upper())}</span></td><td><code>{e(r["root_cause"] or "-")}</code></td><td>{e(r["host"] or "-")}</td>'
                    f'<td>{e(r["summary"])}</td><td><code>{e(r["fix"])}</code></td>'
                    f'<td>{r["fail"]} / {r["warn"]} / {r["unknown"]}</td></tr>')
    totals = table(diagnoses)["totals"]
    style = ("body{font-family:system-ui,Helvetica,Arial,sans-serif;margin:24px}table{border-collapse:collapse;width:100%;font-size:13px}"
             "th,td{border:1px solid #ddd;padding:5px;vertical-align:top;text-align:left}th{background:#f0f0f0}"
             ".badge{padding:2px 8px;border-radius:10px;font-weight:bold}.pass{background:#d8f0d8}.warn{background:#fbe8b0}"
             ".fail{background:#f6c6c2}.unknown{background:#e4e4f4}code{font-size:12px}")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>IPsec audit</title>"
            f"<style>{style}</style></head><body><h1>IPsec audit: {len(rows)} tunnels</h1><p>"
            + e(", ".join(f"{n} {s}" for s, n in totals.items() if n)) + (f" — generated {e(generated)}" if generated else "")
            + "</p><table><tr><th>Tunnel</th><th>Gateways</th><th>Status</th><th>Root cause</th><th>Where</th><th>Summary</th>"
            "<th>Fix</th><th>fail / warn / unknown</th></tr>" + "".join(body) + "</table></body></html>\n")


def failing(diagnoses: t.Sequence[dict[str, t.Any]], query: str | None = None, threshold: str = "fail") -> list[t.Any]:
    """What fails the job: the JMESPath ``query`` result over ``{tunnels: [...]}``, else the findings at or above ``threshold``.

    A query that yields a non-empty list (or any other truthy value) fails the job; each default
    item is a finding with its ``tunnel`` added.
    """
    if query:
        import jmespath  # controller-side requirement, imported only when a query is given

        found = jmespath.search(query, {"tunnels": list(diagnoses)})
        if found in (None, False, [], {}, ""):
            return []
        return found if isinstance(found, list) else [found]
    result = []
    for item in diagnoses:
        for found in _diagnosis.failing(item, threshold):
            result.append({"tunnel": item.get("tunnel"), **found})
    return result
