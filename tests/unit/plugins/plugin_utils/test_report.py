# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reports: terminal summary fits a screen, Markdown, self-contained HTML with diagrams, JSON schema, fleet table."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import (
    _report_fleet,
    _report_html,
    _report_json,
    _report_markdown,
    _report_svg,
    _report_terminal,
)
from ansible_collections.netdoctor.ipsec.tests.unit.plugins.plugin_utils import rulecases

SCENARIOS = {
    "healthy": {},
    "fw-esp": {"firewall": {"b": "fw-esp"}},
    "masquerade": {"firewall": {"b": "masquerade"}, "set": {"b.capture.plaintext_out": 3}},
    "psk": {"set": {"b.ike.connections.0.psk_fingerprint": "hmac-sha256:00", "a.ike.sas": [], "b.ike.sas": [],
                    "a.xfrm.states": [], "b.xfrm.states": []}},
    "one-sided": {"one_sided": True},
}


@pytest.fixture(scope="module", params=sorted(SCENARIOS))
def diagnosis(request):
    result = rulecases.diagnose(SCENARIOS[request.param])
    result["tunnel"] = request.param
    return result


def test_terminal_fits_a_screen_root_cause_first(diagnosis):
    text = _report_terminal.render(diagnosis, "reports/x/report.html")
    lines = text.splitlines()
    assert len(lines) <= _report_terminal.MAX_LINES
    assert max(len(line) for line in lines) <= _report_terminal.WIDTH
    assert lines[-1] == "Report: reports/x/report.html"
    if diagnosis["root_cause"]:
        assert lines[2].startswith(f"ROOT CAUSE [{diagnosis['root_cause']['id']}]")
        assert "FIX:" in text
    else:
        assert "No failing check." in text


def test_terminal_stays_on_one_screen_with_many_problems():
    case = {"firewall": {"b": "fw-esp", "a": "masquerade"}, "set": {
        "b.ike.connections.0.children.0.remote_ts": ["10.1.0.0/16"], "a.logs": [{"code": "RETRANSMIT", "message": "x" * 400}] * 9,
        "b.logs": [{"code": "AUTHENTICATION_FAILED", "message": "y" * 300}] * 9}}
    text = _report_terminal.render(rulecases.diagnose(case), "r.html")
    assert len(text.splitlines()) <= _report_terminal.MAX_LINES
    assert "ROOT CAUSE" in text and "FIX:" in text and text.rstrip().endswith("r.html")


def test_markdown_has_root_sides_checklist_and_evidence(diagnosis):
    text = _report_markdown.render(diagnosis)
    assert text.startswith(f"# IPsec diagnosis: {diagnosis['tunnel']}")
    assert "## The two gateways" in text and "## Checklist" in text
    assert text.count("\n| ") >= len(diagnosis["findings"])
    if diagnosis["root_cause"]:
        assert f"**{diagnosis['root_cause']['id']}**" in text


def test_html_is_self_contained_with_both_diagrams(diagnosis):
    page = _report_html.render(diagnosis)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<script" not in page.lower()
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page), "no external asset"
    assert 'class="ladder"' in page and page.count('class="flow"') == (1 if diagnosis["one_sided"] else 2)
    for found in diagnosis["findings"]:
        assert found["id"] in page
    if diagnosis["root_cause"]:
        assert f"Root cause: {diagnosis['root_cause']['id']}" in page and "rootrow" in page


def test_html_escapes_what_gateways_report():
    result = rulecases.diagnose({"set": {"a.logs": [{"code": "AUTHENTICATION_FAILED", "message": "<script>alert(1)</script>"}]}})
    page = _report_html.render(result)
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page


def test_flow_marks_the_root_cause_box_on_its_side():
    result = rulecases.diagnose({"firewall": {"b": "masquerade"}})
    states_b, root_b = _report_svg.box_states(result["findings"], "b")
    states_a, root_a = _report_svg.box_states(result["findings"], "a")
    assert root_b == "post_nat" and states_b["post_nat"] == "fail"
    assert root_a is None and states_a.get("post_nat") == "pass"


def test_ladder_draws_lost_messages():
    events = [{"time": 1.0, "offset": 0.0, "sender": "a", "receiver": "b", "label": "IKE_SA_INIT request", "seen_by_receiver": False,
               "notify": []},
              {"time": 2.0, "offset": 1.0, "sender": "b", "receiver": "a", "label": "IKE_SA_INIT response [NO_PROPOSAL_CHOSEN]",
               "seen_by_receiver": True, "notify": ["NO_PROPOSAL_CHOSEN"]}]
    svg = _report_svg.ladder_svg(events, "gw_a", "gw_b")
    assert "(not received)" in svg and "&#10007;" in svg and "NO_PROPOSAL_CHOSEN" in svg


