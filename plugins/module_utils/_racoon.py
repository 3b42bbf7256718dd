# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""racoon (ipsec-tools, IKEv1) to the ``ike`` record: racoon.conf (``remote``/``sainfo``/``proposal``
blocks, ``include``, ``inherit``), psk.txt and ``racoonctl show-sa isakmp|esp``.

racoon takes its phase 2 selectors from the kernel SPD (``setkey -DP``) unless a ``sainfo`` names
them; the gatherer fills anonymous ``sainfo`` children from the SPD templates toward each peer.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
from collections import OrderedDict

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _ike_record as rec
from ansible_collections.netdoctor.ipsec.plugins.module_utils import _includes, _proposals, _psk, _setkey

PHASE1_STATES = {
    0: "SPAWN", 1: "START", 2: "MSG1SENT", 3: "MSG1RECEIVED", 4: "MSG2SENT", 5: "MSG2RECEIVED",
    6: "MSG3SENT", 7: "MSG3RECEIVED", 8: "MSG4SENT", 9: "ESTABLISHED", 10: "DYING", 11: "EXPIRED",
}
EXCHANGE = {"B": "base", "M": "main", "U": "auth_only", "A": "aggressive", "I": "informational"}
AUTH_METHOD = {
    "pre_shared_key": "psk", "rsasig": "pubkey", "gssapi_krb": "gssapi", "hybrid_rsa_server": "pubkey",
    "hybrid_rsa_client": "xauth", "xauth_rsa_server": "pubkey", "xauth_rsa_client": "pubkey",
    "xauth_psk_server": "psk", "xauth_psk_client": "psk",
}


# --- racoon.conf syntax --------------------------------------------------------------------------

def _tokens(text):
    """(token, line) pairs: quoted strings whole, ``{ } ;`` as their own tokens, comments dropped."""
    out = []
    line = 1
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char == "\n":
            line += 1
            pos += 1
        elif char.isspace():
            pos += 1
        elif char == "#":
            end = text.find("\n", pos)
            pos = len(text) if end < 0 else end
        elif char in "{};":
            out.append((char, line))
            pos += 1
        elif char == '"':
            end = text.find('"', pos + 1)
            end = len(text) if end < 0 else end
            out.append((text[pos:end + 1], line))
            line += text.count("\n", pos, end)
            pos = end + 1
        else:
            end = pos
            while end < len(text) and not text[end].isspace() and text[end] not in "{};#\"":
                end += 1
            out.append((text[pos:end], line))
            pos = end
    return out


def _statements(tokens, start, problems, where):
    """Statements until the matching ``}``: ``[{words, block, line}]`` and the next position."""
    statements = []
    words, first_line = [], None
    pos = start
    while pos < len(tokens):
        token, line = tokens[pos]
        if first_line is None:
            first_line = line
        if token == ";":
            if words:
                statements.append({"words": words, "block": None, "line": first_line})
            words, first_line = [], None
            pos += 1
        elif token == "{":
            block, pos = _statements(tokens, pos + 1, problems, where)
            statements.append({"words": words, "block": block, "line": first_line})
            words, first_line = [], None
        elif token == "}":
            if words:
                problems.append("%s line %d: statement '%s' lacks its ';'" % (where, line, " ".join(words)))
                statements.append({"words": words, "block": None, "line": first_line})
            return statements, pos + 1
        else:
            words.append(token)
            pos += 1
    if words:
        problems.append("%s: statement '%s' at line %d not terminated (truncated file?)" % (where, " ".join(words), first_line))
        statements.append({"words": words, "block": None, "line": first_line})
    if start > 0:
        problems.append("%s: block not closed (truncated file?)" % where)
    return statements, pos


def _unquote(word):
    return word[1:-1] if len(word) >= 2 and word[0] == word[-1] == '"' else word


def parse_conf_syntax(text, path=None, loader=None, _depth=0, _include_dir=None):
    """Top-level statements of racoon.conf with ``include`` expanded; (statements, problems, paths)."""
    problems = []
    where = path or "racoon.conf"
    tokens = _tokens(text or "")
    statements, _pos = _statements(tokens, 0, problems, where)
    expanded = []
    paths = {"include": _include_dir}
    for stmt in statements:
        words = stmt["words"]
        if words[:2] == ["path", "include"] and len(words) > 2:
            paths["include"] = _unquote(words[2])
        if words and words[0] == "path" and len(words) > 2:
            paths[words[1]] = _unquote(words[2])
        if words and words[0] == "include" and len(words) > 1:
            expanded.extend(_include(_unquote(words[1]), path, loader, _depth, problems, paths))
            continue
        expanded.append(stmt)
    return expanded, problems, paths


