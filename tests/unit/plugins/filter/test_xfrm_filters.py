# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The parse_xfrm_state, parse_xfrm_policy and to_esp_sa filters: thin, chainable, clear errors."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.netdoctor.ipsec.plugins.filter.parse_xfrm_policy import parse_xfrm_policy
from ansible_collections.netdoctor.ipsec.plugins.filter.parse_xfrm_state import parse_xfrm_state
from ansible_collections.netdoctor.ipsec.plugins.filter.to_esp_sa import FilterModule, to_esp_sa
from ansible_collections.netdoctor.ipsec.tests.unit.cases import fixture_text

KEY = "000102030405060708090a0b0c0d0e0f"


def test_pasted_text_to_esp_sa_file():
    text = fixture_text("xfrm/uml_traffic_gw_a_ip_plain_state.txt")
    states = parse_xfrm_state(text, include_keys=True, local_addresses=["198.51.100.1"])
    assert [s["direction"] for s in states] == ["in", "out"]
    esp_sa = to_esp_sa(states)
    assert esp_sa.count("\n") == 2 and esp_sa.endswith("\n")
    assert '"0x0000a001","AES-CBC [RFC3602]","0x%s","HMAC-SHA-256-128 [RFC4868]"' % KEY in esp_sa
    details = to_esp_sa({"xfrm": {"states": states}}, wireshark_version="4.2", details=True)
    assert details["text"] == esp_sa and details["skipped"] == [] and len(details["warnings"]) == 1


def test_states_without_include_keys_carry_fingerprints_only():
    states = parse_xfrm_state(fixture_text("xfrm/uml_traffic_gw_a_ip_plain_state.txt"), fingerprint_salt="s")
    assert KEY not in repr(states)
    assert to_esp_sa(states) == ""


def test_policy_filter():
    policies = parse_xfrm_policy(fixture_text("xfrm/uml_manual_ip_plain_policy.txt"))
    assert len(policies) == 12 and sum(p["socket"] for p in policies) == 3


@pytest.mark.parametrize("bad", [None, 42, ["x"]])
def test_non_text_input_names_the_filter(bad):
    with pytest.raises(AnsibleFilterError, match="parse_xfrm_state"):
        parse_xfrm_state(bad)
    with pytest.raises(AnsibleFilterError, match="parse_xfrm_policy"):
        parse_xfrm_policy(bad)


def test_esp_sa_errors_name_the_filter():
    with pytest.raises(AnsibleFilterError, match="netdoctor.ipsec.to_esp_sa: .*got int"):
        to_esp_sa(42)
    assert "to_esp_sa" in FilterModule().filters()
