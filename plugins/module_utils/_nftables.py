# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Normaliser of ``nft -j list ruleset`` into the backend-neutral rule shape of ``_iptables``.

Tables keep their family and sets; chains their hook, priority, type and policy; rules become
normalised matches (the fields the evaluator knows), a verdict, non-terminal actions and counters.
An expression this code does not understand becomes an ``unknown`` match (or verdict) that keeps
its JSON text, so the evaluator can say "unknown, because rule X" instead of guessing.
The exact rule text comes from ``nft -a list ruleset`` when it is given (matched by handle).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.netdoctor.ipsec.plugins.module_utils._iptables import normalize_protocol

L4_PROTOCOLS = ("tcp", "udp", "sctp", "dccp", "udplite")
NFPROTO_OF_PAYLOAD = {"ip": "ipv4", "ip6": "ipv6", "icmp": "ipv4", "icmpv6": "ipv6"}
NFPROTO_NAMES = {"ip": "ipv4", "ip6": "ipv6", "ipv4": "ipv4", "ipv6": "ipv6", "2": "ipv4", "10": "ipv6"}
ETHERTYPE_NFPROTO = {"ip": "ipv4", "ip6": "ipv6", "ipv4": "ipv4", "ipv6": "ipv6", "0x0800": "ipv4", "0x86dd": "ipv6",
                     "2048": "ipv4", "34525": "ipv6"}
NAT_STATEMENTS = ("masquerade", "snat", "dnat", "redirect")
TERMINAL_STATEMENTS = ("accept", "drop", "return", "continue")
ACTION_STATEMENTS = ("log", "notrack", "set", "dynset", "ct helper", "tproxy", "dup", "fwd", "synproxy", "flow",
                     "ct timeout", "ct expectation", "objref", "secmark", "xt")
HANDLE_RE = re.compile(r"\s+# handle (\d+)\s*$")


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def _dumps(value):
    return _ENCODER.encode(value)


def _describe(value):
    """Short nft-like text of an expression (cheaper than JSON for the common shapes)."""
    if isinstance(value, dict) and len(value) == 1:
        key, body = list(value.items())[0]
        if key in ("payload", "meta", "ct", "rt", "ipsec") and isinstance(body, dict):
            return " ".join(str(body[name]) for name in ("protocol", "field", "key", "dir") if name in body) if key == "payload" \
                else key + " " + " ".join(str(body[name]) for name in ("key", "dir") if name in body)
        if key == "prefix" and isinstance(body, dict):
            return "%s/%s" % (body.get("addr"), body.get("len"))
        if key == "set" and isinstance(body, list):
            return "{ " + ", ".join(_describe(item) for item in body) + " }"
        if key == "range" and isinstance(body, list):
            return "-".join(_describe(item) for item in body)
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value)
    return _dumps(value)


def _match_text(body):
    op = body.get("op", "==")
    return "%s %s %s" % (_describe(body.get("left")), op, _describe(body.get("right")))


def _unknown(text, reason):
    return {"field": "unknown", "op": "==", "value": None, "text": text, "reason": reason}


def _scalar(value):
    """One right-hand element -> text (addresses, names) or int (numbers, ports)."""
    if isinstance(value, dict):
        if "prefix" in value:
            return "%s/%s" % (value["prefix"].get("addr"), value["prefix"].get("len"))
        if "range" in value:
            low, high = value["range"][0], value["range"][1]
            if isinstance(low, int) and isinstance(high, int):
                return [low, high]
            return "%s-%s" % (low, high)
        if "concat" in value:
            return [_scalar(item) for item in value["concat"]]
        if "elem" in value:
            return _scalar(value["elem"].get("val"))
        return None
    return value


def _values(right):
    """Right-hand side -> ('values', [...]) or ('set', name) or (None, None) when not understood."""
    if isinstance(right, str) and right.startswith("@"):
        return "set", right[1:]
    if isinstance(right, dict) and "set" in right:
        items = right["set"]
        if isinstance(items, str):
            return ("set", items[1:]) if items.startswith("@") else ("values", [items])
        return "values", [_scalar(item) for item in (items if isinstance(items, list) else [items])]
    if isinstance(right, list):
        return "values", [_scalar(item) for item in right]
    scalar = _scalar(right)
    if scalar is None and right is not None:
        return None, None
    return "values", [scalar]