def _include(pattern, path, loader, depth, problems, paths):
    out = []
    for inc_path, inc_text in _includes.included_files(pattern, path, loader, depth, problems, paths.get("include")):
        stmts, inc_problems, inc_paths = parse_conf_syntax(inc_text, inc_path, loader, depth + 1, paths.get("include"))
        problems.extend(inc_problems)
        for key, value in inc_paths.items():
            if value and key != "include":
                paths.setdefault(key, value)
        out.extend(stmts)
    return out


# --- racoon.conf meaning -------------------------------------------------------------------------

def _lifetime(words):
    """``lifetime time 24 hour`` -> seconds."""
    if len(words) >= 4 and words[1] == "time":
        unit = words[3].lower().rstrip("s")
        factor = {"sec": 1, "second": 1, "min": 60, "minute": 60, "hour": 3600, "day": 86400}.get(unit, 1)
        value = rec.to_int(words[2])
        return value * factor if value is not None else None
    return None


def _identifier(words):
    """``my_identifier fqdn "gw.example.com"`` -> ``gw.example.com``; ``address`` alone -> None (the address)."""
    if len(words) < 2:
        return None, None
    kind = words[1]
    value = _unquote(words[2]) if len(words) > 2 else None
    return kind, value


def _phase1(block, name, problems):
    fields = OrderedDict()
    for stmt in block or []:
        if stmt["words"]:
            fields[stmt["words"][0]] = stmt["words"][1:]
    enc = fields.get("encryption_algorithm", [])
    proposal, found = _proposals.racoon_phase1(
        enc[0] if enc else None, enc[1] if len(enc) > 1 else None,
        (fields.get("hash_algorithm") or [None])[0], (fields.get("dh_group") or [None])[0],
        " ".join("%s %s" % (k, " ".join(v)) for k, v in fields.items()))
    problems.extend("remote %s: %s" % (name, p) for p in found)
    auth = (fields.get("authentication_method") or [None])[0]
    return proposal, auth


def _remote(stmt, remotes, problems):
    words = stmt["words"]
    address = words[1] if len(words) > 1 else "anonymous"
    port = None
    parent = None
    rest = words[2:]
    if rest and re.match(r"^\[\d+\]$", rest[0]):
        port = int(rest[0][1:-1])
        rest = rest[1:]
    if len(rest) >= 2 and rest[0] == "inherit":
        parent = rest[1]
    name = address if port is None else "%s[%d]" % (address, port)
    statements = list(remotes[parent]["statements"]) if parent in remotes else []
    if parent and parent not in remotes:
        problems.append("remote %s inherits from unknown remote %s" % (name, parent))
    own = stmt["block"] or []
    if any(s["words"][:1] == ["proposal"] for s in own):
        statements = [s for s in statements if s["words"][:1] != ["proposal"]]
    statements.extend(own)
    remotes[name] = {"address": address, "port": port, "statements": statements, "name": name}
    return remotes[name]


def connection_from_remote(remote, problems):
    conn = rec.connection(remote["name"], "racoon.conf")
    conn["ike_version"] = 1
    conn["remote_addrs"] = ["%any" if remote["address"] == "anonymous" else remote["address"]]
    conn["local_addrs"] = ["%any"]
    conn["remote_port"] = remote["port"] or 500
    conn["ike_proposals"] = []
    texts = []
    for stmt in remote["statements"]:
        words = stmt["words"]
        key = words[0] if words else ""
        if key == "proposal":
            proposal, auth = _phase1(stmt["block"], remote["name"], problems)
            conn["ike_proposals"].append(proposal)
            texts.append(proposal["text"])
            if auth and conn["local_auth"] is None:
                conn["local_auth"] = conn["remote_auth"] = AUTH_METHOD.get(auth, auth)
        elif key == "exchange_mode":
            modes = [w.strip(",") for w in " ".join(words[1:]).replace(",", " ").split()]
            conn["aggressive"] = bool(modes) and modes[0] == "aggressive"
            conn["extra"]["exchange_mode"] = modes
        elif key == "my_identifier":
            kind, value = _identifier(words)
            conn["local_id"] = value
            conn["extra"]["my_identifier_type"] = kind
        elif key == "peers_identifier":
            kind, value = _identifier(words)
            conn["remote_id"] = value
            conn["extra"]["peers_identifier_type"] = kind
        elif key == "lifetime":
            conn["lifetimes"]["ike_lifetime"] = _lifetime(words)
        elif key == "nat_traversal" and len(words) > 1:
            conn["encap"] = words[1] == "force"
            conn["extra"]["nat_traversal"] = words[1]
        elif key == "dpd_delay" and len(words) > 1:
            conn["dpd"]["delay"] = rec.to_int(words[1])
        elif key in ("proposal_check", "passive", "generate_policy", "verify_identifier", "initial_contact",
                     "ike_frag", "support_proxy", "dpd_maxfail", "dpd_retry", "ph1id", "nonce_size", "mode_cfg") and len(words) > 1:
            conn["extra"][key] = words[1]
    conn["ike_proposals_text"] = "; ".join(texts) or None
    conn["ike_strict"] = True
    if conn["remote_id"] is None:
        conn["remote_id"] = conn["remote_addrs"][0]
    conn["auth"] = conn["local_auth"]
    return conn


