# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""libreswan parsers (whack --status/--trafficstatus/--showstates, ipsec.conf, ipsec.secrets) on
recorded real outputs (4.10 in host namespaces, 5.x test-suite consoles); cases in the YAML beside."""

from __future__ import annotations

import fnmatch

import pytest

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _ipsec_conf, _libreswan
from ansible_collections.netdoctor.ipsec.tests.unit.cases import assert_subset, load_cases

SALT = "unit-test-salt"


def _showstates(text):
    sas, unparsed = _libreswan.parse_showstates(text)
    return {"sas": sas, "unparsed": unparsed}


def _traffic(text):
    entries, unparsed = _libreswan.parse_trafficstatus(text)
    return {"entries": entries, "unparsed": unparsed}


def _secrets(text):
    secrets, problems = _ipsec_conf.parse_secrets(text, SALT)
    return {"secrets": secrets, "warnings": problems}


def _include_loader(files):
    def load(pattern, base):
        return [(name, files[name]) for name in sorted(files) if fnmatch.fnmatch(name, pattern)]
    return load


PARSERS = {
    "whack_status": _libreswan.parse_whack_status,
    "showstates": _showstates,
    "trafficstatus": _traffic,
    "ipsec_conf": lambda text: _libreswan.parse_ipsec_conf(text, local_addresses=["192.1.2.45"]),
    "ipsec_secrets": _secrets,
}


@pytest.mark.parametrize("case", load_cases(__file__))
def test_libreswan_parser(case):
    result = PARSERS[case["parser"]](case["input"])
    assert_subset(result, case["expected"])
    for forbidden in case.get("not_in_result", []):
        assert forbidden not in repr(result)


def test_recursive_include_stops_with_a_warning():
    from ansible_collections.netdoctor.ipsec.tests.unit.cases import fixture_text

    text = fixture_text("libreswan/ipsec_conf_include_recursive.conf")
    parsed = _libreswan.parse_ipsec_conf(text, "/etc/ipsec.conf", _include_loader({"/etc/ipsec.conf": text}))
    assert "include '/etc/ipsec.conf' nested too deep; not followed" in parsed["warnings"]
    assert [c["name"] for c in parsed["connections"]] == ["west"]


def test_include_brings_in_conns_and_orientation_follows_local_addresses():
    main = "config setup\n\ninclude /etc/ipsec.d/*.conf\n"
    site = ("conn site\n\tauthby=secret\n\tleft=192.0.2.9\n\tleftid=@far\n\tright=%defaultroute\n\trightid=@near\n"
            "\tleftsubnet=10.9.0.0/24\n\trightsubnet=10.1.0.0/24\n\tauto=start\n")
    parsed = _libreswan.parse_ipsec_conf(main, "/etc/ipsec.conf", _include_loader({"/etc/ipsec.d/site.conf": site}))
    (conn,) = parsed["connections"]
    assert conn["local_id"] == "@near" and conn["remote_id"] == "@far"
    assert conn["local_addrs"] == ["%defaultroute"] and conn["remote_addrs"] == ["192.0.2.9"]
    assert conn["local_ts"] == ["10.1.0.0/24"] and conn["start_action"] == "start"


def test_0s_and_quoted_spellings_of_one_key_fingerprint_alike():
    from ansible_collections.netdoctor.ipsec.tests.unit.cases import fixture_text

    (base64_form,) = _secrets(fixture_text("libreswan/ipsec_secrets_0s.secrets"))["secrets"]
    text_value = "ABCDEFGHIJKLMNOPQRSTUVWXYZ1234567890ABCDEFGHIJ12345ABCDEFGHIJ12345ABCDEFGHIJ12345"
    (quoted,) = _secrets('@west @east : PSK "%s"\n' % text_value)["secrets"]
    assert base64_form["fingerprint"] == quoted["fingerprint"]
    assert base64_form["facts"]["encoding"] == "base64" and quoted["facts"]["encoding"] == "text"