def _port_ranges(values):
    ranges = []
    for value in values:
        if isinstance(value, list) and len(value) == 2:
            ranges.append([int(value[0]), int(value[1])])
        elif isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            ranges.append([int(value), int(value)])
        else:
            return None
    return ranges


def _relational(op, values):
    """``<``/``>``/``<=``/``>=`` on one number -> an equivalent range match."""
    bound = values[0] if values and isinstance(values[0], int) else None
    if bound is None:
        return None, None
    if op == "<":
        return "==", [[0, bound - 1]]
    if op == "<=":
        return "==", [[0, bound]]
    if op == ">":
        return "==", [[bound + 1, 0xFFFFFFFF]]
    return "==", [[bound, 0xFFFFFFFF]]


def _field_of(left):
    """(field, implied matches) for a left-hand expression; field None when not understood."""
    if not isinstance(left, dict):
        return None, []
    if "payload" in left:
        proto = left["payload"].get("protocol")
        name = left["payload"].get("field")
        implied = []
        if proto in NFPROTO_OF_PAYLOAD:
            implied.append({"field": "nfproto", "op": "==", "value": [NFPROTO_OF_PAYLOAD[proto]], "implicit": True})
        if proto in ("ip", "ip6") and name in ("saddr", "daddr"):
            return name, implied
        if (proto, name) in (("ip", "protocol"), ("ip6", "nexthdr")):
            return "l4proto", implied
        if proto in L4_PROTOCOLS + ("th",) and name in ("sport", "dport"):
            if proto != "th":
                implied.append({"field": "l4proto", "op": "==", "value": [proto], "implicit": True})
            return name, implied
        if proto == "esp" and name == "spi":
            implied.append({"field": "l4proto", "op": "==", "value": ["esp"], "implicit": True})
            return "esp_spi", implied
        if proto in ("icmp", "icmpv6") and name == "type":
            implied.append({"field": "l4proto", "op": "==", "value": [proto], "implicit": True})
            return "icmp_type", implied
        return None, []
    if "meta" in left:
        key = left["meta"].get("key")
        mapping = {"iifname": "iifname", "oifname": "oifname", "iif": "iifname", "oif": "oifname",
                   "l4proto": "l4proto", "nfproto": "nfproto", "protocol": "ethertype", "mark": "mark",
                   "ipsec": "ipsec_in", "secpath": "ipsec_in", "pkttype": "pkttype"}
        return mapping.get(key), []
    if "rt" in left and left["rt"].get("key") == "ipsec":
        return "ipsec_out", []
    if "ct" in left and left["ct"].get("key") in ("state", "status") and "dir" not in left["ct"]:
        return "ct_" + left["ct"]["key"], []
    if "ipsec" in left:
        return "ipsec_key", []
    if "fib" in left:
        return "fib", []
    if "&" in left and isinstance(left["&"], list) and len(left["&"]) == 2:
        inner, mask = left["&"]
        if isinstance(inner, dict) and inner.get("meta", {}).get("key") == "mark" and isinstance(mask, int):
            return "mark_masked", []
        if isinstance(inner, dict) and inner.get("payload") == {"protocol": "tcp", "field": "flags"}:
            return "tcp_flags_masked", [{"field": "l4proto", "op": "==", "value": ["tcp"], "implicit": True}]
    if "concat" in left:
        return "concat", []
    return None, []


def _flag_list(value):
    if isinstance(value, list):
        return [str(item) for item in value]
    return [str(value)]


