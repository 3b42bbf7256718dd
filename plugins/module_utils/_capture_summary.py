# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""What a capture on a gateway says about its tunnel, as one JSON-ready dict.

``summarize(packets, context)`` walks decoded packets once and reports: every IKE message (with
retransmissions and answers recognised), IKE SAs, ESP per SPI and direction (sequence ranges, gaps,
replays), NAT-T keepalives, clear text between the protected subnets (outbound = a leak; inbound
right after inbound ESP = the decapsulated copy Linux shows on the outer interface, not a leak),
ICMP errors, IP fragments, per-flow counters and a compact event list that the controller pairs
with the other gateway's. The keys are documented in the RETURN block of the capture module.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import socket

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _addr, _ike_decode, _packet_decode, _pcap

DECAP_WINDOW = 0.5
MAX_GAP_RANGES = 10
NAT_DIGESTS = ("sha1", "md5", "sha256", "sha384", "sha512")
DEFAULTS = {"max_events": 2000, "max_ike_messages": 300, "max_flows": 200, "max_icmp_errors": 100, "max_examples": 5}


def _digest(data):
    return hashlib.sha1(bytes(data)).hexdigest()[:20]


def _round(stamp):
    return round(stamp, 6) if stamp is not None else None


class _Context(object):
    def __init__(self, context):
        context = context or {}
        self.limits = dict(DEFAULTS)
        for key in DEFAULTS:
            if context.get(key) is not None:
                self.limits[key] = int(context[key])
        self.peers = set(_canonical(a) for a in context.get("peer_addresses") or [])
        self.locals = set(_canonical(a) for a in context.get("local_addresses") or [])
        self.local_nets = _networks(context.get("local_subnets"))
        self.remote_nets = _networks(context.get("remote_subnets"))
        self.roles = dict(context.get("interface_roles") or {})
        self.macs = dict((k, (v or "").lower()) for k, v in (context.get("interface_macs") or {}).items())
        window = context.get("window") or (None, None)
        self.start, self.end = window[0], window[1]

    def role(self, interface):
        return self.roles.get(interface, "outer")


def _canonical(address):
    net = _addr.parse_network(address)
    return _addr.format_address(net[0], net[1]) if net else address


def _networks(texts):
    return [net for net in (_addr.parse_network(text) for text in texts or []) if net]


def _in_any(address, networks):
    if not networks or not address:
        return False
    host = _addr.parse_network(address)
    return bool(host) and any(_addr.network_contains(net, host) for net in networks)


def _packed(address):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return socket.inet_pton(family, address)


