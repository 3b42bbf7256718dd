# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The diagnosis filters: thin wrappers, their input checks and the module-results path."""

from __future__ import annotations

import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.netdoctor.ipsec.plugins.filter import (
    compare_ike_versions,
    compare_proposals,
    compare_selectors,
    diagnose_pair,
    diagnosis_report,
    failing_findings,
    fleet_report,
    match_sas,
    side_record,
)
from ansible_collections.netdoctor.ipsec.tests.unit import cases
from ansible_collections.netdoctor.ipsec.tests.unit.plugins.plugin_utils import rulecases


def recorded(scenario: str, side: str) -> dict:
    return json.loads(cases.fixture_text(f"gathered/netns-{scenario}-{side}.json"))


def test_every_filter_is_registered_under_its_file_name():
    for module in (compare_ike_versions, compare_proposals, compare_selectors, diagnose_pair, diagnosis_report, failing_findings,
                   fleet_report, match_sas, side_record):
        name = module.__name__.rsplit(".", 1)[1]
        assert name in module.FilterModule().filters()


def test_compare_filters_accept_module_shapes():
    assert compare_ike_versions.compare_ike_versions({"ike_version": 2}, {"ike_version": 1}, "strongswan", "libreswan")["odd_side"] == "b"
    assert compare_proposals.compare_proposals({"encryption": ["AES_CBC_256"]}, [{"encryption": ["AES_CBC_256"]}])["match"]
    result = compare_selectors.compare_selectors({"local_ts": "10.1.0.0/24", "remote_ts": ["10.2.0.0/24"]},
                                                 {"local_ts": ["10.2.0.0/24"], "remote_ts": "10.1.0.0/24"})
    assert result["mirror"]


@pytest.mark.parametrize("call", [
    lambda: compare_ike_versions.compare_ike_versions("three", 2),
    lambda: compare_proposals.compare_proposals("aes256", []),
    lambda: compare_proposals.compare_proposals([], [], kind="ah"),
    lambda: compare_selectors.compare_selectors(["10.1.0.0/24"], {}),
    lambda: match_sas.match_sas("state text", []),
    lambda: side_record.side_record([], host="gw"),
    lambda: diagnose_pair.diagnose_pair("a"),
    lambda: diagnose_pair.diagnose_pair({"host": "gw_a", "ike": {}}),
    lambda: diagnosis_report.diagnosis_report({"tunnel": "x"}),
    lambda: diagnosis_report.diagnosis_report(rulecases.diagnose({}), format="pdf"),
    lambda: fleet_report.fleet_report([{"findings": []}]),
    lambda: failing_findings.failing_findings("x"),
    lambda: failing_findings.failing_findings([rulecases.diagnose({})], query="tunnels[?"),
])
def test_bad_input_is_a_filter_error_naming_the_filter(call):
    with pytest.raises(AnsibleFilterError, match="netdoctor.ipsec."):
        call()


def test_match_sas_takes_xfrm_info_results():
    a, b = recorded("healthy", "a")["xfrm_info"], recorded("healthy", "b")["xfrm_info"]
    result = match_sas.match_sas(a, b)
    assert result["pairs"] == [] and result["orphans"] == []  # the host kernel holds no ESP SA: policies only


def test_side_record_from_recorded_module_results():
    results = recorded("fw-esp", "b")
    side = side_record.side_record(results, host="gw_b", peer_address="198.51.100.1", salt_id="s1")
    assert side["sources"]["firewall"]["status"] == "ok" and side["sources"]["xfrm"]["status"] == "ok"
    assert side["sources"]["ike"]["status"] == "missing" and side["sources"]["capture"]["status"] == "missing"
    assert "198.51.100.2" in side["addresses"] and "10.2.0.1" in side["addresses"]
    assert side["firewall"]["backend"] == "iptables-legacy" and side["firewall"]["info"]["firewall"]
    assert {p["dir"] for p in side["xfrm"]["policies"]} == {"in", "out", "fwd"}
    assert side["fingerprint_salt_id"] == "s1"


def test_diagnose_pair_from_module_results_says_what_is_missing():
    a = dict(recorded("healthy", "a"), host="gw_a")
    b = dict(recorded("fw-esp", "b"), host="gw_b")
    result = diagnose_pair.diagnose_pair(a, b, tunnel="netns")
    by_id = {f["id"]: f for f in result["findings"]}
    assert by_id["P1.PSK"]["status"] in ("skip", "unknown") and "gw_a" in by_id["P1.PSK"]["reason"]
    assert by_id["HOST.KERNEL"]["status"] == "unknown"
    assert result["tunnel"] == "netns"


def test_diagnose_pair_one_sided_and_report_filters():
    doc = rulecases.build({"firewall": {"a": "healthy"}})
    result = diagnose_pair.diagnose_pair(doc["a"], peer_address="198.51.100.2", tunnel="partner", generated="2026-11-28T10:00:00Z")
    assert result["one_sided"] and result["generated"] == "2026-11-28T10:00:00Z"
    for fmt in ("terminal", "markdown", "html", "json"):
        assert diagnosis_report.diagnosis_report(result, fmt)
    assert fleet_report.fleet_report([result], "csv").startswith("tunnel,")
    assert failing_findings.failing_findings(result) == []
    broken = rulecases.diagnose({"firewall": {"b": "fw-esp"}})
    assert [f["id"] for f in failing_findings.failing_findings([result, broken])] == ["P2.FW_ESP"]


def test_side_record_config_age_from_the_daemons_files_only():
    results = dict(recorded("healthy", "b"))
    results["ike_info"] = {"ike": {"daemon": "strongswan", "sources": ["file:/etc/swanctl/conf.d/site.conf"], "connections": []}}
    results["config_files"] = {"files": [
        {"path": "/etc/adduser.conf", "mtime": 1900000000.0},
        {"path": "/etc/ipsec.secrets", "mtime": 1764300100.5},
        {"path": "/etc/swanctl/conf.d/site.conf", "mtime": 1764300200.0},
        {"path": "/etc/resolv.conf", "mtime": 1800000000.0}]}
    side = side_record.side_record(results, host="gw_b")
    assert side["ike"]["config_changed"] == 1764300200.0
    results["config_files"] = {"skipped": True}
    assert side_record.side_record(results, host="gw_b")["ike"]["config_changed"] is None
