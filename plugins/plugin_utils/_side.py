# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The side record: what one gateway contributes to a diagnosis, in one normalised shape.

The gathering modules (xfrm_info, ike_info, firewall_info, log_info, capture) each return their
own documented result. This file is the only place that knows those shapes: ``build_side`` turns
the results registered on one gateway into the side record the rules read, and
``normalise_side`` fills the defaults of a record that was recorded earlier or written by hand
(a ticket), so that rules never test for missing keys. Every source says whether it was gathered
(``sources.<name>.status``: ok, partial, missing, error, skipped, unmanaged) and why not.

Normalised record (all keys always present)::

    host: gw_a                      managed: true      peer_address: 192.0.2.2 | null
    addresses: [192.0.2.1, 10.1.0.1]                   # this gateway's own addresses
    interfaces: [{name, addresses: [...], mtu}]
    sources: {ike|xfrm|firewall|logs|capture|probe: {status, reason}}
    ike: {daemon, version, running, listening: {"500": bool|null, "4500": bool|null},
          config_changed: epoch|null,
          connections: [{name, ike_version: 1|2|0, local_addrs, remote_addrs, local_id, remote_id,
                         local_auth, remote_auth, psk_fingerprint, psk_facts: {...},
                         ike_proposals: [proposal], encap, dpd, start_action, ikev2_narrowing,
                         children: [{name, local_ts, remote_ts, esp_proposals: [proposal], mode,
                                     start_action, pfs}]}],
          sas: [{name, state, established: bool, ike_version, spi_i, spi_r, proposal, local_addr,
                 remote_addr, nat_local, nat_remote, children: [{name, state, installed: bool,
                 spi_in, spi_out, local_ts, remote_ts, proposal, encap, bytes_in, bytes_out}]}]}
    xfrm: {states: [{src, dst, proto, spi, reqid, mode, direction, enc, auth, aead, icv_bits,
                     integrity, encryption, key_fingerprints, encap, esn, current, stats}],
           policies: [{src, dst, proto, dir, action, priority, tmpls: [{src, dst, proto, mode,
                       reqid}], current}],
           stat: {XfrmInNoStates: 0, ...}}
    xfrm_after: same shape as xfrm, or null (state re-read after the probe)
    firewall: {backend, ruleset: <firewall_info result, for the evaluator>, both_loaded}
    sysctl: {ip_forward, rp_filter: {all, default, <ifname>...}, accept_redirects,
             send_redirects, xfrm_larval_drop, ...}
    routes: [{purpose, dst, type, via, dev, src, table, error}]
    logs: [{time, daemon, level, code, message, detail}]
    capture: {start, end, interfaces, ike: [...], esp: [...], plaintext_out, icmp_errors,
              xfrm_stat_delta, file, errors} | null
    probe: {ran, source, destination, icmp: [{size, df, sent, received, ok}], tcp: {...}} | null
