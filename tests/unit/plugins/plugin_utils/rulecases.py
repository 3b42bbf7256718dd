# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""YAML-driven diagnosis cases: a recorded pair of side records, a few changes, the expected findings.

A case (in ``test_rules_<stage>.yaml`` / ``test_diagnosis.yaml``)::

    - id: psk differs, B's secret has a trailing space
      base: healthy_sw_sw                   # tests/unit/fixtures/sides/<base>.json ({a, b, options})
      firewall: {b: fw-esp}                 # recorded firewall_info (fixtures/gathered/netns-<name>-<side>.json);
                                            # default: healthy on both managed sides; none: leave it out
      one_sided: true                       # drop side B, diagnose against B's address only
      set:                                  # dotted paths into the pair; list indexes are numbers
        b.ike.connections.0.psk_fingerprint: hmac-sha256:00ff
      delete: [b.capture]                   # paths to remove
      expect:                               # a subset of each named finding
        P1.PSK: {status: fail, side: b}
      root: P1.PSK                          # the root cause id, or null for "nothing fails"
      root_side: b
      consequences: [P1.SA]                 # findings linked to the root as consequences
"""

from __future__ import annotations

import copy
import json
import typing as t

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _diagnosis, _side

from ansible_collections.netdoctor.ipsec.tests.unit import cases

_BASES: dict[str, dict[str, t.Any]] = {}


def base(name: str) -> dict[str, t.Any]:
    if name not in _BASES:
        _BASES[name] = json.loads(cases.fixture_text(f"sides/{name}.json"))
    return copy.deepcopy(_BASES[name])


def recorded(name: str, side: str, module: str = "firewall_info") -> dict[str, t.Any]:
    return json.loads(cases.fixture_text(f"gathered/netns-{name}-{side}.json"))[module]


def _walk(doc: t.Any, path: str) -> tuple[t.Any, str | int]:
    parts = path.split(".")
    node = doc
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    last = parts[-1]
    return node, int(last) if isinstance(node, list) else last


def set_path(doc: t.Any, path: str, value: t.Any) -> None:
    node, key = _walk(doc, path)
    node[key] = value


def delete_path(doc: t.Any, path: str) -> None:
    node, key = _walk(doc, path)
    del node[key]


def build(case: dict[str, t.Any]) -> dict[str, t.Any]:
    """The pair of the case: {a, b, options, peer_address} ready for ``diagnose``."""
    doc = base(case.get("base", "healthy_sw_sw"))
    for path, value in (case.get("set") or {}).items():
        set_path(doc, path, value)
    for path in case.get("delete") or []:
        delete_path(doc, path)
    doc["a"] = _side.normalise_side(doc["a"])
    if case.get("one_sided"):
        doc["peer_address"] = doc["b"]["addresses"][0]
        doc["b"] = None
    else:
        doc["b"] = _side.normalise_side(doc["b"])
    firewall = case.get("firewall", {})
    if firewall != "none":
        for name in ("a", "b"):
            if doc[name] is not None and doc[name]["firewall"]["info"] is None:
                scenario = (firewall or {}).get(name, "healthy")
                if scenario != "none":
                    _side.attach_firewall_info(doc[name], recorded(scenario, name))
    for path, value in (case.get("set_after") or {}).items():
        set_path(doc, path, value)
    return doc


def diagnose(case: dict[str, t.Any]) -> dict[str, t.Any]:
    doc = build(case)
    return _diagnosis.diagnose(doc["a"], doc["b"], options=doc.get("options"), peer_address=doc.get("peer_address"))


def check(case: dict[str, t.Any]) -> dict[str, t.Any]:
    """Run the case and assert its expectations; returns the diagnosis."""
    result = diagnose(case)
    by_id = {f["id"]: f for f in result["findings"]}
    assert [f["id"] for f in result["findings"]] == list(by_id), "one finding per checklist id"
    for finding_id, wanted in (case.get("expect") or {}).items():
        cases.assert_subset(by_id[finding_id], wanted, finding_id)
        found = by_id[finding_id]
        if found["status"] in ("skip", "unknown"):
            assert found["reason"], f"{finding_id}: a {found['status']} finding says why"
        if found["status"] == "fail":
            assert found["fix"] or found["symptom"], f"{finding_id}: a failing cause comes with a fix"
            assert found["evidence"], f"{finding_id}: a failure shows evidence"
    if "root" in case:
        root = result["root_cause"]
        if case["root"] is None:
            failing = [f"{f['id']}: {f['summary']}" for f in result["findings"] if f["status"] == "fail"]
            assert root is None, f"expected no failure, got {failing}"
        else:
            assert root is not None, "expected a root cause"
            assert root["id"] == case["root"], f"root cause {root['id']} ({root['summary']}), expected {case['root']}"
            if "root_side" in case:
                assert root["side"] == case["root_side"], f"root cause on side {root['side']}, expected {case['root_side']}"
    for finding_id in case.get("consequences") or []:
        assert by_id[finding_id]["consequence_of"] == (result["root_cause"] or {}).get("id"), f"{finding_id} is a consequence"
    return result
