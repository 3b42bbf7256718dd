# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""``swanctl --list-sas`` and ``--list-conns`` text, in both of its forms, back to VICI messages.

``--raw`` prints each VICI event as ``list-sa event {name {key=value ... child-sas {...}}}``; the
default form is the human layout of ``src/swanctl/commands/list_sas.c`` / ``list_conns.c``. Both are
turned into the same dicts the VICI socket gives, so that one converter (``_strongswan``) makes the
records. Lines that fit neither are returned as unparsed, never dropped.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from collections import OrderedDict

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _ike_record as rec

# --- raw form -----------------------------------------------------------------------------------

_RAW_START_RE = re.compile(r"^\s*(list-sa|list-conn|list-sas|list-conns)\s+(event|reply)\s*\{")
_RAW_EVENT_RE = re.compile(r"^\s*(list-sa|list-conn|list-sas|list-conns)\s+(event|reply)\s*\{(.*)\}\s*$")
_RAW_KEY_RE = re.compile(r"\s*([\w.\-]+)(=|\s*\{)")
_RAW_VALUE_END = re.compile(r" (?=[\w.\-]+=|[\w.\-]+ \{|\})|\}")


def _raw_value_end(body, pos):
    """End of an unbracketed value: before the next `` key=``, `` key {`` or ``}``."""
    match = _RAW_VALUE_END.search(body, pos)
    return match.start() if match else len(body)


def parse_raw_message(body):
    """One ``{...}`` body of ``--raw`` output as nested OrderedDicts; raises ValueError when broken."""
    root = OrderedDict()
    stack = [root]
    pos = 0
    length = len(body)
    while pos < length:
        if body[pos] == " ":
            pos += 1
            continue
        if body[pos] == "}":
            if len(stack) == 1:
                raise ValueError("unbalanced '}' at offset %d" % pos)
            stack.pop()
            pos += 1
            continue
        match = _RAW_KEY_RE.match(body, pos)
        if not match:
            raise ValueError("cannot read a key at offset %d: %r" % (pos, body[pos:pos + 30]))
        key = match.group(1)
        pos = match.end()
        if match.group(2) != "=":
            section = OrderedDict()
            stack[-1][key] = section
            stack.append(section)
            continue
        if pos < length and body[pos] == "[":
            end = body.find("]", pos)
            if end < 0:
                raise ValueError("unterminated list for '%s'" % key)
            stack[-1][key] = body[pos + 1:end].split()
            pos = end + 1
            continue
        end = _raw_value_end(body, pos)
        stack[-1][key] = body[pos:end]
        pos = end
    if len(stack) != 1:
        raise ValueError("message ends inside a section (truncated?)")
    return root


def parse_raw(text, event):
    """(list of event messages, problems, unparsed lines) of ``swanctl --list-xxx --raw`` text."""
    events, problems, unparsed = [], [], []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        match = _RAW_EVENT_RE.match(line)
        if not match:
            if _RAW_START_RE.match(line):
                problems.append("cannot parse %s event: message ends inside a section (truncated?)" % event)
            unparsed.append(line)
            continue
        if match.group(2) == "reply":
            continue
        try:
            message = parse_raw_message(match.group(3))
        except ValueError as exc:
            problems.append("cannot parse %s event: %s" % (event, exc))
            unparsed.append(line)
            continue
        events.append(message)
    return events, problems, unparsed


def is_raw(text):
    return bool(re.search(r"^\s*list-(sa|conn)s? (event|reply) \{", text or "", re.M))


# --- human form of --list-sas -------------------------------------------------------------------

