# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""xfrm_info end to end in-process: reader choice and fallback, errors, keys, on recorded kernel output."""

from __future__ import annotations

import binascii
import errno
import json
import os
import time

import pytest
from ansible.module_utils import _internal as ansible_internal

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _xfrm_netlink, _xfrm_stat
from ansible_collections.netdoctor.ipsec.plugins.modules import xfrm_info
from ansible_collections.netdoctor.ipsec.tests.unit.cases import FIXTURES, fixture_text
from ansible_collections.netdoctor.ipsec.tests.unit.module_runner import run_module

IP = "/usr/sbin/ip"
STATE_CMD = [IP, "-s", "-s", "xfrm", "state"]
POLICY_CMD = [IP, "-s", "-s", "xfrm", "policy"]
ADDR_CMD = [IP, "-o", "addr", "show"]
ADDR_TEXT = (
    "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n"
    "2: wan0    inet 198.51.100.1/24 scope global wan0\\       valid_lft forever preferred_lft forever\n"
    "2: wan0    inet6 fe80::1/64 scope link \\       valid_lft forever preferred_lft forever\n"
)
KEY = "000102030405060708090a0b0c0d0e0f"


@pytest.fixture(autouse=True)
def recorded_host(monkeypatch, tmp_path):
    # Controller-side tests in the same process flip this, and module warnings then go to the
    # display instead of the result.
    monkeypatch.setattr(ansible_internal, "is_controller", False)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    stat = tmp_path / "xfrm_stat"
    stat.write_text(fixture_text("xfrm/uml_xfrm_stat.txt"))
    monkeypatch.setattr(_xfrm_stat, "XFRM_STAT_PATH", str(stat))
    monkeypatch.setattr(_xfrm_netlink, "local_addresses", lambda: ["127.0.0.1", "198.51.100.1", "::1"])
    # the recording namespace's interfaces, not this host's
    monkeypatch.setattr(_xfrm_netlink, "InterfaceNames", lambda: {1: "lo", 2: "dummy0"}.get)
    yield
    monkeypatch.undo()
    time.tzset()


def recorded_dump(prefix):
    """A stand-in for the socket: the netlink payloads recorded on the lab kernel."""

    def dump(protocol, msg_type, payload=b"", reply_type=None):
        table = "state" if msg_type == _xfrm_netlink.XFRM_MSG_GETSA else "policy"
        text = fixture_text("xfrm/%s_netlink_%s.hex" % (prefix, table))
        return [binascii.unhexlify(line) for line in text.split()]

    return dump


def warning_texts(result):
    """ansible-core 2.19+ returns warnings as structured summaries."""
    return [w if isinstance(w, str) else w["event"]["msg"] for w in result.get("warnings", [])]


def refused(*args, **kwargs):
    raise _xfrm_netlink.NetlinkError("netlink dump 18 failed: Operation not permitted", errno.EPERM)


def text_calls(prefix):
    return [
        {"command": STATE_CMD, "out": fixture_text("xfrm/%s_ip_ss_state.txt" % prefix)},
        {"command": POLICY_CMD, "out": fixture_text("xfrm/%s_ip_ss_policy.txt" % prefix)},
    ]


def test_netlink_and_text_backends_return_the_same_result(monkeypatch, capsys):
    monkeypatch.setattr(_xfrm_netlink, "dump", recorded_dump("uml_manual"))
    args = {"fingerprint_salt": "unit-test-salt-one"}
    netlink = run_module(monkeypatch, capsys, xfrm_info.main, args)
    text = run_module(monkeypatch, capsys, xfrm_info.main, dict(args, backend="text"), text_calls("uml_manual"))
    assert netlink["backend"] == "netlink" and text["backend"] == "text"
    assert netlink["xfrm"] == text["xfrm"]
    assert len(netlink["xfrm"]["states"]) == 25 and len(netlink["xfrm"]["policies"]) == 12
    assert netlink["xfrm"]["stat"]["XfrmOutNoStates"] == 4
    assert netlink["changed"] is False and netlink["errors"] == [] and netlink["unparsed"] == []
    assert netlink["local_addresses"] == ["127.0.0.1", "198.51.100.1", "::1"]


def test_auto_falls_back_to_text_and_says_why(monkeypatch, capsys):
    monkeypatch.setattr(_xfrm_netlink, "dump", refused)
    result = run_module(monkeypatch, capsys, xfrm_info.main, {}, text_calls("uml_traffic_gw_a"))
    assert result["backend"] == "text"
    assert any("netlink state dump not usable" in w and "Operation not permitted" in w for w in warning_texts(result))
    assert [s["direction"] for s in result["xfrm"]["states"]] == ["in", "out"]
    assert result["errors"] == []