"""

from __future__ import annotations

import copy
import typing as t

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _addr

SOURCES = ("ike", "xfrm", "firewall", "logs", "capture", "probe")
SIDE_SCHEMA_VERSION = 1

# Which module result feeds which source of the side record.
MODULE_SOURCES = {
    "ike_info": "ike",
    "xfrm_info": "xfrm",
    "firewall_info": "firewall",
    "log_info": "logs",
    "capture": "capture",
}


def _list(value: t.Any) -> list[t.Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _strip_prefix(address: str) -> str:
    return address.split("/")[0].split("%")[0] if isinstance(address, str) else address


def empty_ike() -> dict[str, t.Any]:
    return {
        "daemon": None,
        "version": None,
        "running": None,
        "listening": {"500": None, "4500": None},
        "config_changed": None,
        "connections": [],
        "sas": [],
    }


def empty_xfrm() -> dict[str, t.Any]:
    return {"states": [], "policies": [], "stat": {}}


def empty_side(host: str, managed: bool = True) -> dict[str, t.Any]:
    reason = "" if managed else "the peer is not managed by this inventory (one-sided mode)"
    status = "missing" if managed else "unmanaged"
    return {
        "schema": SIDE_SCHEMA_VERSION,
        "host": host,
        "managed": managed,
        "peer_address": None,
        "fingerprint_salt_id": None,
        "addresses": [],
        "interfaces": [],
        "sources": {name: {"status": status, "reason": reason or f"{name} was not gathered"} for name in SOURCES},
        "ike": empty_ike(),
        "xfrm": empty_xfrm(),
        "xfrm_after": None,
        "firewall": {"backend": None, "ruleset": None, "both_loaded": False},
        "sysctl": {},
        "routes": [],
        "logs": [],
        "capture": None,
        "probe": None,
        "warnings": [],
    }


def unmanaged_side(peer_address: str) -> dict[str, t.Any]:
    """The record of a peer we cannot log in to: only its address is known."""
    side = empty_side(peer_address, managed=False)
    side["addresses"] = [peer_address]
    return side


# --- normalisation of the parts ------------------------------------------------------------------


def _norm_proposal(proposal: t.Any) -> dict[str, t.Any]:
    if isinstance(proposal, str):
        return {"encryption": [], "integrity": [], "prf": [], "dh": [], "esn": [], "text": proposal, "unparsed": True}
    result = {kind: [str(item) for item in _list(proposal.get(kind))] for kind in ("encryption", "integrity", "prf", "dh", "esn")}
    result["text"] = proposal.get("text", "")
    return result


def _norm_child(child: dict[str, t.Any], parent: dict[str, t.Any]) -> dict[str, t.Any]:
    return {
        "name": child.get("name") or parent.get("name"),
        "local_ts": [str(ts) for ts in _list(child.get("local_ts"))],
        "remote_ts": [str(ts) for ts in _list(child.get("remote_ts"))],
        "esp_proposals": [_norm_proposal(p) for p in _list(child.get("esp_proposals"))],
        "mode": (child.get("mode") or "tunnel").lower(),
        "start_action": child.get("start_action", parent.get("start_action")),
        "pfs": child.get("pfs"),
        "integrity_truncation": child.get("integrity_truncation"),
    }


def _norm_connection(conn: dict[str, t.Any]) -> dict[str, t.Any]:
    children = _list(conn.get("children"))
    if not children and (conn.get("local_ts") or conn.get("esp_proposals")):
        # DESIGN's flat form: one implicit child with the connection's selectors and ESP proposals.
        children = [conn]
    version = conn.get("ike_version")
    try:
        version = int(version) if version not in (None, "", "any") else 0
    except (TypeError, ValueError):
        version = 0
    auth = conn.get("auth")
    return {
        "name": conn.get("name"),
        "ike_version": version,
        "local_addrs": [_strip_prefix(a) for a in _list(conn.get("local_addrs"))],
        "remote_addrs": [_strip_prefix(a) for a in _list(conn.get("remote_addrs"))],
        "local_id": conn.get("local_id"),
        "remote_id": conn.get("remote_id"),
        "local_auth": conn.get("local_auth", auth),
        "remote_auth": conn.get("remote_auth", auth),
        "psk_fingerprint": conn.get("psk_fingerprint"),
        "psk_facts": dict(conn.get("psk_facts") or {}),
        "ike_proposals": [_norm_proposal(p) for p in _list(conn.get("ike_proposals"))],
        "encap": conn.get("encap"),
        "dpd": conn.get("dpd"),
        "start_action": conn.get("start_action"),
        "ikev2_narrowing": conn.get("ikev2_narrowing"),
        "config_file": conn.get("config_file"),
        "children": [_norm_child(child, conn) for child in children],
    }


ESTABLISHED_STATES = {"ESTABLISHED", "MATURE", "ESTABLISHED_IKE_SA", "STATE_V2_ESTABLISHED_IKE_SA",
                      "STATE_MAIN_I4", "STATE_MAIN_R3", "STATE_AGGR_I2", "STATE_AGGR_R2", "ESTABLISHED_P1"}
INSTALLED_STATES = {"INSTALLED", "MATURE", "ESTABLISHED", "ESTABLISHED_CHILD_SA", "STATE_V2_ESTABLISHED_CHILD_SA",
                    "STATE_QUICK_I2", "STATE_QUICK_R2"}


def _state_in(state: t.Any, accepted: set[str]) -> bool:
    return isinstance(state, str) and state.upper() in accepted


def _norm_child_sa(child: dict[str, t.Any]) -> dict[str, t.Any]:
    state = child.get("state")
    installed = child.get("installed")
    if installed is None:
        installed = _state_in(state, INSTALLED_STATES)
    return {
        "name": child.get("name"),
        "state": state,
        "installed": bool(installed),
        "spi_in": _norm_spi(child.get("spi_in")),
        "spi_out": _norm_spi(child.get("spi_out")),
        "local_ts": [str(ts) for ts in _list(child.get("local_ts"))],
        "remote_ts": [str(ts) for ts in _list(child.get("remote_ts"))],
        "proposal": _norm_proposal(child["proposal"]) if child.get("proposal") else None,
        "encap": child.get("encap"),
        "bytes_in": child.get("bytes_in"),
        "bytes_out": child.get("bytes_out"),
    }


def _norm_ike_sa(sa: dict[str, t.Any]) -> dict[str, t.Any]:
    state = sa.get("state")
    established = sa.get("established")
    if established is None:
        established = _state_in(state, ESTABLISHED_STATES)
    version = sa.get("ike_version")
    return {
        "name": sa.get("name"),
        "state": state,
        "established": bool(established),
        "ike_version": int(version) if isinstance(version, (int, str)) and str(version).isdigit() else None,
        "spi_i": sa.get("spi_i"),
        "spi_r": sa.get("spi_r"),
        "proposal": _norm_proposal(sa["proposal"]) if sa.get("proposal") else None,
        "local_addr": _strip_prefix(sa.get("local_addr") or ""),
        "remote_addr": _strip_prefix(sa.get("remote_addr") or ""),
        "nat_local": bool(sa.get("nat_local")),
        "nat_remote": bool(sa.get("nat_remote")),
        "children": [_norm_child_sa(child) for child in _list(sa.get("children"))],
    }


def _norm_spi(spi: t.Any) -> str | None:
    """SPIs compare as lower-case 8-digit hex text: ``0xc8e2bf74`` (swanctl's ``c8e2bf74_i`` too)."""
    if spi is None or spi == "":
        return None
    if isinstance(spi, int):
        return f"0x{spi:08x}"
    text = str(spi).strip().lower().removesuffix("_i").removesuffix("_o").removeprefix("0x")
    try:
        return f"0x{int(text, 16):08x}"
    except ValueError:
        return str(spi)


def _norm_ike(ike: dict[str, t.Any]) -> dict[str, t.Any]:
    result = empty_ike()
    result["daemon"] = ike.get("daemon")
    result["version"] = ike.get("version")
    result["running"] = ike.get("running")
    listening = ike.get("listening") or {}
    if isinstance(listening, dict):
        result["listening"] = {port: listening.get(port, listening.get(int(port))) for port in ("500", "4500")}
    result["config_changed"] = ike.get("config_changed")
    result["connections"] = [_norm_connection(conn) for conn in _list(ike.get("connections"))]
    result["sas"] = [_norm_ike_sa(sa) for sa in _list(ike.get("sas"))]
    return result


def _norm_state(state: dict[str, t.Any]) -> dict[str, t.Any]:
    norm = dict(state)
    norm["src"] = _strip_prefix(state.get("src"))
    norm["dst"] = _strip_prefix(state.get("dst"))
    norm["spi"] = _norm_spi(state.get("spi"))
    norm["proto"] = (state.get("proto") or "esp").lower()
    norm.setdefault("direction", None)
    norm.setdefault("encap", None)
    norm["esn"] = bool(state.get("esn"))
    norm.setdefault("icv_bits", None)
    norm.setdefault("key_fingerprints", {})
    norm.setdefault("current", {})
    return norm


def _norm_policy(policy: dict[str, t.Any]) -> dict[str, t.Any]:
    norm = dict(policy)
    norm["dir"] = (policy.get("dir") or "").lower()
    norm["action"] = (policy.get("action") or "allow").lower()
    norm["tmpls"] = [dict(tmpl) for tmpl in _list(policy.get("tmpls"))]
    for tmpl in norm["tmpls"]:
        tmpl["src"] = _strip_prefix(tmpl.get("src") or "")
        tmpl["dst"] = _strip_prefix(tmpl.get("dst") or "")
    return norm


def _norm_xfrm(xfrm: dict[str, t.Any] | None) -> dict[str, t.Any] | None:
    if xfrm is None:
        return None
    return {
        "states": [_norm_state(s) for s in _list(xfrm.get("states"))],
        "policies": [_norm_policy(p) for p in _list(xfrm.get("policies"))],
        "stat": dict(xfrm.get("stat") or {}),
    }


def normalise_side(record: dict[str, t.Any]) -> dict[str, t.Any]:
    """A complete side record from a possibly partial one (recorded, hand-written, older schema)."""
    if not isinstance(record, dict):
        raise TypeError(f"a side record must be a mapping, got {type(record).__name__}")
    host = str(record.get("host") or "unknown")
    side = empty_side(host, managed=record.get("managed", True) is not False)
    side["peer_address"] = record.get("peer_address")
    side["fingerprint_salt_id"] = record.get("fingerprint_salt_id")
    side["addresses"] = [_strip_prefix(a) for a in _list(record.get("addresses"))]
    side["interfaces"] = _list(record.get("interfaces"))
    for name, info in (record.get("sources") or {}).items():
        if name in side["sources"] and isinstance(info, dict):
            side["sources"][name] = {"status": info.get("status", "ok"), "reason": info.get("reason", "")}
    if "sources" not in record:
        # A hand-written record without bookkeeping: what it carries counts as gathered.
        for name in SOURCES:
            if record.get(name) and side["managed"]:
                side["sources"][name] = {"status": "ok", "reason": ""}
    side["ike"] = _norm_ike(record.get("ike") or {})
    side["xfrm"] = _norm_xfrm(record.get("xfrm") or {})
    side["xfrm_after"] = _norm_xfrm(record.get("xfrm_after"))
    firewall = record.get("firewall") or {}
    side["firewall"] = {
        "backend": firewall.get("backend"),
        "ruleset": firewall.get("ruleset"),
        "both_loaded": bool(firewall.get("both_loaded")),
    }
    side["sysctl"] = dict(record.get("sysctl") or {})
    side["routes"] = _list(record.get("routes"))
    side["logs"] = _list(record.get("logs"))
    side["capture"] = record.get("capture")
    side["probe"] = record.get("probe")
    side["warnings"] = _list(record.get("warnings"))
    return side


def copy_side(record: dict[str, t.Any]) -> dict[str, t.Any]:
    return copy.deepcopy(record)


def source_ok(side: dict[str, t.Any], name: str) -> bool:
    return side["sources"][name]["status"] in ("ok", "partial")


def source_reason(side: dict[str, t.Any], name: str) -> str:
    info = side["sources"][name]
    return info.get("reason") or f"{name}: {info.get('status')}"


def owns_address(side: dict[str, t.Any], address: str | None) -> bool:
    """True when ``address`` is one of the side's own addresses."""
    if not address:
        return False
    address = _strip_prefix(address)
    return any(_addr.normalize_network(address) == _addr.normalize_network(own) for own in side["addresses"])
