# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""racoon (ipsec-tools) parsers: racoon.conf (remote/sainfo/proposal, include, inherit), psk.txt,
racoonctl show-sa isakmp, setkey -D/-DP (Linux and NetBSD). racoon is not packaged in Debian 12:
the inputs are public real configurations and outputs, each fixture naming its source."""

from __future__ import annotations

import pytest

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _psk, _racoon, _setkey
from ansible_collections.netdoctor.ipsec.tests.unit.cases import assert_subset, fixture_text, load_cases

SALT = "unit-test-salt"


def _psk_file(text):
    secrets, problems = _racoon.parse_psk_file(text, SALT)
    return {"secrets": secrets, "warnings": problems}


def _isakmp(text):
    sas, unparsed = _racoon.parse_show_sa_isakmp(text)
    return {"sas": sas, "unparsed": unparsed}


def _sad(text):
    states, warnings, unparsed = _setkey.parse_sad(text, SALT)
    return {"states": states, "warnings": warnings, "unparsed": unparsed}


def _spd(text):
    policies, warnings, unparsed = _setkey.parse_spd(text)
    return {"policies": policies, "warnings": warnings, "unparsed": unparsed}


PARSERS = {
    "racoon_conf": _racoon.parse_racoon_conf,
    "psk_file": _psk_file,
    "show_sa_isakmp": _isakmp,
    "sad": _sad,
    "spd": _spd,
}


@pytest.mark.parametrize("case", load_cases(__file__))
def test_racoon_parser(case):
    result = PARSERS[case["parser"]](case["input"])
    assert_subset(result, case["expected"])
    for forbidden in case.get("not_in_result", []):
        assert forbidden not in repr(result)


def test_include_and_psk_path_from_the_included_file():
    peers = ('path pre_shared_key "/etc/racoon/peers.psk";\n'
             "remote 198.51.100.7 { proposal { encryption_algorithm 3des; hash_algorithm md5;"
             " authentication_method pre_shared_key; dh_group modp1024; } }\n")
    files = {"/etc/racoon/peers.conf": peers}

    def loader(pattern, base):
        full = pattern if pattern.startswith("/") else base + "/" + pattern
        return [(full, files[full])] if full in files else []

    parsed = _racoon.parse_racoon_conf('path include "/etc/racoon";\ninclude "peers.conf";\n', "/etc/racoon/racoon.conf", loader)
    (conn,) = parsed["connections"]
    assert conn["remote_addrs"] == ["198.51.100.7"]
    assert conn["ike_proposals"][0]["encryption"] == ["3DES"] and conn["ike_proposals"][0]["dh"] == ["MODP_1024"]
    assert parsed["paths"]["pre_shared_key"] == "/etc/racoon/peers.psk"


def test_psk_lookup_by_peer_address_with_wildcard_fallback():
    secrets = _psk_file(fixture_text("racoon/psk_wildcard.txt"))["secrets"]
    exact, how = _psk.best_secret(secrets, ["192.1.2.45"], ["192.1.2.23"], "racoon")
    assert exact["ids"] == ["192.1.2.23"] and how == "exact"
    fallback, how = _psk.best_secret(secrets, ["192.1.2.45"], ["203.0.113.99"], "racoon")
    assert fallback["ids"] == ["*"] and how == "wildcard"


def test_spd_selectors_fill_anonymous_sainfo():
    parsed = _racoon.parse_racoon_conf(fixture_text("racoon/racoon_conf_aggressive.conf"))
    policies = _spd(fixture_text("racoon/setkey_DP_netbsd_racoon.txt"))["policies"]
    (conn,) = _racoon.attach_spd_selectors(parsed["connections"], policies)
    assert conn["children"][0]["local_ts"] == ["192.0.1.0/24"]
    assert conn["children"][0]["remote_ts"] == ["192.0.2.0/24"]
    assert conn["children"][0]["extra"]["selectors_from"] == "spd"


def test_sad_pairs_into_child_sas_per_protocol():
    states = _sad(fixture_text("racoon/setkey_D_linux_centos6.txt"))["states"]
    children = _setkey.child_sas(states, ["202.141.176.2"])
    assert [(c["protocol"], c["spi_in"], c["spi_out"]) for c in children] == [
        ("esp", "0x00005fb5", "0x00003d55"), ("ah", "0x00005fb4", "0x00003d54")]
    assert children[0]["bytes_in"] == 1123603 and children[0]["installed"] is True
