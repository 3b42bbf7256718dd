# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""strongSwan's settings format (swanctl.conf, strongswan.conf) and swanctl.conf's meaning.

Syntax: ``name { ... }`` sections (``name : template { }`` inherits), ``key = value`` (a value
runs to the end of the line unless quoted; quoted values may span lines and use ``\\`` escapes),
``# comments`` and ``include <glob>`` relative to the including file. Sections of the same name
merge; a later key replaces an earlier one.

``parse_settings`` gives nested dicts; ``swanctl_connections`` and ``swanctl_secrets`` turn a
swanctl.conf tree into connection records and secret records (PSKs fingerprinted, never returned).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from collections import OrderedDict

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _ike_record as rec
from ansible_collections.netdoctor.ipsec.plugins.module_utils import _includes, _proposals, _psk

_KEY_RE = re.compile(r"^[\w.\-]+$")


class _Tokens(object):
    """Lines of settings text split into (kind, name, value, line number) items."""

    def __init__(self, text):
        self.items = []
        self._scan(text)

    def _scan(self, text):
        pos, line = 0, 1
        length = len(text)
        while pos < length:
            char = text[pos]
            if char == "\n":
                line += 1
                pos += 1
            elif char in " \t\r;":
                pos += 1
            elif char == "#":
                end = text.find("\n", pos)
                pos = length if end < 0 else end
            elif char == "}":
                self.items.append(("close", None, None, line))
                pos += 1
            else:
                pos, line = self._statement(text, pos, line)

    def _statement(self, text, pos, line):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        head = text[pos:end]
        match = re.match(r"^\s*include\s+(\S.*?)\s*$", head)
        if match:
            self.items.append(("include", None, match.group(1), line))
            return end, line
        match = re.match(r"^([^{}=\s:]+)\s*(?::\s*([^{}=]+?))?\s*\{", head)
        if match:
            self.items.append(("open", match.group(1), (match.group(2) or "").strip() or None, line))
            return pos + match.end(), line
        match = re.match(r"^([^{}=\s]+)\s*=\s*", head)
        if match:
            key = match.group(1)
            vpos = pos + match.end()
            if vpos < len(text) and text[vpos] == '"':
                value, vend, lines = _quoted(text, vpos)
                if value is None:
                    self.items.append(("badquote", key, None, line))
                    self.items.append(("value", key, text[vpos + 1:end], line))
                    return end, line
                self.items.append(("value", key, value, line))
                return vend, line + lines
            raw = text[vpos:end]
            value = _strip_comment(raw).strip()
            if "}" in value:
                value, _sep, _rest = value.partition("}")
                self.items.append(("value", key, value.strip(), line))
                return vpos + raw.index("}"), line
            self.items.append(("value", key, value, line))
            return end, line
        self.items.append(("unparsed", None, head.strip(), line))
        return end, line


def _sensitive(section_names, text):
    """Lines inside ``secrets`` or naming a secret are never echoed back."""
    lowered = (text or "").lower()
    return "secrets" in section_names or any(word in lowered for word in ("secret", "psk", "password", "pin"))


def _strip_comment(raw):
    index = raw.find("#")
    return raw if index < 0 else raw[:index]


def _quoted(text, pos):
    """(value, position after the closing quote, newlines consumed) of a quoted value at ``pos``."""
    out = []
    index = pos + 1
    lines = 0
    escapes = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            nxt = text[index + 1]
            out.append(escapes.get(nxt, "\\" + nxt))
            index += 2
            continue
        if char == '"':
            return "".join(out), index + 1, lines
        if char == "\n":
            lines += 1
        out.append(char)
        index += 1
    return None, index, lines


def parse_settings(text, path=None, loader=None, _depth=0, _context=()):
    """Nested OrderedDicts of a settings file, plus problems and unparsed lines.

    ``loader(pattern, base_dir)`` returns ``[(path, text), ...]`` for an include; without a loader
    includes are reported, not followed. Returns ``(tree, problems, unparsed)``.
    """
    tokens = _Tokens(text or "")
    problems, unparsed = [], []
    root = OrderedDict()
    stack = [root]
    names = list(_context)
    where = path or "input"
    for kind, name, value, line in tokens.items:
        if kind == "unparsed":
            if _sensitive(names, value):
                problems.append("%s line %d: cannot parse a line in a secrets section (content withheld)" % (where, line))
            else:
                problems.append("%s line %d: cannot parse '%s'" % (where, line, value))
                unparsed.append(value)
        elif kind == "badquote":
            problems.append("%s line %d: unterminated quoted value for '%s'" % (where, line, name))
        elif kind == "open":
            names.append(name)
            section = stack[-1].get(name)
            if not isinstance(section, dict):
                section = OrderedDict()
                stack[-1][name] = section
            if value:
                section.setdefault("__templates__", value)
            stack.append(section)
        elif kind == "close":
            if len(stack) == 1:
                problems.append("%s line %d: '}' without an open section" % (where, line))
            else:
                stack.pop()
                names.pop()
        elif kind == "value":
            stack[-1][name] = value
        elif kind == "include":
            _include(stack[-1], value, path, loader, _depth, problems, unparsed, names)
    if len(stack) > 1:
        problems.append("%s: %d section(s) not closed (truncated file?)" % (where, len(stack) - 1))
    return root, problems, unparsed