def _match(expr, text):
    """Normalised matches (a list: implied dependencies first) of one ``match`` expression."""
    op = expr.get("op", "==")
    left = expr.get("left")
    right = expr.get("right")
    field, implied = _field_of(left)
    if field is None:
        return [_unknown(text, "expression %s is not evaluated" % _dumps(left))]
    if field in ("ipsec_in", "ipsec_out"):
        present = right is True or right == "exists"
        if op == "!=":
            present = not present
        return [{"field": "ipsec", "op": "==", "value": {"dir": "in" if field == "ipsec_in" else "out",
                                                         "pol": "ipsec" if present else "none"}, "text": text}]
    if field == "ipsec_key":
        spec = left["ipsec"]
        kind, values = _values(right)
        if kind != "values" or len(values) != 1:
            return [_unknown(text, "ipsec expression with a set is not evaluated")]
        value = {"dir": spec.get("dir"), "pol": "ipsec", spec.get("key"): values[0]}
        match = {"field": "ipsec", "op": "==", "value": value, "text": text}
        if op == "!=":
            match["negated_keys"] = [spec.get("key")]
        return [match]
    if field == "fib":
        return [{"field": "fib", "op": op, "value": {"fib": left["fib"], "right": right}, "text": text,
                 "reason": "fib (reverse path) lookup depends on the routing table"}]
    if field == "mark_masked":
        kind, values = _values(right)
        if kind != "values" or not isinstance(values[0], int):
            return [_unknown(text, "mark comparison is not evaluated")]
        return [{"field": "mark", "op": "!=" if op == "!=" else "==", "value": {"value": values[0], "mask": left["&"][1]}, "text": text}]
    if field == "tcp_flags_masked":
        mask = _flag_list(left["&"][1])
        kind, values = _values(right)
        flags = [] if values in ([0], ["0"]) else _flag_list(values[0] if kind == "values" and len(values) == 1 else values)
        return implied + [{"field": "tcp_flags", "op": "!=" if op == "!=" else "==", "value": {"mask": mask, "set": flags}, "text": text}]
    if field == "concat":
        return [_concat_match(left, right, op, text)]
    kind, values = _values(right)
    if kind is None:
        return [_unknown(text, "value %s is not evaluated" % _dumps(right))]
    if kind == "set":
        return implied + [{"field": field, "op": "!=" if op == "!=" else "==", "value": {"set": values}, "text": text}]
    if op in ("<", ">", "<=", ">="):
        op, values = _relational(op, values)
        if op is None:
            return [_unknown(text, "comparison is not evaluated")]
    if op not in ("==", "!=", "in"):
        return [_unknown(text, "operator %s is not evaluated" % op)]
    negate = op == "!="
    return implied + [_typed_match(field, negate, values, text)]


def _typed_match(field, negate, values, text):
    op = "!=" if negate else "=="
    if field in ("sport", "dport", "esp_spi"):
        ranges = _port_ranges(values)
        if ranges is None:
            return _unknown(text, "port values %s are not numeric" % values)
        return {"field": field, "op": op, "value": ranges, "text": text}
    if field == "l4proto":
        return {"field": field, "op": op, "value": [normalize_protocol(str(value)) for value in values], "text": text}
    if field == "nfproto":
        return {"field": field, "op": op, "value": [NFPROTO_NAMES.get(str(value), str(value)) for value in values], "text": text}
    if field == "ethertype":
        return {"field": "nfproto", "op": op, "value": [ETHERTYPE_NFPROTO.get(str(value), str(value)) for value in values], "text": text}
    if field in ("ct_state", "ct_status"):
        states = []
        for value in values:
            states.extend(_flag_list(value))
        return {"field": field, "op": op, "value": states, "text": text}
    if field == "mark":
        if len(values) != 1 or not isinstance(values[0], int):
            return _unknown(text, "mark set or range is not evaluated")
        return {"field": "mark", "op": op, "value": {"value": values[0], "mask": 0xFFFFFFFF}, "text": text}
    if field == "icmp_type":
        return {"field": field, "op": op, "value": values[0] if len(values) == 1 else values, "text": text}
    if field in ("iifname", "oifname", "saddr", "daddr", "pkttype"):
        return {"field": field, "op": op, "value": [str(value) for value in values] if field != "pkttype" else str(values[0]), "text": text}
    return {"field": field, "op": op, "value": values, "text": text}


def _concat_match(left, right, op, text):
    fields = []
    for part in left["concat"]:
        field, _implied = _field_of(part)
        if field not in ("saddr", "daddr", "sport", "dport", "l4proto", "iifname", "oifname", "nfproto"):
            return _unknown(text, "concatenation with %s is not evaluated" % _dumps(part))
        fields.append(field)
    kind, values = _values(right)
    if kind is None:
        return _unknown(text, "concatenation value is not evaluated")
    return {"field": "concat", "op": "!=" if op == "!=" else "==", "value": {"set": values} if kind == "set" else values,
            "fields": fields, "text": text}


