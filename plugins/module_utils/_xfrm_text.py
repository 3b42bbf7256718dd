# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Parsers of ``ip [-s [-s]] [-o] xfrm state`` and ``ip ... xfrm policy`` output.

Pure functions ``text -> records``: the xfrm_info module uses them when netlink is not usable,
the parse_xfrm_state/parse_xfrm_policy filters on text from a ticket. They accept what iproute2
prints with and without ``-s`` (``spi 0x..(dec)``, ``(N bits)``, lifetimes, stats), one-line
output (``-o``), strongSwan's ``anti-replay context`` and libreswan's ``anti-replay esn context``
blocks, and keep every line they do not understand (keys redacted) in the record's ``unparsed``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import socket
import time

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _addr, _algorithms
from ansible_collections.netdoctor.ipsec.plugins.module_utils import _xfrm_record as rec

_HEX = re.compile(r"^[0-9a-fA-F]*$")
_COUNT = re.compile(r"^(\(INF\)|\d+)\((bytes|packets|sec)\),?$")
_EVENT_PREFIXES = ("Deleted ", "Updated ", "Expired ")
_ALGORITHM_KINDS = {"enc": "enc", "auth": "auth", "auth-trunc": "auth", "aead": "aead", "comp": "comp"}
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_STATE_KEYWORDS = frozenset(("proto", "replay-window", "mark", "output-mark", "auth", "auth-trunc", "aead", "enc", "comp",
                             "encap", "coa", "lastused", "anti-replay", "seq-hi", "replay_window", "crypto", "if_id",
                             "tfcpad", "dir", "pcpu-num", "sel", "security", "lifetime", "limit:", "expire", "add",
                             "stats:", "hard"))
_POLICY_KEYWORDS = frozenset(("dir", "socket", "security", "lifetime", "limit:", "expire", "add", "mark", "output-mark",
                              "tmpl", "proto", "level", "share", "enc-mask", "crypto", "if_id"))


class _Unparsed(Exception):
    """This line (or a value on it) is not what iproute2 prints."""


def number(text):
    """``12``, ``0x0c``, ``12(0x0000000c)`` or ``0x0000000c(12)`` -> 12."""
    value = text.split("(")[0].rstrip(",")
    try:
        return int(value, 16) if value[:2] in ("0x", "0X") else int(value)
    except ValueError:
        raise _Unparsed("not a number: %r" % text)


def _decimal_after_0x(text):
    """iproute2 prints the state ``seq`` with ``0x%08u``: decimal digits behind a 0x."""
    value = text[2:] if text[:2] == "0x" else text
    if not value.isdigit():
        raise _Unparsed("not a number: %r" % text)
    return int(value)


def local_time(date_text, clock_text):
    """Seconds since the epoch of a ``%Y-%m-%d %H:%M:%S`` time printed in this host's time zone."""
    try:
        return int(time.mktime(time.strptime(date_text + " " + clock_text, _TIME_FORMAT)))
    except (ValueError, OverflowError):
        raise _Unparsed("not a time: %s %s" % (date_text, clock_text))


def _time_tokens(tokens, index):
    """(seconds or None, next index) of the time at ``tokens[index]`` (``-`` means never)."""
    if tokens[index] == "-":
        return None, index + 1
    return local_time(tokens[index], tokens[index + 1]), index + 2


def protocol_number(name):
    """IP protocol number of a name `ip` printed (getprotobyname on this host as a fallback)."""
    if name.isdigit():
        return int(name)
    if name in rec.IP_PROTOCOL_NUMBERS:
        return rec.IP_PROTOCOL_NUMBERS[name]
    try:
        return socket.getprotobyname(name)
    except (socket.error, OSError):
        raise _Unparsed("unknown protocol %r" % name)


def _address(text):
    """An address as both readers spell it (``inet_ntop``)."""
    canonical = rec.canonical_address(text)
    if canonical == text and _addr.address_family(text) is None:
        raise _Unparsed("not an address: %r" % text)
    return canonical


