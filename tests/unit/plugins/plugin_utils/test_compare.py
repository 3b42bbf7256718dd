# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The compare functions behind the compare_* and match_sas filters (cases in test_compare.yaml)."""

from __future__ import annotations

import pytest

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import (
    _compare_proposals,
    _compare_selectors,
    _compare_versions,
    _match_sas,
)
from ansible_collections.netdoctor.ipsec.tests.unit.cases import assert_subset, load_cases

FUNCTIONS = {
    "proposals": lambda i: _compare_proposals.compare_proposals(i["a"], i["b"], i.get("kind", "ike")),
    "selectors": lambda i: _compare_selectors.compare_selectors(
        i["a_local"], i["a_remote"], i["b_local"], i["b_remote"], i.get("a_address"), i.get("b_address"), i.get("narrowing", True)),
    "versions": lambda i: _compare_versions.compare_ike_versions(i["a"], i["b"], i.get("a_daemon"), i.get("b_daemon"), i.get("wire")),
    "sas": lambda i: _match_sas.match_sas(i["a"], i["b"], i.get("a_addresses", []), i.get("b_addresses", [])),
}


@pytest.mark.parametrize("case", load_cases(__file__))
def test_compare(case):
    result = FUNCTIONS[case["function"]](case["input"])
    assert_subset(result, case["expected"])


def test_proposal_kind_is_checked():
    with pytest.raises(ValueError):
        _compare_proposals.compare_proposals([], [], "ah")


def test_strength_orders_common_transforms():
    assert _compare_proposals.strength("MODP_1024") < _compare_proposals.strength("MODP_2048")
    assert _compare_proposals.strength("HMAC_SHA1_96") < _compare_proposals.strength("HMAC_SHA2_256_128")
    assert _compare_proposals.strength("AES_CBC_128") < _compare_proposals.strength("AES_CBC_256")
    assert _compare_proposals.strength("3DES") < _compare_proposals.strength("AES_CBC_128")


def test_unparsable_selectors_are_reported_not_raised():
    result = _compare_selectors.compare_selectors(["10.1.0.0/24", "not-a-net"], ["10.2.0.0/24"], ["10.2.0.0/24"], ["10.1.0.0/24"])
    assert result["unparsed"] == ["not-a-net"]
    assert result["mirror"]


def test_covers_address():
    assert _compare_selectors.covers_address(["10.1.0.0/24"], "10.1.0.7")
    assert not _compare_selectors.covers_address(["10.1.0.0/24"], "10.2.0.7")
    assert _compare_selectors.covers_address(["10.1.0.1..10.1.0.9"], "10.1.0.5")