def _sainfo_ids(words):
    """``sainfo address A any subnet B any [from ...]`` -> (local, remote, peer filter)."""
    rest = words[1:]
    peer = None
    if "from" in rest:
        index = rest.index("from")
        peer = [_unquote(w) for w in rest[index + 1:index + 3]]
        rest = rest[:index]
    if "group" in rest:
        rest = rest[:rest.index("group")]
    if not rest or rest[0] == "anonymous":
        local = None
        remote = None
        if len(rest) >= 2 and rest[1] != "anonymous":
            remote = _sainfo_id(rest[1:])
        return local, remote, peer
    local = _sainfo_id(rest)
    consumed = 3 if rest[0] in ("address", "subnet") else 2
    remote_words = rest[consumed:]
    remote = None if not remote_words or remote_words[0] == "anonymous" else _sainfo_id(remote_words)
    return local, remote, peer


def _sainfo_id(words):
    if words[0] in ("address", "subnet") and len(words) >= 2:
        proto = words[2] if len(words) > 2 else "any"
        value = rec.normalize_ts(words[1].split("[")[0])
        port = re.search(r"\[(\d+)\]", words[1])
        if proto != "any" or port:
            value += "[%s%s]" % (proto if proto != "any" else "", ("/" + port.group(1)) if port else "")
        return value
    return _unquote(words[1]) if len(words) > 1 else None


def child_from_sainfo(stmt, problems):
    local, remote, peer = _sainfo_ids(stmt["words"])
    name = " ".join(stmt["words"][1:]) or "anonymous"
    child = rec.child_config(name)
    encs, auths, pfs = [], [], None
    for sub in stmt["block"] or []:
        words = sub["words"]
        if not words:
            continue
        values = [w for w in " ".join(words[1:]).replace(",", " , ").split(" ") if w]
        if words[0] == "encryption_algorithm":
            encs = _alg_list(values, with_keylen=True)
        elif words[0] == "authentication_algorithm":
            auths = [name_ for name_, _k in _alg_list(values, with_keylen=False)]
        elif words[0] == "pfs_group" and len(words) > 1:
            pfs = words[1]
        elif words[0] == "lifetime":
            child["lifetimes"]["lifetime"] = _lifetime(words)
        elif words[0] == "compression_algorithm" and len(words) > 1:
            child["ipcomp"] = words[1] != "none"
            child["extra"]["compression_algorithm"] = words[1]
    proposal, found = _proposals.racoon_phase2(encs, auths, pfs, " ".join(" ".join(s["words"]) for s in stmt["block"] or []))
    problems.extend("sainfo %s: %s" % (name, p) for p in found)
    child["esp_proposals"] = [proposal]
    child["esp_proposals_text"] = proposal["text"]
    child["pfs"] = bool(proposal["dh"])
    child["local_ts"] = [local] if local else []
    child["remote_ts"] = [remote] if remote else []
    child["mode"] = "tunnel"
    child["start_action"] = "trap"
    child["extra"]["sainfo"] = "anonymous" if local is None and remote is None else "specific"
    if peer:
        child["extra"]["from"] = peer
    return child


def _alg_list(values, with_keylen):
    out = []
    current = []
    for value in values + [","]:
        if value == ",":
            if current:
                out.append((current[0], current[1] if with_keylen and len(current) > 1 else None))
            current = []
        else:
            current.append(value)
    return out