def _verdict_of(statement):
    """A verdict dict for a verdict statement, or None when the statement is not one."""
    for name in TERMINAL_STATEMENTS:
        if name in statement:
            return {"type": name}
    if "reject" in statement:
        return {"type": "reject", "options": statement["reject"] or {}}
    if "jump" in statement:
        return {"type": "jump", "target": statement["jump"].get("target")}
    if "goto" in statement:
        return {"type": "goto", "target": statement["goto"].get("target")}
    if "queue" in statement:
        return {"type": "queue", "options": statement["queue"] or {}}
    for name in NAT_STATEMENTS:
        if name in statement:
            return {"type": name, "options": statement[name] or {}}
    return None


def _map_verdict(data):
    """Elements of an anonymous verdict map -> [[key, verdict], ...]."""
    elements = []
    for item in data.get("set", []) if isinstance(data, dict) else []:
        if isinstance(item, list) and len(item) == 2:
            elements.append([_scalar(item[0]), _verdict_of(item[1]) or {"type": "unknown"}])
    return elements


def normalize_rule(expressions):
    """A rule dict (matches, verdict, actions, counters, comment) from a rule's ``expr`` list."""
    matches = []
    actions = []
    verdict = {"type": "continue"}
    counters = None
    for expr in expressions or []:
        if not isinstance(expr, dict) or len(expr) != 1:
            matches.append(_unknown(_dumps(expr), "statement is not understood"))
            continue
        key = list(expr.keys())[0]
        body = expr[key]
        if key == "match" and isinstance(body, dict):
            matches.extend(_match(body, _match_text(body)))
            continue
        if key == "counter":
            if isinstance(body, dict) and "packets" in body:
                counters = {"packets": body.get("packets", 0), "bytes": body.get("bytes", 0)}
            continue
        if key in ("accept", "drop", "return", "continue") and body is None:
            verdict = {"type": key, "text": key}
            continue
        text = _dumps(expr)
        if key in ("limit", "quota", "meter", "connlimit"):
            matches.append({"field": "assumed", "op": "==", "value": True, "text": text,
                            "reason": "%s assumed not exceeded" % key})
        elif key == "vmap":
            field, implied = _field_of(body.get("key"))
            data = body.get("data")
            verdict = {"type": "vmap", "key": field, "text": text}
            if isinstance(data, str) and data.startswith("@"):
                verdict["map"] = data[1:]
            else:
                verdict["elements"] = _map_verdict(data)
            if field is None:
                verdict = {"type": "unknown", "text": text, "reason": "verdict map key is not evaluated"}
            matches.extend(implied)
        elif key == "mangle":
            target = body.get("key", {}) if isinstance(body, dict) else {}
            action = {"type": "mangle", "text": text}
            if target.get("meta", {}).get("key") == "mark":
                action["sets"] = "mark"
                action["value"] = body.get("value") if isinstance(body.get("value"), int) else None
            actions.append(action)
        elif key == "notrack":
            actions.append({"type": "notrack", "sets": "notrack", "text": text})
        elif key == "xt":
            if isinstance(body, dict) and body.get("type") == "target":
                verdict = {"type": "unknown", "target": body.get("name"), "text": text,
                           "reason": "iptables-nft target %s (read it with iptables-nft-save)" % body.get("name")}
            else:
                matches.append(_unknown(text, "iptables-nft match %s (read it with iptables-nft-save)" % (body or {}).get("name")))
        else:
            found = _verdict_of(expr)
            if found is not None:
                found["text"] = text
                verdict = found
            elif key in ACTION_STATEMENTS:
                actions.append({"type": key, "text": text})
            else:
                actions.append({"type": key, "text": text, "unknown": True})
    return {"matches": matches, "verdict": verdict, "actions": actions, "counters": counters, "comment": None}