def _network(text):
    address, _sep, prefix = text.partition("/")
    if not prefix.isdigit():
        raise _Unparsed("not a prefix: %r" % text)
    return "%s/%s" % (_address(address), prefix)


def split_lines(text):
    """Lines of the output; ``ip -o`` joins a record's lines with backslashes."""
    for line in text.splitlines():
        if "\\" in line:
            for part in line.split("\\"):
                if part.strip():
                    yield part.rstrip()
        elif line.strip():
            yield line.rstrip()


def _strip_event(line):
    for prefix in _EVENT_PREFIXES:
        if line.startswith(prefix):
            return line[len(prefix):]
    return line


# --- pieces shared by states and policies ------------------------------------------------------


def parse_selector(tokens, selector):
    """``src A/P dst B/P [proto P] [sport N] [dport N] [type N] [code N] [key N] [dev D] [uid N]``."""
    if len(tokens) < 4 or tokens[0] != "src" or tokens[2] != "dst":
        raise _Unparsed("not a selector")
    selector["src"] = _network(tokens[1])
    selector["dst"] = _network(tokens[3])
    selector["family"] = _addr.address_family(selector["src"])
    index = 4
    while index < len(tokens):
        key = tokens[index]
        if key == "(dport)":
            index += 2
            continue
        if index + 1 >= len(tokens):
            raise _Unparsed("dangling %r" % key)
        value = tokens[index + 1]
        if key == "proto":
            selector["proto"] = protocol_number(value)
            selector["proto_name"] = rec.protocol_name(selector["proto"])
        elif key in ("sport", "dport", "type", "code", "uid"):
            selector[key] = number(value)
        elif key == "key":
            selector["gre_key"] = number(value)
        elif key == "dev":
            selector["dev"] = value
        else:
            raise _Unparsed("unknown selector key %r" % key)
        index += 2
    return selector


def _id_line(tokens, target):
    """``proto P [spi S] reqid R mode M`` (the second line of a state or a template).

    Values that are not numbers (sanitized pastes: ``spi 0xSPISPI``) are kept as text and the line
    is reported as unparsed.
    """
    if len(tokens) % 2 or tokens[0] != "proto":
        raise _Unparsed("not an id line")
    failed = []
    for key, value in zip(tokens[0::2], tokens[1::2]):
        if key in ("proto", "mode"):
            target[key] = value
        elif key in ("spi", "reqid"):
            try:
                parsed = number(value)
            except _Unparsed:
                parsed = value.split("(")[0]
                failed.append(key)
            target[key] = rec.spi_text(parsed) if key == "spi" else parsed
        else:
            failed.append(key)
    if failed:
        raise _Unparsed("cannot read %s" % ", ".join(failed))


def _mark(text):
    value, _sep, mask = text.partition("/")
    return {"value": number(value), "mask": number(mask) if mask else None}


def _mark_line(tokens, record):
    index = 0
    while index < len(tokens):
        if tokens[index] == "mark":
            record["mark"] = _mark(tokens[index + 1])
        elif tokens[index] == "output-mark":
            record["output_mark"] = _mark(tokens[index + 1])
        else:
            raise _Unparsed("unknown mark key")
        index += 2


def _offload(tokens):
    """``crypto offload parameters: dev D [dir in|out] mode crypto|packet``."""
    pairs = dict(zip(tokens[3::2], tokens[4::2]))
    if tokens[:3] != ["crypto", "offload", "parameters:"] or "dev" not in pairs:
        raise _Unparsed("not an offload line")
    return {"dev": pairs.get("dev"), "dir": pairs.get("dir"), "mode": pairs.get("mode")}


def _count(token):
    match = _COUNT.match(token)
    if not match:
        raise _Unparsed("not a count: %r" % token)
    return None if match.group(1) == "(INF)" else int(match.group(1))


