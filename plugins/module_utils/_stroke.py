# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""strongSwan's legacy (stroke/starter) set-up: ipsec.conf, ipsec.secrets and ``ipsec statusall``.

The ipsec.conf syntax is shared with libreswan (``_ipsec_conf``); this file gives it strongSwan's
meaning and defaults (``keyexchange``, ``auto``, ``dpdaction``, ``ike``/``esp`` with ``!``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from collections import OrderedDict

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _ike_record as rec
from ansible_collections.netdoctor.ipsec.plugins.module_utils import _ipsec_conf, _proposals, _psk

AUTO_TO_START = {"add": "none", "route": "trap", "start": "start", "ignore": None}
AUTHBY = {"secret": "psk", "psk": "psk", "pubkey": "pubkey", "rsasig": "pubkey", "ecdsasig": "pubkey",
          "xauthpsk": "psk", "xauthrsasig": "pubkey", "never": "never"}
KEYEXCHANGE = {"ike": 0, "ikev1": 1, "ikev2": 2}


def _side_auth(params, side):
    auth = params.get(side + "auth")
    if auth:
        return auth.split("-")[0].lower()
    return AUTHBY.get((params.get("authby") or "pubkey").lower(), params.get("authby"))


def _ts(params, side):
    subnet = params.get(side + "subnet")
    if subnet:
        values = subnet
    else:
        host = params.get(side, "")
        values = host if _psk.normalize_id(host) not in ("%any",) and not host.startswith("%") else "dynamic"
    return _ipsec_conf.with_protoport(rec.normalize_ts_list([values]), params, side)


def connection_from_params(name, params, local_addresses=None, source="ipsec.conf"):
    problems = []
    local, remote = _ipsec_conf.orientation(params, local_addresses)
    conn = rec.connection(name, source)
    conn["ike_version"] = KEYEXCHANGE.get((params.get("keyexchange") or "ike").lower())
    conn["local_addrs"] = [a for a in (params.get(local) or "%any").split(",") if a]
    conn["remote_addrs"] = [a for a in (params.get(remote) or "%any").split(",") if a]
    _ipsec_conf.set_identities(conn, params, local, remote, _side_auth)
    ike_text = params.get("ike", "default")
    conn["ike_proposals_text"] = ike_text
    conn["ike_proposals"], found = _proposals.parse_strongswan(ike_text, "ike")
    problems.extend(found)
    conn["ike_strict"] = _proposals.strongswan_is_strict(ike_text) or ike_text == "default"
    if not conn["ike_strict"]:
        conn["ike_proposals"] += _proposals.parse_strongswan("default", "ike")[0]
    conn["aggressive"] = bool(rec.yes_no(params.get("aggressive", "no")))
    conn["encap"] = bool(rec.yes_no(params.get("forceencaps", "no")))
    conn["mobike"] = bool(rec.yes_no(params.get("mobike", "yes")))
    conn["fragmentation"] = (params.get("fragmentation") or "yes").lower()
    action = (params.get("dpdaction") or "none").lower()
    conn["dpd"] = {"delay": rec.seconds(params.get("dpddelay", "30s")) if action != "none" else 0,
                   "timeout": rec.seconds(params.get("dpdtimeout", "150s")),
                   "action": {"hold": "trap"}.get(action, action)}
    ike_life = rec.seconds(params.get("ikelifetime", "3h"))
    margin = rec.seconds(params.get("rekeymargin", params.get("margintime", "9m")))
    conn["lifetimes"] = {"ike_rekey": (ike_life - margin) if ike_life and margin else ike_life,
                         "ike_reauth": ike_life if rec.yes_no(params.get("reauth", "yes")) else 0,
                         "ike_lifetime": ike_life}
    child = rec.child_config(name)
    esp_text = params.get("esp") or params.get("ah") or "default"
    child["protocol"] = "ah" if params.get("ah") and not params.get("esp") else "esp"
    child["esp_proposals_text"] = esp_text
    child["esp_proposals"], found = _proposals.parse_strongswan(esp_text, child["protocol"])
    problems.extend(found)
    if not _proposals.strongswan_is_strict(esp_text) and esp_text != "default":
        child["esp_proposals"] += _proposals.parse_strongswan("default", child["protocol"])[0]
    child["pfs"] = any(p["dh"] and p["dh"] != ["NONE"] for p in child["esp_proposals"] if not p.get("default"))
    child["local_ts"] = _ts(params, local)
    child["remote_ts"] = _ts(params, remote)
    child["mode"] = (params.get("type") or "tunnel").lower()
    auto = (params.get("auto") or "ignore").lower()
    child["start_action"] = AUTO_TO_START.get(auto, auto)
    child["dpd_action"] = conn["dpd"]["action"]
    child["close_action"] = (params.get("closeaction") or "none").lower()
    child["sha256_96"] = bool(rec.yes_no(params.get("sha256_96", "no")))
    child["ipcomp"] = bool(rec.yes_no(params.get("compress", "no")))
    child["reqid"] = rec.to_int(params.get("reqid"))
    life = rec.seconds(params.get("lifetime", params.get("keylife", "1h")))
    child["lifetimes"] = {"rekey": (life - margin) if life and margin else life, "lifetime": life,
                          "rekey_bytes": None, "life_bytes": None}
    conn["children"].append(child)
    if auto == "ignore":
        conn["extra"]["auto"] = "ignore"
    return rec.finish_connection(conn), problems


def parse_ipsec_conf(text, path=None, loader=None, local_addresses=None):
    """strongSwan ipsec.conf -> ``{connections, warnings, unparsed, setup}``."""
    return _ipsec_conf.parse_connections(text, connection_from_params, path, loader, local_addresses)


# --- ipsec statusall ------------------------------------------------------------------------------

_VERSION = re.compile(r"^Status of IKE charon daemon \(strongSwan ([^,)\s]+)")
_CONN_LINE = re.compile(r"^(?P<name>[^\s\[{]\S*?):\s+(?P<local>\S+)\.\.\.(?P<remote>\S+)\s+(?P<version>IKEv1/2|IKEv1|IKEv2|IKE)(?:,\s*(?P<rest>.*))?$")
_CONN_AUTH = re.compile(r"^(?P<name>\S+?):\s+(?P<side>local|remote):\s+\[(?P<id>[^\]]*)\] uses (?P<auth>.+?) authentication")
_CONN_CHILD = re.compile(r"^(?P<name>\S+?):\s+child:\s+(?P<local>.+?) === (?P<remote>.+?) (?P<mode>TUNNEL|TRANSPORT|PASS|DROP|BEET)(?:,\s*(?P<rest>.*))?$")
_SA_HEAD = re.compile(r"^(?P<name>\S+?)\[(?P<uid>\d+)\]:\s+(?P<state>[A-Z_]+)(?: (?P<ago>\S+) (?P<unit>\w+) ago)?"
                      r"(?:, (?P<lhost>[^\[\s]+)\[(?P<lid>[^\]]*)\]\.\.\.(?P<rhost>[^\[\s]+)\[(?P<rid>[^\]]*)\])?")
_SA_SPIS = re.compile(r"^(?P<name>\S+?)\[(?P<uid>\d+)\]:\s+IKEv(?P<ver>\d) SPIs: (?P<spi_i>\S+?)_i(?P<istar>\*?) "
                      r"(?P<spi_r>\S+?)_r(?P<rstar>\*?)(?:, (?P<rest>.*))?$")
_SA_PROP = re.compile(r"^(?P<name>\S+?)\[(?P<uid>\d+)\]:\s+IKE proposal: (?P<prop>\S+)")
_CHILD_HEAD = re.compile(r"^(?P<name>\S+?)\{(?P<uid>\d+)\}:\s+(?P<state>[A-Z_]+), (?P<mode>[A-Z_]+)(?:, reqid "
                         r"(?P<reqid>\d+))?(?:, (?P<proto>ESP|AH)(?P<encap> in UDP)? SPIs: (?P<spi_in>\S+?)_i "
                         r"(?P<spi_out>\S+?)_o)?")
_CHILD_ALGS = re.compile(r"^(?P<name>\S+?)\{(?P<uid>\d+)\}:\s+(?P<algs>[A-Z0-9_/\-]+?)(?:, (?P<bytes_i>\d+) bytes_i"
                         r"(?: \((?P<pkts_i>\d+) pkts?[^)]*\))?)?(?:, (?P<bytes_o>\d+) bytes_o(?: \((?P<pkts_o>\d+) pkts?[^)]*\))?)?"
                         r"(?:, (?P<rest>.*))?$")
_CHILD_TS = re.compile(r"^(?P<name>\S+?)\{(?P<uid>\d+)\}:\s+(?P<local>\S.*?) === (?P<remote>\S.*)$")
_SECTION = re.compile(r"^(Listening IP addresses|Connections|Shunted Connections|Routed Connections|Security Associations)")


def _child_proposal(algs):
    fields = algs.split("/")
    proposals, _problems = _proposals.parse_strongswan_names("ESP:" + "/".join(fields))
    return proposals[0] if proposals else None


def parse_statusall(text):
    """``ipsec statusall`` (or ``ipsec status``) -> ``{version, listening_addresses, connections, sas, warnings, unparsed}``."""
    result = {"version": None, "listening_addresses": [], "connections": [], "sas": [], "warnings": [], "unparsed": []}
    conns = OrderedDict()
    sas = OrderedDict()
    section = None
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        match = _VERSION.match(line)
        if match:
            result["version"] = match.group(1) if match.group(1) != "VERSION" else None
            section = "status"
            continue
        match = _SECTION.match(line)
        if match:
            section = match.group(1)
            continue
        if section == "status" and line.startswith("  "):
            continue
        if section == "Listening IP addresses" and line.startswith("  "):
            result["listening_addresses"].append(line.strip())
            continue
        if section in ("Connections", "Routed Connections") and _conn_line(line, conns):
            continue
        if section == "Shunted Connections":
            continue
        if section == "Security Associations" and _sa_line(line, sas):
            continue
        result["unparsed"].append(line)
    result["connections"] = [rec.finish_connection(c) for c in conns.values()]
    result["sas"] = list(sas.values())
    result["warnings"].extend(rec.unparsed_warnings(result["unparsed"], "ipsec statusall output"))
    return result


def _conn_line(line, conns):
    match = _CONN_LINE.match(line)
    if match:
        conn = rec.connection(match.group("name"), "daemon")
        conn["loaded"] = True
        conn["local_addrs"] = match.group("local").split(",")
        conn["remote_addrs"] = match.group("remote").split(",")
        conn["ike_version"] = {"IKEv1": 1, "IKEv2": 2}.get(match.group("version"), 0)
        rest = match.group("rest") or ""
        dpd = re.search(r"dpddelay=(\d+)s", rest)
        if dpd:
            conn["dpd"]["delay"] = int(dpd.group(1))
        conns[conn["name"]] = conn
        return True
    match = _CONN_AUTH.match(line)
    if match and match.group("name") in conns:
        conn = conns[match.group("name")]
        side = match.group("side")
        conn[side + "_id"] = match.group("id")
        conn[side + "_auth"] = {"pre-shared key": "psk", "public key": "pubkey"}.get(match.group("auth"), match.group("auth"))
        conn["auth"] = conn["local_auth"]
        return True
    match = _CONN_CHILD.match(line)
    if match and match.group("name") in conns:
        child = rec.child_config(match.group("name"))
        child["local_ts"] = rec.normalize_ts_list([match.group("local")])
        child["remote_ts"] = rec.normalize_ts_list([match.group("remote")])
        child["mode"] = match.group("mode").lower()
        rest = match.group("rest") or ""
        dpd = re.search(r"dpdaction=(\w+)", rest)
        if dpd:
            child["dpd_action"] = dpd.group(1)
        conns[match.group("name")]["children"].append(child)
        return True
    return False


def _sa_line(line, sas):
    match = _SA_SPIS.match(line)
    if match:
        sa = sas.get((match.group("name"), match.group("uid")))
        if sa is not None:
            sa["ike_version"] = int(match.group("ver"))
            sa["spi_i"] = rec.spi_hex(match.group("spi_i"), 16)
            sa["spi_r"] = rec.spi_hex(match.group("spi_r"), 16)
            sa["initiator"] = bool(match.group("istar"))
            return True
    match = _SA_PROP.match(line)
    if match and (match.group("name"), match.group("uid")) in sas:
        proposals, _problems = _proposals.parse_strongswan_names(match.group("prop"))
        sas[(match.group("name"), match.group("uid"))]["proposal"] = proposals[0] if proposals else None
        return True
    match = _SA_HEAD.match(line)
    if match:
        key = (match.group("name"), match.group("uid"))
        sa = sas.get(key) or rec.ike_sa(match.group("name"))
        sa["uniqueid"] = match.group("uid")
        sa["state"] = match.group("state")
        sa["established"] = match.group("state") == "ESTABLISHED"
        if match.group("lhost"):
            sa["local_host"], sa["local_id"] = match.group("lhost"), match.group("lid")
            sa["remote_host"], sa["remote_id"] = match.group("rhost"), match.group("rid")
        sas[key] = sa
        return True
    return _child_sa_line(line, sas)


def _sa_for_child(sas, name):
    for (sa_name, _uid), sa in reversed(list(sas.items())):
        if sa_name == name:
            return sa
    return None


def _child_sa_line(line, sas):
    match = _CHILD_HEAD.match(line)
    if match:
        sa = _sa_for_child(sas, match.group("name"))
        if sa is None:
            return False
        child = rec.child_sa(match.group("name"))
        child["uniqueid"] = match.group("uid")
        child["state"] = match.group("state")
        child["installed"] = match.group("state") == "INSTALLED"
        child["mode"] = match.group("mode").lower()
        child["reqid"] = rec.to_int(match.group("reqid"))
        child["protocol"] = (match.group("proto") or "ESP").lower()
        child["encap"] = bool(match.group("encap"))
        child["spi_in"] = rec.spi_hex(match.group("spi_in"))
        child["spi_out"] = rec.spi_hex(match.group("spi_out"))
        sa["children"].append(child)
        return True
    for pattern, handler in ((_CHILD_TS, _child_ts), (_CHILD_ALGS, _child_algs)):
        match = pattern.match(line)
        if match:
            sa = _sa_for_child(sas, match.group("name"))
            child = _child_by_uid(sa, match.group("uid")) if sa else None
            if child is not None:
                handler(child, match)
                return True
    return False


def _child_by_uid(sa, uid):
    for child in sa["children"]:
        if child["uniqueid"] == uid:
            return child
    return None


def _child_ts(child, match):
    child["local_ts"] = rec.normalize_ts_list([match.group("local")])
    child["remote_ts"] = rec.normalize_ts_list([match.group("remote")])


def _child_algs(child, match):
    child["proposal"] = _child_proposal(match.group("algs"))
    for key, group in (("bytes_in", "bytes_i"), ("bytes_out", "bytes_o"), ("packets_in", "pkts_i"), ("packets_out", "pkts_o")):
        if match.group(group):
            child[key] = int(match.group(group))