_IKE_HEAD = re.compile(
    r"^(?P<name>\S.*?): #(?P<uid>\d+), (?P<state>[A-Z_]+), IKEv(?P<ver>\d)"
    r"(?:, (?P<spi_i>[0-9a-f]+)_i(?P<i_star>\*?) (?P<spi_r>[0-9a-f]+)_r(?P<r_star>\*?))?"
)
_ENDPOINT = re.compile(r"^\s+(?P<side>local|remote)\s+'(?P<id>.*)' @ (?P<host>[^\[\s]+)\[(?P<port>\d+)\](?P<rest>.*)$")
_IKE_ALGS = re.compile(r"^\s+(?P<algs>[A-Z0-9_]+(?:-\d+)?(?:/[A-Z0-9_\-]+)+)\s*$")
_ESTABLISHED = re.compile(r"^\s+established (?P<ago>\d+)s ago(?:, rekeying in (?P<rekey>\d+)s)?(?:, reauth in (?P<reauth>\d+)s)?")
_CHILD_HEAD = re.compile(
    r"^\s+(?P<name>\S.*?): #(?P<uid>\d+), reqid (?P<reqid>\d+), (?P<state>[A-Z_]+), (?P<mode>[A-Z_]+)"
    r"(?P<encap>, ESP in UDP)?(?:, (?P<proto>ESP|AH|IPCOMP):(?P<algs>\S+))?"
)
_CHILD_TIMES = re.compile(r"^\s+installed (?P<ago>\d+)s ago(?:, rekeying in (?P<rekey>\d+)s)?(?:, expires in (?P<expires>\d+)s)?")
_CHILD_TRAFFIC = re.compile(
    r"^\s+(?P<dir>in|out)\s+(?P<spi>[0-9a-f]+)(?:\((?P<mark>[^)]*)\))?,\s+(?P<bytes>\d+) bytes,\s+(?P<packets>\d+) packets"
)
_CHILD_TS = re.compile(r"^\s+(?P<side>local|remote)\s+(?P<ts>\S.*)$")


def _split_algs(algs):
    """``AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048`` -> VICI-style fields."""
    fields = OrderedDict()
    for part in algs.split("/"):
        if part.startswith("PRF_"):
            fields["prf-alg"] = part
        elif re.match(r"^(MODP|ECP|CURVE|NTRU|NH|ML_KEM|KE\d)", part):
            fields.setdefault("dh-group", part)
        elif part == "ESN":
            fields["esn"] = "1"
        elif part.startswith(("HMAC_", "AES_XCBC", "AES_CMAC", "AES_128_GMAC", "AES_256_GMAC")) and "encr-alg" in fields:
            fields["integ-alg"] = part
        elif "encr-alg" not in fields:
            name, _sep, size = part.partition("-")
            fields["encr-alg"] = name
            if size:
                fields["encr-keysize"] = size
        else:
            fields.setdefault("unknown", []).append(part)
    return fields


def parse_list_sas_text(text):
    """(list of VICI-style list-sa messages, problems, unparsed) of the human ``--list-sas`` output."""
    events, problems, unparsed = [], [], []
    ike = child = None
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        head = _IKE_HEAD.match(line)
        if head and not line.startswith(" "):
            ike = OrderedDict()
            ike["uniqueid"] = head.group("uid")
            ike["version"] = head.group("ver")
            ike["state"] = head.group("state")
            if head.group("spi_i"):
                ike["initiator-spi"] = head.group("spi_i")
                ike["responder-spi"] = head.group("spi_r")
                ike["initiator"] = "yes" if head.group("i_star") else "no"
            ike["child-sas"] = OrderedDict()
            events.append(OrderedDict([(head.group("name"), ike)]))
            child = None
            continue
        if ike is None:
            unparsed.append(line)
            continue
        if _ike_line(ike, line):
            continue
        chead = _CHILD_HEAD.match(line)
        if chead:
            child = OrderedDict()
            child["name"] = chead.group("name")
            child["uniqueid"] = chead.group("uid")
            child["reqid"] = chead.group("reqid")
            child["state"] = chead.group("state")
            child["mode"] = chead.group("mode")
            child["protocol"] = chead.group("proto") or "ESP"
            if chead.group("encap"):
                child["encap"] = "yes"
            if chead.group("algs"):
                child.update(_split_algs(chead.group("algs")))
            ike["child-sas"]["%s-%s" % (child["name"], child["uniqueid"])] = child
            continue
        if child is not None and _child_line(child, line):
            continue
        unparsed.append(line)
    problems.extend(rec.unparsed_warnings(unparsed, "swanctl --list-sas output"))
    return events, problems, unparsed


def _ike_line(ike, line):
    endpoint = _ENDPOINT.match(line)
    if endpoint and line.startswith("  ") and not line.startswith("    "):
        side = endpoint.group("side")
        ike[side + "-id"] = endpoint.group("id")
        ike[side + "-host"] = endpoint.group("host")
        ike[side + "-port"] = endpoint.group("port")
        return True
    algs = _IKE_ALGS.match(line)
    if algs and line.startswith("  ") and not line.startswith("    "):
        ike.update(_split_algs(algs.group("algs")))
        return True
    established = _ESTABLISHED.match(line)
    if established:
        ike["established"] = established.group("ago")
        if established.group("rekey"):
            ike["rekey-time"] = established.group("rekey")
        if established.group("reauth"):
            ike["reauth-time"] = established.group("reauth")
        return True
    if re.match(r"^\s+(queued|active|passive):", line):
        return True
    return False


