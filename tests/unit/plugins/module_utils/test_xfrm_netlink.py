# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The XFRM netlink decoder on netlink messages recorded from a real kernel (UML lab, Linux 6.1),
against the text parser on `ip -s -s xfrm` output recorded at the same moment: same records."""

from __future__ import annotations

import binascii
import struct
import time

import pytest

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _xfrm_netlink, _xfrm_record, _xfrm_text
from ansible_collections.netdoctor.ipsec.tests.unit.cases import fixture_text

RECORDINGS = [
    ("lab_%s_netlink_state.hex" % gw, "lab_%s_ip_ss_state.txt" % gw, "lab_%s_netlink_policy.hex" % gw, "lab_%s_ip_ss_policy.txt" % gw)
    for gw in ("a_left", "b_right", "c_left", "c_right")
] + [
    ("uml_manual_netlink_state.hex", "uml_manual_ip_ss_state.txt", "uml_manual_netlink_policy.hex", "uml_manual_ip_ss_policy.txt"),
    ("uml_traffic_gw_a_netlink_state.hex", "uml_traffic_gw_a_ip_ss_state.txt",
     "uml_traffic_gw_a_netlink_policy.hex", "uml_traffic_gw_a_ip_ss_policy.txt"),
    ("uml_traffic_gw_b_netlink_state.hex", "uml_traffic_gw_b_ip_ss_state.txt",
     "uml_traffic_gw_b_netlink_policy.hex", "uml_traffic_gw_b_ip_ss_policy.txt"),
]
# The recording namespace's interfaces (ip printed their names).
INTERFACES = {1: "lo", 2: "dummy0"}.get


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def payloads(name):
    return [binascii.unhexlify(line) for line in fixture_text("xfrm/" + name).split()]


def interface_name(index):
    return INTERFACES(index) or "if%d" % index


@pytest.mark.parametrize("state_hex, state_text, policy_hex, policy_text", RECORDINGS)
def test_netlink_and_text_give_the_same_records(state_hex, state_text, policy_hex, policy_text):
    options = _xfrm_record.RecordOptions("salt", include_keys=True, local_addresses=["198.51.100.1", "203.0.113.1"])
    warnings = []
    from_netlink = [_xfrm_record.finish_state(_xfrm_netlink.decode_state(body, interface_name), options, warnings.append)
                    for body in payloads(state_hex)]
    from_text, orphans = _xfrm_text.state_records(fixture_text("xfrm/" + state_text), options, warnings.append)
    assert orphans == [] and warnings == []
    assert len(from_netlink) == len(from_text) > 0
    for netlink_record, text_record in zip(from_netlink, from_text):
        assert netlink_record == text_record
    policies = [_xfrm_record.finish_policy(_xfrm_netlink.decode_policy(body, interface_name), warnings.append)
                for body in payloads(policy_hex)]
    text_policies, orphans = _xfrm_text.policy_records(fixture_text("xfrm/" + policy_text), warnings.append)
    assert policies == text_policies and len(policies) > 0 and orphans == []


def test_decoded_values_are_the_kernels():
    states = [_xfrm_netlink.decode_state(body, interface_name) for body in payloads("uml_manual_netlink_state.hex")]
    by_spi = dict((state["spi"], state) for state in states)
    esn = by_spi["0x00001008"]
    assert esn["flags"] == ["esn"] and esn["encap"] == {"type": "espinudp", "sport": 4500, "dport": 4500, "oa": "0.0.0.0"}
    assert esn["replay"]["esn_context"] and esn["replay"]["window"] == 128 and esn["replay_window"] == 0
    assert by_spi["0x00001006"]["auth"]["trunc_bits"] == 96  # added as `auth hmac(sha256)`: kernel default
    assert by_spi["0x00001009"]["output_mark"] == {"value": 1, "mask": 0xFFFFFFFF}
    assert by_spi["0x0000100a"]["src"] == "2001:db8::1" and by_spi["0x0000100a"]["family"] == 6
    assert by_spi["0x00000000"]["selector"]["dev"] == "dummy0"
    assert by_spi["0x00001014"]["extra_flags"] == ["dont-encap-dscp"]


def test_unknown_attributes_are_kept_not_dropped():
    body = payloads("uml_traffic_gw_a_netlink_state.hex")[1]
    extra = struct.pack("=HH", 8, 99) + struct.pack("=I", 7)
    state = _xfrm_netlink.decode_state(body + extra, interface_name)
    assert state["unparsed"] == ["netlink attribute 99 (4 bytes)"]


@pytest.mark.parametrize("cut", [10, 100, _xfrm_netlink.USERSA_INFO_SIZE - 1])
def test_truncated_state_is_a_netlink_error(cut):
    body = payloads("uml_traffic_gw_a_netlink_state.hex")[0]
    with pytest.raises(_xfrm_netlink.NetlinkError):
        _xfrm_netlink.decode_state(body[:cut], interface_name)


def test_broken_attribute_and_unknown_family_are_netlink_errors():
    body = payloads("uml_traffic_gw_a_netlink_state.hex")[0]
    with pytest.raises(_xfrm_netlink.NetlinkError, match="malformed netlink attribute"):
        _xfrm_netlink.decode_state(body + struct.pack("=HH", 200, 2), interface_name)
    family_offset = 212  # xfrm_usersa_info.family
    odd = body[:family_offset] + struct.pack("=H", 99) + body[family_offset + 2:]
    with pytest.raises(_xfrm_netlink.NetlinkError, match="unknown layout"):
        _xfrm_netlink.decode_state(odd, interface_name)


def test_struct_sizes_match_the_kernel_abi():
    assert _xfrm_netlink._USER_TMPL.size == 64
    assert _xfrm_netlink._USERSA_INFO.size == 217 and _xfrm_netlink.USERSA_INFO_SIZE in (220, 224)
    assert _xfrm_netlink._USERPOLICY_INFO.size == 164 and _xfrm_netlink.USERPOLICY_INFO_SIZE in (164, 168)