def test_forced_netlink_reports_the_error_and_still_reads_the_rest(monkeypatch, capsys):
    monkeypatch.setattr(_xfrm_netlink, "dump", refused)
    result = run_module(monkeypatch, capsys, xfrm_info.main, {"backend": "netlink"})
    assert result["xfrm"]["states"] == [] and result["xfrm"]["policies"] == []
    assert len(result["errors"]) == 2 and "Operation not permitted" in result["errors"][0]
    assert result["xfrm"]["stat"]["XfrmInError"] == 0


def test_missing_ip_and_failing_ip_are_errors_not_tracebacks(monkeypatch, capsys):
    monkeypatch.setattr(_xfrm_netlink, "dump", refused)
    result = run_module(monkeypatch, capsys, xfrm_info.main, {"backend": "text"}, binaries={"ip": None})
    assert result["errors"][0].startswith("'ip' is not installed")
    calls = [{"command": STATE_CMD, "rc": 2, "err": "RTNETLINK answers: Operation not permitted\n"},
             {"command": POLICY_CMD, "out": ""}]
    result = run_module(monkeypatch, capsys, xfrm_info.main, {"backend": "text"}, calls)
    assert result["errors"] == ["'ip -s -s xfrm state' failed with rc=2: RTNETLINK answers: Operation not permitted"]


def test_local_addresses_from_ip_when_rtnetlink_fails(monkeypatch, capsys):
    monkeypatch.setattr(_xfrm_netlink, "local_addresses", refused)
    monkeypatch.setattr(_xfrm_netlink, "dump", recorded_dump("uml_traffic_gw_b"))
    calls = [{"command": ADDR_CMD, "out": ADDR_TEXT}]
    result = run_module(monkeypatch, capsys, xfrm_info.main, {"local_addresses": ["203.0.113.9"], "gather": ["states"]}, calls)
    assert result["local_addresses"] == ["127.0.0.1", "198.51.100.1", "fe80::1", "203.0.113.9"]
    assert result["xfrm"]["policies"] == [] and result["xfrm"]["stat"] is None


def test_keys_only_with_include_keys(monkeypatch, capsys):
    monkeypatch.setattr(_xfrm_netlink, "dump", recorded_dump("uml_traffic_gw_a"))
    hidden = run_module(monkeypatch, capsys, xfrm_info.main, {"fingerprint_salt": "unit-test-salt-two"})
    assert KEY not in json.dumps(hidden)
    assert hidden["xfrm"]["states"][1]["key_fingerprints"]["enc"].startswith("hmac-sha256:")
    shown = run_module(monkeypatch, capsys, xfrm_info.main, {"fingerprint_salt": "unit-test-salt-two", "include_keys": True})
    assert shown["xfrm"]["states"][1]["raw_keys"]["enc"] == "0x" + KEY
    assert shown["xfrm"]["states"][1]["key_fingerprints"] == hidden["xfrm"]["states"][1]["key_fingerprints"]


def test_missing_xfrm_stat_is_a_warning(monkeypatch, capsys):
    monkeypatch.setattr(_xfrm_netlink, "dump", recorded_dump("uml_traffic_gw_a"))
    monkeypatch.setattr(_xfrm_stat, "XFRM_STAT_PATH", os.path.join(FIXTURES, "does-not-exist"))
    result = run_module(monkeypatch, capsys, xfrm_info.main, {"gather": ["stat"]})
    assert result["xfrm"]["stat"] is None
    assert any("kernel keeps no xfrm statistics" in w for w in warning_texts(result))


def test_return_documents_every_record_key():
    """RETURN is the contract the diagnosis codes against: every key of a record is in it."""
    import yaml  # pylint: disable=import-outside-toplevel
    from ansible_collections.netdoctor.ipsec.plugins.module_utils import _xfrm_record  # pylint: disable=import-outside-toplevel

    documented = yaml.safe_load(xfrm_info.RETURN)["xfrm"]["contains"]
    states, policies = documented["states"]["contains"], documented["policies"]["contains"]
    assert set(states) == (set(_xfrm_record.new_state()) - {"_keys"}) | {"raw_keys"}
    assert set(policies) == set(_xfrm_record.new_policy())
    assert set(policies["tmpls"]["contains"]) == set(_xfrm_record.new_template())
    assert set(states["selector"]["contains"]) == set(_xfrm_record.new_selector())
    assert set(states["lifetime"]["contains"]) == set(_xfrm_record.new_lifetime())
    assert set(states["current"]["contains"]) == set(_xfrm_record.new_current())