def _lifetime_line(tokens, lifetime):
    """``limit: soft X(bytes), hard Y(bytes)`` / ``expire add: soft X(sec), hard Y(sec)``."""
    if tokens[0] == "limit:" and len(tokens) == 5:
        unit = "packets" if "(packets)" in tokens[2] else "bytes"
        lifetime["soft_" + unit] = _count(tokens[2])
        lifetime["hard_" + unit] = _count(tokens[4])
    elif tokens[0] == "expire" and tokens[1] in ("add:", "use:") and len(tokens) == 6:
        when = tokens[1][:-1]
        lifetime["soft_%s_seconds" % when] = _count(tokens[3])
        lifetime["hard_%s_seconds" % when] = _count(tokens[5])
    else:
        raise _Unparsed("not a lifetime line")


def _current_line(tokens, current):
    """``N(bytes), M(packets)`` / ``add TIME use TIME``."""
    if len(tokens) == 2 and tokens[0].endswith("(bytes),"):
        current["bytes"] = _count(tokens[0])
        current["packets"] = _count(tokens[1])
    elif tokens[0] == "add":
        current["add_time"], index = _time_tokens(tokens, 1)
        if tokens[index] != "use":
            raise _Unparsed("not a current line")
        current["use_time"], index = _time_tokens(tokens, index + 1)
        if index != len(tokens):
            raise _Unparsed("trailing tokens")
    else:
        raise _Unparsed("not a current line")


def _flags(tokens, index, stop):
    """Flag names from ``tokens[index]`` up to a token in ``stop`` or the ``(0x…)`` bit mask."""
    names = []
    while index < len(tokens) and tokens[index] not in stop and not tokens[index].startswith("(0x"):
        names.append(tokens[index])
        index += 1
    return names, index


# --- states -------------------------------------------------------------------------------------


def _algorithm_line(tokens, state):
    """``enc NAME [0xKEY [(N bits)]]``, ``auth-trunc NAME [0xKEY [(N bits)]] T``, ``aead ... ICV``."""
    kind = _ALGORITHM_KINDS[tokens[0]]
    name = tokens[1]
    rest = tokens[2:]
    extra = None
    if tokens[0] in ("auth-trunc", "aead"):
        if not rest or not rest[-1].isdigit():
            raise _Unparsed("no truncation / ICV length")
        extra = int(rest.pop())
    elif tokens[0] == "auth":
        extra = _algorithms.kernel_auth_default_bits(name)
    key_hex, key_bits = "", 0
    if rest[:2] == ["<<Keys", "hidden>>"]:
        key_hex, key_bits = None, None
        rest = rest[2:]
    elif rest and rest[0][:2] == "0x":
        key_hex = rest.pop(0)[2:]
        key_bits = len(key_hex) * 4
        if not _HEX.match(key_hex):
            rec.set_algorithm(state, kind, name, None, None, extra)
            raise _Unparsed("key is not hex")
    if len(rest) == 2 and rest[0].startswith("(") and rest[1] == "bits)":
        key_bits = number(rest[0][1:])
        rest = []
    if rest:
        raise _Unparsed("trailing tokens")
    rec.set_algorithm(state, kind, name, key_hex, key_bits, extra)


def _header_line(tokens, state):
    """``replay-window N [seq 0xN] [flag F...] [extra_flag F...] [(0x bits)]``."""
    state["replay_window"] = number(tokens[1])
    index = 2
    while index < len(tokens):
        key = tokens[index]
        if key == "seq":
            state["seq"] = _decimal_after_0x(tokens[index + 1])
            index += 2
        elif key == "flag":
            state["flags"], index = _flags(tokens, index + 1, ("extra_flag",))
        elif key == "extra_flag":
            state["extra_flags"], index = _flags(tokens, index + 1, ())
        elif key.startswith("(0x"):
            index += 1
        else:
            raise _Unparsed("unknown key %r" % key)


def _encap_line(tokens, state):
    pairs = dict(zip(tokens[1::2], tokens[2::2]))
    if set(pairs) != set(("type", "sport", "dport", "addr")):
        raise _Unparsed("not an encap line")
    state["encap"] = {
        "type": pairs["type"],
        "sport": number(pairs["sport"]),
        "dport": number(pairs["dport"]),
        "oa": _address(pairs["addr"]),
    }


