# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The terminal summary of a diagnosis: root cause first, and it fits one screen.

At most ``MAX_LINES`` lines of at most ``WIDTH`` characters: the tunnel and its verdict, the root
cause with its evidence from both sides and the fix, the consequences, other problems, the
checklist in a few compact lines, and where the full report is.
"""

from __future__ import annotations

import textwrap
import typing as t

WIDTH = 110
MAX_LINES = 40
MARKS = {"pass": "ok", "warn": "WARN", "fail": "FAIL", "skip": "skip", "unknown": "??"}


def _wrap(text: str, indent: str = "  ", first: str | None = None) -> list[str]:
    return textwrap.wrap(str(text), WIDTH, initial_indent=first if first is not None else indent, subsequent_indent=indent + "  ",
                         break_long_words=True, break_on_hyphens=False) or [first or indent]


def _host(diagnosis: dict[str, t.Any], side: str) -> str:
    if side in ("a", "b"):
        return diagnosis["sides"][side]["host"]
    return "both"


def _daemon(side: dict[str, t.Any]) -> str:
    daemon = " ".join(str(x) for x in (side.get("daemon"), side.get("daemon_version")) if x)
    return f"{side['host']} ({daemon or ('unmanaged' if not side['managed'] else 'no daemon')})"


def _root_block(diagnosis: dict[str, t.Any], root: dict[str, t.Any] | None, evidence_lines: int) -> list[str]:
    findings = diagnosis["findings"]
    if not root:
        return ["", "No failing check." if diagnosis["status"] != "fail" else "Failures without a root cause (see the report)."]
    lines = [""] + _wrap(f"ROOT CAUSE [{root['id']}] on {_host(diagnosis, root['side'])}: {root['summary']}", first="")
    shown = [e for e in root["evidence"] if e["text"] != root["summary"]][:evidence_lines]
    for item in shown:
        who = _host(diagnosis, item["side"]) if item["side"] in ("a", "b") else item["side"]
        lines += _wrap(f"[{who}] {item['text']}", indent="    ", first="    ")[:2]
    if root["fix"]:
        lines += _wrap(f"FIX: {root['fix']}", indent="  ", first="  ")
    consequences = [f for f in findings if f.get("consequence_of") == root["id"]]
    if consequences:
        lines += _wrap("Consequences: " + "; ".join(f"{f['id']} ({_host(diagnosis, f['side'])})" for f in consequences), first="  ")
    return lines


def _list_block(diagnosis: dict[str, t.Any], title: str, items: list[dict[str, t.Any]], limit: int) -> list[str]:
    if not items:
        return []
    lines = ["", title]
    for found in items[:limit]:
        text = found["summary"] or found["reason"]
        lines += _wrap(f"[{found['id']}] {MARKS[found['status']]} {_host(diagnosis, found['side'])}: {text}", first="  ")[:2]
    if len(items) > limit:
        lines.append(f"  ... and {len(items) - limit} more in the report")
    return lines


def render(diagnosis: dict[str, t.Any], report_path: str | None = None) -> str:
    """The summary text (at most MAX_LINES lines of WIDTH characters)."""
    findings = diagnosis["findings"]
    header = [f"netdoctor.ipsec  {diagnosis['tunnel']}: {_daemon(diagnosis['sides']['a'])} <-> {_daemon(diagnosis['sides']['b'])}"
              f"  => {diagnosis['status'].upper()}"]
    root = next((f for f in findings if f.get("root_cause")), None)
    others = [f for f in findings if f["status"] == "fail" and f.get("independent")]
    warnings = [f for f in findings if f["status"] in ("warn", "unknown")]
    counts = diagnosis["counts"]
    checklist = [""] + textwrap.wrap("CHECKLIST  " + "  ".join(f"{f['id']}:{MARKS[f['status']]}" for f in findings), WIDTH,
                                     subsequent_indent="           ")
    checklist.append("           " + ", ".join(f"{counts[s]} {s}" for s in ("fail", "warn", "unknown", "pass", "skip") if counts.get(s)))
    footer = [f"Report: {report_path}"] if report_path else []
    # Shrink the optional parts until the whole fits one screen; the root cause and its fix stay.
    for evidence_lines, other_limit, warn_limit in ((6, 4, 5), (4, 3, 3), (3, 2, 1), (2, 1, 0), (1, 0, 0), (0, 0, 0)):
        lines = (header + _root_block(diagnosis, root, evidence_lines)
                 + _list_block(diagnosis, "ALSO BROKEN (independent of the root cause):", others, other_limit)
                 + _list_block(diagnosis, "WARNINGS / UNKNOWN:", warnings, warn_limit) + checklist + footer)
        if len(lines) <= MAX_LINES:
            break
    if len(lines) > MAX_LINES:
        lines = lines[: MAX_LINES - len(footer) - 1] + ["(more in the full report)"] + footer
    return "\n".join(line[:WIDTH] for line in lines) + "\n"
