# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The syntax shared by strongSwan's (stroke/starter) and libreswan's ipsec.conf and ipsec.secrets.

ipsec.conf: sections start at column 0 (``config setup``, ``conn <name>``, ``ca <name>``),
parameters are indented ``key=value`` lines (values may be quoted), ``include <glob>`` at column 0,
``also=<conn>`` pulls in another section's parameters, ``conn %default`` gives defaults.

ipsec.secrets: ``[selectors] : TYPE value`` entries (continued on indented lines), ``include``.
Secret values are handed to ``_psk.secret_record`` and never kept in clear; lines that cannot be
parsed are reported by line number only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
from collections import OrderedDict

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _includes, _psk

_SECTION_RE = re.compile(r"^(config|conn|ca)\s+(\S+)\s*(?:#.*)?$")
_PARAM_RE = re.compile(r"^\s+([\w\-]+)\s*=\s*(.*?)\s*$")


def _value(raw):
    raw = raw.strip()
    if raw.startswith('"'):
        end = raw.find('"', 1)
        return raw[1:end] if end > 0 else raw[1:]
    if raw.startswith("{"):
        end = raw.find("}")
        inner = raw[1:end] if end > 0 else raw[1:]
        return " ".join(inner.replace(",", " ").split())
    index = raw.find("#")
    return (raw if index < 0 else raw[:index]).strip()


