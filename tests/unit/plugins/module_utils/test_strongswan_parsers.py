# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""strongSwan parsers (swanctl --list-sas/--list-conns text, ipsec statusall, swanctl.conf, ipsec.conf,
ipsec.secrets) on recorded real outputs and public configurations; cases in the YAML file beside."""

from __future__ import annotations

import pytest

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _ipsec_conf, _strongswan, _strongswan_conf, _stroke
from ansible_collections.netdoctor.ipsec.tests.unit.cases import assert_subset, load_cases

SALT = "unit-test-salt"


def _swanctl_conf(text):
    tree, problems, unparsed = _strongswan_conf.parse_settings(text)
    conns, conn_problems = _strongswan_conf.swanctl_connections(tree)
    secrets, secret_problems = _strongswan_conf.swanctl_secrets(tree, SALT)
    return {"connections": conns, "secrets": secrets, "warnings": problems + conn_problems + secret_problems, "unparsed": unparsed}


def _ipsec_secrets(text):
    secrets, problems = _ipsec_conf.parse_secrets(text, SALT)
    return {"secrets": secrets, "warnings": problems}


PARSERS = {
    "list_sas": _strongswan.parse_list_sas_output,
    "list_conns": _strongswan.parse_list_conns_output,
    "statusall": _stroke.parse_statusall,
    "swanctl_conf": _swanctl_conf,
    "ipsec_conf": lambda text: _stroke.parse_ipsec_conf(text, local_addresses=["192.168.0.1"]),
    "ipsec_secrets": _ipsec_secrets,
}


@pytest.mark.parametrize("case", load_cases(__file__))
def test_strongswan_parser(case):
    result = PARSERS[case["parser"]](case["input"])
    assert_subset(result, case["expected"])
    for forbidden in case.get("not_in_result", []):
        assert forbidden not in repr(result)


def test_same_psk_on_both_ends_gives_one_fingerprint_whatever_the_spelling():
    from ansible_collections.netdoctor.ipsec.tests.unit.cases import fixture_text

    moon = _swanctl_conf(fixture_text("strongswan/swanctl_conf_rw_psk_fqdn_moon.conf"))["secrets"]
    carol = _swanctl_conf(fixture_text("strongswan/swanctl_conf_rw_psk_fqdn_carol.conf"))["secrets"]
    carol_on_moon = [s for s in moon if "carol@strongswan.org" in s["ids"]][0]
    assert carol_on_moon["fingerprint"] == carol[0]["fingerprint"]
    assert carol_on_moon["fingerprint"] != [s for s in moon if "dave@strongswan.org" in s["ids"]][0]["fingerprint"]
    assert carol_on_moon["facts"]["encoding"] == "base64"
    moon_stroke = _ipsec_secrets(fixture_text("strongswan/stroke_net2net_psk_moon_ipsec.secrets"))["secrets"]
    sun_stroke = _ipsec_secrets(fixture_text("strongswan/stroke_net2net_psk_sun_ipsec.secrets"))["secrets"]
    assert moon_stroke[0]["fingerprint"] == sun_stroke[0]["fingerprint"]