def rule_texts(listing):
    """``nft -a list ruleset`` text -> {(family, table, chain, handle): rule text}."""
    texts = {}
    family = table = chain = None
    for line in (listing or "").splitlines():
        stripped = line.strip()
        words = stripped.split()
        if len(words) >= 3 and words[0] == "table":
            family, table, chain = words[1], words[2], None
            continue
        if len(words) >= 2 and words[0] == "chain":
            chain = words[1]
            continue
        found = HANDLE_RE.search(line)
        if found and chain and not stripped.startswith(("set ", "map ", "chain ", "table ", "flowtable ")):
            texts[(family, table, chain, int(found.group(1)))] = HANDLE_RE.sub("", line).strip()
    return texts


def _set_elements(items):
    elements = []
    for item in items or []:
        if isinstance(item, list) and len(item) == 2:
            elements.append([_scalar(item[0]), _verdict_of(item[1]) or _scalar(item[1])])
        else:
            elements.append(_scalar(item))
    return elements


def parse_json(text, listing=None):
    """``nft -j list ruleset`` output (text or parsed) -> {backend, tables, version, warnings, unparsed}."""
    result = {"backend": "nftables", "version": None, "tables": [], "unparsed": [], "warnings": []}
    try:
        data = json.loads(text) if isinstance(text, (str, bytes, type(u""))) else text
    except ValueError as exc:
        result["warnings"].append("nft -j output is not JSON: %s" % exc)
        return result
    objects = data.get("nftables", []) if isinstance(data, dict) else []
    texts = rule_texts(listing)
    tables = {}
    chains = {}
    for obj in objects:
        if not isinstance(obj, dict) or len(obj) != 1:
            result["unparsed"].append(_dumps(obj))
            continue
        kind = list(obj.keys())[0]
        body = obj[kind]
        if kind == "metainfo":
            result["version"] = body.get("version")
        elif kind == "table":
            table = {"backend": "nftables", "family": body.get("family"), "name": body.get("name"),
                     "handle": body.get("handle"), "chains": [], "sets": []}
            tables[(table["family"], table["name"])] = table
            result["tables"].append(table)
        elif kind == "chain":
            table = tables.get((body.get("family"), body.get("table")))
            if table is None:
                result["unparsed"].append(_dumps(obj))
                continue
            chain = {"name": body.get("name"), "handle": body.get("handle"), "base": "hook" in body,
                     "hook": body.get("hook"), "priority": body.get("prio"), "type": body.get("type"),
                     "policy": body.get("policy") if "hook" in body else None, "counters": None, "rules": []}
            if "dev" in body:
                chain["device"] = body["dev"]
            chains[(body.get("family"), body.get("table"), body.get("name"))] = chain
            table["chains"].append(chain)
        elif kind in ("set", "map"):
            table = tables.get((body.get("family"), body.get("table")))
            if table is None:
                result["unparsed"].append(_dumps(obj))
                continue
            entry = {"name": body.get("name"), "kind": kind, "type": body.get("type"), "flags": body.get("flags", []),
                     "elements": _set_elements(body.get("elem"))}
            if kind == "map":
                entry["map"] = body.get("map")
            table["sets"].append(entry)
        elif kind == "rule":
            key = (body.get("family"), body.get("table"), body.get("chain"))
            chain = chains.get(key)
            if chain is None:
                result["unparsed"].append(_dumps(obj))
                continue
            rule = normalize_rule(body.get("expr"))
            rule["index"] = len(chain["rules"]) + 1
            rule["handle"] = body.get("handle")
            rule["text"] = texts.get(key + (body.get("handle"),)) or _summary(rule)
            if body.get("comment"):
                rule["comment"] = body["comment"]
            chain["rules"].append(rule)
        elif kind in ("flowtable", "counter", "quota", "ct helper", "limit", "secmark", "ct timeout", "ct expectation", "synproxy"):
            continue
        else:
            result["unparsed"].append(_dumps(obj))
    if result["unparsed"]:
        result["warnings"].append("%d object(s) of nft -j output were not understood" % len(result["unparsed"]))
    return result


def _summary(rule):
    """A readable rule text when the ``nft -a`` listing is not available."""
    parts = [match.get("text", "") for match in rule["matches"] if not match.get("implicit")]
    parts.extend(action.get("text", "") for action in rule["actions"])
    parts.append(rule["verdict"].get("text", rule["verdict"]["type"]))
    return " ".join(part for part in parts if part)
