# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""capture module: planning, check mode and option errors with replayed commands.

Real captures (tcpdump, AF_PACKET, probes, kill tests) run in tests/lab/test_capture_netns.py and
tests/lab/test_capture_lab.py; these tests never start a capture.
"""

from __future__ import annotations

import glob
import time
import tempfile

import pytest
from ansible.module_utils import _internal as ansible_internal

from ansible_collections.netdoctor.ipsec.plugins.modules import capture
from ansible_collections.netdoctor.ipsec.tests.unit.module_runner import run_module

IP = "/usr/sbin/ip"
TCPDUMP = "/usr/sbin/tcpdump"
ROUTE = "203.0.113.2 dev wan0 src 203.0.113.1 uid 0 \\    cache \n"
ADDRS = (
    "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n"
    "2: wan0    inet 203.0.113.1/24 scope global wan0\\       valid_lft forever preferred_lft forever\n"
    "3: lan0    inet 10.1.0.1/24 scope global lan0\\       valid_lft forever preferred_lft forever\n"
)
HELP = "tcpdump version 4.99.3\nUsage: tcpdump [-AbdDefhHIJKlLnNOpqStuUvxX#] ... [ --immediate-mode ] ...\n"


@pytest.fixture(autouse=True)
def replayed(monkeypatch):
    monkeypatch.setattr(ansible_internal, "is_controller", False)


def planning_calls(route=ROUTE):
    return [
        {"command": [IP, "-o", "route", "get", "203.0.113.2"], "out": route},
        {"command": [IP, "-o", "addr", "show"], "out": ADDRS},
        {"command": [TCPDUMP, "--help"], "rc": 0, "out": "", "err": HELP},
    ]


def temp_dirs():
    return set(glob.glob(tempfile.gettempdir() + "/netdoctor-capture-*"))


def test_check_mode_plans_and_does_nothing(monkeypatch, capsys):
    before = temp_dirs()
    result = run_module(monkeypatch, capsys, capture.main, {
        "peer_addresses": ["203.0.113.2"], "local_subnets": ["10.1.0.0/24"], "remote_subnets": ["10.2.0.0/24"],
        "inner_interfaces": ["lan0"], "start_at": time.time() + 60, "duration": 5,
        "probe": {"source": "10.1.0.1", "destination": "10.2.0.1", "tcp_port": 22}, "_ansible_check_mode": True,
    }, planning_calls())
    assert result["changed"] is True and result["check_mode"] is True
    plan = result["plan"]
    assert plan["backend"] == "tcpdump"
    assert plan["interfaces"] == ["wan0", "lan0"] and plan["roles"] == {"wan0": "outer", "lan0": "inner"}
    assert plan["filter"].startswith("(host 203.0.113.2 and (udp port 500 or udp port 4500 or ip proto 50")
    assert "(net 10.1.0.0/24 and net 10.2.0.0/24)" in plan["filter"]
    assert plan["local_addresses"] == ["10.1.0.1", "127.0.0.1", "203.0.113.1"]
    assert plan["probe"]["icmp_sizes"] == [56, 1300] and plan["probe"]["tcp_port"] == 22
    assert [c[:3] for c in plan["commands"]] == [["tcpdump", "-i", "wan0"], ["tcpdump", "-i", "lan0"]]
    assert "files" not in result and "summary" not in result
    assert temp_dirs() == before


def test_start_in_the_past_starts_now_with_a_warning(monkeypatch, capsys):
    result = run_module(monkeypatch, capsys, capture.main, {
        "peer_addresses": ["203.0.113.2"], "start_at": 1000.0, "_ansible_check_mode": True}, planning_calls())
    assert "in the past; starting now" in str(result["warnings"])  # structured warnings in ansible-core 2.19+
    assert result["plan"]["start"] > 1000.0


@pytest.mark.parametrize("args, calls, message", [
    ({"peer_addresses": ["gw-b.example"]}, [], "peer_addresses: 'gw-b.example' is not an IP address"),
    ({"peer_addresses": ["203.0.113.2"], "local_subnets": ["10.1.0.0/33"]}, [], "local_subnets: '10.1.0.0/33' is not an IP network"),
    ({"peer_addresses": ["203.0.113.2"], "start_at": "next tuesday"}, [], "start_at: 'next tuesday' is neither"),
    ({"peer_addresses": ["203.0.113.2"], "duration": 0}, [], "duration must be more than 0"),
    ({"peer_addresses": ["203.0.113.2"], "duration": 4000}, [], "at most 3600 seconds"),
    ({"peer_addresses": ["203.0.113.2"]}, [{"command": [IP, "-o", "route", "get", "203.0.113.2"], "out": "local 203.0.113.2\n"}],
     "no route to the peer 203.0.113.2"),
    ({"peer_addresses": ["203.0.113.2"]}, [{"command": [IP, "-o", "route", "get", "203.0.113.2"], "rc": 2,
                                            "err": "RTNETLINK answers: Network is unreachable"}],
     "'ip -o route get 203.0.113.2' failed with rc=2: RTNETLINK answers: Network is unreachable"),
    ({"peer_addresses": ["203.0.113.2"], "interfaces": ["wan0"], "probe": {"source": "10.1.0.1", "destination": "2001:db8::1"}},
     [{"command": [IP, "-o", "addr", "show"], "out": ADDRS}], "probe.source and probe.destination must be of one address family"),
])
def test_bad_options_fail_clearly(monkeypatch, capsys, args, calls, message):
    result = run_module(monkeypatch, capsys, capture.main, dict(args, _ansible_check_mode=True), calls)
    assert result["failed"] is True
    assert message in result["msg"]
    assert result["msg"].startswith("capture: ")


def test_tcpdump_forced_but_missing(monkeypatch, capsys):
    result = run_module(monkeypatch, capsys, capture.main, {
        "peer_addresses": ["203.0.113.2"], "interfaces": ["wan0"], "backend": "tcpdump", "_ansible_check_mode": True},
        [{"command": [IP, "-o", "addr", "show"], "out": ADDRS}], binaries={"tcpdump": None})
    assert result["failed"] and "backend=tcpdump but tcpdump is not installed" in result["msg"]


@pytest.mark.parametrize("value, expected", [
    (None, 42.0),
    (1795843400.5, 1795843400.5),
    ("1795843400.25", 1795843400.25),
    ("2026-11-28T05:30:00Z", 1795843800.0),
    ("2026-11-28T05:30:00.500Z", 1795843800.5),
    ("2026-11-28 05:30:00+00:00", 1795843800.0),
    ("2026-11-28T05:30:00+02:00", None),
    ("soon", None),
])
def test_start_instant_formats(value, expected):
    assert capture.parse_start(value, 42.0) == expected


def test_an_interface_given_twice_is_captured_once(monkeypatch, capsys):
    result = run_module(monkeypatch, capsys, capture.main, {
        "peer_addresses": ["203.0.113.2"], "interfaces": ["wan0", "wan0"], "inner_interfaces": ["lan0", "wan0", "lan0"],
        "_ansible_check_mode": True}, planning_calls()[1:])
    assert result["plan"]["interfaces"] == ["wan0", "lan0"]
    assert [c[:3] for c in result["plan"]["commands"]] == [["tcpdump", "-i", "wan0"], ["tcpdump", "-i", "lan0"]]
