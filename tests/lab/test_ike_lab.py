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
    # pluto 4.10 drops IKEv1 silently at the lab's log level: the evidence is charon's Main Mode
    # retransmits, and charon answering pluto's own IKEv2 attempts with NO_PROPOSAL_CHOSEN
    "lsw-ike-version": {"fault": [("RETRANSMIT", None), ("NO_IKE_CONFIG", "local")],
                        "peer": [("NO_PROPOSAL_CHOSEN", "remote")]},
    "sw-ike-proposal": {"fault": [("NO_PROPOSAL_CHOSEN", "local")], "peer": [("NO_PROPOSAL_CHOSEN", "remote")]},
    "lsw-ike-proposal": {"fault": [("NO_PROPOSAL_CHOSEN", "remote")], "peer": [("NO_PROPOSAL_CHOSEN", "local")]},
    "sw-esp-proposal": {"fault": [("NO_PROPOSAL_CHOSEN", "local")], "peer": [("NO_PROPOSAL_CHOSEN", "remote")]},
    "lsw-esp-proposal": {"fault": [("NO_PROPOSAL_CHOSEN", "remote")], "peer": [("NO_PROPOSAL_CHOSEN", "local")]},
    "sw-identity": {"fault": [("IDENTITY_MISMATCH", "local")], "peer": [("AUTHENTICATION_FAILED", "remote")]},
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
    run = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900, check=False)
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
        tunnels = []
        for letter, entry in zip(sorted(state["tunnels"]), entries):
            spec = {"left": "strongswan", "right": "strongswan", "fault_side": "right", **entry}
            tunnels.append({"letter": letter, "name": entry["name"], "spec": spec, "result": state["tunnels"][letter],
                            "settings": state["settings"][letter]})
        # SAs come and go (an IKEv1 attempt retransmits, then is destroyed): the daemons' own view is read
        # just before and just after ike_info, and ike_info must agree with one of the two.
        before = _all_truth(the_lab, tunnels)
        ike, ike_out = _ansible(cfg, "ike_info", f"fingerprint_salt={SALT}", verbose=True)
        after = _all_truth(the_lab, tunnels)
        logs, log_out = _ansible(cfg, "log_info", "since=30m", verbose=True)
        if os.environ.get("ND_IKE_RECORD"):
            _record(the_lab, tunnels, Path(os.environ["ND_IKE_RECORD"]))
        yield {"cfg": cfg, "state": state, "tunnels": tunnels, "ike": ike, "logs": logs, "truth": (before, after),
               "verbose": ike_out + log_out, "psks": the_lab.psks()}
    finally:
        the_lab.down()


def _record(the_lab, tunnels: list[dict], out: Path) -> None:
    """Keep the daemons' outputs and logs of this run (to refresh unit-test fixtures)."""
    commands = {"strongswan": [["swanctl", "--list-sas"], ["swanctl", "--list-sas", "--raw"], ["swanctl", "--list-conns"]],
                "libreswan": [["ipsec", "whack", "--status"], ["ipsec", "whack", "--trafficstatus"]]}
    out.mkdir(parents=True, exist_ok=True)
    for t in tunnels:
        for side in ("left", "right"):
            host = f"{t['letter']}_{side}"
            daemon = t["spec"][side]
            for argv in commands[daemon] + [["cat", "/var/log/" + ("charon.log" if daemon == "strongswan" else "pluto.log")]]:
                name = f"{t['name']}_{side}_{'_'.join(a.strip('-') for a in argv[1:]).replace('/', '_')}.txt"
                (out / name).write_text(the_lab.exec(host, argv).out)


def _all_truth(the_lab, tunnels: list[dict]) -> dict[str, dict]:
    return {f"{t['letter']}_{side}": _daemon_truth(the_lab, f"{t['letter']}_{side}", t["spec"][side])
            for t in tunnels for side in ("left", "right")}


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
    problems = []
    for t in lab["tunnels"]:
        for side in ("left", "right"):
            host = _host(t, side)
            ike = lab["ike"][host]["ike"]
            settings = t["settings"][side]
            loaded = {c["name"] for c in ike["connections"] if c["loaded"]}
            if loaded != lab["truth"][0][host]["conn_names"]:
                problems.append((host, "loaded", loaded, lab["truth"][0][host]["conn_names"]))
            (conn,) = [c for c in ike["connections"] if c["name"] == settings["conn"]]
            checks = {
                "ike_version": (conn["ike_version"], settings["ike_version"]),
                "local_ts": (conn["local_ts"], [settings["local_ts"]]),
                "remote_ts": (conn["remote_ts"], [settings["remote_ts"]]),
                "local_id": (conn["local_id"].lstrip("@"), settings["local_id"]),
                "remote_id": (conn["remote_id"].lstrip("@"), settings["remote_id"]),
                "remote_addrs": (conn["remote_addrs"], [settings["remote_addr"]]),
                "local_auth": (conn["local_auth"], "psk"),
                "sha256_96": (conn["sha256_96"], bool(settings["sha256_96"])),
                "proposals known": (bool(conn["ike_proposals"] and conn["esp_proposals"]), True),
            }
            if ike["daemon"] == "strongswan":
                checks["ike text"] = (conn["ike_proposals_text"], settings["ike"])
                checks["esp text"] = (conn["children"][0]["esp_proposals_text"], settings["esp"])
            problems += [(host, key, got, want) for key, (got, want) in checks.items() if got != want]
    assert problems == []


