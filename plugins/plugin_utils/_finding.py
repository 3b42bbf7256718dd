# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""A finding: one checklist item's verdict, with the evidence from both sides and the fix.

A finding is a plain dict (it travels through Ansible variables and JSON reports)::

    {"id": "P2.TRUNC", "title": "...", "status": "fail", "side": "b",
     "evidence": [{"side": "a", "text": "..."}, {"side": "b", "text": "..."}],
     "fix": "...", "reason": "...", "symptom": False}

``status`` is one of pass, warn, fail, skip, unknown. ``skip`` and ``unknown`` carry a
``reason`` (tool missing, no permission, peer unmanaged, ...). ``symptom`` marks a failure that
observes an effect (no answer, no SA, probe lost) rather than a configuration or state that
causes one: the diagnosis prefers a failing cause as the root cause and links symptoms to it.
"""

from __future__ import annotations

import typing as t

STATUSES = ("pass", "warn", "fail", "skip", "unknown")
SIDES = ("a", "b", "both")
EVIDENCE_SIDES = ("a", "b", "both", "wire")
SEVERITY = {"pass": 0, "skip": 0, "unknown": 1, "warn": 2, "fail": 3}
# Thresholds a user may give for failing a play: a finding at or above it fails.
THRESHOLDS = {"fail": 3, "warn": 2, "unknown": 1, "never": 99}


def evidence(side: str, text: str, **extra: t.Any) -> dict[str, t.Any]:
    """One piece of evidence, attributed to side a, b, both or the wire (captures)."""
    if side not in EVIDENCE_SIDES:
        raise ValueError(f"evidence side must be one of {EVIDENCE_SIDES}, got {side!r}")
    item = {"side": side, "text": text}
    item.update({key: value for key, value in extra.items() if value is not None})
    return item


def finding(
    status: str,
    side: str = "both",
    evidence: t.Iterable[dict[str, t.Any]] = (),
    fix: str | None = None,
    reason: str | None = None,
    symptom: bool = False,
    summary: str | None = None,
) -> dict[str, t.Any]:
    """A verdict without its id and title (the registry adds those)."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    if status in ("skip", "unknown") and not reason:
        raise ValueError(f"a {status} finding must say why (reason)")
    return {
        "status": status,
        "side": side,
        "summary": summary or "",
        "evidence": list(evidence),
        "fix": fix or "",
        "reason": reason or "",
        "symptom": bool(symptom),
    }


def passed(summary: str, evidence: t.Iterable[dict[str, t.Any]] = (), side: str = "both") -> dict[str, t.Any]:
    return finding("pass", side, evidence, summary=summary)


def failed(
    summary: str,
    side: str,
    evidence: t.Iterable[dict[str, t.Any]],
    fix: str,
    symptom: bool = False,
) -> dict[str, t.Any]:
    return finding("fail", side, evidence, fix=fix, symptom=symptom, summary=summary)


def warned(summary: str, side: str, evidence: t.Iterable[dict[str, t.Any]], fix: str = "") -> dict[str, t.Any]:
    return finding("warn", side, evidence, fix=fix, summary=summary)


def skipped(reason: str, side: str = "both", evidence: t.Iterable[dict[str, t.Any]] = ()) -> dict[str, t.Any]:
    return finding("skip", side, evidence, reason=reason, summary=reason)


def unknown(reason: str, side: str = "both", evidence: t.Iterable[dict[str, t.Any]] = ()) -> dict[str, t.Any]:
    return finding("unknown", side, evidence, reason=reason, summary=reason)


def side_of(sides: t.Iterable[str]) -> str:
    """``{'a'}`` -> 'a'; ``{'a', 'b'}`` or nothing -> 'both'."""
    found = {side for side in sides if side in ("a", "b")}
    return found.pop() if len(found) == 1 else "both"


def at_or_above(status: str, threshold: str) -> bool:
    """True when ``status`` reaches the fail threshold (fail, warn, unknown or never)."""
    if threshold not in THRESHOLDS:
        raise ValueError(f"threshold must be one of {sorted(THRESHOLDS)}, got {threshold!r}")
    return SEVERITY[status] >= THRESHOLDS[threshold]


def problem(status: str, side: str, text: str, fix: str = "", symptom: bool = False) -> dict[str, t.Any]:
    """One observation of a rule: its status, side, evidence text and fix, to ``combine`` later."""
    return {"status": status, "side": side, "text": text, "fix": fix, "symptom": symptom}


def combine(
    problems: t.Sequence[dict[str, t.Any]],
    pass_summary: str,
    extra_evidence: t.Iterable[dict[str, t.Any]] = (),
) -> dict[str, t.Any]:
    """One verdict from a rule's observations: the worst status wins.

    Evidence lists every observation (pass ones too: they show what was checked); the side is the
    set of sides with the worst status; the fix joins the worst observations' fixes; the summary
    is the first worst observation's text. ``symptom`` is set only when every worst observation
    is a symptom.
    """
    extra = list(extra_evidence)
    if not problems:
        return passed(pass_summary, extra)
    worst = max(SEVERITY[p["status"]] for p in problems)
    top = [p for p in problems if SEVERITY[p["status"]] == worst]
    # Failing observations first: they are the evidence a reader needs.
    ordered = sorted(problems, key=lambda p: -SEVERITY[p["status"]])
    items = [evidence(p["side"], p["text"], status=p["status"]) for p in ordered] + extra
    status = top[0]["status"]
    top_sides = {p["side"] for p in top}
    side = top_sides.pop() if len(top_sides) == 1 else "both"
    if worst == 0 and status in ("pass", "skip"):
        if all(p["status"] == "skip" for p in problems):
            return skipped(top[0]["text"], side, items)
        return passed(pass_summary, items)
    fixes = join_fixes(p["fix"] for p in top)
    if status == "unknown":
        return unknown(top[0]["text"], side, items)
    return finding(status, side, items, fix=fixes, symptom=all(p["symptom"] for p in top), summary=top[0]["text"])


def join_fixes(fixes: t.Iterable[str]) -> str:
    """Distinct fixes in order, ``on host:`` said once per host: ``on gw_b: x; y``."""
    parts: list[str] = []
    last_host = None
    for fix in dict.fromkeys(f for f in fixes if f):
        host, sep, rest = fix.partition(": ") if fix.startswith("on ") else ("", "", fix)
        if sep and host == last_host:
            parts.append(rest)
        else:
            parts.append(fix)
            last_host = host if sep else None
    return "; ".join(parts)
