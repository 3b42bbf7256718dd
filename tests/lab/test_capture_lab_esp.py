# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The capture module on the UML lab with real kernel ESP, through Ansible on both gateways at once.

Tunnels: a healthy, b with fw-esp (the right gateway's INPUT drops ESP, applied here after the
healthy baseline), c with the left gateway behind the router's NAT (ESP in UDP), d with trunc (the
right gateway expects 96-bit HMAC-SHA-256 ICVs, the left sends 128: the kernel drops and counts). Shows: the paired
timeline per ESP SPI (fw-esp: ESP leaves A and arrives at B, B sends none back), the probe's
symptoms, the decapsulated copies not taken for leaks, how far apart the two captures start
(measured from an ESP stream seen on both sides), and a killed run leaving nothing behind.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import time

import pytest

import capture_lab as cl
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils._pair_captures import pair_captures

HOSTS = [f"{t}_{side}" for t in "abcd" for side in ("left", "right")]
FIGURES = {}


@pytest.fixture(scope="module")
def lab():
    lab = cl.lab_or_skip([{"name": "healthy"}, {"name": "fw-esp applied by the test"}, {"fault": "nat-t"},
                          {"fault": "trunc"}])
    assert lab.exec("b_right", ["iptables-legacy", "-A", "INPUT", "-i", "wan0", "-p", "esp", "-j", "DROP"]).ok
    yield lab
    lab.down()


