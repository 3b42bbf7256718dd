# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The offline filters of ike_info/log_info: same records as the module backends, clear errors on bad input."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.netdoctor.ipsec.plugins.filter import (
    classify_ike_log, parse_ipsec_statusall, parse_racoon_conf, parse_racoonctl_show_sa, parse_setkey,
    parse_swanctl_list_conns, parse_swanctl_list_sas, parse_whack_status, parse_whack_trafficstatus)
from ansible_collections.netdoctor.ipsec.plugins.module_utils import _strongswan
from ansible_collections.netdoctor.ipsec.tests.unit.cases import fixture_text

FILTERS = {
    "parse_swanctl_list_sas": parse_swanctl_list_sas.parse_swanctl_list_sas,
    "parse_swanctl_list_conns": parse_swanctl_list_conns.parse_swanctl_list_conns,
    "parse_ipsec_statusall": parse_ipsec_statusall.parse_ipsec_statusall,
    "parse_whack_status": parse_whack_status.parse_whack_status,
    "parse_whack_trafficstatus": parse_whack_trafficstatus.parse_whack_trafficstatus,
    "parse_racoonctl_show_sa": parse_racoonctl_show_sa.parse_racoonctl_show_sa,
    "parse_setkey": parse_setkey.parse_setkey,
    "parse_racoon_conf": parse_racoon_conf.parse_racoon_conf,
    "classify_ike_log": classify_ike_log.classify_ike_log,
}


def test_each_file_registers_its_filter():
    for module in (classify_ike_log, parse_ipsec_statusall, parse_racoon_conf, parse_racoonctl_show_sa, parse_setkey,
                   parse_swanctl_list_conns, parse_swanctl_list_sas, parse_whack_status, parse_whack_trafficstatus):
        names = list(module.FilterModule().filters())
        assert names == [module.__name__.rsplit(".", 1)[1]]


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_non_text_input_is_a_clear_filter_error(name):
    with pytest.raises(AnsibleFilterError, match="netdoctor.ipsec.%s" % name):
        FILTERS[name]({"not": "text"})


@pytest.mark.parametrize("name", sorted(set(FILTERS) - {"classify_ike_log"}))
def test_empty_and_garbage_text_give_empty_records_and_warnings(name):
    result = FILTERS[name]("")
    assert result["warnings"] == [] and result["unparsed"] == []
    garbage = FILTERS[name]("\x00\x01 this is not\nwhat you think }{ ]]\n")
    assert garbage["unparsed"] or garbage["warnings"]


def test_swanctl_filters_share_the_module_backend():
    text = fixture_text("strongswan/list_sas_ike_only_raw.txt")
    assert parse_swanctl_list_sas.parse_swanctl_list_sas(text) == _strongswan.parse_list_sas_output(text)
    conns = parse_swanctl_list_conns.parse_swanctl_list_conns(fixture_text("strongswan/list_conns.txt"))["connections"]
    assert conns[0]["local_ts"] == ["10.1.0.0/24"]


def test_racoonctl_filter_reads_both_phases():
    phase1 = parse_racoonctl_show_sa.parse_racoonctl_show_sa(fixture_text("racoon/racoonctl_l_show_sa_isakmp.txt"))
    assert phase1["sas"][0]["established"] is True
    phase2 = parse_racoonctl_show_sa.parse_racoonctl_show_sa(fixture_text("racoon/setkey_D_linux_centos6.txt"),
                                                             fingerprint_salt="s", local_addresses=["202.141.176.2"])
    (sa,) = phase2["sas"]
    assert sa["remote_host"] == "202.141.176.3" and [c["protocol"] for c in sa["children"]] == ["esp", "ah"]
    assert "31323334" not in repr(phase2)


