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
    firewall: {backend, both_loaded, active_backends, info: <the firewall_info result, read only by
               _firewall_checks and the rule evaluator>}
    sysctl: {ip_forward, conf: {all|default|<ifname>: {rp_filter, accept_redirects, ...}},
             effective_rp_filter: {<ifname>: 0|1|2}, xfrm_larval_drop, ...}  (firewall_info's)
    routes: [firewall_info route lookups: {purpose, subnet, lookup, from, dev, src, table, type, error, reachable}]
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
        "firewall": {"backend": None, "both_loaded": False, "active_backends": [], "info": None},
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
        "integrity_truncation": 96 if child.get("sha256_96") or parent.get("sha256_96") else child.get("integrity_truncation"),
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
        "local_addr": _strip_prefix(sa.get("local_addr") or sa.get("local_host") or ""),
        "remote_addr": _strip_prefix(sa.get("remote_addr") or sa.get("remote_host") or ""),
        "nat_local": bool(sa.get("nat_local") or (sa.get("nat") or {}).get("local")),
        "nat_remote": bool(sa.get("nat_remote") or (sa.get("nat") or {}).get("remote")),
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
        result["listening"] = {port: next((listening[k] for k in (port, int(port), f"udp_{port}") if k in listening), None)
                               for port in ("500", "4500")}
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
        "esp_supported": xfrm.get("esp_supported"),
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
        "both_loaded": bool(firewall.get("both_loaded")),
        "active_backends": _list(firewall.get("active_backends")),
        "info": firewall.get("info"),
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


# --- from the gathering modules' results -----------------------------------------------------------


def result_status(result: t.Any) -> tuple[str, str]:
    """(status, reason) of one registered module result."""
    if not isinstance(result, dict) or not result:
        return "missing", "not gathered in this run"
    if result.get("skipped"):
        return "skipped", str(result.get("skip_reason") or result.get("msg") or "skipped")
    if result.get("unreachable"):
        return "error", f"host unreachable: {result.get('msg', '')}".strip()
    if result.get("failed"):
        return "error", str(result.get("msg") or "the module failed")
    errors = [e if isinstance(e, str) else e.get("message") or str(e) for e in _list(result.get("errors"))]
    if errors:
        return "partial", "; ".join(str(e) for e in errors[:3])
    return "ok", ""


def _capture(result: dict[str, t.Any]) -> dict[str, t.Any]:
    summary = result.get("summary") or {}
    ike = summary.get("ike") or {}
    sas = {sa.get("ispi"): sa for sa in ike.get("sas") or []}
    messages = []
    for msg in ike.get("messages") or []:
        response = msg.get("response")
        if response is None:
            # IKEv1 has no response flag: what the SA's responder sends counts as an answer.
            sa = sas.get(msg.get("ispi")) or {}
            response = bool(sa) and msg.get("src") == sa.get("responder")
        messages.append({
            "time": msg.get("time"), "dir": msg.get("direction"), "src": msg.get("src"), "dst": msg.get("dst"),
            "sport": msg.get("sport"), "dport": msg.get("dport"), "version": msg.get("major_version"),
            "exchange": msg.get("exchange"), "response": bool(response), "msgid": msg.get("message_id"),
            "spi_i": msg.get("ispi"), "spi_r": msg.get("rspi"), "notify": list(msg.get("notify_types") or []),
            "proposals": list(msg.get("proposals") or []), "retransmit": bool(msg.get("retransmission")),
            "answered": msg.get("answered"), "digest": msg.get("digest"), "encrypted": bool(msg.get("encrypted")),
        })
    esp = [{"spi": _norm_spi(flow.get("spi")), "dir": flow.get("direction"), "src": flow.get("src"), "dst": flow.get("dst"),
            "packets": flow.get("packets") or 0, "bytes": flow.get("bytes") or 0, "encap": flow.get("encapsulation") == "udp",
            "gaps": flow.get("gaps") or 0, "replays": flow.get("replays") or 0} for flow in summary.get("esp") or []]
    cleartext = summary.get("cleartext") or {}
    window = result.get("window") or {}
    return {
        "start": window.get("start"), "end": window.get("end"), "late_ms": window.get("late_ms"),
        "interfaces": list((result.get("plan") or {}).get("interfaces") or []),
        "files": [f.get("path") for f in result.get("files") or [] if f.get("state") == "kept"],
        "ike": messages, "ike_sas": list(ike.get("sas") or []), "esp": esp,
        "plaintext_out": (cleartext.get("outbound_leak") or {}).get("packets") or 0,
        "leak_examples": list(cleartext.get("leak_examples") or []),
        "subnets_known": cleartext.get("subnets_known"),
        "icmp_errors": list((summary.get("icmp") or {}).get("errors") or []),
        "xfrm_stat_delta": dict((result.get("xfrm_stat") or {}).get("delta") or {}),
        "warnings": list(summary.get("warnings") or []),
    }


def _probe(result: dict[str, t.Any]) -> dict[str, t.Any] | None:
    probe = result.get("probe")
    if not isinstance(probe, dict) or not probe.get("results"):
        return None
    icmp, tcp = [], None
    for entry in probe["results"]:
        if entry.get("type") == "icmp":
            icmp.append({"size": entry.get("size"), "df": entry.get("df"), "sent": entry.get("sent") or 0,
                         "received": entry.get("received") or 0, "status": entry.get("status"),
                         "ok": entry.get("status") in ("ok", "partial"), "path_mtu": entry.get("path_mtu"),
                         "errors": list(entry.get("errors") or [])})
        elif entry.get("type") == "tcp":
            tcp = {"port": entry.get("port"), "ok": entry.get("status") == "connected",
                   "refused": entry.get("status") == "refused", "status": entry.get("status"),
                   "error": entry.get("msg") or entry.get("errno"), "time_ms": entry.get("time_ms")}
    first = probe["results"][0]
    return {"ran": True, "source": first.get("source"), "destination": first.get("destination"), "icmp": icmp, "tcp": tcp}


def _firewall_part(info: dict[str, t.Any]) -> dict[str, t.Any]:
    firewall = info.get("firewall") or {}
    return {"backend": firewall.get("backend"), "both_loaded": bool(firewall.get("both_loaded")),
            "active_backends": list(firewall.get("active_backends") or []), "info": info}


def _interfaces(info: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    by_name: dict[str, dict[str, t.Any]] = {}
    for iface in info.get("interfaces") or []:
        name = iface.get("name") or iface.get("interface")
        if name:
            by_name[name] = {"name": name, "mtu": iface.get("mtu"), "addresses": []}
    for entry in info.get("addresses") or []:
        name = entry.get("interface")
        if name:
            by_name.setdefault(name, {"name": name, "mtu": None, "addresses": []})["addresses"].append(
                f"{entry.get('address')}/{entry.get('prefix')}" if entry.get("prefix") is not None else entry.get("address"))
    return list(by_name.values())


def build_side(
    host: str,
    results: dict[str, t.Any],
    peer_address: str | None = None,
    salt_id: str | None = None,
) -> dict[str, t.Any]:
    """The side record of gateway ``host`` from its registered module results.

    ``results`` maps ``ike_info``, ``xfrm_info``, ``xfrm_info_after`` (re-read after the probe),
    ``firewall_info``, ``log_info`` and ``capture`` to what the modules returned (any may be
    missing, skipped or failed: the source then says so and the rules report unknown/skip).
    """
    record: dict[str, t.Any] = {"host": host, "managed": True, "peer_address": peer_address,
                                "fingerprint_salt_id": salt_id, "sources": {}, "warnings": []}
    addresses: list[str] = []
    for module, source in MODULE_SOURCES.items():
        status, reason = result_status(results.get(module))
        record["sources"][source] = {"status": status, "reason": reason}
        if status == "partial":
            record["warnings"].append(f"{module}: {reason}")
    xfrm = results.get("xfrm_info") or {}
    if record["sources"]["xfrm"]["status"] in ("ok", "partial"):
        record["xfrm"] = xfrm.get("xfrm") or {}
        addresses += [a for a in xfrm.get("local_addresses") or [] if not str(a).startswith(("127.", "::1", "fe80:"))]
    after = results.get("xfrm_info_after") or {}
    if result_status(after)[0] in ("ok", "partial"):
        record["xfrm_after"] = after.get("xfrm") or {}
    ike = results.get("ike_info") or {}
    if record["sources"]["ike"]["status"] in ("ok", "partial"):
        record["ike"] = ike.get("ike") or ike
    logs = results.get("log_info") or {}
    if record["sources"]["logs"]["status"] in ("ok", "partial"):
        record["logs"] = logs.get("entries") or logs.get("logs") or []
    capture = results.get("capture") or {}
    status = record["sources"]["capture"]["status"]
    if status in ("ok", "partial") and capture.get("summary") is not None:
        record["capture"] = _capture(capture)
        record["probe"] = _probe(capture)
        record["sources"]["probe"] = ({"status": "ok", "reason": ""} if record["probe"]
                                      else {"status": "skipped", "reason": "no probe in this run"})
    else:
        record["sources"]["probe"] = {"status": "missing", "reason": "no capture, so no probe, in this run"}
    record["addresses"] = list(dict.fromkeys(addresses))
    side = normalise_side(record)
    info = results.get("firewall_info") or {}
    if side["sources"]["firewall"]["status"] in ("ok", "partial"):
        attach_firewall_info(side, info, record["sources"]["firewall"])
    return side


def attach_firewall_info(side: dict[str, t.Any], info: dict[str, t.Any], source: dict[str, str] | None = None) -> dict[str, t.Any]:
    """Put a firewall_info result into a (normalised) side record: rules, sysctls, routes, addresses."""
    side["sources"]["firewall"] = dict(source or {"status": "ok", "reason": ""})
    side["firewall"] = _firewall_part(info)
    side["sysctl"] = dict(info.get("sysctl") or {})
    side["routes"] = list((info.get("routes") or {}).get("lookups") or [])
    side["interfaces"] = _interfaces(info)
    own = [e.get("address") for e in info.get("addresses") or []
           if e.get("address") and not str(e.get("address")).startswith(("127.", "::1", "fe80:"))]
    side["addresses"] = list(dict.fromkeys(side["addresses"] + own))
    _fill_listening(side, list(info.get("listeners") or []))
    return side


def _fill_listening(side: dict[str, t.Any], listeners: list[dict[str, t.Any]]) -> None:
    """UDP 500/4500 listeners seen by firewall_info fill what ike_info did not say."""
    if not listeners:
        return
    ports = {str(entry.get("port")) for entry in listeners if entry.get("port")}
    for port in ("500", "4500"):
        if side["ike"]["listening"].get(port) is None:
            side["ike"]["listening"][port] = port in ports