class Summary(object):
    """Accumulates packets; ``result()`` gives the summary dict."""

    def __init__(self, context=None):
        self.ctx = _Context(context)
        self.counts = {
            "total": 0,
            "in_window": 0,
            "outside_window": 0,
            "undecodable": 0,
            "truncated_frames": 0,
            "unknown_link_type": 0,
            "ike": 0,
            "esp": 0,
            "natt_keepalive": 0,
            "icmp_error": 0,
            "cleartext": 0,
            "fragments": 0,
            "other": 0,
        }
        self.link_types = {}
        self.interfaces = {}
        self.first = None
        self.last = None
        self.warnings = []
        self.ike_messages = []
        self.ike_dropped = 0
        self._ike_seen = {}
        self._ike_initiators = {}
        self.esp = {}
        self.keepalives = {"out": 0, "in": 0, "unknown": 0, "other": 0}
        self.icmp_errors = []
        self.icmp_counts = {}
        self.flows = {}
        self.flows_dropped = 0
        self.clear = {"outbound_leak": {}, "inbound_decapsulated": {}, "inbound_unprotected": {}, "inner": {}}
        self.clear_examples = []
        self._pending_esp_in = {}
        self.events = []
        self.events_dropped = 0
        self.reassembler = _packet_decode.Reassembler()
        self.fragment_flows = {}

    # -- input ---------------------------------------------------------------------------------
    def add(self, packet):
        """Take one _pcap.Packet."""
        self.counts["total"] += 1
        stamp = packet.time
        if (self.ctx.start is not None and stamp < self.ctx.start) or (self.ctx.end is not None and stamp > self.ctx.end):
            self.counts["outside_window"] += 1
            return
        self.counts["in_window"] += 1
        self.first = stamp if self.first is None else min(self.first, stamp)
        self.last = stamp if self.last is None else max(self.last, stamp)
        name = _pcap.linktype_name(packet.linktype)
        self.link_types[name] = self.link_types.get(name, 0) + 1
        interface = packet.interface or "unknown"
        self.interfaces[interface] = self.interfaces.get(interface, 0) + 1
        decoded = _packet_decode.decode(packet.linktype, packet.data, packet.wire_len)
        if decoded.get("truncated"):
            self.counts["truncated_frames"] += 1
        if decoded.get("unknown_linktype"):
            self.counts["unknown_link_type"] += 1
            return
        if "family" not in decoded:
            if decoded.get("error"):
                self.counts["undecodable"] += 1
            else:
                self.counts["other"] += 1
            return
        direction = self._direction(packet, decoded, interface)
        self._classify(stamp, interface, direction, decoded)

    def _direction(self, packet, decoded, interface):
        known = packet.direction or decoded.get("direction")
        if known in ("in", "out"):
            return known
        mac = self.ctx.macs.get(interface)
        if mac:
            if decoded.get("src_mac") == mac:
                return "out"
            if decoded.get("dst_mac") == mac:
                return "in"
        src, dst = decoded.get("src"), decoded.get("dst")
        if src in self.ctx.locals:
            return "out"
        if dst in self.ctx.locals:
            return "in"
        if dst in self.ctx.peers:
            return "out"
        if src in self.ctx.peers:
            return "in"
        if _in_any(src, self.ctx.local_nets) and _in_any(dst, self.ctx.remote_nets):
            return "out"
        if _in_any(src, self.ctx.remote_nets) and _in_any(dst, self.ctx.local_nets):
            return "in"
        return "unknown"

    def _classify(self, stamp, interface, direction, decoded):
        if decoded.get("fragment"):
            self._fragment(decoded)
            whole = self.reassembler.add(decoded)
            if whole is None:
                return
            decoded = whole
        if "ike" in decoded:
            self._flow(stamp, direction, decoded)
            self._ike(stamp, interface, direction, decoded)
        elif "esp" in decoded:
            self._flow(stamp, direction, decoded)
            self._esp(stamp, interface, direction, decoded)
        elif decoded.get("natt_keepalive"):
            self.counts["natt_keepalive"] += 1
            self.keepalives[direction if direction in self.keepalives else "other"] += 1
            self._flow(stamp, direction, decoded)
        elif decoded.get("icmp", {}).get("kind") == "error":
            self._icmp_error(stamp, interface, direction, decoded)
        elif self._protected(decoded):
            self._cleartext(stamp, interface, direction, decoded)
        else:
            self.counts["other"] += 1
            if decoded.get("src") in self.ctx.peers or decoded.get("dst") in self.ctx.peers or not self.ctx.peers:
                self._flow(stamp, direction, decoded)

    # -- per kind --------------------------------------------------------------------------------
    def _event(self, stamp, direction, interface, kind, ident, decoded, extra=None):
        if len(self.events) >= self.ctx.limits["max_events"]:
            self.events_dropped += 1
            return
        event = {"t": _round(stamp), "dir": direction, "if": interface, "kind": kind, "id": ident,
                 "src": decoded.get("src"), "dst": decoded.get("dst")}
        if extra:
            event.update(extra)
        self.events.append(event)

    def _flow(self, stamp, direction, decoded):
        proto = _packet_decode.proto_name(decoded.get("proto"))
        key = (proto, decoded.get("src"), decoded.get("sport"), decoded.get("dst"), decoded.get("dport"))
        flow = self.flows.get(key)
        if flow is None:
            if len(self.flows) >= self.ctx.limits["max_flows"]:
                self.flows_dropped += 1
                return
            flow = {"proto": proto, "src": key[1], "sport": key[2], "dst": key[3], "dport": key[4],
                    "direction": direction, "packets": 0, "bytes": 0, "first_time": _round(stamp), "last_time": None}
            self.flows[key] = flow
        flow["packets"] += 1
        flow["bytes"] += decoded.get("length", 0)
        flow["last_time"] = _round(stamp)

    def _ike(self, stamp, interface, direction, decoded):
        self.counts["ike"] += 1
        raw = decoded["ike"]
        msg = _ike_decode.decode_message(raw)
        digest = _digest(raw)
        record = {
            "time": _round(stamp),
            "direction": direction,
            "interface": interface,
            "src": decoded["src"],
            "dst": decoded["dst"],
            "sport": decoded.get("sport"),
            "dport": decoded.get("dport"),
            "non_esp_marker": bool(decoded.get("non_esp_marker")),
            "size": len(raw),
            "digest": digest,
        }
        record.update(msg)
        flow_key = (direction, decoded["src"], decoded["dst"])
        earlier = self._ike_seen.get((flow_key, digest))
        record["retransmission"] = earlier is not None
        if earlier is not None:
            record["retransmission_of"] = earlier
        self._evaluate_nat(record, decoded)
        response = msg.get("response")
        if msg.get("major_version") == 1:
            # IKEv1 has no response flag: a message from whoever spoke first for this SA answers.
            exchange = (msg.get("ispi"), msg.get("message_id"))
            response = self._ike_initiators.setdefault(exchange, decoded["src"]) != decoded["src"]
        self._event(stamp, direction, interface, "ike", "ike:" + digest, decoded,
                    {"exchange": msg.get("exchange"), "response": response, "message_id": msg.get("message_id")})
        if len(self.ike_messages) >= self.ctx.limits["max_ike_messages"]:
            self.ike_dropped += 1
            return
        record["index"] = len(self.ike_messages)
        if earlier is None:
            self._ike_seen[(flow_key, digest)] = record["index"]
        self.ike_messages.append(record)

    def _evaluate_nat(self, record, decoded):
        """match/mismatch of each NAT detection hash against the addresses this capture saw."""
        checks = record.get("nat_detection") or []
        if not checks or "ispi" not in record:
            return
        src, dst = _packed(decoded["src"]), _packed(decoded["dst"])
        for index, check in enumerate(checks):
            kind = check["kind"]
            if kind == "v1":
                kind = "destination" if index == 0 else "source"
                check["kind"] = kind
            address, port = (src, decoded.get("sport")) if kind == "source" else (dst, decoded.get("dport"))
            candidates = set()
            for rspi in (record["rspi"], "0" * 16):
                for digest in NAT_DIGESTS:
                    candidates.add(_ike_decode.nat_detection_hash(record["ispi"], rspi, address, port or 0, digest))
            check["result"] = "match" if check["hash"] in candidates else "mismatch"

    def _esp(self, stamp, interface, direction, decoded):
        self.counts["esp"] += 1
        esp = decoded["esp"]
        key = (esp["spi"], decoded["src"], decoded["dst"])
        entry = self.esp.get(key)
        if entry is None:
            entry = {
                "spi": esp["spi"],
                "src": decoded["src"],
                "dst": decoded["dst"],
                "direction": direction,
                "interface": interface,
                "encapsulation": "udp" if decoded.get("udp_encap") else None,
                "sport": decoded.get("sport"),
                "dport": decoded.get("dport"),
                "packets": 0,
                "bytes": 0,
                "first_time": _round(stamp),
                "_seqs": set(),
                "_max": None,
                "out_of_order": 0,
            }
            self.esp[key] = entry
        seq = esp["seq"]
        entry["packets"] += 1
        entry["bytes"] += decoded.get("length", 0)
        entry["last_time"] = _round(stamp)
        if entry["_max"] is not None and seq < entry["_max"] and seq not in entry["_seqs"]:
            entry["out_of_order"] += 1
        entry["_max"] = seq if entry["_max"] is None else max(entry["_max"], seq)
        entry["_seqs"].add(seq)
        if direction == "in":
            self._pending_esp_in.setdefault(interface, []).append(stamp)
        self._event(stamp, direction, interface, "esp", "esp:%s:%d" % (esp["spi"], seq), decoded)

    def _icmp_error(self, stamp, interface, direction, decoded):
        self.counts["icmp_error"] += 1
        icmp = decoded["icmp"]
        label = icmp.get("reason") or icmp["error"]
        self.icmp_counts[label] = self.icmp_counts.get(label, 0) + 1
        entry = {
            "time": _round(stamp),
            "direction": direction,
            "interface": interface,
            "from": decoded["src"],
            "to": decoded["dst"],
            "family": decoded["family"],
            "type": icmp["type"],
            "code": icmp["code"],
            "error": icmp["error"],
            "reason": icmp.get("reason"),
            "mtu": icmp.get("mtu"),
            "about": icmp.get("quoted", {}),
        }
        self._event(stamp, direction, interface, "icmp", "icmp:%s:%s>%s:%s" % (
            label, decoded["src"], decoded["dst"], entry["about"].get("dst")), decoded)
        if len(self.icmp_errors) < self.ctx.limits["max_icmp_errors"]:
            self.icmp_errors.append(entry)

    def _fragment(self, decoded):
        self.counts["fragments"] += 1
        key = (decoded["src"], decoded["dst"], _packet_decode.proto_name(decoded.get("proto")))
        entry = self.fragment_flows.setdefault(key, {"src": key[0], "dst": key[1], "proto": key[2], "fragments": 0, "datagrams": set()})
        entry["fragments"] += 1
        entry["datagrams"].add(decoded["fragment"]["id"])

    def _protected(self, decoded):
        src, dst = decoded.get("src"), decoded.get("dst")
        local, remote = self.ctx.local_nets, self.ctx.remote_nets
        return bool(local and remote) and (
            (_in_any(src, local) and _in_any(dst, remote)) or (_in_any(src, remote) and _in_any(dst, local))
        )

    def _cleartext(self, stamp, interface, direction, decoded):
        self.counts["cleartext"] += 1
        if self.ctx.role(interface) == "inner":
            bucket = "inner"
        elif direction == "out":
            bucket = "outbound_leak"
        elif direction == "in" and self._consume_esp(interface, stamp):
            bucket = "inbound_decapsulated"
        else:
            bucket = "inbound_unprotected"
        proto = _packet_decode.proto_name(decoded.get("proto"))
        key = (proto, decoded["src"], decoded["dst"], interface, direction)
        flows = self.clear[bucket]
        flow = flows.get(key)
        if flow is None:
            flow = {"proto": proto, "src": decoded["src"], "dst": decoded["dst"], "interface": interface,
                    "direction": direction, "packets": 0, "bytes": 0, "first_time": _round(stamp)}
            flows[key] = flow
        flow["packets"] += 1
        flow["bytes"] += decoded.get("length", 0)
        flow["last_time"] = _round(stamp)
        if bucket == "outbound_leak" and len(self.clear_examples) < self.ctx.limits["max_examples"]:
            example = {"time": _round(stamp), "src": decoded["src"], "dst": decoded["dst"], "proto": proto,
                       "interface": interface}
            if "icmp" in decoded:
                example["icmp"] = decoded["icmp"].get("kind")
            if "dport" in decoded:
                example["dport"] = decoded["dport"]
            self.clear_examples.append(example)
        ident = "clear:%s>%s:%s:%s" % (decoded["src"], decoded["dst"], proto, _clear_identity(decoded))
        self._event(stamp, direction, interface, "clear", ident, decoded, {"bucket": bucket})

    def _consume_esp(self, interface, stamp):
        pending = self._pending_esp_in.get(interface) or []
        while pending and stamp - pending[0] > DECAP_WINDOW:
            pending.pop(0)
        if pending and pending[0] <= stamp:
            pending.pop(0)
            return True
        return False

    # -- output ----------------------------------------------------------------------------------
    def result(self):
        self._mark_answers()
        return {
            "packets": dict(self.counts),
            "first_time": _round(self.first),
            "last_time": _round(self.last),
            "link_types": dict(self.link_types),
            "interfaces": dict(self.interfaces),
            "ike": {
                "messages": self.ike_messages,
                "messages_dropped": self.ike_dropped,
                "sas": self._ike_sas(),
                "counts": self._ike_counts(),
            },
            "esp": [self._esp_result(entry) for entry in self.esp.values()],
            "natt_keepalives": dict(self.keepalives),
            "cleartext": self._clear_result(),
            "icmp": {"errors": self.icmp_errors, "counts": dict(self.icmp_counts)},
            "fragments": {
                "packets": self.counts["fragments"],
                "reassembled": self.reassembler.reassembled,
                "incomplete": self.reassembler.pending(),
                "flows": [
                    {"src": f["src"], "dst": f["dst"], "proto": f["proto"], "fragments": f["fragments"],
                     "datagrams": len(f["datagrams"])}
                    for f in self.fragment_flows.values()
                ],
            },
            "flows": list(self.flows.values()),
            "flows_dropped": self.flows_dropped,
            "events": self.events,
            "events_dropped": self.events_dropped,
            "warnings": list(self.warnings),
        }

    def _mark_answers(self):
        messages = self.ike_messages
        for index, msg in enumerate(messages):
            if msg.get("major_version") == 2:
                if msg.get("response"):
                    msg["answered"] = None
                    continue
                msg["answered"] = any(
                    later.get("response") and later.get("ispi") == msg.get("ispi")
                    and later.get("message_id") == msg.get("message_id") and later["src"] == msg["dst"]
                    for later in messages[index + 1:]
                )
            elif msg.get("major_version") == 1:
                msg["answered"] = self._v1_answered(msg)
            else:
                msg["answered"] = None

    def _v1_answered(self, msg):
        """IKEv1 has no request/response flag: the first sender of an exchange (ispi, message id)
        initiates it; its messages that need an answer (Main Mode 1, 3, 5; the first of the other
        exchanges) are answered by a later message of the other side in the same exchange."""
        if msg.get("exchange") == "INFORMATIONAL_V1" or msg["retransmission"]:
            return None
        exchange = [m for m in self.ike_messages
                    if m.get("ispi") == msg.get("ispi") and m.get("message_id") == msg.get("message_id")]
        initiator = exchange[0]["src"]
        if msg["src"] != initiator:
            return None
        position = len([m for m in exchange if m["src"] == initiator and not m["retransmission"]
                        and m["index"] <= msg["index"]])
        if not (position == 1 or (msg.get("exchange") == "MAIN_MODE" and position <= 3)):
            return None
        if any(later["src"] == msg["dst"] for later in exchange if later["index"] > msg["index"]):
            return True
        # an error notify from the other side (its own exchange) answers too
        return any(later.get("exchange") == "INFORMATIONAL_V1" and later.get("ispi") == msg.get("ispi")
                   and later["src"] == msg["dst"] for later in self.ike_messages[msg["index"] + 1:])

    def _ike_counts(self):
        counts = {"out": 0, "in": 0, "unknown": 0, "other": 0, "retransmissions": 0, "unanswered_requests": 0}
        for msg in self.ike_messages:
            counts[msg["direction"] if msg["direction"] in counts else "other"] += 1
            counts["retransmissions"] += 1 if msg["retransmission"] else 0
            counts["unanswered_requests"] += 1 if msg.get("answered") is False and not msg["retransmission"] else 0
        return counts

    def _ike_sas(self):
        sas = {}
        order = []
        for msg in self.ike_messages:
            ispi = msg.get("ispi")
            if ispi is None:
                continue
            sa = sas.get(ispi)
            if sa is None:
                sa = {
                    "ispi": ispi,
                    "rspi": None,
                    "version": msg.get("major_version"),
                    "initiator": msg["src"],
                    "responder": msg["dst"],
                    "initiated_here": msg["direction"] == "out" if msg["direction"] in ("in", "out") else None,
                    "exchanges": [],
                    "messages": 0,
                    "retransmissions": 0,
                    "unanswered_requests": 0,
                    "notifies": [],
                    "proposals_offered": [],
                    "proposals_chosen": [],
                    "ke_groups": [],
                    "nat": {"initiator_behind_nat": None, "responder_behind_nat": None},
                    "first_time": msg["time"],
                }
                sas[ispi] = sa
                order.append(ispi)
            self._fold_message(sa, msg)
        return [sas[ispi] for ispi in order]

    @staticmethod
    def _fold_message(sa, msg):
        from_initiator = msg["src"] == sa["initiator"]
        if msg.get("rspi") and msg["rspi"] != "0" * 16:
            sa["rspi"] = msg["rspi"]
        sa["messages"] += 1
        sa["last_time"] = msg["time"]
        if msg.get("exchange") and msg["exchange"] not in sa["exchanges"]:
            sa["exchanges"].append(msg["exchange"])
        sa["retransmissions"] += 1 if msg["retransmission"] else 0
        sa["unanswered_requests"] += 1 if msg.get("answered") is False and not msg["retransmission"] else 0
        for notify in msg.get("notifies", []):
            entry = {"type": notify["type"], "from": "initiator" if from_initiator else "responder",
                     "exchange": msg.get("exchange"), "error": notify["error"]}
            if entry not in sa["notifies"]:
                sa["notifies"].append(entry)
        if msg.get("proposals") and not msg["retransmission"]:
            target = sa["proposals_offered"] if from_initiator else sa["proposals_chosen"]
            for proposal in msg["proposals"]:
                if proposal not in target:
                    target.append(proposal)
        if msg.get("ke_group") and msg["ke_group"] not in sa["ke_groups"]:
            sa["ke_groups"].append(msg["ke_group"])
        if msg["direction"] == "in":
            for check in msg.get("nat_detection", []):
                behind = check.get("result") == "mismatch"
                # An inbound source hash that does not match: the sender is behind a NAT; a
                # destination hash that does not match: this gateway is.
                sender = "initiator" if from_initiator else "responder"
                here = "responder" if from_initiator else "initiator"
                who = sender if check["kind"] == "source" else here
                key = "%s_behind_nat" % who
                sa["nat"][key] = bool(sa["nat"][key]) or behind

    def _esp_result(self, entry):
        seqs = sorted(entry.pop("_seqs"))
        entry.pop("_max", None)
        unique = len(seqs)
        entry["first_seq"] = seqs[0] if seqs else None
        entry["last_seq"] = seqs[-1] if seqs else None
        entry["replays"] = entry["packets"] - unique
        entry["gaps"] = (seqs[-1] - seqs[0] + 1 - unique) if seqs else 0
        ranges = []
        for before, after in zip(seqs, seqs[1:]):
            if after - before > 1 and len(ranges) < MAX_GAP_RANGES:
                ranges.append([before + 1, after - 1])
        entry["gap_ranges"] = ranges
        return entry

    def _clear_result(self):
        result = {"subnets_known": bool(self.ctx.local_nets and self.ctx.remote_nets)}
        for bucket, flows in self.clear.items():
            result[bucket] = {"packets": sum(f["packets"] for f in flows.values()), "flows": list(flows.values())}
        result["leak_examples"] = self.clear_examples
        return result


