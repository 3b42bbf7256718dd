# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""A minimal client of strongSwan's VICI protocol (the charon.vici unix socket), standard library only.

The wire format: every packet is a 32-bit big-endian length and the packet; a packet is one type
byte, a name (one length byte + text) for the named types, then a message. A message is a sequence
of elements: section start (name) / section end, key-value (name, two length bytes + value), list
start (name) / list item (two length bytes + value) / list end.

Only what a read-only client needs: commands with a response (``version``, ``stats``) and streamed
commands whose records arrive as events before the response (``list-sas`` / ``list-sa``,
``list-conns`` / ``list-conn``, ``list-pols`` / ``list-policy``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import socket
import struct
from collections import OrderedDict

DEFAULT_SOCKETS = ("/var/run/charon.vici", "/run/charon.vici", "/var/run/strongswan/charon.vici")
MAX_SEGMENT = 512 * 1024

CMD_REQUEST = 0
CMD_RESPONSE = 1
CMD_UNKNOWN = 2
EVENT_REGISTER = 3
EVENT_UNREGISTER = 4
EVENT_CONFIRM = 5
EVENT_UNKNOWN = 6
EVENT = 7
NAMED_TYPES = (CMD_REQUEST, EVENT_REGISTER, EVENT_UNREGISTER, EVENT)

SECTION_START = 1
SECTION_END = 2
KEY_VALUE = 3
LIST_START = 4
LIST_ITEM = 5
LIST_END = 6


class ViciError(Exception):
    """The daemon answered something we cannot use, or the conversation broke off."""


class ViciUnavailable(ViciError):
    """The socket cannot be reached: missing, refused, or no permission."""


def _to_bytes(value):
    if isinstance(value, bytes):
        return value
    if not isinstance(value, type(u"")):
        value = "%s" % (value,)
    return value.encode("utf-8")


def _to_text(value):
    return value.decode("utf-8", "replace")


def _name(name):
    raw = _to_bytes(name)
    if len(raw) > 255:
        raise ViciError("VICI name too long: %r" % (name,))
    return struct.pack("!B", len(raw)) + raw


def _value(value):
    raw = _to_bytes(value)
    if len(raw) > 65535:
        raise ViciError("VICI value too long (%d bytes)" % len(raw))
    return struct.pack("!H", len(raw)) + raw


def encode_message(message):
    """Bytes of a message given as a dict of text values, lists of text and nested dicts."""
    out = []
    for key, value in (message or {}).items():
        if isinstance(value, dict):
            out.append(struct.pack("!B", SECTION_START) + _name(key) + encode_message(value))
            out.append(struct.pack("!B", SECTION_END))
        elif isinstance(value, (list, tuple)):
            out.append(struct.pack("!B", LIST_START) + _name(key))
            out.extend(struct.pack("!B", LIST_ITEM) + _value(item) for item in value)
            out.append(struct.pack("!B", LIST_END))
        else:
            out.append(struct.pack("!B", KEY_VALUE) + _name(key) + _value(value))
    return b"".join(out)


class _Reader(object):
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, count):
        if self.pos + count > len(self.data):
            raise ViciError("truncated VICI message (wanted %d bytes at offset %d of %d)" % (count, self.pos, len(self.data)))
        chunk = self.data[self.pos:self.pos + count]
        self.pos += count
        return chunk

    def byte(self):
        return struct.unpack("!B", self.take(1))[0]

    def name(self):
        return _to_text(self.take(self.byte()))

    def value(self):
        return _to_text(self.take(struct.unpack("!H", self.take(2))[0]))

    def done(self):
        return self.pos >= len(self.data)


def decode_message(data):
    """The message in ``data`` as nested OrderedDicts (sections), lists and text values."""
    reader = _Reader(data)
    root = OrderedDict()
    stack = [root]
    current_list = None
    while not reader.done():
        kind = reader.byte()
        if kind == SECTION_START:
            section = OrderedDict()
            stack[-1][reader.name()] = section
            stack.append(section)
        elif kind == SECTION_END:
            if len(stack) == 1:
                raise ViciError("VICI message closes a section it never opened")
            stack.pop()
        elif kind == KEY_VALUE:
            key = reader.name()
            stack[-1][key] = reader.value()
        elif kind == LIST_START:
            current_list = []
            stack[-1][reader.name()] = current_list
        elif kind == LIST_ITEM:
            if current_list is None:
                raise ViciError("VICI list item outside a list")
            current_list.append(reader.value())
        elif kind == LIST_END:
            current_list = None
        else:
            raise ViciError("unknown VICI element type %d at offset %d" % (kind, reader.pos - 1))
    if len(stack) != 1:
        raise ViciError("VICI message ends inside a section")
    return root