def _include(target, pattern, path, loader, depth, problems, unparsed, context):
    for inc_path, inc_text in _includes.included_files(pattern, path, loader, depth, problems):
        tree, inc_problems, inc_unparsed = parse_settings(inc_text, inc_path, loader, depth + 1, tuple(context))
        problems.extend(inc_problems)
        unparsed.extend(inc_unparsed)
        _merge(target, tree)


def _merge(target, tree):
    for key, value in tree.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


def _resolve_templates(section, siblings):
    """Settings templates (``name : base {}``): the section with its bases' keys underneath."""
    bases = section.get("__templates__")
    if not bases:
        return section
    merged = OrderedDict()
    for base in [b.strip() for b in bases.split(",") if b.strip()]:
        if isinstance(siblings.get(base), dict):
            _merge(merged, _resolve_templates(siblings[base], siblings))
    _merge(merged, section)
    merged.pop("__templates__", None)
    return merged


# --- swanctl.conf meaning -----------------------------------------------------------------------

VERSION = {"0": 0, "1": 1, "2": 2, "ikev1": 1, "ikev2": 2}


def _auth_rounds(conn, side):
    """The ``local``/``local-<suffix>`` (or remote) sections in order."""
    rounds = []
    for key, value in conn.items():
        if isinstance(value, dict) and (key == side or key.startswith(side + "-")):
            rounds.append(value)
    return rounds


def _list(value):
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _child_from_conf(name, child, problems):
    record = rec.child_config(name)
    esp_text = child.get("esp_proposals")
    ah_text = child.get("ah_proposals")
    if ah_text and not esp_text:
        record["protocol"] = "ah"
    text = esp_text if esp_text is not None or not ah_text else ah_text
    record["esp_proposals_text"] = text if text is not None else "default"
    proposals, found = _proposals.parse_strongswan(record["esp_proposals_text"], record["protocol"])
    problems.extend(found)
    record["esp_proposals"] = proposals
    record["pfs"] = any(p["dh"] and p["dh"] != ["NONE"] for p in proposals)
    record["local_ts"] = rec.normalize_ts_list(_list(child.get("local_ts", "dynamic")))
    record["remote_ts"] = rec.normalize_ts_list(_list(child.get("remote_ts", "dynamic")))
    record["mode"] = (child.get("mode") or "tunnel").lower()
    record["start_action"] = (child.get("start_action") or "none").lower()
    record["dpd_action"] = (child.get("dpd_action") or "clear").lower()
    record["close_action"] = (child.get("close_action") or "none").lower()
    record["sha256_96"] = bool(rec.yes_no(child.get("sha256_96", "no")))
    record["ipcomp"] = bool(rec.yes_no(child.get("ipcomp", "no")))
    record["reqid"] = rec.to_int(child.get("reqid"))
    rekey = rec.seconds(child.get("rekey_time", "1h"))
    record["lifetimes"] = {
        "rekey": rekey,
        "lifetime": rec.seconds(child.get("life_time")) or (int(rekey * 1.1) if rekey else None),
        "rekey_bytes": rec.to_int(child.get("rekey_bytes")),
        "life_bytes": rec.to_int(child.get("life_bytes")),
    }
    for key in ("updown", "hostaccess", "policies", "priority", "interface", "if_id_in", "if_id_out", "mark_in", "mark_out", "hw_offload"):
        if key in child:
            record["extra"][key] = child[key]
    return record


