# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The checklist checks on firewall_info results recorded on the UML lab (real SAs, iptables-legacy).

Each case is one gateway of tests/lab/test_firewall_lab.py's lab: the check of the fault names
exactly the rule (or route) the lab put there, with its counter, and nothing else fails but the
listed consequences. The last cases replay what the lab revealed about lost command output.
"""

from __future__ import annotations

import copy

import pytest

from ansible_collections.netdoctor.ipsec.plugins.filter.firewall_verdict import firewall_verdict
from ansible_collections.netdoctor.ipsec.tests.unit.cases import load_cases


def describe(ref: dict) -> str:
    if ref.get("kind") == "route":
        return "route: " + ref["text"]
    if ref.get("kind") == "policy":
        return f"{ref['backend']} {ref['table']}/{ref['chain']} policy {ref['policy']}"
    return f"{ref['backend']} {ref['table']}/{ref['chain']} #{ref['index']}: {ref['text']}"


def run_checks(case: dict) -> dict:
    side = copy.deepcopy(case["side"])
    side.setdefault("errors", []).extend(case.get("add_errors") or [])
    for lookup in side["routes"]["lookups"]:
        lookup.update((case.get("patch_lookups") or {}).get(lookup["purpose"], {}))
    return firewall_verdict(side, check="all", peer=case["peer"], local_subnets=case["local_subnets"],
                            remote_subnets=case["remote_subnets"])


@pytest.mark.parametrize("case", load_cases(__file__))
def test_checks_on_lab_recordings(case: dict) -> None:
    result = run_checks(case)
    checks = {check["check"]: check for check in result["checks"]}
    summary = "\n".join(f"{c['check']}: {c['status']}: {c['summary']}" for c in result["checks"])
    expected = case["expected"]
    assert sorted(result["failing"]) == sorted(expected.get("failing", [])), summary
    for name, status in (expected.get("status") or {}).items():
        assert checks[name]["status"] == status, summary
    for name, refs in (expected.get("blocking") or {}).items():
        blocking = checks[name]["blocking"]
        assert sorted({describe(ref) for ref in blocking}) == sorted(refs), summary
        if expected.get("counted"):
            assert all(ref["counters"]["packets"] > 0 for ref in blocking if ref["kind"] != "route"), blocking
    for name, text in (expected.get("nat_decided_by") or {}).items():
        for item in checks[name]["items"]:
            stages = firewall_verdict(case["side"], item["packet"])["stages"]
            nat = [stage["by"] for stage in stages if stage["type"] == "nat" and stage["hook"] == "postrouting"]
            assert [ref["text"] for ref in nat] == [text], nat
    for name, sources in (expected.get("unread") or {}).items():
        assert [error["source"] for error in checks[name]["unread"]] == sources, checks[name]
