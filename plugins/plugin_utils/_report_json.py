# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The JSON report: the diagnosis itself, checked against its documented schema before it is written.

The layout is documented in docs/diagnosis-schema.md and in the RETURN block of the diagnose_pair
filter; ``validate`` checks the parts a consumer relies on, so that a report that would break a
consumer is never written.
"""

from __future__ import annotations

import json
import typing as t

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _diagnosis, _finding, _rules

REQUIRED_TOP = {"schema": str, "schema_version": int, "tunnel": str, "one_sided": bool, "status": str, "counts": dict,
                "findings": list, "sides": dict}
REQUIRED_FINDING = {"id": str, "title": str, "stage": str, "status": str, "side": str, "summary": str, "evidence": list,
                    "fix": str, "reason": str, "symptom": bool, "root_cause": bool, "independent": bool}


def validate(diagnosis: t.Any) -> list[str]:
    """Schema problems of a diagnosis (empty when it is valid)."""
    problems = []
    if not isinstance(diagnosis, dict):
        return ["the diagnosis is not a mapping"]
    for key, kind in REQUIRED_TOP.items():
        if not isinstance(diagnosis.get(key), kind):
            problems.append(f"{key}: expected {kind.__name__}")
    if diagnosis.get("schema") != _diagnosis.SCHEMA or diagnosis.get("schema_version") != _diagnosis.SCHEMA_VERSION:
        problems.append(f"schema: expected {_diagnosis.SCHEMA} version {_diagnosis.SCHEMA_VERSION}")
    findings = diagnosis.get("findings") if isinstance(diagnosis.get("findings"), list) else []
    if [f.get("id") for f in findings if isinstance(f, dict)] != list(_rules.CHECKLIST_IDS):
        problems.append("findings: one per checklist item, in checklist order")
    for found in findings:
        if not isinstance(found, dict):
            problems.append("findings: every finding is a mapping")
            continue
        for key, kind in REQUIRED_FINDING.items():
            if not isinstance(found.get(key), kind):
                problems.append(f"{found.get('id')}.{key}: expected {kind.__name__}")
        if found.get("status") not in _finding.STATUSES or found.get("side") not in _finding.SIDES:
            problems.append(f"{found.get('id')}: status/side outside the vocabulary")
    return problems


def render(diagnosis: dict[str, t.Any]) -> str:
    problems = validate(diagnosis)
    if problems:
        raise ValueError("the diagnosis does not follow its schema: " + "; ".join(problems[:5]))
    return json.dumps(diagnosis, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