def encode_packet(ptype, name=None, message=None):
    body = struct.pack("!B", ptype)
    if ptype in NAMED_TYPES:
        body += _name(name)
    if message is not None:
        body += encode_message(message)
    return struct.pack("!I", len(body)) + body


def decode_packet(body):
    """(type, name or None, message bytes) of one packet without its length prefix."""
    if not body:
        raise ViciError("empty VICI packet")
    reader = _Reader(body)
    ptype = reader.byte()
    name = reader.name() if ptype in NAMED_TYPES else None
    return ptype, name, body[reader.pos:]


def find_socket(candidates=DEFAULT_SOCKETS, exists=None):
    """The first candidate path that exists, or None."""
    import os

    exists = exists or os.path.exists
    for path in candidates:
        if exists(path):
            return path
    return None


class Session(object):
    """One connection to charon's VICI socket. Use as a context manager or call close()."""

    def __init__(self, path, timeout=10.0):
        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(path)
        except (socket.error, OSError) as exc:
            self._sock.close()
            raise ViciUnavailable(_explain_connect_error(path, exc))

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        try:
            self._sock.close()
        except (socket.error, OSError):
            pass

    def _send(self, packet):
        try:
            self._sock.sendall(packet)
        except (socket.error, OSError) as exc:
            raise ViciError("writing to %s failed: %s" % (self.path, exc))

    def _recv_exact(self, count):
        chunks = []
        remaining = count
        while remaining:
            try:
                chunk = self._sock.recv(min(remaining, 65536))
            except socket.timeout:
                raise ViciError("timed out waiting for charon on %s" % self.path)
            except (socket.error, OSError) as exc:
                raise ViciError("reading from %s failed: %s" % (self.path, exc))
            if not chunk:
                raise ViciError("charon closed the VICI connection on %s mid-message" % self.path)
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def _recv_packet(self):
        length = struct.unpack("!I", self._recv_exact(4))[0]
        if length > MAX_SEGMENT:
            raise ViciError("VICI packet of %d bytes exceeds the protocol limit" % length)
        return decode_packet(self._recv_exact(length))

    def request(self, command, message=None):
        """Send a command, return its response message (a dict)."""
        self._send(encode_packet(CMD_REQUEST, command, message or {}))
        ptype, _name, data = self._recv_packet()
        return self._response(command, ptype, data)

    def _response(self, command, ptype, data):
        if ptype == CMD_UNKNOWN:
            raise ViciError("charon does not know the VICI command '%s'" % command)
        if ptype != CMD_RESPONSE:
            raise ViciError("unexpected VICI packet type %d in answer to '%s'" % (ptype, command))
        response = decode_message(data)
        if response.get("success") == "no":
            raise ViciError("VICI command '%s' failed: %s" % (command, response.get("errmsg", "no reason given")))
        return response

    def _event_registration(self, ptype, event):
        self._send(encode_packet(ptype, event))
        answer, _name, _data = self._recv_packet()
        if answer == EVENT_UNKNOWN:
            raise ViciError("charon does not know the VICI event '%s'" % event)
        if answer != EVENT_CONFIRM:
            raise ViciError("unexpected VICI packet type %d registering for '%s'" % (answer, event))

    def streamed(self, command, event, message=None):
        """Run a streamed command; returns (list of event messages, response message)."""
        self._event_registration(EVENT_REGISTER, event)
        try:
            self._send(encode_packet(CMD_REQUEST, command, message or {}))
            events = []
            while True:
                ptype, name, data = self._recv_packet()
                if ptype == EVENT and name == event:
                    events.append(decode_message(data))
                    continue
                if ptype == EVENT:
                    continue
                response = self._response(command, ptype, data)
                break
        finally:
            try:
                self._event_registration(EVENT_UNREGISTER, event)
            except ViciError:
                pass
        return events, response


def _explain_connect_error(path, exc):
    code = getattr(exc, "errno", None)
    if code == errno.ENOENT:
        return "VICI socket %s does not exist (charon not running, or the vici plugin not loaded)" % path
    if code in (errno.EACCES, errno.EPERM):
        return "no permission to open the VICI socket %s (run as root / become)" % path
    if code == errno.ECONNREFUSED:
        return "charon refused the connection on %s (socket left over from a stopped daemon?)" % path
    return "cannot connect to the VICI socket %s: %s" % (path, exc)
