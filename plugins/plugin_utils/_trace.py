# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The rule path of traced packets, from the kernel's ``TRACE:`` log lines (iptables TRACE target).

Each line names the table, chain, kind (rule, policy, return) and rule number a packet met, with the
packet's addresses and IP id; lines of one packet (same source, destination, protocol and id) form
its path through netfilter.
"""

from __future__ import annotations

import re
import typing as t

_LINE = re.compile(r"TRACE: (?P<table>[\w-]+):(?P<chain>[\w-]+):(?P<kind>rule|policy|return):(?P<num>\d+)\s*(?P<rest>.*)")
_FIELD = re.compile(r"(IN|OUT|SRC|DST|PROTO|ID|SPT|DPT)=(\S*)")
MAX_PACKETS = 20


def parse(text: str) -> list[dict[str, t.Any]]:
    """``[{src, dst, proto, id, steps: [{table, chain, kind, number, in, out}]}]`` in the order first seen."""
    packets: dict[tuple, dict[str, t.Any]] = {}
    for line in (text or "").splitlines():
        match = _LINE.search(line)
        if not match:
            continue
        fields = dict(_FIELD.findall(match.group("rest")))
        key = (fields.get("SRC"), fields.get("DST"), fields.get("PROTO"), fields.get("ID"))
        if key not in packets:
            if len(packets) >= MAX_PACKETS:
                continue
            packets[key] = {"src": key[0], "dst": key[1], "proto": key[2], "id": key[3], "steps": []}
        packets[key]["steps"].append({
            "table": match.group("table"), "chain": match.group("chain"), "kind": match.group("kind"),
            "number": int(match.group("num")), "in": fields.get("IN") or None, "out": fields.get("OUT") or None,
        })
    return list(packets.values())


def describe(packet: dict[str, t.Any]) -> str:
    """``10.1.1.1 -> 10.1.2.10 ICMP: raw:PREROUTING#1 > filter:FORWARD(policy)``."""
    steps = " > ".join(f"{s.get('table')}:{s.get('chain')}" + (f"#{s.get('number')}" if s.get("kind") == "rule" else f"({s.get('kind')})")
                       for s in packet.get("steps") or [] if isinstance(s, dict))
    return f"{packet.get('src')} -> {packet.get('dst')} {packet.get('proto') or ''}: {steps}"
