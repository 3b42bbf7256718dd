# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""log_info in-process on a fake gateway root: files, journal JSON, the window, the caps, bad options."""

from __future__ import annotations

import json
import time

import pytest

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _ike_host, _ike_log_sources
from ansible_collections.netdoctor.ipsec.plugins.modules import log_info
from ansible_collections.netdoctor.ipsec.tests.unit.cases import fixture_text
from ansible_collections.netdoctor.ipsec.tests.unit.module_runner import run_module


@pytest.fixture
def fake_root(monkeypatch, tmp_path):
    root = tmp_path / "gw"
    (root / "var/log").mkdir(parents=True)
    (root / "etc").mkdir()
    real = _ike_host.HostView
    monkeypatch.setattr(_ike_host, "HostView", lambda _root="/": real(str(root)))
    return root


def stamp(seconds_ago):
    return time.strftime("%b %e %H:%M:%S", time.localtime(time.time() - seconds_ago))


def test_files_window_and_classification(monkeypatch, capsys, fake_root):
    old = "%s 06[IKE] <2> received proposals unacceptable\n" % stamp(7200)
    recent = "".join("%s %s" % (stamp(30), line.split(" ", 3)[3] + "\n")
                     for line in fixture_text("logs/sw-sw_psk-leftinit_right_charon.log").splitlines())
    (fake_root / "var/log/charon.log").write_text(old + recent)
    syslog = ("%s gw kernel: [1.0] eth0 up\n"
              '%s gw pluto[7]: "site" #1: IKE SA authentication request rejected by peer: AUTHENTICATION_FAILED\n')
    (fake_root / "var/log/syslog").write_text(syslog % (stamp(20), stamp(20)))
    result = run_module(monkeypatch, capsys, log_info.main, {"since": "10m", "journal": "never"}, [])
    assert result["changed"] is False and result["errors"] == []
    assert result["sources"] == ["/var/log/syslog", "/var/log/charon.log"]
    codes = [(e["code"], e["view"], e["daemon"]) for e in result["entries"] if e["code"] in ("AUTHENTICATION_FAILED", "NO_PROPOSAL_CHOSEN")]
    assert ("AUTHENTICATION_FAILED", "local", "strongswan") in codes and ("AUTHENTICATION_FAILED", "remote", "libreswan") in codes
    assert not any(c[0] == "NO_PROPOSAL_CHOSEN" for c in codes), "a line older than the window was returned"
    assert not any("kernel" in e["message"] for e in result["entries"]), "a non-IKE syslog line was returned"
    assert result["counts"]["AUTHENTICATION_FAILED"] == 2
    assert any(e["code"] == "UNKNOWN" for e in result["entries"])
    assert result["entries"][0]["source"] in ("/var/log/charon.log", "/var/log/syslog")


def test_cap_and_unknown_filter(monkeypatch, capsys, fake_root):
    lines = "".join("%s 06[IKE] <1> retransmit %d of request with message ID 0\n" % (stamp(5), n) for n in range(1, 11))
    (fake_root / "var/log/charon.log").write_text(lines + "%s 06[IKE] <1> something odd\n" % stamp(5))
    result = run_module(monkeypatch, capsys, log_info.main, {"journal": "never", "max_lines": 4, "include_unknown": False}, [])
    assert len(result["entries"]) == 4 and result["truncated"] == 6
    assert [e["details"]["count"] for e in result["entries"]] == ["7", "8", "9", "10"]


def test_journal_json(monkeypatch, capsys, fake_root):
    now_us = int(time.time() * 1e6)
    records = [
        {"__REALTIME_TIMESTAMP": str(now_us - 5000000), "SYSLOG_IDENTIFIER": "charon-systemd",
         "MESSAGE": "10[IKE] <site|1> received AUTHENTICATION_FAILED notify error"},
        {"__REALTIME_TIMESTAMP": str(now_us - 4000000), "SYSLOG_IDENTIFIER": "pluto",
         "MESSAGE": list(b'"site" #2: IKE_AUTH response rejected Child SA with TS_UNACCEPTABLE')},
        "not json",
    ]
    out = "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n"
    since = int(time.time()) - 600
    expected = ["-o", "json", "--no-pager", "-q", "--since", "@%d" % since, "-n", "2000"]
    for ident in _ike_log_sources.JOURNAL_IDENTIFIERS:
        expected += ["-t", ident]
    monkeypatch.setattr(time, "time", lambda: since + 600.0)
    result = run_module(monkeypatch, capsys, log_info.main, {"since": "600", "journal": "always"}, [
        {"command": ["/usr/sbin/journalctl"] + expected, "rc": 0, "out": out}])
    assert result["sources"] == ["journal"]
    assert [(e["code"], e["view"], e["daemon"], e["source"]) for e in result["entries"]] == [
        ("AUTHENTICATION_FAILED", "remote", "strongswan", "journal"), ("TS_UNACCEPTABLE", "remote", "libreswan", "journal")]


def test_bad_since_and_missing_files(monkeypatch, capsys, fake_root):
    result = run_module(monkeypatch, capsys, log_info.main, {"since": "yesterday-ish", "journal": "never"}, [])
    assert result["failed"] is True
    assert result["errors"] == ["since='yesterday-ish' is neither a duration (10m), an epoch time nor an ISO 8601 time"]
    result = run_module(monkeypatch, capsys, log_info.main, {"journal": "never", "files": ["/var/log/nothere.log"]}, [])
    assert result["source_warnings"] == ["/var/log/nothere.log does not exist"] and result["entries"] == []


def test_configured_log_files_are_found(fake_root):
    (fake_root / "etc/strongswan.conf").write_text("charon {\n filelog {\n  lab {\n   path = /var/log/lab-charon.log\n  }\n }\n}\n")
    (fake_root / "etc/ipsec.conf").write_text("config setup\n\tlogfile=/var/log/my-pluto.log\n")
    host = _ike_host.HostView()
    assert _ike_log_sources.configured_log_files(host) == {"/var/log/lab-charon.log": "strongswan", "/var/log/my-pluto.log": "libreswan"}


@pytest.mark.parametrize("value, seconds_before", [("90s", 90), ("10m", 600), ("2h", 7200), ("1d", 86400), ("300", 300)])
def test_since_durations(value, seconds_before):
    assert _ike_log_sources.parse_since(value, 1795844400.0) == 1795844400.0 - seconds_before