def _sainfo_applies(child, conn):
    peer = child["extra"].get("from")
    if not peer:
        return True
    wanted = _psk.normalize_id(peer[-1])
    return wanted in (_psk.normalize_id(conn["remote_id"] or ""), _psk.normalize_id(conn["remote_addrs"][0]))


def parse_racoon_conf(text, path=None, loader=None):
    """racoon.conf -> ``{connections, paths, warnings, unparsed}`` (children = the sainfos that apply)."""
    statements, problems, paths = parse_conf_syntax(text, path, loader)
    remotes = OrderedDict()
    sainfos = []
    unparsed = []
    known = ("path", "include", "log", "padding", "listen", "timer", "privsep", "mode_cfg", "ldapcfg", "radiuscfg",
             "gss_id_enc", "complex_bundle", "identifier")
    for stmt in statements:
        key = stmt["words"][0] if stmt["words"] else ""
        if key == "remote":
            _remote(stmt, remotes, problems)
        elif key == "sainfo":
            sainfos.append(child_from_sainfo(stmt, problems))
        elif key not in known:
            unparsed.append(" ".join(stmt["words"]))
            problems.append("line %d: unknown racoon.conf statement '%s'" % (stmt["line"], key))
    conns = []
    for remote in remotes.values():
        conn = connection_from_remote(remote, problems)
        conn["children"] = [dict(child, extra=dict(child["extra"])) for child in sainfos if _sainfo_applies(child, conn)]
        conns.append(rec.finish_connection(conn))
    return {"connections": conns, "paths": paths, "warnings": problems, "unparsed": unparsed}


def parse_psk_file(text, salt, path=None):
    """psk.txt -> (PSK records, problems). The key is everything after the identifier and its blanks;
    ``0x`` means hex. Unparsable lines are reported by number only."""
    records, problems = [], []
    where = path or "psk.txt"
    for number, line in enumerate((text or "").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = re.match(r"^\s*(\S+)[ \t]+(.*?)[\r\n]*$", line)
        if not match or not match.group(2):
            problems.append("%s line %d: not '<identifier> <key>' (content withheld)" % (where, number))
            continue
        ident, key = match.group(1), match.group(2)
        records.append(_psk.secret_record("%s:%d" % (os.path.basename(where), number), [ident], key, salt, where, allow_prefixes=True))
        if key.rstrip() != key:
            records[-1]["facts"]["hints"].append("trailing whitespace after the key: racoon keeps it as part of the key")
    return records, problems


# --- racoonctl ------------------------------------------------------------------------------------

_ISAKMP_LINE = re.compile(
    r"^(?:(?P<src>\S+)\s+)?(?P<dst>\S+)\s+(?P<icookie>[0-9a-f]{16}):(?P<rcookie>[0-9a-f]{16})"
    r"(?:\s+(?P<st>\d+)\s+(?P<side>[IR])\s+(?P<ver>[0-9a-f]+)(?:\s+(?P<etype>[BMUAI]))?)?"
    r"(?:\s+(?P<created>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d))?(?:\s+(?P<ph2>\d+))?\s*$"
)


def _host_port(text):
    """``192.168.50.12.500`` -> (address, port)."""
    if not text:
        return None, None
    host, _sep, port = text.rpartition(".")
    if port.isdigit() and host:
        return host, int(port)
    return text, None


def parse_show_sa_isakmp(text):
    """``racoonctl [-l|-ll] show-sa isakmp`` -> (IKE SA records, unparsed)."""
    sas, unparsed = [], []
    for line in (text or "").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("Source", "Destination")):
            continue
        match = _ISAKMP_LINE.match(stripped)
        if not match:
            unparsed.append(stripped)
            continue
        remote, rport = _host_port(match.group("dst"))
        local, lport = _host_port(match.group("src"))
        sa = rec.ike_sa(remote)
        sa["ike_version"] = 1
        sa["spi_i"] = "0x" + match.group("icookie")
        sa["spi_r"] = "0x" + match.group("rcookie")
        sa["remote_host"], sa["remote_port"] = remote, rport
        sa["local_host"], sa["local_port"] = local, lport
        if match.group("st"):
            code = int(match.group("st"))
            sa["state"] = PHASE1_STATES.get(code, "STATE_%d" % code)
            sa["established"] = code == 9
            sa["initiator"] = match.group("side") == "I"
            sa["extra"]["exchange"] = EXCHANGE.get(match.group("etype") or "")
            sa["extra"]["phase2_count"] = rec.to_int(match.group("ph2"))
        else:
            sa["state"] = None
            sa["established"] = match.group("rcookie") != "0" * 16
        sa["extra"]["created"] = match.group("created")
        sa["nat"]["detected"] = (rport == 4500) if rport else None
        sas.append(sa)
    return sas, unparsed


