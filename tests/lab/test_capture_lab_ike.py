# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The capture module on the UML lab for the IKE faults, through Ansible on both gateways at once.

Each tunnel's left gateway initiates inside the capture window; the paired captures and the probe
must show what went wrong on the wire: ike-version and ike-proposal (NO_PROPOSAL_CHOSEN in clear),
psk (IKE_AUTH answered, the failure encrypted), fw-ike (IKE leaves A, reaches B's interface, is
never answered). No CHILD_SA, so the probe has no route through the tunnel.
"""

from __future__ import annotations

import time

import pytest

import capture_lab as cl
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils._pair_captures import pair_captures

FAULTS = {"a": "ike-version", "b": "ike-proposal", "c": "psk", "d": "fw-ike"}
HOSTS = [f"{t}_{side}" for t in FAULTS for side in ("left", "right")]


@pytest.fixture(scope="module")
def lab():
    lab = cl.lab_or_skip([{"fault": fault} for fault in FAULTS.values()])
    yield lab
    lab.down()


@pytest.fixture(scope="module")
def captured(lab, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("ike")
    start = time.time() + cl.ARRIVAL_MARGIN
    proc = cl.start_playbook(lab, ":".join(f"tunnel_{t}" for t in FAULTS), start, 14, out_dir)

    def initiate(tunnel):
        lab.exec(f"{tunnel}_left", ["swanctl", "--initiate", "--child", f"lab-{tunnel}", "--timeout", "8"], timeout=30)

    initiators = [cl.at(start + 3, initiate, t) for t in FAULTS]
    cl.finish_playbook(proc)
    for thread in initiators:
        thread.join(30)
    return cl.results(out_dir, HOSTS)


def paired(captured, tunnel):
    return pair_captures(captured[f"{tunnel}_left"], captured[f"{tunnel}_right"], ("left", "right"))


def notifies_from_responder(captured, tunnel):
    sas = captured[f"{tunnel}_left"]["summary"]["ike"]["sas"]
    return [n["type"] for sa in sas for n in sa["notifies"] if n["from"] == "responder" and n["error"]]


@pytest.mark.parametrize("tunnel", ["a", "b"], ids=["ike-version", "ike-proposal"])
def test_rejected_proposal_in_clear(captured, tunnel):
    assert "NO_PROPOSAL_CHOSEN" in notifies_from_responder(captured, tunnel)
    result = paired(captured, tunnel)
    assert result["ike"][0]["verdict"] == "answered"
    offered = captured[f"{tunnel}_left"]["summary"]["ike"]["sas"][0]["proposals_offered"]
    assert offered and offered[0]["protocol"] == "IKE"


def test_psk_fails_inside_the_encrypted_exchange(captured):
    left = captured["c_left"]["summary"]["ike"]
    exchanges = [m["exchange"] for m in left["messages"] if not m["retransmission"]]
    assert exchanges[:4] == ["IKE_SA_INIT", "IKE_SA_INIT", "IKE_AUTH", "IKE_AUTH"]
    auth_response = [m for m in left["messages"] if m["exchange"] == "IKE_AUTH" and m["response"]][0]
    assert auth_response["encrypted"] is True and auth_response["notify_types"] == []
    assert paired(captured, "c")["ike"][0]["verdict"] == "answered"


def test_fw_ike_leaves_a_and_is_never_answered(captured):
    result = paired(captured, "d")
    entry = result["ike"][0]
    assert (entry["from"], entry["verdict"], entry["responses_sent"]) == ("left", "received_not_answered", 0)
    assert entry["requests_sent"] >= 1 and entry["requests_received"] == entry["requests_sent"]
    assert captured["d_left"]["summary"]["ike"]["counts"]["in"] == 0


@pytest.mark.parametrize("tunnel", list(FAULTS), ids=list(FAULTS.values()))
def test_probe_fails_without_a_child_sa(captured, tunnel):
    statuses = [(r["type"], r["status"]) for r in captured[f"{tunnel}_left"]["probe"]["results"]]
    assert statuses == [("icmp", "send_failed"), ("icmp", "send_failed"), ("tcp", "net_unreachable")]
