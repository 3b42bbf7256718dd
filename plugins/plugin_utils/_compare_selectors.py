# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Do the phase 2 traffic selectors of the two ends mirror each other?

A's local selectors must cover what B expects behind A (B's remote selectors) and the other way
round. Selectors are text as the daemons print them (``10.1.0.0/24``, ``10.1.0.0/24[tcp/80]``,
``10.1.0.1..10.1.0.9``, ``dynamic``) or dicts ``{net, proto, port}``. Each direction gets a
relation: equal, a_within_b (A's selectors are narrower than B's), b_within_a, overlap or
disjoint. An IKEv2 responder may narrow a proposal to its own (RFC 7296 2.9), so anything but
disjoint can negotiate there; IKEv1 (and libreswan without narrowing) needs an exact mirror.
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _addr

PROTOCOLS = {"icmp": 1, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "icmpv6": 58, "ipv6-icmp": 58, "sctp": 132}
_TS_RE = re.compile(r"^\s*(?P<net>[^\[\s]+)\s*(?:\[(?P<proto>[^/\]]*)(?:/(?P<port>[^\]]*))?\])?\s*$")


class Selector(t.NamedTuple):
    family: int
    low: int
    high: int
    proto: int | None  # None: any protocol
    port_low: int
    port_high: int
    text: str


def _proto_number(text: str | int | None) -> int | None:
    if text in (None, "", "any", "0", 0):
        return None
    if isinstance(text, int):
        return text
    text = text.strip().lower()
    if text.isdigit():
        return int(text) or None
    return PROTOCOLS.get(text)


def _port_range(text: str | int | None) -> tuple[int, int]:
    if text in (None, "", "any", "%any", "0", 0):
        return 0, 65535
    if isinstance(text, int):
        return text, text
    low, _sep, high = str(text).partition("-")
    try:
        return int(low), int(high or low)
    except ValueError:
        return 0, 65535


def _address_range(text: str) -> tuple[int, int, int] | None:
    if ".." in text:
        first, _sep, last = text.partition("..")
        low, high = _addr.parse_network(first), _addr.parse_network(last)
        if not low or not high or low[0] != high[0]:
            return None
        return low[0], low[1], high[1]
    net = _addr.parse_network(text)
    if not net:
        return None
    family, value, prefix = _addr.network_base(net)
    span = (1 << (_addr.FAMILY_BITS[family] - prefix)) - 1
    return family, value, value + span


def parse_selector(value: t.Any, dynamic: str | None = None) -> Selector | None:
    """One selector from text or a dict; ``dynamic`` is the address ``dynamic`` stands for."""
    if isinstance(value, dict):
        net = str(value.get("net") or value.get("cidr") or value.get("address") or "")
        proto, port = value.get("proto"), value.get("port")
    else:
        match = _TS_RE.match(str(value))
        if not match:
            return None
        net, proto, port = match.group("net"), match.group("proto"), match.group("port")
    if net in ("dynamic", "%dynamic") and dynamic:
        net = dynamic
    elif net in ("%any", "any"):
        net = "0.0.0.0/0"
    span = _address_range(net)
    if span is None:
        return None
    port_low, port_high = _port_range(port)
    return Selector(span[0], span[1], span[2], _proto_number(proto), port_low, port_high, str(value if not isinstance(value, dict) else net))


def _contains(outer: Selector, inner: Selector) -> bool:
    return (
        outer.family == inner.family
        and outer.low <= inner.low
        and inner.high <= outer.high
        and (outer.proto is None or outer.proto == inner.proto)
        and outer.port_low <= inner.port_low
        and inner.port_high <= outer.port_high
    )


def _intersects(first: Selector, second: Selector) -> bool:
    return (
        first.family == second.family
        and first.low <= second.high
        and second.low <= first.high
        and (first.proto is None or second.proto is None or first.proto == second.proto)
        and first.port_low <= second.port_high
        and second.port_low <= first.port_high
    )


def relation(first: list[Selector], second: list[Selector]) -> str:
    """equal, a_within_b, b_within_a, overlap or disjoint (``first`` is A's, ``second`` B's)."""
    if not first or not second:
        return "disjoint"
    a_in_b = all(any(_contains(b, a) for b in second) for a in first)
    b_in_a = all(any(_contains(a, b) for a in first) for b in second)
    if a_in_b and b_in_a:
        return "equal"
    if a_in_b:
        return "a_within_b"
    if b_in_a:
        return "b_within_a"
    if any(_intersects(a, b) for a in first for b in second):
        return "overlap"
    return "disjoint"


