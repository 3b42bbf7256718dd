# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The ``ike`` side record: one schema for strongSwan, libreswan and racoon.

Constructors give every key its default, so that a consumer never has to test for a missing key,
and a few normalisers (traffic selectors, SPIs, durations) shared by all daemon parsers. The
RETURN block of ``ike_info`` documents the keys.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _addr

DAEMONS = ("strongswan", "libreswan", "racoon")


def daemon_record(daemon):
    return {
        "daemon": daemon,
        "version": None,
        "running": False,
        "pid": None,
        "listening": {"udp_500": None, "udp_4500": None, "sockets": []},
        "sources": [],
        "connections": [],
        "sas": [],
        "secrets": [],
        "warnings": [],
        "errors": [],
        "unparsed": [],
    }


def connection(name, source):
    return {
        "name": name,
        "source": source,
        "loaded": None,
        "ike_version": None,
        "local_addrs": [],
        "remote_addrs": [],
        "local_port": None,
        "remote_port": None,
        "local_id": None,
        "remote_id": None,
        "local_auth": None,
        "remote_auth": None,
        "auth": None,
        "psk_fingerprint": None,
        "psk": None,
        "ike_proposals": None,
        "ike_proposals_text": None,
        "ike_strict": None,
        "aggressive": None,
        "encap": None,
        "mobike": None,
        "fragmentation": None,
        "dpd": {"delay": None, "timeout": None, "action": None},
        "lifetimes": {"ike_rekey": None, "ike_reauth": None, "ike_lifetime": None},
        "children": [],
        "local_ts": [],
        "remote_ts": [],
        "esp_proposals": None,
        "mode": None,
        "start_action": None,
        "sha256_96": None,
        "pfs": None,
        "extra": {},
    }


def child_config(name):
    return {
        "name": name,
        "local_ts": [],
        "remote_ts": [],
        "esp_proposals": None,
        "esp_proposals_text": None,
        "protocol": "esp",
        "pfs": None,
        "mode": None,
        "start_action": None,
        "dpd_action": None,
        "close_action": None,
        "sha256_96": None,
        "ipcomp": None,
        "reqid": None,
        "lifetimes": {"rekey": None, "lifetime": None, "rekey_bytes": None, "life_bytes": None},
        "extra": {},
    }


def ike_sa(name):
    return {
        "name": name,
        "uniqueid": None,
        "state": None,
        "established": None,
        "ike_version": None,
        "initiator": None,
        "spi_i": None,
        "spi_r": None,
        "local_host": None,
        "local_port": None,
        "remote_host": None,
        "remote_port": None,
        "local_id": None,
        "remote_id": None,
        "proposal": None,
        "nat": {"local": None, "remote": None, "fake": None, "any": None, "detected": None},
        "established_seconds": None,
        "rekey_in": None,
        "children": [],
        "extra": {},
    }


def child_sa(name):
    return {
        "name": name,
        "uniqueid": None,
        "reqid": None,
        "state": None,
        "installed": None,
        "mode": None,
        "protocol": "esp",
        "encap": None,
        "spi_in": None,
        "spi_out": None,
        "proposal": None,
        "local_ts": [],
        "remote_ts": [],
        "bytes_in": None,
        "bytes_out": None,
        "packets_in": None,
        "packets_out": None,
        "installed_seconds": None,
        "rekey_in": None,
        "expires_in": None,
        "extra": {},
    }


# --- normalisers --------------------------------------------------------------------------------

_TS_RE = re.compile(r"^(?P<net>[^\[\s]+)(?:\[(?P<sel>[^\]]*)\])?$")


def normalize_ts(text):
    """``10.1.0.7/24`` -> ``10.1.0.0/24``; a host without prefix gets /32 or /128; a protocol/port
    suffix (``[tcp/80]``) is kept; ranges, ``dynamic`` and names are returned as written."""
    text = (text or "").strip()
    match = _TS_RE.match(text)
    if not match:
        return text
    net, sel = match.group("net"), match.group("sel")
    normal = _addr.normalize_network(net) if ".." not in net else None
    out = normal or net
    if sel:
        out += "[%s]" % sel
    return out


def normalize_ts_list(values):
    out = []
    for value in values or []:
        for item in re.split(r"[,\s]+", value or ""):
            if item:
                normal = normalize_ts(item)
                if normal not in out:
                    out.append(normal)
    return out


def spi_hex(value, width=8):
    """An SPI as ``0x`` + lower-case hex of ``width`` digits (``c8e2bf74`` -> ``0xc8e2bf74``); None stays None."""
    if value is None:
        return None
    text = ("%s" % value).strip().lower()
    if not text:
        return None
    if text.startswith("0x"):
        text = text[2:]
    try:
        return "0x%0*x" % (width, int(text, 16))
    except ValueError:
        return None


_DURATION = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(value):
    """``30s``/``4h``/``1d``/``90``/``90m`` -> seconds; None when not a duration."""
    if value is None:
        return None
    text = ("%s" % value).strip().lower()
    match = re.match(r"^(\d+)\s*([smhd]?)$", text)
    if not match:
        return None
    return int(match.group(1)) * _DURATION.get(match.group(2) or "s", 1)


def to_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def yes_no(value):
    """``yes``/``no``/``1``/``0``/``true``/``false`` -> bool; None for anything else."""
    text = ("%s" % value).strip().lower() if value is not None else ""
    if text in ("yes", "1", "true", "on"):
        return True
    if text in ("no", "0", "false", "off"):
        return False
    return None


def mark_not_loaded(conn, daemon_answered, warnings, where):
    """A configured connection the daemon does not have: ``loaded`` false with a warning that says
    ``where`` it is, or null (unknown) when the daemon could not be asked."""
    conn["loaded"] = False if daemon_answered else None
    if daemon_answered:
        warnings.append("connection '%s' is %s" % (conn["name"], where))


def unparsed_warnings(unparsed, what=None):
    """[] or the one warning that counts the lines (of ``what``) a parser kept in ``unparsed``."""
    if not unparsed:
        return []
    return ["%d line(s)%s not understood" % (len(unparsed), " of " + what if what else "")]


def finish_connection(conn):
    """Fill the connection's flat child keys from its children: the union of selectors and ESP
    proposals, and the first child's mode/start action. The per-child truth stays in ``children``."""
    local_ts, remote_ts, esp = [], [], None
    for child in conn["children"]:
        for ts in child["local_ts"]:
            if ts not in local_ts:
                local_ts.append(ts)
        for ts in child["remote_ts"]:
            if ts not in remote_ts:
                remote_ts.append(ts)
        if child["esp_proposals"] is not None:
            esp = (esp or []) + [p for p in child["esp_proposals"] if p not in (esp or [])]
    conn["local_ts"], conn["remote_ts"], conn["esp_proposals"] = local_ts, remote_ts, esp
    if conn["auth"] is None:
        conn["auth"] = conn["local_auth"]
    if conn["children"]:
        first = conn["children"][0]
        conn["mode"] = first["mode"]
        conn["start_action"] = first["start_action"]
        truncs = [c["sha256_96"] for c in conn["children"] if c["sha256_96"] is not None]
        conn["sha256_96"] = any(truncs) if truncs else None
        pfs = [c["pfs"] for c in conn["children"] if c["pfs"] is not None]
        conn["pfs"] = any(pfs) if pfs else None
    return conn