@pytest.fixture(scope="module")
def captured(lab, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("esp")
    start = time.time() + cl.ARRIVAL_MARGIN
    proc = cl.start_playbook(lab, "tunnel_a:tunnel_b:tunnel_c:tunnel_d", start, 12, out_dir)
    # an ESP stream through tunnel a across the window start: the skew is measured on it
    ping = ["ping", "-q", "-i", "0.01", "-c", "600", "10.1.2.10"]
    stream = cl.at(start - 2, lambda: lab.exec("a_left_host", ping, timeout=60))
    cl.finish_playbook(proc)
    stream.join(60)
    return cl.results(out_dir, HOSTS)


def paired(captured, tunnel):
    return pair_captures(captured[f"{tunnel}_left"], captured[f"{tunnel}_right"], ("left", "right"))


def test_healthy_esp_both_ways_and_probe_works(captured):
    left, right = captured["a_left"], captured["a_right"]
    assert [(r["type"], r["status"]) for r in left["probe"]["results"]] == [("icmp", "ok"), ("icmp", "ok"), ("tcp", "connected")]
    result = paired(captured, "a")
    assert {e["verdict"] for e in result["esp"]} == {"delivered"} and len(result["esp"]) == 2
    assert all(e["answered"] for e in result["esp"])
    for side in (left, right):
        clear = side["summary"]["cleartext"]
        assert clear["outbound_leak"]["packets"] == 0  # the decapsulated copies are not leaks
        assert clear["inbound_decapsulated"]["packets"] > 0
        assert clear["inner"]["packets"] > 0
        assert side["files"][0]["mode"] == "0600" and side["files"][0]["state"] == "removed"


def test_fw_esp_esp_arrives_and_nothing_comes_back(captured):
    left, right = captured["b_left"], captured["b_right"]
    assert [(r["type"], r["status"]) for r in left["probe"]["results"]] == [("icmp", "no_reply"), ("icmp", "no_reply"), ("tcp", "timeout")]
    result = paired(captured, "b")
    assert len(result["esp"]) == 1, result["esp"]
    flow = result["esp"][0]
    assert (flow["from"], flow["to"], flow["verdict"], flow["answered"]) == ("left", "right", "delivered", False)
    assert flow["sent"] == flow["received"] >= 7  # 6 echo requests and at least one SYN
    assert not [e for e in right["summary"]["esp"] if e["direction"] == "out"]
    assert right["summary"]["cleartext"]["inner"]["packets"] == 0  # nothing reaches B's LAN
    delivered = [row for row in result["timeline"] if row["kind"] == "esp"]
    assert delivered and all(row["from"] == "left" and row["delivered"] for row in delivered)


def test_nat_t_esp_in_udp(captured):
    result = paired(captured, "c")
    assert {e["verdict"] for e in result["esp"]} == {"delivered"}
    for side in (captured["c_left"], captured["c_right"]):
        assert {e["encapsulation"] for e in side["summary"]["esp"]} == {"udp"}
    assert [r["status"] for r in captured["c_left"]["probe"]["results"]] == ["ok", "ok", "connected"]


def test_trunc_the_kernel_counts_what_it_drops(captured):
    left, right = captured["d_left"], captured["d_right"]
    assert [(r["type"], r["status"]) for r in left["probe"]["results"]] == [("icmp", "no_reply"), ("icmp", "no_reply"), ("tcp", "timeout")]
    result = paired(captured, "d")
    assert [(e["from"], e["verdict"], e["answered"]) for e in result["esp"]] == [("left", "delivered", False)]
    delta = right["xfrm_stat"]["delta"]
    assert delta.get("XfrmInStateProtoError", 0) >= result["esp"][0]["received"], delta
    assert left["xfrm_stat"]["delta"].get("XfrmInStateProtoError", 0) == 0


def test_both_captures_start_together(captured):
    result = paired(captured, "a")
    skew = result["start_skew"]
    sent = sorted(e["t"] for e in captured["a_left"]["summary"]["events"] if e["kind"] == "esp" and e["dir"] == "out")
    gaps = [later - earlier for earlier, later in zip(sent, sent[1:])][:100]
    FIGURES.update(stream_interval_ms=round(statistics.median(gaps) * 1000, 1),
                   first_stream_packet_after_start_ms=round((sent[0] - captured["a_left"]["window"]["start"]) * 1000, 1),
                   listening_before_start_s={h: round(r["window"]["start"] - r["window"]["listening_at"], 3)
                                             for h, r in captured.items()})
    FIGURES.update(skew_packets_ms=skew["packets"]["ms"], skew_declared_ms=skew["declared_ms"],
                   clock_offset_s=result["clock_offset"]["seconds"],
                   late_ms={host: captured[host]["window"]["late_ms"] for host in captured})
    print("capture start figures:", json.dumps(FIGURES))
    assert skew["packets"]["samples"] == 2
    assert abs(skew["packets"]["ms"]) <= 50
    assert abs(skew["declared_ms"]) <= 50
    assert abs(result["clock_offset"]["seconds"]) < 0.05


@pytest.mark.parametrize("how", ["SIGINT", "SIGKILL"])
def test_killed_run_leaves_nothing(lab, tmp_path, how):
    duration = 40
    start = time.time() + cl.ARRIVAL_MARGIN
    proc = cl.start_playbook(lab, "tunnel_a", start, duration, tmp_path)
    time.sleep(max(0.0, start + 2 - time.time()))
    during = cl.capture_leftovers(lab, "a_left") + cl.capture_leftovers(lab, "a_right")
    assert "tcpdump" in during and "/tmp/netdoctor-capture-" in during, during
    killed = time.time()
    os.killpg(proc.pid, getattr(signal, how))
    proc.wait(30)
    # Ctrl-C reaches the module and it cleans up at once. SIGKILL of the controller leaves an
    # SSH master holding the session open, so the module cannot notice: it ends at its bound.
    bound = start + duration + 0.5 + 15 if how == "SIGKILL" else killed + 10
    left = right = "?"
    while time.time() < bound + 5:
        left, right = cl.capture_leftovers(lab, "a_left"), cl.capture_leftovers(lab, "a_right")
        if not left and not right:
            break
        time.sleep(1)
    FIGURES[f"cleanup_after_{how}_s"] = round(time.time() - killed, 1)
    print("cleanup figures:", json.dumps(FIGURES))
    assert (left, right) == ("", ""), (left, right)
    assert time.time() <= bound + 5
