# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ike_info and log_info against the real lab: strongSwan<->strongSwan and strongSwan<->libreswan
tunnels, healthy and with the faults ike-version, ike-proposal, esp-proposal, psk, identity and
selectors (tests/lab/ike_lab_spec.yml, one lab boot). The modules run through Ansible over SSH on
every gateway, as a user runs them; what they report is checked against the daemons' own tools
(swanctl --raw, ipsec whack), the kernel's SAs (ip xfrm state) and the lab's settings, and no PSK
may appear in any result or in the -vvv output.

Run: ND_LAB_DIR=/work/main/.lab-ike ND_LAB_SLOT=2 python -m pytest -v tests/lab/test_ike_lab.py
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SPEC = Path(__file__).with_name("ike_lab_spec.yml")
SALT = "ike-lab-test-salt"
FAILURES = ("NO_PROPOSAL_CHOSEN", "AUTHENTICATION_FAILED", "NO_PSK", "IDENTITY_MISMATCH", "TS_UNACCEPTABLE",
            "INVALID_ID_INFORMATION", "INVALID_KE_PAYLOAD", "NO_IKE_CONFIG", "IKE_VERSION_MISMATCH", "RETRANSMIT",
            "PEER_NOT_RESPONDING", "SA_INSTALL_FAILED", "DPD_DEAD_PEER")

# What each side's log must show (code, view), by tunnel name and side relative to the fault.
# strongSwan pairs carry the fault on the right (the responder); strongSwan<->libreswan pairs on the
# left, strongSwan side (the initiator), so that pluto stays on the lab's healthy configuration.
LOG_EXPECT = {
    "sw-psk": {"fault": [("AUTHENTICATION_FAILED", "local")], "peer": [("AUTHENTICATION_FAILED", "remote")]},
    "lsw-psk": {"fault": [("AUTHENTICATION_FAILED", "remote")], "peer": [("AUTHENTICATION_FAILED", "local")]},
    "sw-ike-version": {"fault": [("NO_IKE_CONFIG", "local")], "peer": [("NO_PROPOSAL_CHOSEN", "remote")]},
    "lsw-ike-version": {"fault": [("RETRANSMIT", None)], "peer": [("IKE_VERSION_MISMATCH", "local")]},
    "sw-ike-proposal": {"fault": [("NO_PROPOSAL_CHOSEN", "local")], "peer": [("NO_PROPOSAL_CHOSEN", "remote")]},
    "lsw-ike-proposal": {"fault": [("NO_PROPOSAL_CHOSEN", "remote")], "peer": [("NO_PROPOSAL_CHOSEN", "local")]},
    "sw-esp-proposal": {"fault": [("NO_PROPOSAL_CHOSEN", "local")], "peer": [("NO_PROPOSAL_CHOSEN", "remote")]},
    "lsw-esp-proposal": {"fault": [("NO_PROPOSAL_CHOSEN", "remote")], "peer": [("NO_PROPOSAL_CHOSEN", "local")]},
    "sw-identity": {"fault": [], "peer": [("IDENTITY_MISMATCH", "local")]},
    "lsw-identity": {"fault": [("AUTHENTICATION_FAILED", "remote")], "peer": []},
    "sw-selectors": {"fault": [("TS_UNACCEPTABLE", "local")], "peer": [("TS_UNACCEPTABLE", "remote")]},
    "lsw-selectors": {"fault": [("TS_UNACCEPTABLE", "remote")], "peer": [("TS_UNACCEPTABLE", "local")]},
}
# The transform a NO_PROPOSAL_CHOSEN seen locally names, when the daemon's log says it.
TRANSFORM_EXPECT = {("sw-ike-proposal", "fault"): True, ("sw-esp-proposal", "fault"): True}


def _usable() -> str | None:
    if os.geteuid() != 0:
        return "the lab needs root"
    if not (Path(os.environ.get("ND_TOOLS", Path.home() / ".cache/netdoctor")) / "debs/uml").exists() and not shutil.which("ip"):
        return "lab tools missing"
    return None


pytestmark = pytest.mark.skipif(_usable() is not None, reason=_usable() or "")


def _ansible(cfg, module: str, args: str, verbose: bool) -> tuple[dict[str, dict], str]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(cfg.ansible_cfg), ANSIBLE_DEPRECATION_WARNINGS="False")
    argv = ["ansible", "-i", str(cfg.inventory), "lab_gateways", "-f", "8", "-o", "-m", f"netdoctor.ipsec.{module}", "-a", args]
    if verbose:
        argv.append("-vvv")
    run = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900)
    results = {}
    for line in run.stdout.splitlines():
        match = re.match(r"^(\S+) \| (SUCCESS|FAILED!?|CHANGED) => (\{.*\})$", line)
        if match:
            results[match.group(1)] = json.loads(match.group(3))
    return results, run.stdout + run.stderr