def test_setkey_filter_tells_sad_from_spd_and_platforms():
    sad = parse_setkey.parse_setkey(fixture_text("racoon/setkey_D_linux_centos6.txt"), fingerprint_salt="s")
    spd = parse_setkey.parse_setkey(fixture_text("racoon/setkey_DP_linux_centos6.txt"))
    assert len(sad["states"]) == 4 and sad["policies"] == []
    assert len(spd["policies"]) == 3 and spd["states"] == []
    text = "10.0.0.1 10.0.0.2\n\tesp mode=tunnel spi=1(0x00000001) reqid=0(0x00000000)\n\tA: hmac-sha2-256  00112233\n"
    assert parse_setkey.parse_setkey(text)["states"][0]["integrity"] == "HMAC_SHA2_256_96"
    assert parse_setkey.parse_setkey(text, platform="bsd")["states"][0]["integrity"] == "HMAC_SHA2_256_128"
    with pytest.raises(AnsibleFilterError, match="platform"):
        parse_setkey.parse_setkey(text, platform="solaris")


@pytest.mark.parametrize("call, message", [
    (lambda: parse_setkey.parse_setkey("", platform="solaris"), "netdoctor.ipsec.parse_setkey: platform must be linux or bsd"),
    (lambda: parse_racoonctl_show_sa.parse_racoonctl_show_sa("", platform="aix"),
     "netdoctor.ipsec.parse_racoonctl_show_sa: platform must be linux or bsd"),
    (lambda: parse_setkey.parse_setkey("", local_addresses="10.0.0.1"),
     "netdoctor.ipsec.parse_setkey: local_addresses must be a list of addresses"),
    (lambda: parse_racoonctl_show_sa.parse_racoonctl_show_sa("", local_addresses={"a": 1}),
     "netdoctor.ipsec.parse_racoonctl_show_sa: local_addresses must be a list of addresses"),
    (lambda: classify_ike_log.classify_ike_log("x", daemon="openswan"),
     "netdoctor.ipsec.classify_ike_log: daemon must be strongswan, libreswan or racoon"),
])
def test_option_errors_name_the_filter_and_the_choices(call, message):
    with pytest.raises(AnsibleFilterError) as raised:
        call()
    assert str(raised.value) == message


def test_whack_filters():
    status = parse_whack_status.parse_whack_status(fixture_text("libreswan/whack_status_4_10_ike_only.txt"))
    assert status["version"] == "4.10" and status["sas"][0]["established"] is True
    traffic = parse_whack_trafficstatus.parse_whack_trafficstatus(fixture_text("libreswan/trafficstatus_lines.txt"))
    assert [e["bytes_in"] for e in traffic["entries"]] == [0, 168, 336, 0, 84]


def test_statusall_and_racoon_conf_filters():
    statusall = parse_ipsec_statusall.parse_ipsec_statusall(fixture_text("strongswan/statusall_ikev2_psk.txt"))
    assert statusall["sas"][0]["children"][0]["state"] == "INSTALLED"
    racoon = parse_racoon_conf.parse_racoon_conf(fixture_text("racoon/racoon_conf_aggressive.conf"))
    assert racoon["connections"][0]["aggressive"] is True
    assert parse_racoon_conf.parse_racoon_conf('include "x.conf";\n')["warnings"] == ["include 'x.conf' not followed (no file access)"]


def test_classify_filter_takes_text_or_lines_and_filters_failures():
    text = fixture_text("logs/sw-sw_psk-leftinit_right_charon.log")
    everything = classify_ike_log.classify_ike_log(text)
    assert len(everything) == len([line for line in text.splitlines() if line.strip()])
    failures = classify_ike_log.classify_ike_log(text.splitlines(), failures_only=True)
    assert [e["code"] for e in failures] == ["AUTHENTICATION_FAILED"] and failures[0]["view"] == "local"
    assert all("epoch" not in e for e in everything)
    pluto = classify_ike_log.classify_ike_log(["netlink_expire got message with length 116 < 232 bytes; ignore message"], daemon="libreswan")
    assert pluto[0]["daemon"] == "libreswan"
    with pytest.raises(AnsibleFilterError, match="daemon must be"):
        classify_ike_log.classify_ike_log("x", daemon="openswan")
