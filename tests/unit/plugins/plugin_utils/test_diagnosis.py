# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The paired diagnosis: checklist order, root cause and consequences, one-sided mode, bad input."""

from __future__ import annotations

import copy
import json
import random

import pytest

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import (
    _diagnosis,
    _finding,
    _report_html,
    _report_json,
    _report_markdown,
    _report_terminal,
    _rules,
    _side,
)
from ansible_collections.netdoctor.ipsec.tests.unit.cases import load_cases
from ansible_collections.netdoctor.ipsec.tests.unit.plugins.plugin_utils import rulecases


@pytest.mark.parametrize("case", load_cases(__file__))
def test_diagnosis_cases(case):
    rulecases.check(case)


def test_every_checklist_item_once_in_packet_flow_order():
    result = rulecases.diagnose({})
    assert [f["id"] for f in result["findings"]] == list(_rules.CHECKLIST_IDS)
    for found in result["findings"]:
        assert found["status"] in _finding.STATUSES
        assert found["side"] in _finding.SIDES
        assert found["title"] and found["stage"] in _rules.STAGES
        for item in found["evidence"]:
            assert item["side"] in _finding.EVIDENCE_SIDES and item["text"]


def test_result_is_json_with_a_versioned_schema():
    result = rulecases.diagnose({"firewall": {"b": "fw-esp"}})
    text = json.dumps(result)
    again = json.loads(text)
    assert again["schema"] == "netdoctor.ipsec/diagnosis" and again["schema_version"] == 1
    assert again["root_cause"]["id"] == "P2.FW_ESP" and again["root_cause"]["host"] == "gw_b"
    assert again["counts"]["fail"] == sum(1 for f in again["findings"] if f["status"] == "fail")


def test_independent_causes_are_not_consequences():
    result = rulecases.diagnose({"firewall": {"b": "fw-esp", "a": "none"},
                                 "set": {"b.ike.connections.0.children.0.remote_ts": ["10.1.0.0/16"],
                                         "a.ike.connections.0.ike_version": 1, "b.ike.connections.0.ike_version": 1}})
    by_id = {f["id"]: f for f in result["findings"]}
    assert result["root_cause"]["id"] == "P2.SELECTORS"
    assert by_id["P2.FW_ESP"]["status"] == "fail"
    assert by_id["P2.FW_ESP"]["independent"] and by_id["P2.FW_ESP"]["consequence_of"] is None


def test_symptom_only_failures_make_the_first_symptom_the_root():
    result = rulecases.diagnose({"set": {"b.ike.sas.0.state": "CONNECTING", "b.ike.sas.0.established": False}})
    assert result["root_cause"]["id"] == "P1.SA"


def test_one_sided_needs_the_peer_address():
    doc = rulecases.build({})
    doc["a"]["peer_address"] = None
    with pytest.raises(ValueError, match="peer's address"):
        _diagnosis.diagnose(doc["a"], None)
    result = _diagnosis.diagnose(doc["a"], None, peer_address="198.51.100.2")
    assert result["one_sided"] and result["sides"]["b"]["managed"] is False
    assert result["root_cause"] is None


def test_failing_threshold():
    result = rulecases.diagnose({"firewall": {"b": "fw-esp"}, "set": {"a.logs": [{"code": "RETRANSMIT", "message": f"retransmit {n}"} for n in (1, 2, 3)]}})
    assert {f["id"] for f in _diagnosis.failing(result, "fail")} == {"P2.FW_ESP"}
    assert "P1.LOG" in {f["id"] for f in _diagnosis.failing(result, "warn")}
    assert _diagnosis.failing(result, "never") == []


@pytest.mark.parametrize("record", [{}, {"host": "x"}, {"host": "x", "ike": None, "xfrm": None},
                                    {"host": "x", "ike": {"connections": [{}], "sas": [{"children": [{}]}]}},
                                    {"host": "x", "xfrm": {"states": [{"spi": None}], "policies": [{"tmpls": [{}]}]}}])
def test_sparse_records_give_findings_not_tracebacks(record):
    result = _diagnosis.diagnose(record, copy.deepcopy(record) | {"host": "y"})
    assert len(result["findings"]) == len(_rules.CHECKLIST_IDS)
    assert all(f["reason"] for f in result["findings"] if f["status"] in ("skip", "unknown"))


def _mutate(node, rng):
    """Randomly drop keys, null values and swap types inside a record."""
    if isinstance(node, dict):
        for key in list(node):
            roll = rng.random()
            if roll < 0.05:
                del node[key]
            elif roll < 0.10:
                node[key] = None
            elif roll < 0.13:
                node[key] = rng.choice(["", 0, "garbage", [], {}, -1])
            else:
                _mutate(node[key], rng)
    elif isinstance(node, list):
        for item in node:
            _mutate(item, rng)


@pytest.mark.parametrize("seed", range(60))
def test_mutated_records_never_raise(seed):
    """Our own record parts are type-checked: no rule may crash on them."""
    rng = random.Random(seed)
    doc = rulecases.build({"set": {
        "a.trace": [{"src": "10.1.0.1", "dst": "10.2.0.1", "proto": "ICMP", "steps": [{"table": "raw", "chain": "PREROUTING",
                                                                                      "kind": "rule", "number": 1}]}],
        "a.capture.events": [{"t": 1.0, "dir": "out", "kind": "ike", "id": "d1"}],
        "b.capture.events": [{"t": 1.1, "dir": "in", "kind": "ike", "id": "d1"}],
        "a.capture.ike": [{"time": 1.0, "dir": "out", "response": False, "digest": "d1", "notify": ["NO_PROPOSAL_CHOSEN"]}]}})
    for name in ("a", "b"):
        info = doc[name]["firewall"].pop("info")
        _mutate(doc[name], rng)
        if isinstance(doc[name].get("firewall"), dict):
            doc[name]["firewall"]["info"] = info
    result = _diagnosis.diagnose(doc["a"], doc["b"], options=doc["options"])
    json.dumps(result)
    for render in (_report_html.render, _report_markdown.render, _report_terminal.render, _report_json.render):
        assert render(result)
    crashed = [f"{f['id']}: {f['reason']}" for f in result["findings"] if "could not evaluate" in f["reason"]]
    assert not crashed, crashed


@pytest.mark.parametrize("seed", range(10))
def test_mutated_firewall_info_gives_unknown_not_tracebacks(seed):
    """The firewall_info part is read by the rule evaluator: a crash there becomes an unknown finding."""
    rng = random.Random(seed)
    doc = rulecases.build({})
    _mutate(doc["b"]["firewall"]["info"], rng)
    result = _diagnosis.diagnose(doc["a"], doc["b"], options=doc["options"])
    json.dumps(result)
    assert all(f["reason"] for f in result["findings"] if f["status"] in ("skip", "unknown"))


def test_normalise_is_idempotent():
    doc = rulecases.build({})
    once = _side.normalise_side(doc["a"])
    assert _side.normalise_side(copy.deepcopy(once)) == once