def _clear_identity(decoded):
    icmp = decoded.get("icmp")
    if icmp and "id" in icmp:
        return "%s:%s:%s" % (icmp.get("kind"), icmp.get("id"), icmp.get("seq"))
    if "sport" in decoded:
        return "%s:%s:%s" % (decoded.get("sport"), decoded.get("dport"), decoded.get("tcp_flags", ""))
    return "id%s" % decoded.get("ip_id")


def summarize(packets, context=None, warnings=None):
    """The summary dict of an iterable of _pcap.Packet (see the module docstring)."""
    summary = Summary(context)
    for packet in packets:
        summary.add(packet)
    summary.warnings.extend(warnings or [])
    return summary.result()


def summarize_files(files, context=None):
    """Summarise several capture files (``[(path, interface name)]``) as one capture, in time order."""
    packets, warnings = [], []
    for path, interface in files:
        try:
            with open(path, "rb") as handle:
                reader = _pcap.CaptureReader(handle, interface)
                packets.extend(reader)
        except (IOError, OSError) as exc:
            warnings.append("cannot read %s: %s" % (path, exc))
            continue
        warnings.extend("%s: %s" % (path, warning) for warning in reader.warnings)
    packets.sort(key=lambda packet: packet.time)
    return summarize(packets, context, warnings)