def connection_from_conf(name, conn, source):
    """One ``connections.<name>`` section as a connection record (PSK not yet attached)."""
    problems = []
    record = rec.connection(name, source)
    version = (conn.get("version") or "0").strip().lower()
    record["ike_version"] = VERSION.get(version)
    if record["ike_version"] is None:
        problems.append("connection %s: unknown version '%s'" % (name, version))
    record["local_addrs"] = _list(conn.get("local_addrs", "%any"))
    record["remote_addrs"] = _list(conn.get("remote_addrs", "%any"))
    record["local_port"] = rec.to_int(conn.get("local_port", "500"))
    record["remote_port"] = rec.to_int(conn.get("remote_port", "500"))
    record["ike_proposals_text"] = conn.get("proposals", "default")
    record["ike_proposals"], found = _proposals.parse_strongswan(record["ike_proposals_text"], "ike")
    problems.extend(found)
    record["ike_strict"] = "default" not in [p.strip().lower() for p in _list(record["ike_proposals_text"])]
    locals_, remotes = _auth_rounds(conn, "local"), _auth_rounds(conn, "remote")
    if locals_:
        record["local_auth"] = (locals_[0].get("auth") or "pubkey").lower()
        record["local_id"] = locals_[0].get("id")
    else:
        record["local_auth"] = "pubkey"
    if remotes:
        record["remote_auth"] = (remotes[0].get("auth") or "pubkey").lower()
        record["remote_id"] = remotes[0].get("id", "%any")
    else:
        record["remote_auth"] = "pubkey"
        record["remote_id"] = "%any"
    record["auth"] = record["local_auth"]
    record["aggressive"] = bool(rec.yes_no(conn.get("aggressive", "no")))
    record["encap"] = bool(rec.yes_no(conn.get("encap", "no")))
    record["mobike"] = bool(rec.yes_no(conn.get("mobike", "yes")))
    record["fragmentation"] = (conn.get("fragmentation") or "yes").lower()
    dpd_timeout = conn.get("dpd_timeout")
    record["dpd"] = {"delay": rec.seconds(conn.get("dpd_delay", "0s")), "timeout": rec.seconds(dpd_timeout) if dpd_timeout else None, "action": None}
    rekey = rec.seconds(conn.get("rekey_time", "4h"))
    reauth = rec.seconds(conn.get("reauth_time", "0s"))
    over = rec.seconds(conn.get("over_time")) if conn.get("over_time") else int(max(rekey or 0, reauth or 0) * 0.1)
    record["lifetimes"] = {"ike_rekey": rekey, "ike_reauth": reauth, "ike_lifetime": max(rekey or 0, reauth or 0) + over}
    for key in ("vips", "pools", "unique", "keyingtries", "childless", "if_id_in", "if_id_out", "ppk_id"):
        if key in conn:
            record["extra"][key] = conn[key]
    children = conn.get("children")
    if isinstance(children, dict):
        for child_name, child in children.items():
            if isinstance(child, dict):
                child = _resolve_templates(child, children)
                record["children"].append(_child_from_conf(child_name, child, problems))
    if record["children"]:
        record["dpd"]["action"] = record["children"][0]["dpd_action"]
    return rec.finish_connection(record), problems


def swanctl_connections(tree, source="swanctl.conf"):
    """(connections, problems) of a parsed swanctl.conf."""
    conns, problems = [], []
    section = tree.get("connections")
    if not isinstance(section, dict):
        return conns, problems
    for name, conn in section.items():
        if not isinstance(conn, dict) or name == "__templates__":
            continue
        conn = _resolve_templates(conn, section)
        record, found = connection_from_conf(name, conn, source)
        conns.append(record)
        problems.extend(found)
    return conns, problems


SECRET_TYPES = ("ike", "eap", "xauth", "ntlm", "ppk", "private", "rsa", "ecdsa", "pkcs8", "pkcs12", "token")


def swanctl_secrets(tree, salt, source="swanctl.conf"):
    """(PSK records, problems) of a parsed swanctl.conf ``secrets`` section.

    Only ``ike`` secrets are PSKs; the others (EAP/XAuth passwords, key files) are counted, never
    returned. charon reads ``0x``/``0s`` prefixes whether or not the value was quoted.
    """
    records, problems = [], []
    section = tree.get("secrets")
    if not isinstance(section, dict):
        return records, problems
    for name, secret in section.items():
        if not isinstance(secret, dict):
            continue
        kind = name.split("-", 1)[0].lower()
        if kind not in SECRET_TYPES:
            problems.append("secrets: unknown secret type in '%s'" % name)
            continue
        if kind != "ike":
            continue
        if "secret" not in secret:
            problems.append("secrets.%s has no 'secret' value" % name)
            continue
        ids = [value for key, value in secret.items() if key == "id" or key.startswith("id-")]
        records.append(_psk.secret_record(name, ids, secret["secret"], salt, source, allow_prefixes="always"))
    return records, problems
