# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The diagnose role's opt-ins on the real lab, and what they leave behind (nothing).

One strongSwan <-> libreswan tunnel with the forward-drop fault; the diagnose playbook runs with
every opt-in on: pcaps fetched, Wireshark esp_sa files written, the IKE daemons' log level raised
for the window, iptables TRACE rules for the probe flow. Shown: the diagnosis is still right; the
pcaps and esp_sa files are on the controller (esp_sa mode 0600) and the captures gone from the
gateways; no SA key from the esp_sa files appears in any report, side record or the play's output;
the TRACE rules are gone from both gateways; libreswan's debug setting is what it was before.

Run: ``. tools/env.sh && cd $ND_COLLECTION && python -m pytest -q tests/lab/test_diagnose_optins.py``
(as root; lab folder $ND_LAB_DIR, default .lab-diag, slot $ND_LAB_SLOT, default 2).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import tempfile
import typing as t
from pathlib import Path

import pytest

import capture_lab as cl
import diagnose_lab

SPECS = [{"name": "optins", "fault": "forward-drop", "fault_side": "right", "right": "libreswan"}]
OPTINS = {"ipsec_fetch_pcaps": True, "ipsec_fetch_esp_sa": True, "ipsec_raise_log_level": True, "ipsec_trace": True,
          "ipsec_probe_tcp_port": 7}

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
    pytest.mark.skipif(shutil.which("ansible-playbook") is None, reason="ansible-playbook not on PATH (. tools/env.sh)"),
]


def _debug_setting(lab: t.Any) -> str:
    out = lab.exec("a_right", ["ipsec", "whack", "--status"]).out
    return "\n".join(line for line in out.splitlines() if re.match(r"^\s*debug", line))


@pytest.fixture(scope="module")
def optins() -> t.Iterator[dict[str, t.Any]]:
    with diagnose_lab.lab_running(SPECS, fail=pytest.fail) as (lab, lab_dir):
        out = Path(tempfile.mkdtemp(prefix="diagnose-optins-"))
        try:
            before = _debug_setting(lab)
            run = diagnose_lab.run_playbook(lab_dir, out, limit="tunnel_a", forks=2, extra=OPTINS)
            after = _debug_setting(lab)
            raw = {host: lab.exec(host, ["iptables-legacy-save", "-t", "raw"]).out for host in ("a_left", "a_right")}
            leftovers = {host: cl.capture_leftovers(lab, host).splitlines() for host in ("a_left", "a_right")}
            yield {"run": run, "out": out, "debug": (before, after), "raw": raw, "leftovers": leftovers,
                   "report": out / "reports" / "tunnel_a"}
        finally:
            shutil.rmtree(out, ignore_errors=True)


def test_diagnosis_is_still_right(optins):
    assert optins["run"]["rc"] == 0, optins["run"]["log"]
    diagnosis = json.loads((optins["report"] / "report.json").read_text())
    assert (diagnosis["root_cause"]["id"], diagnosis["root_cause"]["side"]) == ("P2.FORWARD", "b")


def test_pcaps_fetched_and_removed_from_the_gateways(optins):
    pcaps = sorted(p.name for p in (optins["report"] / "pcap").glob("*.pcap"))
    assert pcaps == ["a_left-wan0.pcap", "a_right-wan0.pcap"]
    for name in pcaps:
        assert (optins["report"] / "pcap" / name).read_bytes()[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x0a\x0d\x0d\x0a")
    assert optins["leftovers"] == {"a_left": [], "a_right": []}


def test_esp_sa_files_are_private_and_their_keys_appear_nowhere_else(optins):
    keys = set()
    for host in ("a_left", "a_right"):
        path = optins["report"] / f"esp_sa-{host}"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        assert lines and all(line.startswith('"IPv4"') for line in lines)
        keys |= {key for line in lines for key in re.findall(r'"0x([0-9a-f]{16,})"', line)}
    assert keys, "the esp_sa files carry keys"
    diagnosis = json.loads((optins["report"] / "report.json").read_text())
    assert diagnosis["findings"][-2]["id"] == "ART.ESP_SA" and diagnosis["findings"][-2]["status"] in ("pass", "warn")
    texts = [(optins["report"] / name).read_text() for name in ("report.json", "report.md", "report.html", "report.txt", "sides.json")]
    texts.append((optins["out"] / "playbook-.log").read_text() if (optins["out"] / "playbook-.log").exists() else "")
    texts += [p.read_text() for p in optins["out"].glob("playbook*.log")]
    for key in keys:
        assert not any(key in text for text in texts), "an SA key leaked into a report or the play's output"


def test_trace_rules_are_gone_and_log_level_restored(optins):
    for host, saved in optins["raw"].items():
        assert "netdoctor-trace" not in saved, f"TRACE rules left on {host}"
    before, after = optins["debug"]
    assert before == after, f"libreswan's debug setting changed: {before!r} -> {after!r}"
    log = "\n".join(p.read_text() for p in optins["out"].glob("playbook*.log"))
    assert "Raise the IKE daemon's log level for the capture window" in log
    assert "Restore the IKE daemon's log level" in log
    assert "Remove every netdoctor-trace rule" in log
