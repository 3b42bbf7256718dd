# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The capture module for real in two host network namespaces: real tcpdump and AF_PACKET captures,
real charon IKE, real probes, and the module killed in every way while it captures.

The host kernel has no ESP, so the ESP parts run in test_capture_lab.py on the UML lab.
"""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import tempfile
import time

import pytest

import capture_netns as cn
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils._pair_captures import pair_captures

pytestmark = pytest.mark.skipif(cn.usable() is not None, reason=str(cn.usable()))


@pytest.fixture
def pair():
    with cn.NetnsPair() as netns:
        yield netns


def args_for(ns, **extra):
    args = {"peer_addresses": [cn.WAN[cn.PEER[ns]]], "local_subnets": [cn.SUBNET[ns]],
            "remote_subnets": [cn.SUBNET[cn.PEER[ns]]]}
    args.update(extra)
    return args


def run_both(tmp_path, args_a, args_b):
    procs = [cn.run_module_in(ns, cn.module_args_file(tmp_path, ns, args))
             for ns, args in ((cn.A, args_a), (cn.B, args_b))]
    return procs


def result_of(proc, timeout=90):
    out, err = proc.communicate(timeout=timeout)
    assert out, err
    return json.loads(out)


def leftovers(pids=()):
    alive = [pid for pid in pids if os.path.exists(f"/proc/{pid}") and "zombie" not in open(f"/proc/{pid}/status").read().lower()]
    return alive, glob.glob(os.path.join(tempfile.gettempdir(), "netdoctor-capture-*"))


def test_paired_capture_with_probe_over_clear_routes(pair, tmp_path):
    pair.clear_routes()
    start = time.time() + 3
    probe = {"source": cn.LAN[cn.A], "destination": cn.LAN[cn.B], "icmp_sizes": [56, 1400, 1600], "count": 2,
             "tcp_port": 22, "tcp_timeout": 1}
    procs = run_both(tmp_path, args_for(cn.A, start_at=start, duration=5, probe=probe),
                     args_for(cn.B, start_at=start, duration=5))
    a, b = (result_of(p) for p in procs)
    for result in (a, b):
        assert result["changed"] is True and result["stop_reason"] == "duration"
        assert result["window"]["late_ms"] == 0.0
        assert result["files"][0]["mode"] == "0600" and result["files"][0]["state"] == "removed"
        assert not os.path.exists(result["files"][0]["path"])
        assert result["processes"][0]["exit_code"] == 0 and result["processes"][0]["stats"]["dropped_by_kernel"] == 0
        assert result["xfrm_stat"]["available"] is True
    statuses = [(r["type"], r.get("size"), r["status"]) for r in a["probe"]["results"]]
    assert statuses == [("icmp", 56, "ok"), ("icmp", 1400, "ok"), ("icmp", 1600, "mtu_exceeded"), ("tcp", None, "refused")]
    assert a["probe"]["results"][2]["attempts"][0]["result"] == "message_too_long"
    assert a["probe"]["results"][3]["path_works"] is True
    # no IPsec here: A's requests leave in clear (a leak), B sees them arrive unprotected
    assert a["summary"]["cleartext"]["outbound_leak"]["packets"] == 5  # 4 echo requests + 1 SYN
    assert b["summary"]["cleartext"]["inbound_unprotected"]["packets"] == 5
    paired = pair_captures(a, b)
    clear = {f["from"]: f for f in paired["flows"] if f["kind"] == "clear"}
    assert clear["a"]["sent"] == clear["a"]["received"] == 5
    assert abs(paired["clock_offset"]["seconds"]) < 0.005
    assert abs(a["window"]["start"] - b["window"]["start"]) < 0.05


def test_ike_paired_healthy_and_fw_ike(pair, tmp_path):
    pair.charon(cn.A)
    pair.charon(cn.B)
    for fault in ("none", "fw-ike"):
        if fault == "fw-ike":
            pair.exec(cn.B, "iptables-legacy", "-A", "INPUT", "-p", "udp", "-m", "multiport", "--dports", "500,4500",
                      "-j", "DROP")
        start = time.time() + 3
        procs = run_both(tmp_path, args_for(cn.A, start_at=start, duration=7), args_for(cn.B, start_at=start, duration=7))
        time.sleep(start + 1 - time.time())
        pair.swanctl(cn.A, "--initiate", "--child", "net", "--timeout", "4", check=False)
        a, b = (result_of(p) for p in procs)
        paired = pair_captures(a, b, ("gw_a", "gw_b"))
        ike = {entry["from"]: entry for entry in paired["ike"]}
        if fault == "none":
            assert ike["gw_a"]["verdict"] == "answered"
            assert a["summary"]["ike"]["sas"][0]["exchanges"][:2] == ["IKE_SA_INIT", "IKE_AUTH"]
            assert a["summary"]["ike"]["counts"]["unanswered_requests"] == 0
        else:
            assert ike["gw_a"]["verdict"] == "received_not_answered"
            assert a["summary"]["ike"]["counts"]["retransmissions"] >= 1
            assert a["summary"]["ike"]["counts"]["in"] == 0
            assert ike["gw_a"]["requests_received"] == ike["gw_a"]["requests_sent"]
        pair.swanctl(cn.A, "--terminate", "--ike", "site", "--force", check=False)


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "SIGINT", "controller-gone"])
def test_killed_run_leaves_nothing_behind(pair, tmp_path, how):
    before = leftovers()[1]
    proc = cn.run_module_in(cn.A, cn.module_args_file(tmp_path, "kill", args_for(cn.A, duration=60)))
    deadline = time.time() + 10
    tcpdumps = []
    while time.time() < deadline and not tcpdumps:
        tcpdumps = [int(p) for p in subprocess.run(["pgrep", "-P", str(proc.pid), "tcpdump"], capture_output=True, check=False,
                                                   text=True).stdout.split()]
        time.sleep(0.1)
    assert tcpdumps, "the capture did not start"
    assert len(leftovers()[1]) == len(before) + 1
    time.sleep(1)
    stopped = time.time()
    if how == "controller-gone":
        proc.stdout.close()  # the reader of the module's stdout goes away, as when Ansible dies
    else:
        proc.send_signal(getattr(signal, how))
    proc.wait(timeout=15)
    while time.time() - stopped < 10 and (leftovers(tcpdumps)[0] or leftovers()[1] != before):
        time.sleep(0.05)
    alive, dirs = leftovers(tcpdumps)
    assert alive == [] and dirs == before, (how, alive, dirs)
    assert time.time() - stopped < 6


def test_capture_ends_at_its_bound(pair, tmp_path):
    start = time.time() + 2
    proc = cn.run_module_in(cn.A, cn.module_args_file(tmp_path, "bound", args_for(cn.A, start_at=start, duration=2)))
    result = result_of(proc)
    ended = time.time()
    assert result["stop_reason"] == "duration"
    assert result["window"]["stopped_at"] - (start + 2) < 1.0
    pid = result["processes"][0]["pid"]
    assert not os.path.exists(f"/proc/{pid}")
    assert ended - (start + 2) < 5


def test_af_packet_backend_and_probe_failures(pair, tmp_path):
    """No route between the inner subnets: the probe says so; the AF_PACKET capture keeps directions."""
    start = time.time() + 2
    probe = {"source": cn.LAN[cn.A], "destination": cn.LAN[cn.B], "icmp_sizes": [56], "count": 1, "tcp_port": 22,
             "tcp_timeout": 1}
    proc = cn.run_module_in(cn.A, cn.module_args_file(tmp_path, "af", args_for(
        cn.A, start_at=start, duration=4, backend="af_packet", keep_pcap=True, probe=probe)))
    result = result_of(proc)
    try:
        assert result["backend"] == "af_packet"
        assert result["files"][0]["state"] == "kept" and os.stat(result["files"][0]["path"]).st_mode & 0o777 == 0o600
        icmp, tcp = result["probe"]["results"]
        assert icmp["status"] == "send_failed" and "unreachable" in icmp["attempts"][0]["msg"]
        assert tcp["status"] == "net_unreachable" and tcp["path_works"] is False
    finally:
        for entry in result.get("files", []):
            os.unlink(entry["path"])
        os.rmdir(result["directory"])
    pair.clear_routes()
    start = time.time() + 2
    probe["icmp_sizes"] = [56, 300]
    proc = cn.run_module_in(cn.A, cn.module_args_file(tmp_path, "af2", args_for(
        cn.A, start_at=start, duration=4, backend="af_packet", probe=probe)))
    result = result_of(proc)
    assert result["summary"]["link_types"] == {"LINUX_SLL": 6}
    assert result["summary"]["cleartext"]["outbound_leak"]["packets"] == 3  # 2 echo requests + 1 SYN
    assert result["summary"]["cleartext"]["inbound_unprotected"]["packets"] == 3  # 2 replies + 1 RST
    assert [r["status"] for r in result["probe"]["results"]] == ["ok", "ok", "refused"]


def test_check_mode_leaves_nothing(pair, tmp_path):
    before = leftovers()[1]
    proc = cn.run_module_in(cn.A, cn.module_args_file(tmp_path, "check", dict(args_for(cn.A), _ansible_check_mode=True)))
    result = result_of(proc)
    assert result["check_mode"] is True and result["plan"]["interfaces"] == ["wan0"]
    assert leftovers()[1] == before
    assert subprocess.run(["pgrep", "-f", "tcpdump -i wan0"], capture_output=True, check=False).returncode == 1


@pytest.mark.parametrize("python", ["python2.7", "python3.6"])
def test_old_gateway_pythons_capture_for_real(pair, tmp_path, python):
    if not (cn.OLD_PYTHONS / python).exists() or not cn.OLD_ANSIBLE.exists():
        pytest.skip(f"{python} or ansible-core 2.16 not bootstrapped")
    cn.old_python_tree(tmp_path)
    pair.clear_routes()
    for backend in ("tcpdump", "af_packet"):
        probe = {"source": cn.LAN[cn.A], "destination": cn.LAN[cn.B], "icmp_sizes": [56, 1600], "count": 1,
                 "tcp_port": 22, "tcp_timeout": 1, "delay": 0.5}
        args_file = cn.module_args_file(tmp_path, backend, args_for(cn.A, duration=3, backend=backend, probe=probe))
        done = cn.run_module_old(cn.A, python, tmp_path, args_file)
        result = json.loads(done.stdout)
        assert result["backend"] == backend, done.stderr
        assert [r["status"] for r in result["probe"]["results"]] == ["ok", "mtu_exceeded", "refused"]
        assert result["summary"]["cleartext"]["outbound_leak"]["packets"] == 2
        assert result["files"][0]["state"] == "removed" and not os.path.exists(result["files"][0]["path"])


def test_capture_that_cannot_start_fails_and_cleans_up(pair, tmp_path):
    before = leftovers()[1]
    proc = cn.run_module_in(cn.A, cn.module_args_file(tmp_path, "nodev", args_for(cn.A, interfaces=["nosuch0"], duration=3)))
    result = result_of(proc)
    assert result.get("failed") is True, result.get("warnings")
    assert "tcpdump on nosuch0 exited with 1" in result["msg"] and "nothing was left behind" in result["msg"]
    assert leftovers()[1] == before


def test_ipv6_capture_and_probe(pair, tmp_path):
    pair.clear_routes()
    start = time.time() + 3
    probe = {"source": cn.LAN6[cn.A], "destination": cn.LAN6[cn.B], "icmp_sizes": [56, 1400, 1600], "count": 2,
             "tcp_port": 22, "tcp_timeout": 1}
    common = {"start_at": start, "duration": 5}
    procs = run_both(
        tmp_path,
        {"peer_addresses": [cn.WAN6[cn.B]], "local_subnets": [cn.SUBNET6[cn.A]], "remote_subnets": [cn.SUBNET6[cn.B]],
         "probe": probe, **common},
        {"peer_addresses": [cn.WAN6[cn.A]], "local_subnets": [cn.SUBNET6[cn.B]], "remote_subnets": [cn.SUBNET6[cn.A]],
         **common})
    a, b = (result_of(p) for p in procs)
    assert [(r["type"], r["status"]) for r in a["probe"]["results"]] == [
        ("icmp", "ok"), ("icmp", "ok"), ("icmp", "mtu_exceeded"), ("tcp", "refused")]
    assert a["probe"]["results"][0]["ip_length"] == 56 + 8 + 40 and a["probe"]["results"][0]["path_mtu"] == 1500
    assert a["plan"]["filter"].startswith("(host 2001:db8:cafe::2 and (udp port 500 or udp port 4500 or ip6 proto 50")
    assert a["summary"]["cleartext"]["outbound_leak"]["packets"] == 5
    assert b["summary"]["cleartext"]["inbound_unprotected"]["packets"] == 5
    paired = pair_captures(a, b)
    assert sorted((f["from"], f["sent"], f["received"]) for f in paired["flows"] if f["kind"] == "clear") == [
        ("a", 5, 5), ("b", 5, 5)]