def _replay_line(tokens, state):
    """``anti-replay context: seq 0x0, oseq 0x6, bitmap 0x00000000`` or the esn block's first line."""
    if tokens[:3] == ["anti-replay", "esn", "context:"] and len(tokens) == 3:
        state["replay"] = {"esn_context": True, "window": None, "seq": None, "oseq": None, "seq_hi": None,
                           "oseq_hi": None, "bitmap_length": None, "bitmap": ""}
        return "esn"
    if tokens[:2] == ["anti-replay", "context:"] and len(tokens) == 8:
        state["replay"] = {"esn_context": False, "window": state["replay_window"],
                           "seq": number(tokens[3]), "oseq": number(tokens[5]), "seq_hi": None,
                           "oseq_hi": None, "bitmap_length": None, "bitmap": "%08x" % number(tokens[7])}
        return None
    raise _Unparsed("not a replay line")


def _esn_line(tokens, replay):
    if tokens[0] == "seq-hi" and len(tokens) == 8:
        replay["seq_hi"] = number(tokens[1])
        replay["seq"] = number(tokens[3])
        replay["oseq_hi"] = number(tokens[5])
        replay["oseq"] = number(tokens[7])
    elif tokens[0] == "replay_window" and len(tokens) == 4:
        replay["window"] = number(tokens[1])
        replay["bitmap_length"] = number(tokens[3])
    elif all(len(word) == 8 and _HEX.match(word) for word in tokens):
        replay["bitmap"] += "".join(word.lower() for word in tokens)
    else:
        raise _Unparsed("not an esn replay line")


def _state_attribute_line(tokens, state, line):
    key = tokens[0]
    if key == "proto":
        _id_line(tokens, state)
    elif key == "replay-window":
        _header_line(tokens, state)
    elif key in _ALGORITHM_KINDS:
        _algorithm_line(tokens, state)
    elif key == "encap":
        _encap_line(tokens, state)
    elif key == "coa" and len(tokens) == 2:
        state["coa"] = _address(tokens[1])
    elif key == "lastused":
        state["lastused"], index = _time_tokens(tokens, 1)
        if index != len(tokens):
            raise _Unparsed("trailing tokens")
    elif key == "anti-replay":
        return _replay_line(tokens, state)
    elif key == "tfcpad" and len(tokens) == 2:
        state["tfcpad"] = number(tokens[1])
    elif key == "dir" and len(tokens) >= 2:
        state["sa_dir"] = tokens[1] if tokens[1] in ("in", "out") else line.split("dir", 1)[1].strip()
    elif key == "pcpu-num" and len(tokens) == 2:
        state["pcpu"] = number(tokens[1])
    elif key == "sel":
        state["selector"] = parse_selector(tokens[1:], rec.new_selector())
        if state["selector"]["family"] is None:
            state["selector"]["family"] = state["family"]
    elif key == "stats:" and len(tokens) == 1:
        return "stats"
    else:
        return _shared_attribute_line(tokens, state, line)
    return None


def _shared_attribute_line(tokens, record, line):
    """The attribute lines iproute2 prints alike for a state and a policy (marks, offload, if_id,
    security context, the lifetime blocks); the block a line opens, if any."""
    key = tokens[0]
    if key in ("mark", "output-mark"):
        _mark_line(tokens, record)
    elif key == "crypto":
        record["offload"] = _offload(tokens)
    elif key == "if_id" and len(tokens) == 2:
        record["if_id"] = number(tokens[1])
    elif key == "security" and tokens[1:2] == ["context"]:
        record["sec_ctx"] = line.split("context", 1)[1].strip()
    elif key == "lifetime" and tokens[1:] == ["config:"]:
        record["lifetime"] = rec.new_lifetime()
        return "lifetime"
    elif key == "lifetime" and tokens[1:] == ["current:"]:
        record["current"] = rec.new_current()
        return "current"
    else:
        raise _Unparsed("unknown line")
    return None