# --- gather --------------------------------------------------------------------------------------

def attach_spd_selectors(conns, policies):
    """Fill anonymous sainfo children's selectors from the SPD policies whose templates go to the peer."""
    for conn in conns:
        peer = conn["remote_addrs"][0]
        outbound = [p for p in policies if p["dir"] == "out" and p["templates"]
                    and (peer == "%any" or any(t["dst"] == peer for t in p["templates"]))]
        for child in conn["children"]:
            if child["local_ts"] or child["remote_ts"] or not outbound:
                continue
            child["local_ts"] = rec.normalize_ts_list([p["src"] for p in outbound])
            child["remote_ts"] = rec.normalize_ts_list([p["dst"] for p in outbound])
            child["mode"] = outbound[0]["templates"][0]["mode"]
            child["extra"]["selectors_from"] = "spd"
        rec.finish_connection(conn)
    return conns


def gather(ctx):
    """The racoon record of this gateway."""
    record = rec.daemon_record("racoon")
    ctx.host_state(record, "racoon")
    record["version"] = ctx.tool_version("racoon", ["-V"], r"ipsec-tools (\S+)")
    conns, secrets, psk_path = [], [], "/etc/racoon/psk.txt"
    conf_path = ctx.option("racoon_conf")
    if ctx.options.get("read_config", True) and conf_path and ctx.host.exists(conf_path):
        text = ctx.read_text(record, conf_path, "racoon.conf")
        if text is not None:
            problems = []
            parsed = parse_racoon_conf(text, conf_path, ctx.host.loader(problems))
            conns = parsed["connections"]
            psk_path = parsed["paths"].get("pre_shared_key") or psk_path
            record["warnings"].extend(problems + parsed["warnings"])
            record["unparsed"].extend(parsed["unparsed"])
            record["sources"].append("file:%s" % conf_path)
        if ctx.host.exists(psk_path):
            text = ctx.read_text(record, psk_path, "psk.txt")
            if text is not None:
                secrets, problems = parse_psk_file(text, ctx.salt, psk_path)
                record["warnings"].extend(problems)
                record["sources"].append("file:%s" % psk_path)
    local_addresses = ctx.local_addresses(record)
    sas = []
    if ctx.runner.has("racoonctl"):
        out = ctx.run(record, "racoonctl", ["-ll", "show-sa", "isakmp"], "racoonctl show-sa isakmp")
        if out is not None:
            sas, unparsed = parse_show_sa_isakmp(out)
            record["unparsed"].extend(unparsed)
            record["sources"].append("command:racoonctl show-sa isakmp")
        out = ctx.run(record, "racoonctl", ["show-sa", "esp"], "racoonctl show-sa esp")
        if out is not None:
            states, warnings, unparsed = _setkey.parse_sad(out, ctx.salt)
            record["warnings"].extend(warnings)
            record["unparsed"].extend(unparsed)
            attach_children(sas, _setkey.child_sas(states, local_addresses))
            record["sources"].append("command:racoonctl show-sa esp")
    if ctx.runner.has("setkey"):
        out = ctx.run(record, "setkey", ["-DP"], "setkey -DP")
        if out is not None:
            policies, warnings, unparsed = _setkey.parse_spd(out)
            record["warnings"].extend(warnings)
            attach_spd_selectors(conns, policies)
            record["sources"].append("command:setkey -DP")
    for conn in conns:
        if conn["local_addrs"] == ["%any"] and local_addresses:
            conn["local_addrs"] = list(local_addresses)
    record["connections"] = conns
    record["sas"] = sas
    record["secrets"] = secrets
    record["warnings"].extend(_psk.attach_to_connections(conns, secrets, sas, "racoon"))
    return record


def attach_children(sas, children):
    """Hang child SAs (from the SAD) under the IKE SA toward the same peer; orphans get their own record."""
    for child in children:
        peer = child["extra"].get("peer")
        parent = None
        for sa in sas:
            if sa["remote_host"] == peer:
                parent = sa
        if parent is None:
            parent = rec.ike_sa(peer)
            parent["ike_version"] = 1
            parent["state"] = "NONE"
            parent["established"] = False
            parent["remote_host"] = peer
            sas.append(parent)
        parent["children"].append(child)
    return sas
