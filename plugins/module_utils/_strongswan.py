# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""strongSwan (charon via VICI/swanctl) to the ``ike`` record.

The daemon's own view comes from VICI messages (``list-conn``/``list-sa`` events), whether read from
the socket or from ``swanctl --list-xxx`` text (``_swanctl_text``). VICI does not show proposals,
start actions or secrets, so the swanctl.conf view (``_strongswan_conf``) is merged in by
connection and child name; PSKs are matched to connections the way charon's credential manager
does (``_psk.best_secret``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _ike_record as rec
from ansible_collections.netdoctor.ipsec.plugins.module_utils import _proposals, _swanctl_text

AUTH_CLASS = {
    "pre-shared key": "psk",
    "public key": "pubkey",
    "eap": "eap",
    "xauth": "xauth",
    "any": "any",
}
VERSION_TEXT = {"IKEv1": 1, "IKEv2": 2, "IKEv1/2": 0, "IKE": 0, "0": 0, "1": 1, "2": 2}
ACTION = {"start": "restart", "route": "trap", "restart": "restart", "trap": "trap", "clear": "clear", "none": "none", "hold": "trap"}


def _first(values):
    return values[0] if values else None


def _auth_class(value):
    return AUTH_CLASS.get((value or "").strip().lower(), (value or "").strip().lower() or None)


# --- VICI list-conn -> connection records ------------------------------------------------------

def connection_from_vici(name, msg):
    conn = rec.connection(name, "daemon")
    conn["loaded"] = True
    conn["ike_version"] = VERSION_TEXT.get(msg.get("version", ""), None)
    conn["local_addrs"] = list(msg.get("local_addrs") or [])
    conn["remote_addrs"] = list(msg.get("remote_addrs") or [])
    locals_ = [value for key, value in msg.items() if key.startswith("local-") and isinstance(value, dict)]
    remotes = [value for key, value in msg.items() if key.startswith("remote-") and isinstance(value, dict)]
    if locals_:
        conn["local_auth"] = _auth_class(locals_[0].get("class"))
        conn["local_id"] = locals_[0].get("id")
    if remotes:
        conn["remote_auth"] = _auth_class(remotes[0].get("class"))
        conn["remote_id"] = remotes[0].get("id", "%any")
    conn["auth"] = conn["local_auth"]
    conn["dpd"]["delay"] = rec.to_int(msg.get("dpd_delay")) or 0
    conn["dpd"]["timeout"] = rec.to_int(msg.get("dpd_timeout"))
    conn["lifetimes"]["ike_rekey"] = rec.to_int(msg.get("rekey_time"))
    conn["lifetimes"]["ike_reauth"] = rec.to_int(msg.get("reauth_time"))
    if msg.get("unique"):
        conn["extra"]["unique"] = msg["unique"]
    for child_name, child in (msg.get("children") or {}).items():
        if not isinstance(child, dict):
            continue
        record = rec.child_config(child_name)
        record["mode"] = (child.get("mode") or "").lower() or None
        record["local_ts"] = rec.normalize_ts_list(child.get("local-ts"))
        record["remote_ts"] = rec.normalize_ts_list(child.get("remote-ts"))
        record["dpd_action"] = ACTION.get((child.get("dpd_action") or "").lower(), child.get("dpd_action"))
        record["close_action"] = ACTION.get((child.get("close_action") or "").lower(), child.get("close_action"))
        record["lifetimes"]["rekey"] = rec.to_int(child.get("rekey_time"))
        record["lifetimes"]["rekey_bytes"] = rec.to_int(child.get("rekey_bytes"))
        conn["children"].append(record)
    if conn["children"]:
        conn["dpd"]["action"] = conn["children"][0]["dpd_action"]
    return rec.finish_connection(conn)


def _records(events, from_vici):
    """One record per named section of VICI's streamed events (``{name: message}`` each)."""
    out = []
    for event in events:
        for name, msg in event.items():
            if isinstance(msg, dict):
                out.append(from_vici(name, msg))
    return out


def connections_from_vici(events):
    return _records(events, connection_from_vici)


# --- VICI list-sa -> SA records ----------------------------------------------------------------

def _ike_proposal(msg):
    if not msg.get("encr-alg"):
        return None
    proposal = _proposals.new_proposal("", "ike")
    proposal["encryption"] = [_proposals.canonical_encryption(msg["encr-alg"], msg.get("encr-keysize"))]
    if msg.get("integ-alg"):
        proposal["integrity"] = [msg["integ-alg"]]
    if msg.get("prf-alg"):
        proposal["prf"] = [msg["prf-alg"]]
    if msg.get("dh-group"):
        proposal["dh"] = [_proposals.canonical_dh(msg["dh-group"]) or msg["dh-group"]]
    proposal["text"] = "/".join(proposal["encryption"] + proposal["integrity"] + proposal["prf"] + proposal["dh"])
    return proposal


def _child_proposal(msg, protocol):
    if not msg.get("encr-alg") and not msg.get("integ-alg"):
        return None
    proposal = _proposals.new_proposal("", protocol)
    if msg.get("encr-alg"):
        proposal["encryption"] = [_proposals.canonical_encryption(msg["encr-alg"], msg.get("encr-keysize"))]
    if msg.get("integ-alg"):
        proposal["integrity"] = [msg["integ-alg"]]
    if msg.get("dh-group"):
        proposal["dh"] = [_proposals.canonical_dh(msg["dh-group"]) or msg["dh-group"]]
    proposal["esn"] = ["ESN" if msg.get("esn") == "1" else "NO_ESN"]
    proposal["text"] = "/".join(proposal["encryption"] + proposal["integrity"] + proposal["dh"] + proposal["esn"])
    return proposal


def _yes(value):
    return None if value is None else value == "yes"


def sa_from_vici(name, msg):
    sa = rec.ike_sa(name)
    sa["uniqueid"] = msg.get("uniqueid")
    sa["state"] = msg.get("state")
    sa["established"] = msg.get("state") == "ESTABLISHED"
    sa["ike_version"] = rec.to_int(msg.get("version"))
    sa["initiator"] = _yes(msg.get("initiator"))
    sa["spi_i"] = rec.spi_hex(msg.get("initiator-spi"), 16)
    sa["spi_r"] = rec.spi_hex(msg.get("responder-spi"), 16)
    sa["local_host"] = msg.get("local-host")
    sa["local_port"] = rec.to_int(msg.get("local-port"))
    sa["remote_host"] = msg.get("remote-host")
    sa["remote_port"] = rec.to_int(msg.get("remote-port"))
    sa["local_id"] = msg.get("local-id")
    sa["remote_id"] = msg.get("remote-id")
    sa["proposal"] = _ike_proposal(msg)
    nat = {"local": _yes(msg.get("nat-local")), "remote": _yes(msg.get("nat-remote")),
           "fake": _yes(msg.get("nat-fake")), "any": _yes(msg.get("nat-any"))}
    if any(value is not None for value in nat.values()):
        nat["detected"] = bool(nat["local"] or nat["remote"] or nat["any"])
    else:
        nat["detected"] = None
    sa["nat"] = nat
    sa["established_seconds"] = rec.to_int(msg.get("established"))
    sa["rekey_in"] = rec.to_int(msg.get("rekey-time"))
    for key in ("local-vips", "remote-vips", "tasks-queued", "tasks-active", "tasks-passive"):
        if msg.get(key):
            sa["extra"][key.replace("-", "_")] = list(msg[key])
    for child_key, child in (msg.get("child-sas") or {}).items():
        if isinstance(child, dict):
            sa["children"].append(child_sa_from_vici(child_key, child))
    return sa


def child_sa_from_vici(key, msg):
    child = rec.child_sa(msg.get("name") or key)
    child["uniqueid"] = msg.get("uniqueid")
    child["reqid"] = rec.to_int(msg.get("reqid"))
    child["state"] = msg.get("state")
    child["installed"] = msg.get("state") == "INSTALLED"
    child["mode"] = (msg.get("mode") or "").lower() or None
    child["protocol"] = (msg.get("protocol") or "ESP").lower()
    child["encap"] = _yes(msg.get("encap")) or False
    child["spi_in"] = rec.spi_hex(msg.get("spi-in"))
    child["spi_out"] = rec.spi_hex(msg.get("spi-out"))
    child["proposal"] = _child_proposal(msg, child["protocol"])
    child["local_ts"] = rec.normalize_ts_list(msg.get("local-ts"))
    child["remote_ts"] = rec.normalize_ts_list(msg.get("remote-ts"))
    for field in ("bytes-in", "bytes-out", "packets-in", "packets-out"):
        child[field.replace("-", "_")] = rec.to_int(msg.get(field))
    child["installed_seconds"] = rec.to_int(msg.get("install-time"))
    child["rekey_in"] = rec.to_int(msg.get("rekey-time"))
    child["expires_in"] = rec.to_int(msg.get("life-time"))
    for field in ("mark-in", "mark-out", "if-id-in", "if-id-out", "cpi-in", "cpi-out", "label"):
        if msg.get(field):
            child["extra"][field.replace("-", "_")] = msg[field]
    return child


def sas_from_vici(events):
    return _records(events, sa_from_vici)


# --- merging the daemon's view with the configuration ---------------------------------------------

_CONFIG_ONLY_CONN = ("ike_proposals", "ike_proposals_text", "ike_strict", "aggressive", "encap", "mobike",
                     "fragmentation", "local_port", "remote_port")
_CONFIG_ONLY_CHILD = ("esp_proposals", "esp_proposals_text", "protocol", "pfs", "start_action", "sha256_96",
                      "ipcomp", "reqid")


def _merge_child(loaded, configured):
    for key in _CONFIG_ONLY_CHILD:
        loaded[key] = configured[key]
    for key in ("mode", "dpd_action", "close_action"):
        if loaded[key] is None:
            loaded[key] = configured[key]
    loaded["lifetimes"]["lifetime"] = configured["lifetimes"]["lifetime"]
    loaded["lifetimes"]["life_bytes"] = configured["lifetimes"]["life_bytes"]
    loaded["extra"].update(configured["extra"])
    return loaded


def merge_connections(loaded, configured, warnings, daemon_answered=True):
    """The daemon's connections completed from the configuration, plus configured-but-not-loaded ones.

    ``loaded`` is what the daemon reported (empty when it could not be asked: ``daemon_answered``
    false), ``configured`` what the configuration files say.
    """
    by_name = dict((conn["name"], conn) for conn in configured)
    merged = []
    for conn in loaded:
        conf = by_name.pop(conn["name"], None)
        if conf is None:
            if configured:
                warnings.append("connection '%s' is loaded in the daemon but not in the configuration read: "
                                "its proposals and start action are unknown" % conn["name"])
            merged.append(conn)
            continue
        conn["source"] = "daemon+config"
        for key in _CONFIG_ONLY_CONN:
            conn[key] = conf[key]
        if conn["lifetimes"]["ike_lifetime"] is None:
            conn["lifetimes"]["ike_lifetime"] = conf["lifetimes"]["ike_lifetime"]
        conn["extra"].update(conf["extra"])
        conf_children = dict((child["name"], child) for child in conf["children"])
        for child in conn["children"]:
            if child["name"] in conf_children:
                _merge_child(child, conf_children.pop(child["name"]))
        for child in conf_children.values():
            warnings.append("child '%s' of connection '%s' is configured but not loaded in the daemon" % (child["name"], conn["name"]))
        merged.append(rec.finish_connection(conn))
    for conn in configured:
        if conn["name"] in by_name:
            rec.mark_not_loaded(conn, daemon_answered, warnings, "configured but not loaded in the daemon")
            merged.append(conn)
    return merged


# --- swanctl text (filters, and the fallback when VICI is not usable) --------------------------------

def parse_list_sas_output(text):
    """``swanctl --list-sas`` text (human or ``--raw``) -> ``{sas, warnings, unparsed}``."""
    if _swanctl_text.is_raw(text):
        events, problems, unparsed = _swanctl_text.parse_raw(text, "list-sa")
    else:
        events, problems, unparsed = _swanctl_text.parse_list_sas_text(text)
    return {"sas": sas_from_vici(events), "warnings": problems, "unparsed": unparsed}


def parse_list_conns_output(text):
    """``swanctl --list-conns`` text (human or ``--raw``) -> ``{connections, warnings, unparsed}``.

    The output carries no proposals, start actions or secrets: those keys stay null.
    """
    if _swanctl_text.is_raw(text):
        events, problems, unparsed = _swanctl_text.parse_raw(text, "list-conn")
    else:
        events, problems, unparsed = _swanctl_text.parse_list_conns_text(text)
    return {"connections": connections_from_vici(events), "warnings": problems, "unparsed": unparsed}
