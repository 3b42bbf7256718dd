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
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _trace

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


def _dicts(value: t.Any) -> list[dict[str, t.Any]]:
    """The mappings of a list (anything else in it is dropped)."""
    return [item for item in _list(value) if isinstance(item, dict)]


def _dict(value: t.Any) -> dict[str, t.Any]:
    return dict(value) if isinstance(value, dict) else {}


def _text(value: t.Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    return str(value)


def _texts(value: t.Any) -> list[str]:
    return [str(item) for item in _list(value) if _text(item)]


def _number(value: t.Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        return float(str(value))
    except (TypeError, ValueError):
        return None


def _bool(value: t.Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _strip_prefix(address: t.Any) -> str:
    return address.split("/")[0].split("%")[0] if isinstance(address, str) else ""


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
        "trace": [],
        "warnings": [],
    }


def unmanaged_side(peer_address: str) -> dict[str, t.Any]:
    """The record of a peer we cannot log in to: only its address is known."""
    side = empty_side(peer_address, managed=False)
    side["addresses"] = [peer_address]
    return side


# --- normalisation of the parts ------------------------------------------------------------------


def _norm_proposal(proposal: t.Any) -> dict[str, t.Any] | None:
    if isinstance(proposal, str):
        return {"encryption": [], "integrity": [], "prf": [], "dh": [], "esn": [], "text": proposal, "unparsed": True}
    if not isinstance(proposal, dict):
        return None
    result: dict[str, t.Any] = {kind: _texts(proposal.get(kind)) for kind in ("encryption", "integrity", "prf", "dh", "esn")}
    result["text"] = _text(proposal.get("text")) or ""
    return result


def _proposals(value: t.Any) -> list[dict[str, t.Any]]:
    return [p for p in (_norm_proposal(item) for item in _list(value)) if p is not None]


def _norm_child(child: dict[str, t.Any], parent: dict[str, t.Any]) -> dict[str, t.Any]:
    truncated = child.get("sha256_96") is True or parent.get("sha256_96") is True
    return {
        "name": _text(child.get("name")) or _text(parent.get("name")),
        "local_ts": _texts(child.get("local_ts")),
        "remote_ts": _texts(child.get("remote_ts")),
        "esp_proposals": _proposals(child.get("esp_proposals")),
        "mode": (_text(child.get("mode")) or "tunnel").lower(),
        "start_action": _text(child.get("start_action")) or _text(parent.get("start_action")),
        "pfs": child.get("pfs"),
        "integrity_truncation": 96 if truncated else _number(child.get("integrity_truncation")),
    }


def _config_file(conn: dict[str, t.Any]) -> str | None:
    """The file a connection was read from (ike_info's ``source`` is a path, or daemon / daemon+config)."""
    for value in (conn.get("config_file"), conn.get("source")):
        text = _text(value)
        if text and text.startswith("/"):
            return text
    return None


def _norm_connection(conn: dict[str, t.Any]) -> dict[str, t.Any]:
    children = _dicts(conn.get("children"))
    if not children and (conn.get("local_ts") or conn.get("esp_proposals")):
        # DESIGN's flat form: one implicit child with the connection's selectors and ESP proposals.
        children = [conn]
    version = _number(conn.get("ike_version"))
    auth = _text(conn.get("auth"))
    return {
        "name": _text(conn.get("name")),
        "ike_version": int(version) if version in (1, 2) else 0,
        "local_addrs": [_strip_prefix(a) for a in _texts(conn.get("local_addrs"))],
        "remote_addrs": [_strip_prefix(a) for a in _texts(conn.get("remote_addrs"))],
        "local_id": _text(conn.get("local_id")),
        "remote_id": _text(conn.get("remote_id")),
        "local_auth": _text(conn.get("local_auth")) or auth,
        "remote_auth": _text(conn.get("remote_auth")) or auth,
        "psk_fingerprint": _text(conn.get("psk_fingerprint")),
        "psk_facts": _dict(conn.get("psk_facts") or _dict(conn.get("psk")).get("facts")),
        "psk_source": _text(_dict(conn.get("psk")).get("source")),
        "ike_proposals": _proposals(conn.get("ike_proposals")),
        "encap": conn.get("encap") if isinstance(conn.get("encap"), (bool, str)) else None,
        "dpd": conn.get("dpd"),
        "start_action": _text(conn.get("start_action")),
        "ikev2_narrowing": _bool(conn.get("ikev2_narrowing")),
        "config_file": _config_file(conn),
        "children": [_norm_child(child, conn) for child in children],
    }


ESTABLISHED_STATES = {"ESTABLISHED", "MATURE", "ESTABLISHED_IKE_SA", "STATE_V2_ESTABLISHED_IKE_SA",
                      "STATE_MAIN_I4", "STATE_MAIN_R3", "STATE_AGGR_I2", "STATE_AGGR_R2", "ESTABLISHED_P1"}
INSTALLED_STATES = {"INSTALLED", "MATURE", "ESTABLISHED", "ESTABLISHED_CHILD_SA", "STATE_V2_ESTABLISHED_CHILD_SA",
                    "STATE_QUICK_I2", "STATE_QUICK_R2"}


def _state_in(state: t.Any, accepted: set[str]) -> bool:
    return isinstance(state, str) and state.upper() in accepted


def _norm_child_sa(child: dict[str, t.Any]) -> dict[str, t.Any]:
    state = _text(child.get("state"))
    installed = _bool(child.get("installed"))
    if installed is None:
        installed = _state_in(state, INSTALLED_STATES)
    return {
        "name": _text(child.get("name")),
        "state": state,
        "installed": installed,
        "spi_in": _norm_spi(child.get("spi_in")),
        "spi_out": _norm_spi(child.get("spi_out")),
        "local_ts": _texts(child.get("local_ts")),
        "remote_ts": _texts(child.get("remote_ts")),
        "proposal": _norm_proposal(child.get("proposal")),
        "encap": child.get("encap") if isinstance(child.get("encap"), (bool, str)) else None,
        "bytes_in": _number(child.get("bytes_in")),
        "bytes_out": _number(child.get("bytes_out")),
    }


def _norm_ike_sa(sa: dict[str, t.Any]) -> dict[str, t.Any]:
    state = _text(sa.get("state"))
    established = _bool(sa.get("established"))
    if established is None:
        established = _state_in(state, ESTABLISHED_STATES)
    version = _number(sa.get("ike_version"))
    nat = _dict(sa.get("nat"))
    return {
        "name": _text(sa.get("name")),
        "state": state,
        "established": established,
        "ike_version": int(version) if version in (1, 2) else None,
        "spi_i": _text(sa.get("spi_i")),
        "spi_r": _text(sa.get("spi_r")),
        "proposal": _norm_proposal(sa.get("proposal")),
        "local_addr": _strip_prefix(sa.get("local_addr") or sa.get("local_host")),
        "remote_addr": _strip_prefix(sa.get("remote_addr") or sa.get("remote_host")),
        "nat_local": sa.get("nat_local") is True or nat.get("local") is True,
        "nat_remote": sa.get("nat_remote") is True or nat.get("remote") is True,
        "children": [_norm_child_sa(child) for child in _dicts(sa.get("children"))],
    }


def _norm_spi(spi: t.Any) -> str | None:
    """SPIs compare as lower-case 8-digit hex text: ``0xc8e2bf74`` (swanctl's ``c8e2bf74_i`` too)."""
    if isinstance(spi, bool) or spi is None or spi == "":
        return None
    if isinstance(spi, int):
        return f"0x{spi:08x}" if spi >= 0 else None
    if not isinstance(spi, str):
        return None
    text = spi.strip().lower().removesuffix("_i").removesuffix("_o").removeprefix("0x")
    try:
        return f"0x{int(text, 16):08x}"
    except ValueError:
        return spi


def _norm_ike(ike: dict[str, t.Any]) -> dict[str, t.Any]:
    result = empty_ike()
    result["daemon"] = _text(ike.get("daemon"))
    result["version"] = _text(ike.get("version"))
    result["running"] = _bool(ike.get("running"))
    listening = _dict(ike.get("listening"))
    result["listening"] = {port: next((_bool(listening[k]) for k in (port, int(port), f"udp_{port}") if k in listening), None)
                           for port in ("500", "4500")}
    result["config_changed"] = _number(ike.get("config_changed"))
    result["connections"] = [_norm_connection(conn) for conn in _dicts(ike.get("connections"))]
    result["sas"] = [_norm_ike_sa(sa) for sa in _dicts(ike.get("sas"))]
    return result


def _norm_algorithm(value: t.Any) -> dict[str, t.Any] | None:
    if not isinstance(value, dict):
        return None
    algorithm = dict(value)
    for key in ("key_bits", "icv_bits", "trunc_bits"):
        if key in algorithm:
            number = _number(algorithm[key])
            algorithm[key] = int(number) if number is not None else None
    for key in ("name", "canonical"):
        if key in algorithm:
            algorithm[key] = _text(algorithm[key])
    return algorithm


def _norm_state(state: dict[str, t.Any]) -> dict[str, t.Any]:
    norm = dict(state)
    norm["src"] = _strip_prefix(state.get("src"))
    norm["dst"] = _strip_prefix(state.get("dst"))
    norm["spi"] = _norm_spi(state.get("spi"))
    norm["proto"] = (_text(state.get("proto")) or "esp").lower()
    norm["mode"] = _text(state.get("mode"))
    norm["direction"] = state.get("direction") if state.get("direction") in ("in", "out") else None
    for key in ("enc", "auth", "aead"):
        norm[key] = _norm_algorithm(state.get(key))
    for key in ("encryption", "integrity"):
        norm[key] = _text(state.get(key))
    encap = state.get("encap")
    norm["encap"] = encap if isinstance(encap, (dict, str)) and encap else None
    norm["esn"] = state.get("esn") is True
    icv = _number(state.get("icv_bits"))
    norm["icv_bits"] = int(icv) if icv is not None else None
    norm["key_fingerprints"] = {k: v for k, v in _dict(state.get("key_fingerprints")).items() if _text(v)}
    norm["current"] = _dict(state.get("current"))
    return norm


def _norm_tmpl(tmpl: dict[str, t.Any]) -> dict[str, t.Any]:
    norm = dict(tmpl)
    norm["src"] = _strip_prefix(tmpl.get("src"))
    norm["dst"] = _strip_prefix(tmpl.get("dst"))
    return norm


def _norm_policy(policy: dict[str, t.Any]) -> dict[str, t.Any]:
    norm = dict(policy)
    norm["src"] = _text(policy.get("src"))
    norm["dst"] = _text(policy.get("dst"))
    norm["dir"] = (_text(policy.get("dir")) or "").lower()
    norm["action"] = (_text(policy.get("action")) or "allow").lower()
    norm["socket"] = policy.get("socket") is True
    norm["tmpls"] = [_norm_tmpl(tmpl) for tmpl in _dicts(policy.get("tmpls"))]
    return norm


def _norm_xfrm(xfrm: t.Any) -> dict[str, t.Any] | None:
    if not isinstance(xfrm, dict):
        return None
    return {
        "esp_supported": _bool(xfrm.get("esp_supported")),
        "states": [_norm_state(s) for s in _dicts(xfrm.get("states"))],
        "policies": [_norm_policy(p) for p in _dicts(xfrm.get("policies"))],
        "stat": {k: int(v) for k, v in _dict(xfrm.get("stat")).items() if _number(v) is not None},
    }


def _norm_capture(capture: t.Any) -> dict[str, t.Any] | None:
    if not isinstance(capture, dict):
        return None
    norm = dict(capture)
    for key in ("ike", "esp", "icmp_errors", "ike_sas", "leak_examples", "events"):
        norm[key] = _dicts(capture.get(key))
    for message in norm["ike"]:
        message["notify"] = _texts(message.get("notify"))
        message["proposals"] = _dicts(message.get("proposals"))
    # pairing events as pair_captures reads them: a time, an identity, a direction
    norm["events"] = [e for e in norm["events"] if isinstance(e.get("t"), (int, float)) and not isinstance(e.get("t"), bool)
                      and _text(e.get("id")) and e.get("dir") in ("in", "out") and e.get("kind") == "ike"]
    for key in ("start", "end", "late_ms"):
        norm[key] = _number(capture.get(key))
    for flow in norm["esp"]:
        flow["packets"] = int(_number(flow.get("packets")) or 0)
        flow["spi"] = _norm_spi(flow.get("spi"))
    norm["plaintext_out"] = int(_number(capture.get("plaintext_out")) or 0)
    norm["xfrm_stat_delta"] = {k: int(v) for k, v in _dict(capture.get("xfrm_stat_delta")).items() if _number(v) is not None}
    norm["files"] = _texts(capture.get("files"))
    return norm


def _norm_probe(probe: t.Any) -> dict[str, t.Any] | None:
    if not isinstance(probe, dict):
        return None
    norm = dict(probe)
    norm["icmp"] = _dicts(probe.get("icmp"))
    for entry in norm["icmp"]:
        entry["sent"] = int(_number(entry.get("sent")) or 0)
        entry["received"] = int(_number(entry.get("received")) or 0)
        entry["size"] = int(_number(entry.get("size")) or 0)
    norm["tcp"] = probe.get("tcp") if isinstance(probe.get("tcp"), dict) else None
    norm["source"] = _text(probe.get("source"))
    norm["destination"] = _text(probe.get("destination"))
    return norm


def normalise_side(record: t.Any) -> dict[str, t.Any]:
    """A complete side record from a possibly partial one (recorded, hand-written, older schema).

    Values of the wrong type are dropped (a list where a mapping belongs, a number where text
    belongs), so rules read a well-typed record whatever they were given.
    """
    if not isinstance(record, dict):
        raise TypeError(f"a side record must be a mapping, got {type(record).__name__}")
    host = _text(record.get("host")) or "unknown"
    side = empty_side(host, managed=record.get("managed", True) is not False)
    side["peer_address"] = _text(record.get("peer_address"))
    side["fingerprint_salt_id"] = _text(record.get("fingerprint_salt_id"))
    side["addresses"] = [a for a in (_strip_prefix(a) for a in _texts(record.get("addresses"))) if a]
    side["interfaces"] = _dicts(record.get("interfaces"))
    for name, info in _dict(record.get("sources")).items():
        if name in side["sources"] and isinstance(info, dict):
            side["sources"][name] = {"status": _text(info.get("status")) or "ok", "reason": _text(info.get("reason")) or ""}
    if "sources" not in record:
        # A hand-written record without bookkeeping: what it carries counts as gathered.
        for name in SOURCES:
            if record.get(name) and side["managed"]:
                side["sources"][name] = {"status": "ok", "reason": ""}
    side["ike"] = _norm_ike(_dict(record.get("ike")))
    side["xfrm"] = _norm_xfrm(_dict(record.get("xfrm")))
    side["xfrm_after"] = _norm_xfrm(record.get("xfrm_after"))
    firewall = _dict(record.get("firewall"))
    side["firewall"] = {
        "backend": _text(firewall.get("backend")),
        "both_loaded": firewall.get("both_loaded") is True,
        "active_backends": _texts(firewall.get("active_backends")),
        "info": firewall.get("info") if isinstance(firewall.get("info"), dict) else None,
    }
    side["sysctl"] = _dict(record.get("sysctl"))
    side["routes"] = _dicts(record.get("routes"))
    side["logs"] = _dicts(record.get("logs"))
    side["capture"] = _norm_capture(record.get("capture"))
    side["probe"] = _norm_probe(record.get("probe"))
    side["trace"] = [dict(packet, steps=_dicts(packet.get("steps"))) for packet in _dicts(record.get("trace"))]
    side["warnings"] = _texts(record.get("warnings"))
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
        "packets": dict(summary.get("packets") or {}),
        "interfaces": list((result.get("plan") or {}).get("interfaces") or []),
        "files": [f.get("path") for f in result.get("files") or [] if f.get("state") == "kept"],
        "ike": messages, "ike_sas": list(ike.get("sas") or []), "esp": esp,
        # the IKE packets' pairing events (same id on both gateways), for pair_captures' timeline
        "events": [event for event in summary.get("events") or [] if isinstance(event, dict) and event.get("kind") == "ike"],
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
    trace = results.get("trace") or {}
    if isinstance(trace, dict) and "stdout" in trace and not trace.get("skipped"):
        record["trace"] = _trace.parse(trace.get("stdout") or "")
        if not record["trace"]:
            record["warnings"].append(
                "TRACE rules were in place for the window but the kernel logged no trace line (in a network namespace "
                "other than the first, netfilter logs only with net.netfilter.nf_log_all_netns=1; nf_log_syslog must be loaded)")
    record["addresses"] = list(dict.fromkeys(addresses))
    config_changed = _config_changed(results.get("config_files"), ike)
    if config_changed is not None and isinstance(record.get("ike"), dict):
        record["ike"] = dict(record["ike"], config_changed=config_changed)
    side = normalise_side(record)
    info = results.get("firewall_info") or {}
    if side["sources"]["firewall"]["status"] in ("ok", "partial"):
        attach_firewall_info(side, info, record["sources"]["firewall"])
    return side


IKE_CONFIG_NAMES = ("ipsec.conf", "ipsec.secrets", "swanctl.conf", "racoon.conf", "psk.txt")
IKE_CONFIG_DIRS = ("/etc/swanctl/", "/etc/ipsec.d/", "/etc/racoon/")


def _config_changed(found: t.Any, ike_result: t.Any) -> float | None:
    """When the IKE configuration last changed: the newest mtime of the daemon's files (a ``find`` result)."""
    if not isinstance(found, dict):
        return None
    read = {str(src)[5:] for src in _list(_dict(ike_result).get("ike", {}).get("sources") if isinstance(ike_result, dict) else [])
            if str(src).startswith("file:")}
    times = []
    for entry in _dicts(found.get("files")):
        path = _text(entry.get("path")) or ""
        ike_file = path in read or path.rsplit("/", 1)[-1] in IKE_CONFIG_NAMES or path.startswith(IKE_CONFIG_DIRS)
        mtime = _number(entry.get("mtime"))
        if ike_file and mtime is not None:
            times.append(mtime)
    return max(times) if times else None


def attach_firewall_info(side: dict[str, t.Any], info: dict[str, t.Any], source: dict[str, str] | None = None) -> dict[str, t.Any]:
    """Put a firewall_info result into a (normalised) side record: rules, sysctls, routes, addresses."""
    side["sources"]["firewall"] = dict(source or {"status": "ok", "reason": ""})
    side["firewall"] = _firewall_part(info)
    side["sysctl"] = copy.deepcopy(_dict(info.get("sysctl")))
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