def parse_conf(text, path=None, loader=None, _depth=0, _into=None):
    """``{setup, conns, cas, problems, unparsed}``; ``conns`` maps names to raw parameter dicts in
    file order (``also=`` and ``%default`` not yet applied: see ``resolve``)."""
    result = _into or {"setup": OrderedDict(), "conns": OrderedDict(), "cas": OrderedDict(), "problems": [], "unparsed": []}
    current = None
    where = path or "ipsec.conf"
    for number, line in enumerate((text or "").splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not line[0].isspace():
            match = _SECTION_RE.match(line)
            if match:
                kind, name = match.groups()
                table = {"config": result["setup"], "conn": result["conns"], "ca": result["cas"]}[kind]
                if kind == "config":
                    current = table
                else:
                    current = table.setdefault(name, OrderedDict())
                continue
            include = re.match(r"^include\s+(\S+)", line)
            if include:
                for inc_path, inc_text in _includes.included_files(include.group(1), path, loader, _depth, result["problems"]):
                    parse_conf(inc_text, inc_path, loader, _depth + 1, result)
                current = None
                continue
            if stripped.startswith("version"):
                continue
            result["problems"].append("%s line %d: not a section header: '%s'" % (where, number, stripped))
            result["unparsed"].append(stripped)
            current = None
            continue
        match = _PARAM_RE.match(line)
        if match and current is not None:
            key, raw = match.groups()
            if key == "also" and "also" in current:
                current["also"] = current["also"] + " " + _value(raw)
            else:
                current[key] = _value(raw)
            continue
        result["problems"].append("%s line %d: parameter outside a section or not key=value: '%s'" % (where, number, stripped))
        result["unparsed"].append(stripped)
    return result


def resolve(conns, name, problems, _seen=None):
    """The parameters of conn ``name`` with ``also=`` sections and ``%default`` applied underneath."""
    seen = _seen or []
    if name in seen:
        problems.append("conn %s: also= loop through %s" % (seen[0], " -> ".join(seen + [name])))
        return OrderedDict()
    own = conns.get(name)
    if own is None:
        problems.append("conn %s: also=%s names no conn section" % (seen[-1] if seen else name, name))
        return OrderedDict()
    merged = OrderedDict()
    if not seen and "%default" in conns and name != "%default":
        merged.update(resolve(conns, "%default", problems, [name]))
    for also in own.get("also", "").split():
        merged.update(resolve(conns, also, problems, seen + [name]))
    for key, value in own.items():
        if key != "also":
            merged[key] = value
    return merged


def resolved_conns(parsed):
    """[(name, params)] of every real conn (``%default`` excluded), each fully resolved."""
    out = []
    for name in parsed["conns"]:
        if name == "%default":
            continue
        out.append((name, resolve(parsed["conns"], name, parsed["problems"])))
    return out


def used_as_also(parsed):
    """Names of conns that only serve as ``also=`` templates."""
    used = set()
    for params in parsed["conns"].values():
        used.update(params.get("also", "").split())
    return used


def orientation(params, local_addresses):
    """('left', 'right') or ('right', 'left'): the local side is the one whose address is ours
    (left when ``local_addresses`` is empty or both or neither are ours)."""
    if local_addresses:
        ours = set(_psk.normalize_id(a) for a in local_addresses)
        if _psk.normalize_id(params.get("right", "")) in ours and _psk.normalize_id(params.get("left", "")) not in ours:
            return "right", "left"
    return "left", "right"


def with_protoport(selectors, params, side):
    """The side's selectors narrowed by its ``<side>protoport`` (``10.1.0.0/24[udp/1701]``), if set."""
    protoport = params.get(side + "protoport")
    if protoport:
        return ["%s[%s]" % (ts, protoport) for ts in selectors]
    return selectors


def set_identities(conn, params, local, remote, side_auth):
    """The conn's IDs (``<side>id``, by default the side's first address) and its authentication
    methods, ``side_auth(params, side)`` in the daemon's vocabulary; ``auth`` is the local one."""
    conn["local_id"] = params.get(local + "id") or conn["local_addrs"][0]
    conn["remote_id"] = params.get(remote + "id") or conn["remote_addrs"][0]
    conn["local_auth"] = side_auth(params, local)
    conn["remote_auth"] = side_auth(params, remote)
    conn["auth"] = conn["local_auth"]


def parse_connections(text, connection_from_params, path=None, loader=None, local_addresses=None):
    """ipsec.conf -> ``{connections, warnings, unparsed, setup}``.

    The syntax is shared; its meaning is the daemon's: ``connection_from_params(name, params,
    local_addresses, source)`` turns one resolved conn section into ``(connection record, problems)``.
    ``also=`` templates left at ``auto=ignore`` are not connections and are skipped.
    """
    parsed = parse_conf(text, path, loader)
    templates = used_as_also(parsed)
    conns, warnings = [], list(parsed["problems"])
    for name, params in resolved_conns(parsed):
        if name in templates and (params.get("auto") or "ignore") == "ignore":
            continue
        conn, problems = connection_from_params(name, params, local_addresses, path or "ipsec.conf")
        warnings.extend(problems)
        conns.append(conn)
    return {"connections": conns, "warnings": warnings, "unparsed": parsed["unparsed"], "setup": dict(parsed["setup"])}


# --- ipsec.secrets ---------------------------------------------------------------------------------

_TYPES = ("PSK", "RSA", "ECDSA", "XAUTH", "EAP", "PIN", "NTLM", "P12", "PKCS8", "BLISS", "PPKS", "PRIVATE", "RAW")


def _tokens(text):
    """Whitespace tokens with quoted strings kept whole (quotes included); stops at a bare '#'."""
    tokens = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char.isspace():
            pos += 1
        elif char == "#":
            break
        elif char in "\"'":
            end = text.find(char, pos + 1)
            if end < 0:
                tokens.append(text[pos:])
                break
            tokens.append(text[pos:end + 1])
            pos = end + 1
        else:
            end = pos
            while end < len(text) and not text[end].isspace() and text[end] != "#":
                end += 1
            tokens.append(text[pos:end])
            pos = end
    return tokens


def _entries(text):
    """(first line number, joined text) of each entry: a line plus its indented continuation lines."""
    entries = []
    for number, line in enumerate((text or "").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0].isspace() and entries:
            entries[-1] = (entries[-1][0], entries[-1][1] + " " + line.strip())
        else:
            entries.append((number, line.strip()))
    return entries


def parse_secrets(text, salt, path=None, loader=None, allow_prefixes=True, _depth=0):
    """(PSK records, problems). Non-PSK entries are counted, never returned; unparsable entries are
    reported by line number only, since they may hold a secret."""
    records, problems = [], []
    where = path or "ipsec.secrets"
    for number, entry in _entries(text):
        include = re.match(r"^include\s+(\S+)", entry)
        if include:
            for inc_path, inc_text in _includes.included_files(include.group(1), path, loader, _depth, problems):
                found, inc_problems = parse_secrets(inc_text, salt, inc_path, loader, allow_prefixes, _depth + 1)
                records.extend(found)
                problems.extend(inc_problems)
            continue
        tokens = _tokens(entry)
        if ":" not in tokens:
            split = _split_colon(tokens)
            if split is None:
                problems.append("%s line %d: not a '<ids> : TYPE secret' entry (content withheld)" % (where, number))
                continue
            tokens = split
        colon = tokens.index(":")
        ids, rest = tokens[:colon], tokens[colon + 1:]
        if not rest or rest[0].upper() not in _TYPES:
            problems.append("%s line %d: unknown secret type (content withheld)" % (where, number))
            continue
        if rest[0].upper() != "PSK":
            continue
        if len(rest) < 2:
            problems.append("%s line %d: PSK entry without a secret" % (where, number))
            continue
        if len(rest) > 2:
            problems.append("%s line %d: PSK value has unquoted spaces; the daemon reads only the first word" % (where, number))
        ids = [_psk._unquote(i)[0] for i in ids]
        records.append(_psk.secret_record("%s:%d" % (os.path.basename(where), number), ids, rest[1], salt, where, allow_prefixes))
    return records, problems


def _split_colon(tokens):
    """Tokens where ':' is glued to a neighbour (``@a @b: PSK x``, ``:PSK x``) split apart."""
    out = []
    found = False
    for token in tokens:
        if not found and not token.startswith(("\"", "'")) and ":" in token and not re.match(r"^[0-9a-fA-F:.]+(/\d+)?$", token):
            left, _sep, right = token.partition(":")
            if left:
                out.append(left)
            out.append(":")
            if right:
                out.append(right)
            found = True
        else:
            out.append(token)
    return out if found else None
