# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Parser of ``iptables-save -c`` / ``ip6tables-save -c`` output (legacy and nf_tables backends).

The result uses the same backend-neutral rule shape as the nftables normaliser (``_nftables``),
so one evaluator serves both: every table becomes a list of chains with their
builtin hook and priority, every rule a list of normalised matches, a verdict, non-terminal
actions, its counters and its raw text.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Builtin chains of each iptables table: hook -> priority (netfilter's NF_IP_PRI_* values).
TABLE_PRIORITIES = {"raw": -300, "mangle": -150, "nat": None, "filter": 0, "security": 50}
NAT_PRIORITIES = {"PREROUTING": -100, "OUTPUT": -100, "INPUT": 100, "POSTROUTING": 100}
BUILTIN_HOOKS = {
    "PREROUTING": "prerouting",
    "INPUT": "input",
    "FORWARD": "forward",
    "OUTPUT": "output",
    "POSTROUTING": "postrouting",
}
TERMINAL_TARGETS = {"ACCEPT": "accept", "DROP": "drop", "REJECT": "reject", "RETURN": "return"}
QUEUE_TARGETS = ("QUEUE", "NFQUEUE")
NAT_TARGETS = {"MASQUERADE": "masquerade", "SNAT": "snat", "DNAT": "dnat", "REDIRECT": "redirect", "NETMAP": "netmap"}
LOG_TARGETS = {"LOG": "log", "NFLOG": "nflog", "ULOG": "ulog", "TRACE": "trace", "AUDIT": "audit"}
# Targets that change something (or nothing) and let the packet continue in the chain.
CONTINUE_TARGETS = (
    "MARK", "CONNMARK", "CT", "NOTRACK", "TCPMSS", "CLASSIFY", "DSCP", "TOS", "TTL", "HL", "HMARK",
    "CHECKSUM", "SET", "IDLETIMER", "LED", "SECMARK", "CONNSECMARK", "TEE", "TPROXY", "ECN",
    "SYNPROXY", "RATEEST", "TCPOPTSTRIP", "CONNLIMIT",
)
PROTOCOL_NUMBERS = {"1": "icmp", "6": "tcp", "17": "udp", "50": "esp", "51": "ah", "58": "icmpv6", "132": "sctp",
                    "136": "udplite", "33": "dccp", "47": "gre", "4": "ipip", "41": "ipv6"}
PROTOCOL_ALIASES = {"ipv6-icmp": "icmpv6", "icmp6": "icmpv6", "ipencap": "ipip"}
SHORT_OPTIONS = {
    "-s": "--source", "--src": "--source", "-d": "--destination", "--dst": "--destination",
    "-i": "--in-interface", "-o": "--out-interface", "-p": "--protocol", "-f": "--fragment",
    "-j": "--jump", "-g": "--goto", "-m": "--match", "-A": "--append",
}


def tokenize(line):
    """Split one iptables-save line like the shell would (double quotes, backslash escapes)."""
    if '"' not in line and "\\" not in line:
        return line.split()
    tokens = []
    current = []
    in_token = False
    quoted = False
    index = 0
    while index < len(line):
        char = line[index]
        if char == "\\" and index + 1 < len(line):
            current.append(line[index + 1])
            in_token = True
            index += 2
            continue
        if char == '"':
            quoted = not quoted
            in_token = True
        elif char in " \t" and not quoted:
            if in_token:
                tokens.append("".join(current))
                current = []
                in_token = False
        else:
            current.append(char)
            in_token = True
        index += 1
    if in_token:
        tokens.append("".join(current))
    return tokens


def normalize_protocol(text):
    name = text.lower()
    name = PROTOCOL_NUMBERS.get(name, name)
    return PROTOCOL_ALIASES.get(name, name)


def _port_ranges(text):
    """``'500,4500:4510'`` -> [[500, 500], [4500, 4510]]; None when not numeric (service names)."""
    ranges = []
    for part in text.split(","):
        low, sep, high = part.partition(":")
        try:
            low_value = int(low) if low else 0
            high_value = (int(high) if high else 65535) if sep else low_value
        except ValueError:
            return None
        ranges.append([low_value, high_value])
    return ranges


def _split_options(tokens):
    """Group the tokens after ``-A CHAIN`` into (negated, option, [args]) triples."""
    groups = []
    negate = False
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token == "!":
            negate = True
            index += 1
            continue
        if token.startswith("-") and not _is_number(token):
            option = SHORT_OPTIONS.get(token, token)
            args = []
            index += 1
            while index < len(tokens) and tokens[index] != "!" and not (tokens[index].startswith("-") and not _is_number(tokens[index])):
                args.append(tokens[index])
                index += 1
            groups.append((negate, option, args))
            negate = False
            continue
        groups.append((negate, None, [token]))
        negate = False
        index += 1
    return groups


def _is_number(token):
    return token.lstrip("-").replace(":", "").isdigit() and len(token) > 1


def _op(negate):
    return "!=" if negate else "=="


def _match(field, negate, value, text, **extra):
    match = {"field": field, "op": _op(negate), "value": value, "text": text}
    match.update(extra)
    return match


def _unknown(module, text, reason):
    return {"field": "unknown", "op": "==", "value": None, "module": module, "text": text, "reason": reason}


def _option_text(negate, option, args):
    return " ".join((["!"] if negate else []) + [option] + args)


def _module_text(module, options):
    """``-m module`` and all its options, as iptables-save prints them."""
    return " ".join(["-m", module] + [_option_text(*opt) for opt in options])


def _module_matches(module, options):
    """Normalised matches of one ``-m module`` and its options (negate, option, args)."""
    handler = MODULE_HANDLERS.get(module)
    if handler is None:
        text = _module_text(module, options)
        return [_unknown(module, text, "match module '%s' is not evaluated" % module)]
    return handler(module, options)


def _ports_module(module, options):
    matches = []
    for negate, option, args in options:
        text = _option_text(negate, option, args)
        if option in ("--sport", "--source-port", "--dport", "--destination-port", "--sports", "--dports",
                      "--source-ports", "--destination-ports", "--ports"):
            ranges = _port_ranges(args[0]) if args else None
            field = "port" if option == "--ports" else ("sport" if option.startswith(("--s", "--source")) else "dport")
            if ranges is None:
                matches.append(_unknown(module, text, "port list '%s' is not numeric" % " ".join(args)))
            else:
                matches.append(_match(field, negate, ranges, text))
        elif option == "--tcp-flags" and len(args) == 2:
            matches.append(_match("tcp_flags", negate, {"mask": args[0].lower().split(","), "set": args[1].lower().split(",")}, text))
        elif option == "--syn":
            matches.append(_match("tcp_flags", negate, {"mask": ["syn", "rst", "ack", "fin"], "set": ["syn"]}, text))
        elif option in ("--espspi", "--ahspi"):
            ranges = _port_ranges(args[0]) if args else None
            matches.append(_match("esp_spi" if option == "--espspi" else "ah_spi", negate, ranges, text))
        else:
            matches.append(_unknown(module, "-m %s %s" % (module, text), "option %s of match '%s' is not evaluated" % (option, module)))
    return matches


def _policy_module(module, options):
    value = {}
    negated = []
    text = _module_text(module, options)
    for negate, option, args in options:
        key = option.lstrip("-").replace("-", "_")
        if key in ("strict", "next"):
            value[key] = True
        else:
            value[key] = args[0] if args else None
        if negate:
            negated.append(key)
    match = _match("ipsec", False, value, text)
    if negated:
        match["negated_keys"] = negated
    return [match]


def _mark_module(module, options):
    matches = []
    for negate, option, args in options:
        text = "-m %s %s" % (module, _option_text(negate, option, args))
        value, _sep, mask = (args[0] if args else "").partition("/")
        try:
            parsed = {"value": int(value, 0), "mask": int(mask, 0) if mask else 0xFFFFFFFF}
        except ValueError:
            matches.append(_unknown(module, text, "mark '%s' is not a number" % value))
            continue
        matches.append(_match("mark", negate, parsed, text))
    return matches


def _lowered_list(args):
    return [item.lower() for item in args[0].split(",")]


def _first_as_list(args):
    return [args[0]]


def _first_lowered(args):
    return args[0].lower()


def _per_option_module(label, fields):
    """The handler of a match module whose options each give one match: ``fields`` maps an option
    to (match field, its value from the option's arguments); any other option is not evaluated."""
    def handler(module, options):
        matches = []
        for negate, option, args in options:
            text = "-m %s %s" % (module, _option_text(negate, option, args))
            if option in fields and args:
                field, value = fields[option]
                matches.append(_match(field, negate, value(args), text))
            else:
                matches.append(_unknown(module, text, "%s option %s is not evaluated" % (label, option)))
        return matches
    return handler


_conntrack_module = _per_option_module("conntrack", {"--ctstate": ("ct_state", _lowered_list), "--state": ("ct_state", _lowered_list)})
_addrtype_module = _per_option_module("addrtype", {"--src-type": ("src_type", _lowered_list), "--dst-type": ("dst_type", _lowered_list)})
_iprange_module = _per_option_module("iprange", {"--src-range": ("saddr", _first_as_list), "--dst-range": ("daddr", _first_as_list)})
_icmp_module = _per_option_module("icmp", {"--icmp-type": ("icmp_type", _first_lowered), "--icmpv6-type": ("icmp_type", _first_lowered)})


def _comment_module(module, options):
    return [{"field": "comment", "op": "==", "value": " ".join(args), "text": "-m comment --comment " + " ".join(args)}
            for _negate, _option, args in options]


def _assumed_module(reason):
    def handler(module, options):
        text = _module_text(module, options)
        return [{"field": "assumed", "op": "==", "value": True, "module": module, "text": text, "reason": reason}]
    return handler


def _set_module(module, options):
    text = _module_text(module, options)
    names = [args[0] for _negate, option, args in options if option == "--match-set" and args]
    return [_unknown(module, text, "ipset %s: its members are not gathered" % ",".join(names) if names else "ipset match")]


def _pkttype_module(module, options):
    matches = []
    for negate, option, args in options:
        text = "-m %s %s" % (module, _option_text(negate, option, args))
        matches.append(_match("pkttype", negate, (args[0] if args else "").lower(), text))
    return matches


def _rt_module(module, options):
    text = _module_text(module, options)
    return [{"field": "ipv6_rthdr", "op": "==", "value": dict((opt.lstrip("-"), " ".join(args)) for _n, opt, args in options),
             "text": text}]


MODULE_HANDLERS = {
    "rt": _rt_module,
    "tcp": _ports_module, "udp": _ports_module, "sctp": _ports_module, "dccp": _ports_module,
    "udplite": _ports_module, "esp": _ports_module, "ah": _ports_module,
    "multiport": _ports_module,
    "policy": _policy_module,
    "conntrack": _conntrack_module, "state": _conntrack_module,
    "mark": _mark_module,
    "addrtype": _addrtype_module,
    "iprange": _iprange_module,
    "icmp": _icmp_module, "icmp6": _icmp_module,
    "comment": _comment_module,
    "limit": _assumed_module("rate limit assumed not exceeded"),
    "hashlimit": _assumed_module("rate limit assumed not exceeded"),
    "set": _set_module,
    "pkttype": _pkttype_module,
}


def _basic_match(negate, option, args):
    text = _option_text(negate, option, args)
    value = args[0] if args else ""
    if option == "--source":
        return _match("saddr", negate, value.split(","), text)
    if option == "--destination":
        return _match("daddr", negate, value.split(","), text)
    if option == "--in-interface":
        return _match("iifname", negate, [value], text)
    if option == "--out-interface":
        return _match("oifname", negate, [value], text)
    if option == "--protocol":
        return _match("l4proto", negate, [normalize_protocol(value)], text)
    if option == "--fragment":
        return _match("fragment", negate, True, text)
    return None


def _target(name, options, user_chains):
    """(verdict, actions) for ``-j name options``."""
    text = " ".join(["-j", name] + [_option_text(*opt) for opt in options])
    args = dict((opt.lstrip("-"), " ".join(values)) for _negate, opt, values in options if opt)
    if name in TERMINAL_TARGETS:
        verdict = {"type": TERMINAL_TARGETS[name], "text": text}
        if args:
            verdict["options"] = args
        return verdict, []
    if name in user_chains:
        return {"type": "jump", "target": name, "text": text}, []
    if name in NAT_TARGETS:
        return {"type": NAT_TARGETS[name], "options": args, "text": text}, []
    if name in QUEUE_TARGETS:
        return {"type": "queue", "options": args, "text": text}, []
    if name in LOG_TARGETS:
        return {"type": "continue"}, [{"type": LOG_TARGETS[name], "options": args, "text": text}]
    if name in CONTINUE_TARGETS:
        action = {"type": name.lower(), "options": args, "text": text}
        if name in ("MARK",):
            action["sets"] = "mark"
        if name == "NOTRACK" or (name == "CT" and "notrack" in args):
            action["sets"] = "notrack"
        return {"type": "continue"}, [action]
    return {"type": "unknown", "target": name, "text": text,
            "reason": "target '%s' is neither a chain of this table nor a known target" % name}, []


def parse_rule(tokens, user_chains):
    """A normalised rule from the tokens after ``-A CHAIN`` (chain name excluded)."""
    matches = []
    verdict = {"type": "continue"}
    actions = []
    comment = None
    groups = _split_options(tokens)
    index = 0
    while index < len(groups):
        negate, option, args = groups[index]
        index += 1
        if option == "--match":
            module = args[0] if args else ""
            options = []
            while index < len(groups) and groups[index][1] not in (None, "--match", "--jump", "--goto") \
                    and _basic_match(*groups[index]) is None:
                options.append(groups[index])
                index += 1
            found = _module_matches(module, options)
            for item in found:
                if item["field"] == "comment":
                    comment = item["value"]
                else:
                    matches.append(item)
            continue
        if option in ("--jump", "--goto"):
            name = args[0] if args else ""
            options = []
            while index < len(groups) and groups[index][1] not in (None, "--match", "--jump", "--goto"):
                options.append(groups[index])
                index += 1
            if option == "--goto":
                verdict = {"type": "goto", "target": name, "text": "-g " + name}
            else:
                verdict, actions = _target(name, options, user_chains)
            continue
        basic = _basic_match(negate, option, args)
        if basic is not None:
            matches.append(basic)
        else:
            matches.append(_unknown(None, _option_text(negate, option, args), "option %s is not understood" % option))
    return {"matches": matches, "verdict": verdict, "actions": actions, "comment": comment}


def _counters(text):
    """``'[12:3456]'`` -> {'packets': 12, 'bytes': 3456}; None when absent or malformed."""
    if not (text.startswith("[") and text.endswith("]")):
        return None
    packets, _sep, byte_count = text[1:-1].partition(":")
    try:
        return {"packets": int(packets), "bytes": int(byte_count)}
    except ValueError:
        return None


def _new_table(name, family, backend):
    return {"backend": backend, "family": family, "name": name, "chains": [], "sets": []}


def _builtin_chain(table_name, chain_name, family):
    hook = BUILTIN_HOOKS.get(chain_name)
    if hook is None:
        return None, None
    if table_name == "nat":
        return hook, NAT_PRIORITIES.get(chain_name)
    return hook, TABLE_PRIORITIES.get(table_name, 0)


def parse_save(text, family="ip", backend="iptables"):
    """``iptables-save -c`` text -> {family, backend, tables: [...], unparsed: [...], warnings: [...]}.

    ``family`` is ``ip`` for iptables and ``ip6`` for ip6tables (the nftables family names).
    """
    result = {"backend": backend, "family": family, "tables": [], "unparsed": [], "warnings": []}
    table = None
    chains = {}
    pending = []
    for number, raw_line in enumerate((text or "").splitlines(), 1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("*"):
            table = _new_table(line[1:].strip(), family, backend)
            chains = {}
            pending = []
            result["tables"].append(table)
            continue
        if table is None:
            result["unparsed"].append(raw_line)
            continue
        if line == "COMMIT":
            _finish_table(table, chains, pending, result)
            table = None
            continue
        if line.startswith(":"):
            parts = line[1:].split()
            name = parts[0] if parts else ""
            policy = parts[1] if len(parts) > 1 and parts[1] != "-" else None
            hook, priority = _builtin_chain(table["name"], name, family)
            chain = {"name": name, "base": policy is not None, "hook": hook if policy else None,
                     "priority": priority if policy else None, "type": ("nat" if table["name"] == "nat" else "filter") if policy else None,
                     "policy": policy.lower() if policy else None,
                     "counters": _counters(parts[2]) if len(parts) > 2 else None, "rules": []}
            chains[name] = chain
            table["chains"].append(chain)
            continue
        counters = None
        tokens = tokenize(line)
        if tokens and tokens[0].startswith("["):
            counters = _counters(tokens.pop(0))
        if len(tokens) >= 3 and tokens[0] == "-c":
            counters = _counters("[%s:%s]" % (tokens[1], tokens[2]))
            tokens = tokens[3:]
        if len(tokens) >= 2 and tokens[0] in ("-A", "--append"):
            pending.append((tokens[1], tokens[2:], counters, line, number))
        else:
            result["unparsed"].append(raw_line)
    if table is not None:
        result["warnings"].append("table %s has no COMMIT line (truncated output?)" % table["name"])
        _finish_table(table, chains, pending, result)
    if result["unparsed"]:
        result["warnings"].append("%d line(s) of %s-save output were not understood" % (len(result["unparsed"]), backend))
    return result


def _finish_table(table, chains, pending, result):
    user_chains = set(name for name, chain in chains.items() if not chain["base"])
    for chain_name, tokens, counters, line, number in pending:
        chain = chains.get(chain_name)
        if chain is None:
            result["warnings"].append("rule for undeclared chain %s in table %s: %s" % (chain_name, table["name"], line))
            chain = {"name": chain_name, "base": False, "hook": None, "priority": None, "type": None,
                     "policy": None, "counters": None, "rules": []}
            chains[chain_name] = chain
            table["chains"].append(chain)
        rule = parse_rule(tokens, user_chains)
        rule["index"] = len(chain["rules"]) + 1
        rule["handle"] = None
        rule["counters"] = counters
        rule["text"] = line[line.index("-A"):] if "-A" in line else line
        rule["line"] = number
        chain["rules"].append(rule)
    del pending[:]
