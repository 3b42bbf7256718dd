# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Proposal keyword parsers, checked against the daemons' own expansion of the same keywords.

The oracles are recorded from the real daemons: charon's ``proposals = ...`` log line for each
swanctl.conf string it loaded, and libreswan's ``algparse`` for each ike=/esp= line.
"""

from __future__ import annotations

import re

import pytest

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _proposals
from ansible_collections.netdoctor.ipsec.tests.unit.cases import fixture_text

KINDS = ("encryption", "integrity", "prf", "dh", "esn")


def _shape(proposals, kinds=KINDS):
    return [{kind: list(p[kind]) for kind in kinds} for p in proposals]


def _charon_cases():
    cases = []
    for line in fixture_text("strongswan/charon_proposal_keywords.txt").splitlines():
        left, _sep, right = line.partition(" => ")
        protocol, text = left.split(" ", 1)
        cases.append(pytest.param(protocol, text, right, id=f"{protocol}={text}"))
    return cases


@pytest.mark.parametrize("protocol, text, charon", _charon_cases())
def test_strongswan_keywords_match_charon(protocol, text, charon):
    if text == "default" and protocol == "ike":
        pytest.skip("charon's IKE default depends on its loaded crypto plugins; checked as a superset below")
    mine, problems = _proposals.parse_strongswan(text, protocol)
    theirs, their_problems = _proposals.parse_strongswan_names(charon)
    assert not problems and not their_problems
    assert _shape(mine) == _shape(theirs)


def test_strongswan_ike_default_covers_what_this_charon_proposed():
    line = [entry for entry in fixture_text("strongswan/charon_proposal_keywords.txt").splitlines() if entry.startswith("ike default")][0]
    (theirs,), _problems = _proposals.parse_strongswan_names(line.split(" => ")[1])
    mine, _problems = _proposals.parse_strongswan("default", "ike")
    assert all(p["default"] for p in mine)
    for kind in ("encryption", "integrity", "prf", "dh"):
        assert set(theirs[kind]) <= set(mine[0][kind]), kind


def _algparse_cases():
    lines = fixture_text("libreswan/algparse_v2.txt").splitlines()
    cases, index = [], 0
    while index < len(lines):
        match = re.match(r"algparse .* '(ike|esp)=(.*)'", lines[index])
        index += 1
        if not match:
            continue
        expansion = []
        while index < len(lines) and lines[index].startswith("\t"):
            expansion.append(lines[index].strip())
            index += 1
        cases.append(pytest.param(match.group(1), match.group(2), expansion, id=f"{match.group(1)}={match.group(2)}"))
    return cases


def _key_lengths_as_pluto_sends(names, protocol):
    """algparse prints AES_CBC without a key length; pluto then proposes 256+128 (IKE) / 128+256 (ESP)."""
    out = []
    for name in names:
        if name in ("AES_CBC", "AES_CTR", "AES_GCM_16", "CAMELLIA_CBC"):
            out += [name + "_256", name + "_128"] if protocol == "ike" else [name + "_128", name + "_256"]
        else:
            out.append(name)
    return out


@pytest.mark.parametrize("protocol, text, expansion", _algparse_cases())
def test_libreswan_keywords_match_algparse(protocol, text, expansion):
    mine, problems = _proposals.parse_libreswan(text, protocol)
    assert not problems
    theirs = []
    for line in expansion:
        (proposal,), _problems = _proposals.parse_libreswan_names(line, protocol)
        proposal["encryption"] = _key_lengths_as_pluto_sends(proposal["encryption"], protocol)
        theirs.append(proposal)
    kinds = ("encryption", "integrity", "prf", "dh")
    assert [{k: sorted(v) for k, v in p.items()} for p in _shape(mine, kinds)] == [
        {k: sorted(v) for k, v in p.items()} for p in _shape(theirs, kinds)
    ]


def test_libreswan_without_value_means_pluto_defaults():
    proposals, problems = _proposals.parse_libreswan("", "esp")
    assert not problems
    assert [p["encryption"] for p in proposals] == [["AES_GCM_16_256"], ["AES_GCM_16_128"], ["AES_CBC_256"], ["AES_CBC_128"]]
    assert all(p["default"] for p in proposals)


@pytest.mark.parametrize(
    "parser, text, protocol, unknown",
    [
        (_proposals.parse_strongswan, "aes256-sha256-modp2048-frobnicate", "ike", ["frobnicate"]),
        (_proposals.parse_strongswan, "aes257gcm16", "esp", ["aes257gcm16"]),
        (_proposals.parse_libreswan, "aes256-sha3;modp2048", "ike", ["sha3"]),
        (_proposals.parse_libreswan, "twofish-sha1", "esp", ["twofish"]),
    ],
)
def test_unknown_keywords_are_kept_and_reported(parser, text, protocol, unknown):
    proposals, problems = parser(text, protocol)
    assert proposals[0]["unknown"] == unknown
    assert len(problems) == 1 and unknown[0] in problems[0]


def test_strict_marker_of_ipsec_conf():
    assert _proposals.strongswan_is_strict("aes256-sha256-modp2048!")
    assert not _proposals.strongswan_is_strict("aes256-sha256-modp2048")
    proposals, _problems = _proposals.parse_strongswan("aes256-sha256-modp2048!", "ike")
    assert proposals[0]["dh"] == ["MODP_2048"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048", ["AES_CBC_256"]),
        ("AES_GCM_16-256/PRF_HMAC_SHA2_256/ECP_256", ["AES_GCM_16_256"]),
        ("3DES_CBC/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_2048", ["3DES"]),
    ],
)
def test_swanctl_list_sas_proposal_form(text, expected):
    (proposal,), problems = _proposals.parse_strongswan_names(text)
    assert not problems and proposal["encryption"] == expected


def test_racoon_attributes():
    proposal, problems = _proposals.racoon_phase1("aes", "256", "sha1", "2", "p1")
    assert not problems
    assert _shape([proposal]) == [
        {"encryption": ["AES_CBC_256"], "integrity": ["HMAC_SHA1_96"], "prf": ["PRF_HMAC_SHA1"], "dh": ["MODP_1024"], "esn": []}
    ]
    proposal, problems = _proposals.racoon_phase2([("aes", None), ("3des", None)], ["hmac_sha1", "hmac_sha256"], "modp1536")
    assert proposal["encryption"] == ["AES_CBC_128", "3DES"]
    assert proposal["integrity"] == ["HMAC_SHA1_96", "HMAC_SHA2_256_128"]
    assert proposal["dh"] == ["MODP_1536"]


def test_failing_transform_names_the_odd_one_out():
    received, _p = _proposals.parse_strongswan_names("IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048")
    configured, _p = _proposals.parse_strongswan_names("IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_1024")
    assert _proposals.failing_transforms(received, configured) == ["dh"]
    configured, _p = _proposals.parse_strongswan_names("IKE:AES_CBC_128/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_2048")
    assert _proposals.failing_transforms(received, configured) == ["encryption", "integrity", "prf"]