def _child_line(child, line):
    times = _CHILD_TIMES.match(line)
    if times:
        child["install-time"] = times.group("ago")
        if times.group("rekey"):
            child["rekey-time"] = times.group("rekey")
        if times.group("expires"):
            child["life-time"] = times.group("expires")
        return True
    traffic = _CHILD_TRAFFIC.match(line)
    if traffic:
        direction = traffic.group("dir")
        child["spi-" + direction] = traffic.group("spi")
        child["bytes-" + direction] = traffic.group("bytes")
        child["packets-" + direction] = traffic.group("packets")
        return True
    ts = _CHILD_TS.match(line)
    if ts:
        child[ts.group("side") + "-ts"] = ts.group("ts").split()
        return True
    return False


# --- human form of --list-conns -----------------------------------------------------------------

_CONN_HEAD = re.compile(r"^(?P<name>\S.*?): (?P<version>IKEv1/2|IKEv1|IKEv2|IKE)(?:, (?P<rest>.*))?$")
_CONN_ADDRS = re.compile(r"^  (?P<side>local|remote):\s+(?P<addrs>.*)$")
_CONN_AUTH = re.compile(r"^  (?P<side>local|remote) (?P<class>.+?) authentication:$")
_CONN_AUTH_KV = re.compile(r"^    (?P<key>[a-z_ ]+?):\s+(?P<value>.*)$")
_CONN_CHILD = re.compile(r"^  (?P<name>\S.*?): (?P<mode>TUNNEL|TRANSPORT|PASS|DROP|BEET)(?:, (?P<rest>.*))?$")
_CONN_CHILD_TS = re.compile(r"^    (?P<side>local|remote):\s+(?P<ts>.*)$")


def parse_list_conns_text(text):
    """(list of VICI-style list-conn messages, problems, unparsed) of the human ``--list-conns`` output."""
    events, problems, unparsed = [], [], []
    conn = auth = child = None
    rounds = {"local": 0, "remote": 0}
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        head = _CONN_HEAD.match(line)
        if head and not line.startswith(" "):
            conn = OrderedDict()
            conn["version"] = head.group("version")
            _timers(conn, head.group("rest") or "", _CONN_TIMERS)
            conn["children"] = OrderedDict()
            events.append(OrderedDict([(head.group("name"), conn)]))
            auth = child = None
            rounds = {"local": 0, "remote": 0}
            continue
        if conn is None:
            unparsed.append(line)
            continue
        match = _CONN_ADDRS.match(line)
        if match:
            conn[match.group("side") + "_addrs"] = [a.strip() for a in match.group("addrs").split(",") if a.strip()]
            continue
        match = _CONN_AUTH.match(line)
        if match:
            side = match.group("side")
            rounds[side] += 1
            auth = OrderedDict([("class", match.group("class"))])
            conn["%s-%d" % (side, rounds[side])] = auth
            child = None
            continue
        match = _CONN_CHILD.match(line)
        if match:
            child = OrderedDict([("mode", match.group("mode"))])
            _timers(child, match.group("rest") or "", _CHILD_TIMERS)
            conn["children"][match.group("name")] = child
            auth = None
            continue
        match = _CONN_CHILD_TS.match(line)
        if match and child is not None:
            child[match.group("side") + "-ts"] = match.group("ts").split()
            continue
        match = _CONN_AUTH_KV.match(line)
        if match and auth is not None:
            auth[match.group("key").replace(" ", "_")] = match.group("value")
            continue
        unparsed.append(line)
    problems.extend(rec.unparsed_warnings(unparsed, "swanctl --list-conns output"))
    return events, problems, unparsed


# The comma-separated settings after a conn's or a child's header line: (pattern, key); a pattern
# without a group stands for the value "0".
_CONN_TIMERS = ((r"^rekeying every (\d+)s$", "rekey_time"), (r"^reauthentication every (\d+)s$", "reauth_time"),
                (r"^dpd delay (\d+)s$", "dpd_delay"), (r"^no reauthentication$", "reauth_time"))
_CHILD_TIMERS = ((r"^rekeying every (\d+)s$", "rekey_time"), (r"^dpd action is (\S+)$", "dpd_action"),
                 (r"^close action is (\S+)$", "close_action"))


def _timers(record, rest, settings):
    for part in [p.strip() for p in rest.split(",")]:
        for pattern, key in settings:
            match = re.match(pattern, part)
            if match:
                record[key] = match.group(1) if match.groups() else "0"