def test_json_round_trips_and_is_validated(diagnosis):
    again = json.loads(_report_json.render(diagnosis))
    assert again == json.loads(json.dumps(diagnosis))
    assert _report_json.validate(again) == []
    broken = dict(again, findings=again["findings"][1:])
    assert "findings: one per checklist item, in checklist order" in _report_json.validate(broken)
    with pytest.raises(ValueError):
        _report_json.render(broken)


@pytest.fixture(scope="module")
def fleet():
    out = []
    for name, case in sorted(SCENARIOS.items()):
        result = rulecases.diagnose(case)
        result["tunnel"] = name
        out.append(result)
    return out


def test_fleet_csv_json_terminal_html(fleet):
    rows = list(csv.DictReader(io.StringIO(_report_fleet.render_csv(fleet))))
    assert [r["tunnel"] for r in rows] == [d["tunnel"] for d in fleet]
    assert {r["tunnel"]: r["root_cause"] for r in rows}["fw-esp"] == "P2.FW_ESP"
    table = json.loads(_report_fleet.render_json(fleet, "2026-11-28T10:00:00Z"))
    assert table["schema"] == "netdoctor.ipsec/fleet" and table["totals"]["fail"] == 3 and table["totals"]["pass"] == 2
    terminal = _report_fleet.render_terminal(fleet)
    assert terminal.splitlines()[1].split()[1] == "FAIL" and "5 tunnels" in terminal
    page = _report_fleet.render_html(fleet, links={"psk": "psk/report.html"})
    assert '<a href="psk/report.html">psk</a>' in page and "<script" not in page


def test_fail_query_and_threshold(fleet):
    failing = _report_fleet.failing(fleet)
    assert {(f["tunnel"], f["id"]) for f in failing if f["root_cause"]} == {("fw-esp", "P2.FW_ESP"), ("masquerade", "P2.NAT_EXEMPT"), ("psk", "P1.PSK")}
    assert _report_fleet.failing(fleet, "tunnels[?tunnel=='healthy'].findings[] | [?status=='fail']") == []
    ignored = _report_fleet.failing(fleet, "tunnels[?tunnel!='psk'].findings[] | [?status=='fail'].id")
    assert "P1.PSK" not in ignored and "P2.FW_ESP" in ignored
    assert _report_fleet.failing(fleet, "length(tunnels[?status=='fail'])") == [3]
    assert _report_fleet.failing(fleet, threshold="never") == []


def test_traced_rule_path_is_shown():
    trace = ("[ 1.0] TRACE: raw:PREROUTING:rule:1 IN=wan0 OUT= SRC=10.1.0.1 DST=10.2.0.10 LEN=84 PROTO=ICMP ID=7\n"
             "[ 1.0] TRACE: filter:FORWARD:policy:1 IN=wan0 OUT=lan0 SRC=10.1.0.1 DST=10.2.0.10 LEN=84 PROTO=ICMP ID=7\n")
    from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _trace

    result = rulecases.diagnose({"firewall": {"b": "forward-drop"}, "set": {"b.trace": _trace.parse(trace)}})
    path = "10.1.0.1 -> 10.2.0.10 ICMP: raw:PREROUTING#1 > filter:FORWARD(policy)"
    assert result["traffic"]["trace"] == {"b": [path]}
    assert path in _report_markdown.render(result)
    assert "Traced rule path on gw_b" in _report_html.render(result)


def test_ladder_pairs_both_captures_through_pair_captures():
    request = {"time": 10.0, "dir": "out", "response": False, "version": 2, "exchange": "IKE_SA_INIT", "digest": "d1"}
    answer = {"time": 10.2, "dir": "out", "response": True, "version": 2, "exchange": "IKE_SA_INIT", "digest": "d2",
              "notify": ["NO_PROPOSAL_CHOSEN"]}
    lost = {"time": 12.0, "dir": "out", "response": False, "version": 2, "exchange": "IKE_SA_INIT", "digest": "d3"}

    def event(t, direction, ident, response):
        return {"t": t, "dir": direction, "kind": "ike", "id": ident, "exchange": "IKE_SA_INIT", "response": response}

    result = rulecases.diagnose({"set": {
        "a.capture.ike": [request, lost],
        "a.capture.events": [event(10.0, "out", "d1", False), event(10.3, "in", "d2", True), event(12.0, "out", "d3", False)],
        "b.capture.ike": [answer],
        "b.capture.events": [event(10.15, "in", "d1", False), event(10.2, "out", "d2", True)]}})
    ladder = result["traffic"]["ladder"]
    assert [(e["sender"], e["seen_by_receiver"]) for e in ladder] == [("a", True), ("b", True), ("a", False)]
    assert "NO_PROPOSAL_CHOSEN" in ladder[1]["label"] and ladder[2]["received_at"] is None
    assert "(not received)" in _report_svg.ladder_svg(ladder, "gw_a", "gw_b")
