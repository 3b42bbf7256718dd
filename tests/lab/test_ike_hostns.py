# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ike_info and log_info against real daemons in host network namespaces (no UML: seconds, not
minutes). charon<->charon and charon<->pluto with the lab's configurations; the host kernel has no
ESP, so IKE SAs are real and CHILD SAs fail to install. The full matrix with real SAs is
tests/lab/test_ike_lab.py.
"""

from __future__ import annotations

import json
import re

import pytest

from ike_hostns import PSK, WRONG_PSK, IkePair, usable

SALT = "ike-hostns-salt"
PAIRS = [("strongswan", "strongswan"), ("strongswan", "libreswan")]


@pytest.fixture(scope="module", params=PAIRS, ids=["sw-sw", "sw-lsw"])
def pair(request, tmp_path_factory):
    reason = usable(request.param)
    if reason:
        pytest.skip(reason)
    with IkePair(request.param, tmp_path_factory.mktemp("ikepair")) as the_pair:
        yield the_pair


def _gather(pair):
    return {side: pair.module(side, "ike_info", {"fingerprint_salt": SALT}) for side in ("left", "right")}


def _sa_truth(pair, side):
    if pair.kinds[side] == "strongswan":
        raw = pair.exec(side, ["swanctl", "--list-sas", "--raw"]).stdout
        return set(re.findall(r"state=(\w+) .*?initiator-spi=(\w+) responder-spi=(\w+)", raw))
    states = pair.exec(side, ["ipsec", "whack", "--showstates"]).stdout
    return set(re.findall(r'#(\d+): "[^"]+"\S* (STATE_\w+)', states))


def _sa_mine(result, kind):
    sas = result["ike"]["sas"]
    if kind == "strongswan":
        return {(sa["state"], sa["spi_i"][2:], sa["spi_r"][2:]) for sa in sas}
    return {(sa["uniqueid"], sa["state"]) for sa in sas} | {(c["uniqueid"], c["state"]) for sa in sas for c in sa["children"]}


def test_healthy_ike_sa_agrees_with_the_daemons(pair):
    pair.terminate()
    pair.clear_logs()
    pair.initiate("left", wait=6)
    results = _gather(pair)
    for side in ("left", "right"):
        result = results[side]
        assert result["changed"] is False and result["ike"]["daemon"] == pair.kinds[side]
        assert result["ike"]["errors"] == [], result["ike"]["errors"]
        assert _sa_mine(result, pair.kinds[side]) == _sa_truth(pair, side)
        assert any(sa["established"] for sa in result["ike"]["sas"])
    prints = [results[side]["ike"]["connections"][0]["psk_fingerprint"] for side in ("left", "right")]
    assert prints[0] == prints[1] and prints[0].startswith("hmac-sha256:")
    logs = {side: pair.module(side, "log_info", {"since": "10m", "journal": "never"}) for side in ("left", "right")}
    assert ("IKE_SA_ESTABLISHED", None) in {(e["code"], e["view"]) for e in logs["left"]["entries"]}
    assert ("SA_INSTALL_FAILED", "local") in {(e["code"], e["view"]) for e in logs["right"]["entries"]}
    text = json.dumps([results, logs])
    assert PSK not in text


def test_psk_fault_changes_the_fingerprint_and_is_classified(pair):
    pair.terminate()
    pair.apply_fault("psk", "right")
    try:
        pair.clear_logs()
        pair.initiate("left", wait=6)
        results = _gather(pair)
        prints = [results[side]["ike"]["connections"][0]["psk_fingerprint"] for side in ("left", "right")]
        assert prints[0] != prints[1] and None not in prints
        assert not any(sa["established"] for side in ("left", "right") for sa in results[side]["ike"]["sas"])
        left = pair.module("left", "log_info", {"since": "10m", "journal": "never"})
        right = pair.module("right", "log_info", {"since": "10m", "journal": "never"})
        assert ("AUTHENTICATION_FAILED", "remote") in {(e["code"], e["view"]) for e in left["entries"]}
        assert ("AUTHENTICATION_FAILED", "local") in {(e["code"], e["view"]) for e in right["entries"]}
        text = json.dumps([results, left, right])
        assert PSK not in text and WRONG_PSK not in text
    finally:
        pair.reload("right", psk=PSK)