def _lifetime_section_line(section, tokens, record):
    """A line of a lifetime block (``lifetime config:`` / ``lifetime current:``) of a state or policy."""
    if section == "lifetime":
        _lifetime_line(tokens, record["lifetime"])
    else:
        _current_line(tokens, record["current"])


def _state_section_line(section, tokens, state):
    """A line inside a multi-line block (lifetime, stats, esn replay); False when it is not one."""
    try:
        if section in ("lifetime", "current"):
            _lifetime_section_line(section, tokens, state)
        elif section == "stats":
            if tokens[0] != "replay-window" or len(tokens) != 6:
                return False
            state["stats"] = {"replay_window": number(tokens[1]), "replay": number(tokens[3]),
                              "integrity_failed": number(tokens[5])}
        elif section == "esn":
            _esn_line(tokens, state["replay"])
        else:
            return False
    except (_Unparsed, IndexError):
        return False
    return True


def _state_header(line):
    """(src, dst) of a ``src A dst B`` state header, or None."""
    tokens = _strip_event(line.strip()).split()
    if len(tokens) != 4 or tokens[0] != "src" or tokens[2] != "dst":
        return None
    if "/" in tokens[1] or "/" in tokens[3]:
        return None
    try:
        return _address(tokens[1]), _address(tokens[3])
    except _Unparsed:
        return None


def parse_states(text):
    """(state records before ``finish_state``, lines outside any state) of ``ip xfrm state`` text."""
    states, orphans = [], []
    state, section = None, None
    for line in split_lines(text):
        header = _state_header(line)
        if header is not None:
            state = rec.new_state()
            state["src"], state["dst"] = header
            state["family"] = _addr.address_family(state["src"])
            states.append(state)
            section = None
            continue
        state, section = _body_line(line, line.split(), state, section, _STATE_GRAMMAR, orphans)
    return states, orphans


def _redacted(line, tokens):
    """The line with keys removed, even keys that are not hex (sanitized pastes)."""
    if tokens and tokens[0] in _ALGORITHM_KINDS:
        line = " ".join("<key>" if token[:2] == "0x" else token for token in tokens)
    return rec.redact(line.strip())


# --- policies -----------------------------------------------------------------------------------


def _policy_dir_line(tokens, policy):
    """``dir|socket in|out|fwd [action A] [index N] priority N [ptype T] [share S] [flag F...] [(0x…)]``."""
    policy["socket"] = tokens[0] == "socket"
    policy["dir"] = tokens[1]
    policy["action"] = "allow"
    index = 2
    while index < len(tokens):
        key = tokens[index]
        if key == "flag":
            policy["flags"], index = _flags(tokens, index + 1, ())
            continue
        if key.startswith("(0x"):
            index += 1
            continue
        value = tokens[index + 1]
        if key == "action":
            policy["action"] = value
        elif key in ("index", "priority"):
            policy[key] = number(value)
        elif key in ("ptype", "share"):
            policy[key] = value
        else:
            raise _Unparsed("unknown key %r" % key)
        index += 2


def _template_level_line(tokens, template):
    pairs = dict(zip(tokens[0::2], tokens[1::2]))
    if len(tokens) % 2 or not set(pairs) <= set(("level", "share")):
        raise _Unparsed("not a level line")
    if "level" in pairs:
        template["level"] = pairs["level"]
    if "share" in pairs:
        template["share"] = pairs["share"]


def _template_mask_line(tokens, template):
    pairs = dict(zip(tokens[0::2], tokens[1::2]))
    if set(pairs) != set(("enc-mask", "auth-mask", "comp-mask")):
        raise _Unparsed("not a mask line")
    template["enc_mask"] = pairs["enc-mask"]
    template["auth_mask"] = pairs["auth-mask"]
    template["comp_mask"] = pairs["comp-mask"]