@pytest.fixture(scope="module")
def lab():
    from lab import Lab, LabConfig, TunnelSpec

    cfg = LabConfig.from_env(os.environ.get("ND_LAB_DIR") or REPO / ".lab-ike", os.environ.get("ND_LAB_SLOT") or 2)
    entries = yaml.safe_load(SPEC.read_text())
    the_lab = Lab(cfg)
    state = the_lab.up([TunnelSpec.from_dict(entry) for entry in entries])
    try:
        ike, ike_out = _ansible(cfg, "ike_info", f"fingerprint_salt={SALT}", verbose=True)
        logs, log_out = _ansible(cfg, "log_info", "since=30m", verbose=True)
        tunnels = []
        for letter, entry in zip(sorted(state["tunnels"]), entries):
            spec = {"left": "strongswan", "right": "strongswan", "fault_side": "right", **entry}
            tunnels.append({"letter": letter, "name": entry["name"], "spec": spec, "result": state["tunnels"][letter],
                            "settings": state["settings"][letter]})
        truth = {}
        for t in tunnels:
            for side in ("left", "right"):
                host = f"{t['letter']}_{side}"
                truth[host] = _daemon_truth(the_lab, host, t["spec"][side])
        yield {"cfg": cfg, "state": state, "tunnels": tunnels, "ike": ike, "logs": logs, "truth": truth,
               "verbose": ike_out + log_out}
    finally:
        the_lab.down()


def _daemon_truth(the_lab, host: str, daemon: str) -> dict:
    """What the daemon's own tools and the kernel say, read independently of our parsers."""
    xfrm = the_lab.exec(host, ["ip", "xfrm", "state"]).out
    truth = {"kernel_spis": set(re.findall(r"spi (0x[0-9a-f]{8})", xfrm))}
    if daemon == "strongswan":
        sas = the_lab.exec(host, ["swanctl", "--list-sas", "--raw"]).out
        conns = the_lab.exec(host, ["swanctl", "--list-conns", "--raw"]).out
        truth["conn_names"] = set(re.findall(r"^list-conn event \{(\S+) \{", conns, re.M))
        truth["ike"] = set(re.findall(r"state=(\w+) .*?initiator-spi=(\w+) responder-spi=(\w+)", sas))
        truth["children"] = set(re.findall(r"state=(INSTALLED|REKEYED|\w+) mode=\w+ protocol=\w+ (?:encap=\w+ )?spi-in=(\w+) spi-out=(\w+)", sas))
    else:
        status = the_lab.exec(host, ["ipsec", "whack", "--status"]).out
        states = the_lab.exec(host, ["ipsec", "whack", "--showstates"]).out
        traffic = the_lab.exec(host, ["ipsec", "whack", "--trafficstatus"]).out
        truth["conn_names"] = set(re.findall(r'^(?:\d{3} )?"([^"]+)":\s+policy:', status, re.M))
        truth["states"] = set(re.findall(r'#(\d+): "[^"]+"\S* (STATE_\w+)', states))
        truth["traffic"] = {serial: (int(a), int(b)) for serial, a, b in
                            re.findall(r"#(\d+): .*inBytes=(\d+), outBytes=(\d+)", traffic)}
    return truth


def _sides(t: dict) -> dict[str, str]:
    """'fault'/'peer' -> left/right for a tunnel (healthy tunnels: the right side plays 'fault')."""
    fault = t["spec"].get("fault_side", "right")
    return {"fault": fault, "peer": "left" if fault == "right" else "right"}


def _host(t: dict, side: str) -> str:
    return f"{t['letter']}_{side}"


def test_every_gateway_answered(lab):
    hosts = {_host(t, s) for t in lab["tunnels"] for s in ("left", "right")}
    assert set(lab["ike"]) == hosts and set(lab["logs"]) == hosts
    for host, result in lab["ike"].items():
        assert result.get("failed") is not True, (host, result)
        assert result["changed"] is False and result["ike"]["errors"] == [], (host, result["ike"]["errors"])


def test_daemon_version_running_listening(lab):
    for t in lab["tunnels"]:
        for side in ("left", "right"):
            ike = lab["ike"][_host(t, side)]["ike"]
            assert ike["daemon"] == t["spec"][side]
            assert ike["version"] == ("5.9.8" if ike["daemon"] == "strongswan" else "4.10")
            assert ike["running"] is True and ike["listening"]["udp_500"] is True and ike["listening"]["udp_4500"] is True