def _agrees(mine, truths):
    return any(mine == truth for truth in truths)


def _same_churn(mine, truths):
    """pluto re-initiating a failing SA every few seconds: new serials, same half-open states."""
    names = sorted(state for _serial, state in mine)
    return all("ESTABLISHED" not in name for name in names) and any(
        names == sorted(state for _serial, state in truth["states"]) for truth in truths)


def test_sas_agree_with_the_daemon_and_the_kernel(lab):
    problems = []
    for t in lab["tunnels"]:
        for side in ("left", "right"):
            host = _host(t, side)
            ike = lab["ike"][host]["ike"]
            truths = [snapshot[host] for snapshot in lab["truth"]]
            children = [c for sa in ike["sas"] for c in sa["children"]]
            if ike["daemon"] == "strongswan":
                mine = {(sa["state"], sa["spi_i"][2:], sa["spi_r"][2:]) for sa in ike["sas"]}
                if not _agrees(mine, [truth["ike"] for truth in truths]):
                    problems.append((host, "IKE SAs", mine, [truth["ike"] for truth in truths]))
                mine = {(c["state"], c["spi_in"][2:], c["spi_out"][2:]) for c in children}
                if not _agrees(mine, [truth["children"] for truth in truths]):
                    problems.append((host, "child SAs", mine, [truth["children"] for truth in truths]))
            else:
                mine = {(sa["uniqueid"], sa["state"]) for sa in ike["sas"] if sa["state"] != "UNKNOWN"}
                mine |= {(c["uniqueid"], c["state"]) for c in children}
                if not _agrees(mine, [truth["states"] for truth in truths]) and not _same_churn(mine, truths):
                    problems.append((host, "states", mine, [truth["states"] for truth in truths]))
                for child in children:
                    traffic = [truth["traffic"].get(child["uniqueid"]) for truth in truths]
                    if (child["bytes_in"], child["bytes_out"]) not in traffic:
                        problems.append((host, "traffic", child["uniqueid"], (child["bytes_in"], child["bytes_out"]), traffic))
            for child in children:
                if child["installed"] and not {child["spi_in"], child["spi_out"]} <= truths[0]["kernel_spis"]:
                    problems.append((host, "kernel SPIs", child["spi_in"], child["spi_out"], truths[0]["kernel_spis"]))
    assert problems == []


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
    problems = []
    for t in lab["tunnels"]:
        name = t["name"]
        for role, side in _sides(t).items():
            result = lab["logs"][_host(t, side)]
            entries = result.get("entries") or []
            if result.get("failed") or not entries:
                problems.append((name, role, "no log entries", result.get("msg")))
                continue
            got = {(e["code"], e["view"]) for e in entries}
            if name.endswith("healthy"):
                # retransmits happen on a busy host even when the tunnel comes up; failures must not
                failures = [(e["code"], e["message"]) for e in entries if e["code"] in FAILURES and e["code"] != "RETRANSMIT"]
                if failures or ("IKE_SA_ESTABLISHED", None) not in got or ("CHILD_SA_ESTABLISHED", None) not in got:
                    problems.append((name, role, failures, sorted(got)))
                continue
            missing = [expected for expected in LOG_EXPECT[name][role] if expected not in got]
            if missing:
                problems.append((name, role, "missing", missing, sorted(got)))
            if TRANSFORM_EXPECT.get((name, role)):
                local = [e for e in entries if e["code"] == "NO_PROPOSAL_CHOSEN" and e["view"] == "local"]
                if not any(e["transform"] for e in local):
                    problems.append((name, role, "no transform named", [e["message"] for e in local]))
    assert problems == []


def test_no_secret_in_any_result_or_verbose_output(lab):
    secrets = {psk for sides in lab["psks"].values() for psk in sides.values()}
    assert len(secrets) > len(lab["tunnels"]) // 2
    texts = [json.dumps(lab["ike"]), json.dumps(lab["logs"]), lab["verbose"]]
    for secret in secrets:
        for text in texts:
            assert secret not in text