def _policy_attribute_line(tokens, policy, line):
    key = tokens[0]
    template = policy["tmpls"][-1] if policy["tmpls"] else None
    if key in ("dir", "socket") and len(tokens) >= 2:
        _policy_dir_line(tokens, policy)
    elif key == "tmpl" and len(tokens) == 5 and tokens[1] == "src" and tokens[3] == "dst":
        template = rec.new_template()
        template["src"], template["dst"] = _address(tokens[2]), _address(tokens[4])
        template["family"] = _addr.address_family(template["src"])
        template["level"] = "required"
        policy["tmpls"].append(template)
    elif key == "proto" and template is not None:
        _id_line(tokens, template)
        if template["spi"] is None:
            template["spi"] = rec.spi_text(0)
    elif key in ("level", "share") and template is not None:
        _template_level_line(tokens, template)
    elif key == "enc-mask" and template is not None:
        _template_mask_line(tokens, template)
    else:
        return _shared_attribute_line(tokens, policy, line)
    return None


def _policy_section_line(section, tokens, policy):
    try:
        _lifetime_section_line(section, tokens, policy)
    except (_Unparsed, IndexError):
        return False
    return True


def _policy_header(line, policy):
    try:
        parse_selector(_strip_event(line.strip()).split(), policy)
    except (_Unparsed, IndexError):
        return False
    return True


def parse_policies(text):
    """(policy records, lines outside any policy) of ``ip xfrm policy`` text."""
    policies, orphans = [], []
    policy, section = None, None
    for line in split_lines(text):
        tokens = line.split()
        if tokens[0] in ("src",) + tuple(p.strip() for p in _EVENT_PREFIXES) and line[:1] not in (" ", "\t"):
            candidate = rec.new_policy()
            if _policy_header(line, candidate):
                policy, section = candidate, None
                policies.append(policy)
                continue
            policy = None
        policy, section = _body_line(line, tokens, policy, section, _POLICY_GRAMMAR, orphans)
    return policies, orphans


# --- the lines inside a state or policy block -----------------------------------------------------

# (keywords that may start an unindented line, section line reader, attribute line reader, text kept
# for a line not understood)
_STATE_GRAMMAR = (_STATE_KEYWORDS, _state_section_line, _state_attribute_line, _redacted)
_POLICY_GRAMMAR = (_POLICY_KEYWORDS, _policy_section_line, _policy_attribute_line, lambda line, _tokens: rec.redact(line.strip()))


def _body_line(line, tokens, record, section, grammar, orphans):
    """Read a line that is not a header into the open state or policy: ``(record, section)`` after it.

    An unindented line that starts with no keyword of the block (a policy block or other text after
    the states) belongs to no record: it goes to ``orphans`` and closes the record. Known keywords
    stay in the record, for pastes that lost their indentation.
    """
    keywords, section_line, attribute_line, unparsed_text = grammar
    if record is None or (line[:1] not in (" ", "\t") and tokens[0] not in keywords):
        orphans.append(rec.redact(line))
        return None, section
    if section and section_line(section, tokens, record):
        return record, section
    try:
        return record, attribute_line(tokens, record, line)
    except (_Unparsed, IndexError, KeyError, ValueError):
        # Inside a block, an unknown line most likely belongs to the block: stay in it.
        record["unparsed"].append(unparsed_text(line, tokens))
        return record, section


# --- finished records ---------------------------------------------------------------------------


def _orphan_warning(kind, orphans, warn):
    if orphans:
        shown = " | ".join(orphans[:10]) + (" | ..." if len(orphans) > 10 else "")
        warn("%d line(s) outside any xfrm %s were kept in unparsed: %s" % (len(orphans), kind, shown))


def state_records(text, options, warn):
    """(finished state records, unparsed lines) of ``ip xfrm state`` text."""
    states, orphans = parse_states(text)
    _orphan_warning("state", orphans, warn)
    return [rec.finish_state(state, options, warn) for state in states], orphans


def policy_records(text, warn):
    """(finished policy records, unparsed lines) of ``ip xfrm policy`` text."""
    policies, orphans = parse_policies(text)
    _orphan_warning("policy", orphans, warn)
    return [rec.finish_policy(policy, warn) for policy in policies], orphans