def test_connections_agree_with_the_daemon_and_the_lab_settings(lab):
    for t in lab["tunnels"]:
        for side in ("left", "right"):
            host = _host(t, side)
            ike = lab["ike"][host]["ike"]
            settings = t["settings"][side]
            loaded = {c["name"] for c in ike["connections"] if c["loaded"]}
            assert loaded == lab["truth"][host]["conn_names"], host
            (conn,) = [c for c in ike["connections"] if c["name"] == settings["conn"]]
            assert conn["ike_version"] == settings["ike_version"], host
            assert conn["local_ts"] == [settings["local_ts"]] and conn["remote_ts"] == [settings["remote_ts"]], host
            assert conn["local_id"].lstrip("@") == settings["local_id"] and conn["remote_id"].lstrip("@") == settings["remote_id"], host
            assert conn["remote_addrs"] == [settings["remote_addr"]], host
            assert conn["local_auth"] == "psk" and conn["sha256_96"] == bool(settings["sha256_96"]), host
            assert conn["ike_proposals"] and conn["esp_proposals"], host
            if ike["daemon"] == "strongswan":
                assert conn["ike_proposals_text"] == settings["ike"], host
                assert conn["children"][0]["esp_proposals_text"] == settings["esp"], host


def test_sas_agree_with_the_daemon_and_the_kernel(lab):
    for t in lab["tunnels"]:
        for side in ("left", "right"):
            host = _host(t, side)
            ike = lab["ike"][host]["ike"]
            truth = lab["truth"][host]
            children = [c for sa in ike["sas"] for c in sa["children"]]
            if ike["daemon"] == "strongswan":
                assert {(sa["state"], sa["spi_i"][2:], sa["spi_r"][2:]) for sa in ike["sas"]} == truth["ike"], host
                assert {(c["state"], c["spi_in"][2:], c["spi_out"][2:]) for c in children} == truth["children"], host
            else:
                mine = {(sa["uniqueid"], sa["state"]) for sa in ike["sas"] if sa["state"] != "UNKNOWN"}
                mine |= {(c["uniqueid"], c["state"]) for c in children}
                assert mine == truth["states"], host
                for child in children:
                    if child["uniqueid"] in truth["traffic"]:
                        assert (child["bytes_in"], child["bytes_out"]) == truth["traffic"][child["uniqueid"]], host
            for child in children:
                if child["installed"]:
                    assert {child["spi_in"], child["spi_out"]} <= truth["kernel_spis"], host


def test_sa_state_matches_the_lab_observation(lab):
    for t in lab["tunnels"]:
        observed = t["result"]["observed"]
        for role, side in _sides(t).items():
            ike = lab["ike"][_host(t, side)]["ike"]
            ike_up = any(sa["established"] for sa in ike["sas"])
            child_up = any(c["installed"] for sa in ike["sas"] for c in sa["children"])
            assert ("up" if ike_up else "down") == observed["ike_sa"][role], (t["name"], role)
            assert ("up" if child_up else "down") == observed["child_sa"][role], (t["name"], role)


def test_psk_fingerprints_equal_when_healthy_and_differ_under_the_psk_fault(lab):
    for t in lab["tunnels"]:
        prints = []
        for side in ("left", "right"):
            ike = lab["ike"][_host(t, side)]["ike"]
            (conn,) = [c for c in ike["connections"] if c["name"] == t["settings"][side]["conn"]]
            assert conn["psk"]["match"] == "exact" and conn["psk_fingerprint"].startswith("hmac-sha256:")
            prints.append(conn["psk_fingerprint"])
        if t["spec"].get("fault") == "psk":
            assert prints[0] != prints[1], t["name"]
        else:
            assert prints[0] == prints[1], t["name"]


def test_logs_are_classified_on_both_sides(lab):
    for t in lab["tunnels"]:
        name = t["name"]
        for role, side in _sides(t).items():
            result = lab["logs"][_host(t, side)]
            assert result.get("failed") is not True, (name, result)
            entries = result["entries"]
            assert entries, (name, role, "no log lines read")
            got = {(e["code"], e["view"]) for e in entries}
            if name.endswith("healthy"):
                assert not [e for e in entries if e["code"] in FAILURES], (name, role)
                assert ("IKE_SA_ESTABLISHED", None) in got and ("CHILD_SA_ESTABLISHED", None) in got, (name, role)
                continue
            for expected in LOG_EXPECT[name][role]:
                assert expected in got, (name, role, expected, sorted(got))
            if TRANSFORM_EXPECT.get((name, role)):
                local = [e for e in entries if e["code"] == "NO_PROPOSAL_CHOSEN" and e["view"] == "local"]
                assert any(e["transform"] for e in local), (name, role, local)


def test_no_secret_in_any_result_or_verbose_output(lab):
    secrets = {s["psk"] for t in lab["tunnels"] for s in t["settings"].values()}
    assert len(secrets) > len(lab["tunnels"]) // 2
    texts = [json.dumps(lab["ike"]), json.dumps(lab["logs"]), lab["verbose"]]
    for secret in secrets:
        for text in texts:
            assert secret not in text
