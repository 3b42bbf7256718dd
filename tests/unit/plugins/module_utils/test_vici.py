# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The VICI client: message encoding, and a real charon's byte stream (recorded through a proxy
socket) replayed over a unix socket; it must decode to what swanctl showed at the same moment."""

from __future__ import annotations

import binascii
import os
import socket
import struct
import threading

import pytest

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _strongswan, _vici
from ansible_collections.netdoctor.ipsec.tests.unit.cases import fixture_text


class ReplayServer:
    """A unix socket that sends ``data`` to the first client and drains what it says."""

    def __init__(self, path: str, data: bytes) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.data = data
        self.received = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _addr = self.sock.accept()
        with conn:
            conn.sendall(self.data)
            conn.settimeout(2)
            try:
                while chunk := conn.recv(65536):
                    self.received += chunk
            except OSError:
                pass

    def close(self) -> None:
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def socket_path(tmp_path):
    return str(tmp_path / "charon.vici")


def test_message_round_trip_keeps_order_lists_and_sections():
    message = {"noblock": "yes", "a": {"b": ["1", "2"], "c": {"d": "é"}}, "empty": []}
    decoded = _vici.decode_message(_vici.encode_message(message))
    assert decoded == message and list(decoded) == ["noblock", "a", "empty"]


def test_replayed_charon_stream_decodes_to_what_swanctl_showed(socket_path):
    stream = binascii.unhexlify(fixture_text("strongswan/vici_session_left.hex").strip())
    server = ReplayServer(socket_path, stream)
    try:
        with _vici.Session(socket_path, timeout=5) as session:
            version = session.request("version")
            conns, _reply = session.streamed("list-conns", "list-conn")
            sas, _reply = session.streamed("list-sas", "list-sa", {"noblock": "yes"})
    finally:
        server.close()
    assert version["daemon"] == "charon" and version["version"] == "5.9.8"
    assert list(conns[0]) == ["site"] and conns[0]["site"]["local-1"]["class"] == "pre-shared key"
    from_vici = _strongswan.sas_from_vici(sas)
    from_swanctl = _strongswan.parse_list_sas_output(fixture_text("strongswan/vici_session_left_list_sas_raw.txt"))["sas"]
    for key in ("name", "state", "spi_i", "spi_r", "local_id", "remote_id", "local_host", "remote_host", "initiator", "proposal"):
        assert from_vici[0][key] == from_swanctl[0][key], key
    assert b"list-sas" in server.received and b"noblock" in server.received


def test_missing_socket_and_refused_connection_are_explained(tmp_path):
    with pytest.raises(_vici.ViciUnavailable, match="does not exist"):
        _vici.Session(str(tmp_path / "nothing.vici"))
    stale = tmp_path / "stale.vici"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(stale))
    sock.close()
    with pytest.raises(_vici.ViciUnavailable, match="refused"):
        _vici.Session(str(stale))


def _packet(ptype, name=None, body=b""):
    data = struct.pack("!B", ptype) + (struct.pack("!B", len(name)) + name if name is not None else b"") + body
    return struct.pack("!I", len(data)) + data


@pytest.mark.parametrize("stream, error", [
    (_packet(_vici.CMD_UNKNOWN), "does not know the VICI command"),
    (_packet(_vici.CMD_RESPONSE, body=_vici.encode_message({"success": "no", "errmsg": "boom"})), "failed: boom"),
    (_packet(_vici.CMD_RESPONSE, body=b"\x03\x01a\x00\x05ab"), "truncated VICI message"),
    (_packet(_vici.CMD_RESPONSE, body=b"\x09"), "unknown VICI element type 9"),
    (_packet(_vici.CMD_RESPONSE, body=b"\x01\x01s"), "ends inside a section"),
    (struct.pack("!I", 10) + b"\x01\x02", "closed the VICI connection"),
    (struct.pack("!I", 1024 * 1024), "exceeds the protocol limit"),
])
def test_broken_answers_raise_vici_errors_not_tracebacks(socket_path, stream, error):
    server = ReplayServer(socket_path, stream)
    try:
        with _vici.Session(socket_path, timeout=5) as session:
            with pytest.raises(_vici.ViciError, match=error):
                session.request("version")
    finally:
        server.close()


def test_unknown_event_registration(socket_path):
    server = ReplayServer(socket_path, _packet(_vici.EVENT_UNKNOWN))
    try:
        with _vici.Session(socket_path, timeout=5) as session:
            with pytest.raises(_vici.ViciError, match="does not know the VICI event"):
                session.streamed("list-sas", "list-sa")
    finally:
        server.close()


def test_find_socket_takes_the_first_existing(tmp_path):
    present = tmp_path / "b.vici"
    present.write_text("")
    assert _vici.find_socket([str(tmp_path / "a.vici"), str(present)]) == str(present)
    assert _vici.find_socket([str(tmp_path / "a.vici")]) is None
    assert os.path.exists(present)