def _texts(selectors: list[Selector]) -> list[str]:
    return [s.text for s in selectors]


def _explain(name: str, rel: str, a_texts: list[str], b_texts: list[str]) -> str:
    behind, a_field, b_field = {
        "a_to_b": ("A", "A's local", "B's remote"),
        "b_to_a": ("B", "A's remote", "B's local"),
    }[name]
    a_text, b_text = ", ".join(a_texts) or "-", ", ".join(b_texts) or "-"
    if rel == "equal":
        return f"subnets behind {behind}: {a_field} and {b_field} selectors agree ({a_text})"
    if rel == "disjoint":
        return f"subnets behind {behind}: {a_field} {a_text} and {b_field} {b_text} do not overlap at all"
    if rel == "a_within_b":
        return (
            f"subnets behind {behind}: {a_field} {a_text} is narrower than {b_field} {b_text}; "
            f"an IKEv2 responder narrows to {a_text}, IKEv1 rejects it"
        )
    if rel == "b_within_a":
        return (
            f"subnets behind {behind}: {b_field} {b_text} is narrower than {a_field} {a_text}; "
            f"an IKEv2 responder narrows to {b_text}, IKEv1 rejects it"
        )
    return (
        f"subnets behind {behind}: {a_field} {a_text} and {b_field} {b_text} only partly overlap; "
        "only the intersection could be negotiated (IKEv2 narrowing), the rest is never protected"
    )


def compare_selectors(
    a_local: t.Sequence[t.Any],
    a_remote: t.Sequence[t.Any],
    b_local: t.Sequence[t.Any],
    b_remote: t.Sequence[t.Any],
    a_address: str | None = None,
    b_address: str | None = None,
    narrowing: bool = True,
) -> dict[str, t.Any]:
    """Mirror check of A's (local, remote) against B's (remote, local) selectors.

    ``a_address``/``b_address`` resolve ``dynamic`` selectors (the gateway's own address);
    ``narrowing`` says whether IKEv2 narrowing is available (False for IKEv1). Returns ``mirror``,
    ``compatible``, ``directions`` (two entries: a_to_b compares A's local with B's remote, b_to_a
    A's remote with B's local) and ``unparsed`` selectors.
    """
    unparsed: list[str] = []

    def parse_all(values: t.Sequence[t.Any], dynamic: str | None) -> list[Selector]:
        parsed = []
        for value in values or []:
            selector = parse_selector(value, dynamic)
            if selector is None:
                unparsed.append(str(value))
            else:
                parsed.append(selector)
        return parsed

    sets = {
        "a_local": parse_all(a_local, a_address),
        "a_remote": parse_all(a_remote, b_address),
        "b_local": parse_all(b_local, b_address),
        "b_remote": parse_all(b_remote, a_address),
    }
    directions = []
    for name, a_key, b_key in (("a_to_b", "a_local", "b_remote"), ("b_to_a", "a_remote", "b_local")):
        rel = relation(sets[a_key], sets[b_key])
        directions.append(
            {
                "name": name,
                "a_field": a_key[2:] + "_ts",
                "b_field": b_key[2:] + "_ts",
                "a": _texts(sets[a_key]),
                "b": _texts(sets[b_key]),
                "relation": rel,
                "explanation": _explain(name, rel, _texts(sets[a_key]), _texts(sets[b_key])),
            }
        )
    relations = {d["relation"] for d in directions}
    mirror = relations == {"equal"}
    compatible = "disjoint" not in relations and (mirror or narrowing)
    return {
        "mirror": mirror,
        "compatible": compatible,
        "directions": directions,
        "unparsed": unparsed,
        "explanation": "; ".join(d["explanation"] for d in directions),
    }


def covers_address(selectors: t.Sequence[t.Any], address: str) -> bool:
    """True when one of the selectors covers ``address`` (any protocol and port)."""
    point = parse_selector(address)
    return point is not None and any(
        (sel := parse_selector(value)) is not None and sel.family == point.family and sel.low <= point.low <= sel.high
        for value in selectors or []
    )
