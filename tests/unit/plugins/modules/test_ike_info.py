# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ike_info end to end in-process: a fake gateway root (its /proc, /etc and the VICI socket) and the
commands replayed from recorded real outputs. Live daemons are in tests/lab/test_ike_*.py."""

from __future__ import annotations

import binascii
import json
import os
import socket
import threading

import pytest

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _ike_host
from ansible_collections.netdoctor.ipsec.plugins.modules import ike_info
from ansible_collections.netdoctor.ipsec.tests.unit.cases import fixture_text
from ansible_collections.netdoctor.ipsec.tests.unit.module_runner import run_module

SALT = "module-test-salt"
UDP = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
       "  1: 00000000:01F4 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1111 2 0 0\n"
       "  2: 00000000:1194 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 2222 2 0 0\n"
       "  3: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3333 2 0 0\n")
IP_ADDR = ("2: wan0    inet 198.51.100.22/24 scope global wan0\\       valid_lft forever preferred_lft forever\n"
           "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n")


ISAKMP_LL = (
    "Source                                        Destination                                   "
    "Cookies                           ST S  V E Created             Phase2\n"
    "192.1.2.45.500                                192.1.2.23.500                                "
    "359f8de96b03a305:5a864a2a495c5835  9 I 10 A 2014-06-02 15:37:52      1\n")


def gateway(root, process=None, sockets=(1111, 2222), files=None):
    (root / "proc/net").mkdir(parents=True)
    (root / "proc/net/udp").write_text(UDP)
    if process:
        pid = root / "proc/4242"
        (pid / "fd").mkdir(parents=True)
        (pid / "comm").write_text(process + "\n")
        for number, inode in enumerate(sockets):
            os.symlink("socket:[%d]" % inode, pid / "fd" / str(number + 3))
    for rel, text in (files or {}).items():
        path = root / rel.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def fake_root(monkeypatch, tmp_path):
    root = tmp_path / "gw"
    real = _ike_host.HostView
    monkeypatch.setattr(_ike_host, "HostView", lambda _root="/": real(str(root)))
    return root


def call(cmd, out, rc=0, err=""):
    return {"command": ["/usr/sbin/" + cmd[0]] + cmd[1:], "rc": rc, "out": out, "err": err}


def no_secret_leaks(result, *secrets):
    text = json.dumps(result)
    for secret in secrets:
        assert secret not in text


def test_libreswan_gateway(monkeypatch, capsys, fake_root):
    gateway(fake_root, "pluto", files={
        "/etc/ipsec.conf": "config setup\n\nconn site\n\tauthby=secret\n\tleft=198.51.100.22\n\tleftid=@gw-b.lab\n"
                           "\tleftsubnet=10.2.0.0/24\n\tright=198.51.100.21\n\trightid=@gw-a.lab\n\trightsubnet=10.1.0.0/24\n"
                           "\tike=aes256-sha2_256;modp2048\n\tesp=aes_gcm256;modp2048\n\tauto=add\n",
        "/etc/ipsec.secrets": '@gw-a.lab @gw-b.lab : PSK "module-test-secret-1"\n'})
    result = run_module(monkeypatch, capsys, ike_info.main, {"fingerprint_salt": SALT}, [
        call(["whack", "--status"], fixture_text("libreswan/whack_status_4_10_ike_only.txt")),
        call(["whack", "--trafficstatus"], ""),
        call(["ip", "-o", "addr", "show"], IP_ADDR),
    ])
    ike = result["ike"]
    assert result["changed"] is False and ike["daemon"] == "libreswan" and ike["version"] == "4.10"
    assert ike["running"] is True and ike["pid"] == 4242
    assert ike["listening"] == {"udp_500": True, "udp_4500": True, "sockets": [
        {"address": "0.0.0.0", "port": 500, "family": 4}, {"address": "0.0.0.0", "port": 4500, "family": 4}]}
    (conn,) = ike["connections"]
    assert conn["source"] == "daemon+config" and conn["loaded"] is True and conn["start_action"] == "none"
    assert conn["psk"]["match"] == "exact" and conn["psk_fingerprint"].startswith("hmac-sha256:")
    assert conn["esp_proposals"][0]["dh"] == ["MODP_2048"]
    assert ike["sas"][0]["established"] is True and ike["warnings"] == [] and ike["errors"] == []
    assert ike["sources"] == ["command:whack --status", "file:/etc/ipsec.conf", "file:/etc/ipsec.secrets"]
    no_secret_leaks(result, "module-test-secret-1")


def test_strongswan_over_swanctl_when_vici_is_missing(monkeypatch, capsys, fake_root):
    swanctl = fixture_text("strongswan/swanctl_conf_rw_psk_fqdn_moon.conf")
    gateway(fake_root, "charon", files={"/etc/swanctl/swanctl.conf": swanctl})
    conns = ('list-conn event {rw-carol {local_addrs=[192.168.0.1] remote_addrs=[192.168.0.100] version=IKEv1 '
             'local-1 {id=moon.strongswan.org class=pre-shared key} remote-1 {id=carol@strongswan.org class=pre-shared key} '
             'children {net {mode=TUNNEL local-ts=[10.1.0.0/16] remote-ts=[dynamic]}}}}\n')
    result = run_module(monkeypatch, capsys, ike_info.main, {"fingerprint_salt": SALT}, [
        call(["swanctl", "--list-conns", "--raw"], conns),
        call(["swanctl", "--list-sas", "--raw", "--noblock"], ""),
        call(["swanctl", "--version"], "strongSwan 5.9.8 swanctl\n"),
    ])
    ike = result["ike"]
    assert ike["daemon"] == "strongswan" and any("no VICI socket found" in w for w in ike["warnings"])
    assert ike["sources"] == ["command:swanctl --raw", "file:/etc/swanctl/swanctl.conf"]
    carol, dave = ike["connections"]
    assert carol["name"] == "rw-carol" and carol["source"] == "daemon+config" and carol["ike_proposals"][0]["dh"] == ["CURVE_25519"]
    assert carol["psk"]["secret"] == "ike-carol"
    assert dave["loaded"] is False
    assert "connection 'rw-dave' is configured but not loaded in the daemon" in ike["warnings"]
    no_secret_leaks(result, "FpZAZqEN6Ti9sqt4ZP5EWcqx", "jVzONCF02ncsgiSlmIXeqhGN")


def test_strongswan_over_vici(monkeypatch, capsys, fake_root):
    gateway(fake_root, "charon")
    (fake_root / "run").mkdir()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(fake_root / "run/charon.vici"))
    sock.listen(1)
    stream = binascii.unhexlify(fixture_text("strongswan/vici_session_left.hex").strip())

    def serve():
        conn, _addr = sock.accept()
        with conn:
            conn.sendall(stream)
            conn.settimeout(2)
            try:
                while conn.recv(65536):
                    pass
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        result = run_module(monkeypatch, capsys, ike_info.main, {"vici_socket": "/run/charon.vici"}, [])
    finally:
        thread.join(timeout=5)
        sock.close()
    ike = result["ike"]
    assert ike["version"] == "5.9.8" and ike["sources"] == ["vici:/run/charon.vici"]
    assert ike["connections"][0]["name"] == "site" and ike["connections"][0]["ike_proposals"] is None
    assert ike["sas"][0]["spi_i"] == "0x59e6ad67f8dc3845" and ike["sas"][0]["initiator"] is True


def test_racoon_gateway(monkeypatch, capsys, fake_root):
    gateway(fake_root, "racoon", files={
        "/etc/racoon/racoon.conf": fixture_text("racoon/racoon_conf_aggressive.conf"),
        "/etc/racoon/psk.txt": fixture_text("racoon/psk_wildcard.txt")})
    result = run_module(monkeypatch, capsys, ike_info.main, {"fingerprint_salt": SALT}, [
        call(["racoon", "-V"], "@(#)ipsec-tools 0.8.2 (http://ipsec-tools.sourceforge.net)\n"),
        call(["ip", "-o", "addr", "show"], "2: eth1    inet 192.1.2.45/24 scope global eth1\n"),
        call(["racoonctl", "-ll", "show-sa", "isakmp"], ISAKMP_LL),
        call(["racoonctl", "show-sa", "esp"], fixture_text("racoon/setkey_D_netbsd_racoon.txt")),
        call(["setkey", "-DP"], fixture_text("racoon/setkey_DP_netbsd_racoon.txt")),
    ])
    ike = result["ike"]
    assert ike["daemon"] == "racoon" and ike["version"] == "0.8.2"
    (conn,) = ike["connections"]
    assert conn["local_addrs"] == ["192.1.2.45"] and conn["remote_id"] == "192.1.2.23"
    assert conn["children"][0]["remote_ts"] == ["192.0.2.0/24"] and conn["psk"]["secret"] == "psk.txt:3"
    (sa,) = ike["sas"]
    assert sa["established"] is True and sa["extra"]["exchange"] == "aggressive"
    assert sa["children"][0]["state"] == "mature" and sa["children"][0]["installed"] is True
    no_secret_leaks(result, "ABCDEFGHIJKLMNOPQRSTUVWXYZ1234567890")


def test_no_daemon_and_unreadable_files_are_reported(monkeypatch, capsys, fake_root):
    gateway(fake_root, None, files={"/etc/ipsec.conf": "conn x\n\tleft=1.2.3.4\n\tauto=add\n"})
    (fake_root / "etc/ipsec.secrets").mkdir()
    result = run_module(monkeypatch, capsys, ike_info.main, {"daemons": ["libreswan"]}, [
        call(["whack", "--status"], "", rc=1, err="whack: Pluto is not running (no \"/run/pluto/pluto.ctl\")"),
        call(["ip", "-o", "addr", "show"], ""),
        call(["ipsec", "--version"], "Libreswan 4.10\n"),
    ])
    ike = result["ike"]
    assert ike["running"] is False and ike["version"] == "4.10"
    assert any("Pluto is not running" in w for w in ike["warnings"])
    assert any(w.startswith("ipsec.secrets: cannot read /etc/ipsec.secrets") for w in ike["warnings"])
    assert ike["connections"][0]["loaded"] is None

    empty = run_module(monkeypatch, capsys, ike_info.main, {}, [], binaries={t: None for t in (
        "swanctl", "charon", "pluto", "racoon", "whack", "ipsec", "ip")})
    assert empty["ike"]["daemon"] is None and empty["daemons"] == []
    assert empty["ike"]["errors"] == ["no IKE daemon found: no charon, pluto or racoon process and no configuration"]
