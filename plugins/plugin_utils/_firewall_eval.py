# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Does this packet pass the firewall, and which rule decides? (pure Python, no I/O)

The input is the normalised ruleset of ``firewall_info`` (tables of iptables-legacy, iptables-nft
and nftables side by side, each table a list of chains with hook/priority/policy and rules with
normalised matches) and a packet. The walk follows the kernel: for each hook of the packet's path
(prerouting, input, forward, output, postrouting) every base chain of every loaded table runs in
priority order, whatever backend created it; DROP anywhere ends it, ACCEPT only ends that base
chain. Inside a chain: user chains with jump/goto/return, policies, NAT only for the first packet
of a connection.

A match that cannot be evaluated from the packet (an ipset, a mark nobody set, an unknown match, a
conntrack state that was not given) is never guessed: the walk forks at that rule, explores both
outcomes, and when they differ the verdict is ``unknown`` with the rules that made it so.
"""

from __future__ import annotations

import dataclasses
import functools
import typing as t

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _addr

PATH_HOOKS = {
    "input": ("prerouting", "input"),
    "output": ("output", "postrouting"),
    "forward": ("prerouting", "forward", "postrouting"),
}
HOOKS_WITH_IIF = ("ingress", "prerouting", "input", "forward")
HOOKS_WITH_OIF = ("forward", "output", "postrouting")
POLICY_DIR_VALID = {"in": ("prerouting", "input", "forward"), "out": ("forward", "output", "postrouting")}
PORT_PROTOCOLS = ("tcp", "udp", "sctp", "dccp", "udplite")
ICMP_TYPE_NUMBERS = {"echo-reply": "0", "destination-unreachable": "3", "echo-request": "8", "time-exceeded": "11",
                     "packet-too-big": "2"}
CT_STATES = ("new", "established", "related", "invalid", "untracked")
MAX_RUNS = 64
MAX_DEPTH = 64
MAX_TRAIL = 400
FAMILY_OF_TABLE = {"ip": (4,), "ip6": (6,), "inet": (4, 6), "netdev": (4, 6), "bridge": (), "arp": ()}


class Unknown(Exception):
    """Raised inside a run when a verdict cannot be determined at all (no fork possible)."""


@dataclasses.dataclass
class Packet:
    """The packet under test, with what the caller knows (None = not known)."""

    path: str
    family: int
    src: tuple | None
    dst: tuple | None
    src_text: str | None
    dst_text: str | None
    proto: str | None
    sport: int | None
    dport: int | None
    in_interface: str | None
    out_interface: str | None
    ipsec_in: bool | None
    ipsec_out: bool | None
    ipsec_sa: dict | None
    ct_state: str | None
    mark: int | None
    icmp_type: str | None
    tcp_flags: list | None
    esp_spi: int | None
    dst_local: bool | None
    src_local: bool | None
    rpf: str | None
    fragment: bool
    rthdr: bool = False


def _norm_proto(value: t.Any) -> str | None:
    if value is None:
        return None
    from ansible_collections.netdoctor.ipsec.plugins.module_utils._iptables import normalize_protocol

    return normalize_protocol(str(value))


def _address(text: str | None) -> tuple | None:
    if not text:
        return None
    net = _addr.parse_network(str(text).split("/", maxsplit=1)[0])
    return net


def make_packet(spec: dict[str, t.Any]) -> Packet:
    """Validate and normalise a packet description (see the firewall_verdict filter for the keys)."""
    if not isinstance(spec, dict):
        raise ValueError("the packet must be a dict")
    path = spec.get("path") or spec.get("direction")
    if path not in PATH_HOOKS:
        raise ValueError(f"packet path must be one of {sorted(PATH_HOOKS)}, got {path!r}")
    src, dst = _address(spec.get("src")), _address(spec.get("dst"))
    for key, value in (("src", src), ("dst", dst)):
        if spec.get(key) and value is None:
            raise ValueError(f"packet {key} {spec.get(key)!r} is not an IP address")
    family = (src or dst or (4,))[0]
    if src and dst and src[0] != dst[0]:
        raise ValueError("packet src and dst are of different address families")
    ct_state = spec.get("ct_state")
    if ct_state is not None and str(ct_state).lower() not in CT_STATES:
        raise ValueError(f"ct_state must be one of {CT_STATES}, got {ct_state!r}")
    local_addresses = [_address(a) for a in spec.get("local_addresses") or []]
    dst_local = spec.get("dst_local")
    src_local = spec.get("src_local")
    if dst_local is None:
        dst_local = {"input": True, "forward": False}.get(path)
        if path == "output" and local_addresses and dst:
            dst_local = dst in local_addresses
    if src_local is None:
        src_local = {"output": True, "forward": False}.get(path)
        if path == "input" and local_addresses and src:
            src_local = src in local_addresses
    return Packet(
        path=path, family=family, src=src, dst=dst, src_text=spec.get("src"), dst_text=spec.get("dst"),
        proto=_norm_proto(spec.get("proto") or spec.get("protocol")),
        sport=_int_or_none(spec.get("sport")), dport=_int_or_none(spec.get("dport")),
        in_interface=spec.get("in_interface") if path != "output" else "",
        out_interface=spec.get("out_interface") if path != "input" else "",
        ipsec_in=_bool_default(spec, ("ipsec_in", "decapsulated"), path != "output" and False),
        ipsec_out=_bool_default(spec, ("ipsec_out", "encapsulate"), False),
        ipsec_sa=spec.get("ipsec_sa"),
        ct_state=str(ct_state).lower() if ct_state is not None else None,
        mark=_int_or_none(spec.get("mark")),
        icmp_type=str(spec["icmp_type"]).lower() if spec.get("icmp_type") is not None else None,
        tcp_flags=[str(f).lower() for f in spec["tcp_flags"]] if spec.get("tcp_flags") is not None else None,
        esp_spi=_int_or_none(spec.get("esp_spi")),
        dst_local=dst_local, src_local=src_local,
        rpf=spec.get("rpf"), fragment=bool(spec.get("fragment", False)), rthdr=bool(spec.get("ipv6_routing_header", False)),
    )


def _bool_default(spec: dict, keys: tuple, default: bool | None) -> bool | None:
    for key in keys:
        if key in spec:
            return None if spec[key] is None else bool(spec[key])
    return default


def _int_or_none(value: t.Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value, 0) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a number") from None


# ---------------------------------------------------------------------------------------------
# Field matching: each returns True, False or None (cannot tell).


@functools.lru_cache(maxsize=65536)
def _net(text: str) -> tuple | None:
    text = text.strip()
    if "-" in text and "/" not in text:
        low, _sep, high = text.partition("-")
        low_net, high_net = _addr.parse_network(low), _addr.parse_network(high)
        if not low_net or not high_net or low_net[0] != high_net[0]:
            return None
        return ("range", low_net[0], low_net[1], high_net[1])
    net = _addr.parse_network(text)
    if not net:
        return None
    return ("net",) + _addr.network_base(net)


def _address_in(addr: tuple, element: t.Any) -> bool | None:
    parsed = _net(str(element))
    if parsed is None:
        return None
    if parsed[0] == "range":
        return addr[0] == parsed[1] and parsed[2] <= addr[1] <= parsed[3]
    _kind, family, value, prefix = parsed
    if family != addr[0]:
        return False
    return _addr.network_base((family, addr[1], prefix))[1] == value


def _iface_matches(name: str, pattern: t.Any) -> bool:
    pattern = str(pattern)
    if pattern.endswith(("+", "*")):
        return name.startswith(pattern[:-1])
    return name == pattern


def _in_ranges(value: int, ranges: list) -> bool:
    return any(low <= value <= high for low, high in ranges)


class Context:
    """One evaluation: the packet, the tables, and lookups shared by all runs."""

    def __init__(self, tables: list[dict], packet: Packet) -> None:
        self.tables = tables
        self.packet = packet
        self.chains: dict[int, dict[str, dict]] = {}
        self.sets: dict[int, dict[str, dict]] = {}
        for table in tables:
            self.chains[id(table)] = {chain.get("name"): chain for chain in table.get("chains") or []}
            self.sets[id(table)] = {entry.get("name"): entry for entry in table.get("sets") or []}


@dataclasses.dataclass
class RunState:
    """The mutable part of one run (one branch of the decisions on unknown matches)."""

    forced: list[bool]
    decisions: list[dict] = dataclasses.field(default_factory=list)
    mark: int | None = None
    ct_state: str | None = None
    trail: list[dict] = dataclasses.field(default_factory=list)
    trail_dropped: int = 0
    examined: int = 0
    assumptions: list[dict] = dataclasses.field(default_factory=list)
    nat: list[dict] = dataclasses.field(default_factory=list)
    stages: list[dict] = dataclasses.field(default_factory=list)


def _ref(table: dict, chain: dict, rule: dict | None = None) -> dict:
    ref = {"backend": table.get("backend"), "family": table.get("family"), "table": table.get("name"),
           "chain": chain.get("name")}
    if rule is None:
        ref.update(kind="policy", policy=chain.get("policy") or "accept", counters=chain.get("counters"),
                   text=f"policy {(chain.get('policy') or 'accept').upper()} of chain {chain.get('name')}")
    else:
        ref.update(kind="rule", index=rule.get("index"), handle=rule.get("handle"), text=rule.get("text"),
                   counters=rule.get("counters"))
    return ref


class Evaluator:
    def __init__(self, ctx: Context, state: RunState) -> None:
        self.ctx = ctx
        self.packet = ctx.packet
        self.state = state
        self.hook = ""
        self.table: dict = {}

    # ---- matches --------------------------------------------------------------------------
    def match(self, item: dict) -> tuple[bool | None, str]:
        field = item.get("field")
        handler = getattr(self, "_m_" + str(field), None)
        if handler is None:
            return None, item.get("reason") or f"match on {field} is not evaluated"
        result, why = handler(item.get("value"), item)
        if result is not None and item.get("op") == "!=":
            result = not result
        return result, why

    def _values_or_set(self, value: t.Any) -> tuple[list | None, str]:
        if isinstance(value, dict) and "set" in value:
            entry = self.ctx.sets.get(id(self.table), {}).get(value["set"])
            if entry is None:
                return None, f"set @{value['set']} is not in the ruleset"
            if set(entry.get("flags") or []) & {"dynamic", "timeout"}:
                self.state.assumptions.append({"reason": f"set @{value['set']} is dynamic: its content at gather time is used"})
            return list(entry.get("elements") or []), ""
        return list(value or []), ""

    def _addr_match(self, addr: tuple | None, value: t.Any, what: str) -> tuple[bool | None, str]:
        elements, why = self._values_or_set(value)
        if elements is None:
            return None, why
        if addr is None:
            return None, f"the packet's {what} address is not given"
        unknown = False
        for element in elements:
            found = _address_in(addr, element)
            if found:
                return True, ""
            unknown = unknown or found is None
        return (None, f"address element not understood in {elements!r}") if unknown else (False, "")

    def _m_saddr(self, value, item):
        return self._addr_match(self.packet.src, value, "source")

    def _m_daddr(self, value, item):
        return self._addr_match(self.packet.dst, value, "destination")

    def _iface(self, name: str | None, value: t.Any, what: str, hooks: tuple) -> tuple[bool | None, str]:
        if self.hook not in hooks:
            name = ""
        elements, why = self._values_or_set(value)
        if elements is None:
            return None, why
        if name is None:
            return None, f"the packet's {what} interface is not given"
        return any(_iface_matches(name, pattern) for pattern in elements), ""

    def _m_iifname(self, value, item):
        return self._iface(self.packet.in_interface, value, "input", HOOKS_WITH_IIF)

    def _m_oifname(self, value, item):
        return self._iface(self.packet.out_interface, value, "output", HOOKS_WITH_OIF)

    def _m_l4proto(self, value, item):
        elements, why = self._values_or_set(value)
        if elements is None:
            return None, why
        if any(str(e) == "all" for e in elements):
            return True, ""
        if self.packet.proto is None:
            return None, "the packet's protocol is not given"
        return self.packet.proto in {_norm_proto(e) for e in elements}, ""

    def _m_nfproto(self, value, item):
        return f"ipv{self.packet.family}" in value, ""

    def _port(self, port: int | None, value, item, what) -> tuple[bool | None, str]:
        if self.packet.proto is not None and self.packet.proto not in PORT_PROTOCOLS:
            return False, ""
        elements, why = self._values_or_set(value)
        if elements is None:
            return None, why
        if port is None or self.packet.proto is None:
            return None, f"the packet's {what} is not given"
        ranges = [e if isinstance(e, list) else [int(e), int(e)] for e in elements]
        return _in_ranges(port, ranges), ""

    def _m_sport(self, value, item):
        return self._port(self.packet.sport, value, item, "source port")

    def _m_dport(self, value, item):
        return self._port(self.packet.dport, value, item, "destination port")

    def _m_port(self, value, item):
        sport = self._port(self.packet.sport, value, item, "source port")[0]
        dport = self._port(self.packet.dport, value, item, "destination port")[0]
        if sport or dport:
            return True, ""
        if sport is None or dport is None:
            return None, "the packet's ports are not given"
        return False, ""

    def _m_esp_spi(self, value, item):
        if self.packet.proto is not None and self.packet.proto != "esp":
            return False, ""
        if self.packet.esp_spi is None:
            return None, "the packet's ESP SPI is not given"
        return _in_ranges(self.packet.esp_spi, value), ""

    def _m_ct_state(self, value, item):
        elements, why = self._values_or_set(value)
        if elements is None:
            return None, why
        state = self.state.ct_state
        if state is None:
            return None, "the packet's conntrack state is not given"
        return state in [str(e).lower() for e in elements], ""

    def _m_ct_status(self, value, item):
        elements, why = self._values_or_set(value)
        if elements is None:
            return None, why
        if self.state.ct_state != "new":
            return None, "conntrack status of an existing connection is not known"
        wanted = {str(e).lower() for e in elements}
        has = {"dnat"} if any(n["type"] in ("dnat", "redirect") for n in self.state.nat) else set()
        if wanted - {"dnat", "snat"}:
            return None, f"conntrack status {sorted(wanted)} is not evaluated"
        return bool(wanted & has), ""

    def _m_ipv6_rthdr(self, value, item):
        # A packet under test carries no IPv6 routing header unless the caller says so.
        return bool(self.packet.family == 6 and self.packet.rthdr), ""

    def _m_ipsec(self, value, item):
        direction = value.get("dir")
        if direction not in POLICY_DIR_VALID:
            return None, f"policy direction {direction!r} is not understood"
        if self.hook not in POLICY_DIR_VALID[direction]:
            return None, f"policy --dir {direction} is not valid in the {self.hook} hook"
        flag = self.packet.ipsec_in if direction == "in" else self.packet.ipsec_out
        if flag is None:
            return None, f"whether the packet is {'decapsulated' if direction == 'in' else 'to be encapsulated'} is not given"
        wanted = value.get("pol", "ipsec") == "ipsec"
        details = {k: v for k, v in value.items() if k not in ("dir", "pol", "strict", "next") and v is not None}
        if flag != wanted:
            return False, ""
        if not details or not wanted:
            return True, ""
        sa = self.packet.ipsec_sa or {}
        negated = set(item.get("negated_keys") or [])
        for key, expected in details.items():
            actual = sa.get(key)
            if actual is None:
                return None, f"policy match on {key} needs the packet's ipsec_sa.{key}"
            equal = self._sa_value_equal(key, actual, expected)
            if equal == (key in negated):
                return False, ""
        return True, ""

    @staticmethod
    def _sa_value_equal(key: str, actual: t.Any, expected: t.Any) -> bool:
        if key in ("tunnel_src", "tunnel_dst", "saddr", "daddr"):
            return bool(_address_in(_address(str(actual)) or (0, -1), str(expected)))
        if key in ("reqid", "spi"):
            try:
                return int(str(actual), 0) == int(str(expected), 0)
            except ValueError:
                return str(actual) == str(expected)
        return str(actual).lower() == str(expected).lower()

    def _m_mark(self, value, item):
        if self.state.mark is None:
            return None, "the packet's mark is not known (set outside this ruleset?)"
        return (self.state.mark & value["mask"]) == (value["value"] & value["mask"]), ""

    def _types(self, local: bool | None, addr: tuple | None) -> set[str] | None:
        if local is None or addr is None:
            return None
        types = set()
        if local:
            types.add("local")
        if addr[0] == 4 and addr[1] >> 28 == 0xE or addr[0] == 6 and addr[1] >> 120 == 0xFF:
            types.add("multicast")
        elif addr[0] == 4 and addr[1] == 0xFFFFFFFF:
            types.add("broadcast")
        else:
            types.add("unicast")
        return types

    def _m_src_type(self, value, item):
        types = self._types(self.packet.src_local, self.packet.src)
        if types is None:
            return None, "whether the source address is local is not known"
        return bool(types & set(value)), ""

    def _m_dst_type(self, value, item):
        types = self._types(self.packet.dst_local, self.packet.dst)
        if types is None:
            return None, "whether the destination address is local is not known"
        return bool(types & set(value)), ""

    def _m_pkttype(self, value, item):
        types = self._types(False, self.packet.dst) or {"unicast"}
        return str(value).lower() in types, ""

    def _m_icmp_type(self, value, item):
        if self.packet.proto is not None and self.packet.proto not in ("icmp", "icmpv6"):
            return False, ""
        if value in ("any",):
            return True, ""
        if self.packet.icmp_type is None:
            return None, "the packet's ICMP type is not given"
        wanted = value if isinstance(value, list) else [value]
        mine = {self.packet.icmp_type, ICMP_TYPE_NUMBERS.get(self.packet.icmp_type, self.packet.icmp_type)}
        return any(str(w).lower() in mine or ICMP_TYPE_NUMBERS.get(str(w).lower()) in mine for w in wanted), ""

    def _m_tcp_flags(self, value, item):
        if self.packet.proto is not None and self.packet.proto != "tcp":
            return False, ""
        if self.packet.tcp_flags is None:
            return None, "the packet's TCP flags are not given"
        mask = {f for f in value["mask"] if f != "none"}
        if "all" in mask:
            mask = {"fin", "syn", "rst", "psh", "ack", "urg", "ecn", "cwr"}
        wanted = {f for f in value["set"] if f != "none"}
        return (set(self.packet.tcp_flags) & mask) == wanted, ""

    def _m_fragment(self, value, item):
        return self.packet.fragment, ""

    def _m_assumed(self, value, item):
        self.state.assumptions.append({"reason": item.get("reason") or "assumed to match", "text": item.get("text")})
        return True, ""

    def _m_fib(self, value, item):
        spec = value.get("fib") or {}
        right = value.get("right")
        if spec.get("result") == "oif" and right is False:
            if self.packet.rpf is None:
                return None, "reverse-path (fib) check result is not known for this packet"
            return self.packet.rpf == "fail", ""
        if spec.get("result") == "type" and "daddr" in (spec.get("flags") or []):
            types = self._types(self.packet.dst_local, self.packet.dst)
            wanted = right if isinstance(right, list) else [right]
            if isinstance(right, dict) and "set" in right:
                wanted = right["set"]
            if types is None:
                return None, "whether the destination address is local is not known"
            return bool(types & {str(w) for w in wanted}), ""
        return None, item.get("reason") or "fib expression is not evaluated"

    def _m_concat(self, value, item):
        fields = item.get("fields") or []
        elements, why = self._values_or_set(value)
        if elements is None:
            return None, why
        unknown = False
        for element in elements:
            if not isinstance(element, list) or len(element) != len(fields):
                return None, "concatenation element not understood"
            results = [self.match({"field": f, "op": "==", "value": [e] if f not in ("sport", "dport") else
                                   [e if isinstance(e, list) else [int(e), int(e)]]})[0] for f, e in zip(fields, element)]
            if all(results):
                return True, ""
            unknown = unknown or (None in results and False not in results)
        return (None, "part of the concatenation is not known") if unknown else (False, "")

    def _m_unknown(self, value, item):
        return None, item.get("reason") or "match is not evaluated"

    # ---- walk -----------------------------------------------------------------------------
    def decide(self, table: dict, chain: dict, rule: dict, reason: str) -> bool:
        """The branch's decision for an undeterminable rule (forced by the driver, else no match)."""
        index = len(self.state.decisions)
        value = self.state.forced[index] if index < len(self.state.forced) else False
        self.state.decisions.append({"rule": _ref(table, chain, rule), "reason": reason, "assumed_match": value,
                                     "hook": self.hook})
        return value

    def _trail(self, table: dict, chain: dict, rule: dict, result: str) -> None:
        self.state.examined += 1
        if result == "no match" and len(self.state.trail) >= MAX_TRAIL:
            self.state.trail_dropped += 1
            return
        entry = {"hook": self.hook, "backend": table.get("backend"), "family": table.get("family"),
                 "table": table.get("name"), "chain": chain.get("name"), "index": rule.get("index"), "result": result}
        if result != "no match":
            entry["text"] = rule.get("text")
        self.state.trail.append(entry)

    def rule_matches(self, table: dict, chain: dict, rule: dict) -> bool | None | str:
        """True/False, or the reason text when it cannot be told."""
        reasons = []
        for item in rule.get("matches") or []:
            result, why = self.match(item)
            if result is False:
                return False
            if result is None:
                reasons.append(f"{item.get('text') or item.get('field')}: {why}")
        return "; ".join(reasons) if reasons else True

    def _apply_actions(self, rule: dict, certain: bool) -> None:
        for action in rule.get("actions") or []:
            sets = action.get("sets")
            if sets == "mark":
                value = action.get("value")
                if value is None:
                    value = _mark_from_options(action.get("options") or {}, self.state.mark)
                self.state.mark = value if certain else None
            elif sets == "notrack" and certain:
                self.state.ct_state = "untracked"

    def run_chain(self, table: dict, base: dict) -> tuple[str, dict]:
        """Walk one base chain: ('accept'|'drop'|'reject'|'queue'|nat type, deciding ref)."""
        self.table = table
        chains = self.ctx.chains[id(table)]
        frames: list[list] = [[base, 0]]
        while frames:
            if len(frames) > MAX_DEPTH:
                raise Unknown(f"jump depth over {MAX_DEPTH} in table {table.get('name')} (a loop?)")
            frame = frames[-1]
            chain, position = frame
            rules = chain.get("rules") or []
            if position >= len(rules):
                frames.pop()
                if not frames:
                    return (chain.get("policy") or "accept").lower(), _ref(table, chain)
                continue
            rule = rules[position]
            frame[1] = position + 1
            matched = self.rule_matches(table, chain, rule)
            verdict = rule.get("verdict") or {"type": "continue"}
            if isinstance(matched, str):
                if verdict.get("type") == "continue" and not any(a.get("sets") for a in rule.get("actions") or []):
                    self._trail(table, chain, rule, "unknown (no effect on the verdict)")
                    continue
                if verdict.get("type") == "continue":
                    self._trail(table, chain, rule, "unknown (mark/conntrack effect)")
                    self._apply_actions(rule, certain=False)
                    continue
                matched = self.decide(table, chain, rule, matched)
                self._trail(table, chain, rule, "assumed match" if matched else "assumed no match")
                if not matched:
                    continue
            elif not matched:
                self._trail(table, chain, rule, "no match")
                continue
            else:
                self._trail(table, chain, rule, "match")
            self._apply_actions(rule, certain=True)
            kind = verdict.get("type")
            if kind == "vmap":
                verdict = self._vmap(table, chain, rule, verdict)
                kind = verdict.get("type")
            if kind == "continue":
                continue
            if kind == "return":
                frames.pop()
                if not frames:
                    return (chain.get("policy") or "accept").lower(), _ref(table, chain)
                continue
            if kind in ("jump", "goto"):
                target = chains.get(verdict.get("target"))
                if target is None:
                    raise Unknown(f"rule jumps to chain {verdict.get('target')!r}, which is not in table {table.get('name')}")
                if kind == "goto":
                    frames.pop()
                frames.append([target, 0])
                continue
            if kind in ("accept", "drop", "reject", "queue", "masquerade", "snat", "dnat", "redirect", "netmap"):
                return kind, _ref(table, chain, rule)
            raise Unknown(verdict.get("reason") or f"verdict {kind!r} of rule {rule.get('index')} in chain {chain.get('name')} is not understood")
        return "accept", _ref(table, base)

    def _vmap(self, table: dict, chain: dict, rule: dict, verdict: dict) -> dict:
        if "map" in verdict:
            entry = self.ctx.sets.get(id(table), {}).get(verdict["map"])
            if entry is None:
                raise Unknown(f"verdict map @{verdict['map']} is not in the ruleset")
            elements = entry.get("elements") or []
        else:
            elements = verdict.get("elements") or []
        for element in elements:
            if not isinstance(element, list) or len(element) != 2:
                continue
            key, target = element
            value = [key] if verdict["key"] not in ("sport", "dport") else [key if isinstance(key, list) else [int(key), int(key)]]
            found, why = self.match({"field": verdict["key"], "op": "==", "value": value})
            if found is None:
                raise Unknown(f"verdict map on {verdict['key']}: {why}")
            if found:
                return target if isinstance(target, dict) else {"type": "unknown"}
        return {"type": "continue"}


def _mark_from_options(options: dict, current: int | None) -> int | None:
    for key in ("set-mark", "set-xmark"):
        if key in options:
            value, _sep, mask = str(options[key]).partition("/")
            try:
                number = int(value, 0)
                mask_value = int(mask, 0) if mask else 0xFFFFFFFF
            except ValueError:
                return None
            if (key == "set-mark" and not mask) or mask_value == 0xFFFFFFFF:
                return number
            if current is None:
                return None
            return (current & ~mask_value) ^ number if key == "set-xmark" else (current & ~mask_value) | number
    return None


def _base_chains(tables: list[dict], packet: Packet, hook: str) -> list[tuple[dict, dict]]:
    found = []
    for order, table in enumerate(tables):
        if table.get("evaluate") is False:
            continue
        if packet.family not in FAMILY_OF_TABLE.get(table.get("family"), ()):
            continue
        for chain in table.get("chains") or []:
            if not chain.get("base") or chain.get("hook") != hook:
                continue
            if hook == "ingress" and chain.get("device") not in (None, packet.in_interface):
                continue
            found.append((chain.get("priority") if chain.get("priority") is not None else 0, order, table, chain))
    found.sort(key=lambda item: (item[0], item[1]))
    return [(table, chain) for _prio, _order, table, chain in found]


def _single_run(ctx: Context, forced: list[bool]) -> tuple[dict, RunState]:
    packet = ctx.packet
    state = RunState(forced=list(forced), mark=packet.mark, ct_state=packet.ct_state)
    walker = Evaluator(ctx, state)
    hooks = PATH_HOOKS[packet.path]
    if packet.in_interface and "prerouting" in hooks:
        hooks = ("ingress",) + hooks
    outcome: dict[str, t.Any] = {"verdict": "accept", "decided_by": None}
    try:
        for hook in hooks:
            walker.hook = hook
            for table, chain in _base_chains(ctx.tables, packet, hook):
                if chain.get("type") == "nat":
                    if state.ct_state == "untracked" or state.ct_state in ("established", "related", "invalid"):
                        continue
                    if state.ct_state is None:
                        state.assumptions.append({"reason": f"NAT chain {table.get('name')}/{chain.get('name')} evaluated "
                                                            "as for the first packet of a connection (ct state not given)"})
                verdict, ref = walker.run_chain(table, chain)
                stage = {"hook": hook, "backend": table.get("backend"), "family": table.get("family"),
                         "table": table.get("name"), "chain": chain.get("name"), "priority": chain.get("priority"),
                         "type": chain.get("type"), "verdict": verdict, "by": ref}
                state.stages.append(stage)
                if verdict in ("masquerade", "snat", "dnat", "redirect", "netmap"):
                    state.nat.append({"type": verdict, "hook": hook, "rule": ref})
                    continue
                if verdict in ("drop", "reject", "queue"):
                    outcome = {"verdict": verdict, "decided_by": ref, "hook": hook}
                    return outcome, state
    except Unknown as exc:
        return {"verdict": "unknown", "decided_by": None, "reason": str(exc), "hook": walker.hook}, state
    outcome["decided_by"] = _accepting_ref(state.stages)
    return outcome, state


def _accepting_ref(stages: list[dict]) -> dict | None:
    """The rule that let the packet through: the last explicit accept of a filter chain, else its policy."""
    filters = [stage for stage in stages if stage.get("type") in (None, "filter", "route") and stage["verdict"] == "accept"]
    explicit = [stage for stage in filters if stage["by"].get("kind") == "rule"]
    if explicit:
        return explicit[-1]["by"]
    if filters:
        return filters[-1]["by"]
    return None


def _tables_of(ruleset: t.Any) -> list[dict]:
    if isinstance(ruleset, dict):
        if "firewall" in ruleset and isinstance(ruleset["firewall"], dict):
            ruleset = ruleset["firewall"]
        tables = ruleset.get("tables")
        if tables is None:
            raise ValueError("the ruleset has no 'tables' key (expected the firewall_info result or its 'firewall' key)")
        return list(tables)
    if isinstance(ruleset, list):
        return list(ruleset)
    raise ValueError("the ruleset must be the firewall_info result, its 'firewall' key, or a list of tables")


def evaluate(ruleset: t.Any, packet_spec: dict[str, t.Any]) -> dict[str, t.Any]:
    """The verdict for one packet; see the RETURN of the firewall_verdict filter for the keys."""
    tables = _tables_of(ruleset)
    packet = make_packet(packet_spec)
    ctx = Context(tables, packet)
    runs: list[tuple[dict, RunState]] = []
    truncated = False

    def explore(forced: list[bool]) -> None:
        nonlocal truncated
        outcome, state = _single_run(ctx, forced)
        runs.append((outcome, state))
        for index in range(len(forced), len(state.decisions)):
            if len(runs) >= MAX_RUNS:
                truncated = True
                return
            prefix = [decision["assumed_match"] for decision in state.decisions[:index]]
            explore(prefix + [True])

    explore([])
    return _summarize(runs, truncated, packet)


def _summarize(runs: list[tuple[dict, RunState]], truncated: bool, packet: Packet) -> dict[str, t.Any]:
    primary, state = runs[0]
    verdicts = {outcome["verdict"] for outcome, _state in runs}
    undecided = []
    seen = set()
    for _outcome, run_state in runs:
        for decision in run_state.decisions:
            key = (decision["rule"].get("table"), decision["rule"].get("chain"), decision["rule"].get("index"), decision["hook"])
            if key not in seen:
                seen.add(key)
                undecided.append({"rule": decision["rule"], "reason": decision["reason"], "hook": decision["hook"]})
    if len(verdicts) == 1 and not truncated and primary["verdict"] not in ("unknown", "queue"):
        verdict = primary["verdict"]
        confidence = "assumed" if state.assumptions else "certain"
    else:
        verdict = "unknown"
        confidence = "unknown"
    because = []
    if verdict == "unknown":
        because = undecided[:]
        for outcome, _state in runs:
            if outcome.get("reason"):
                because.append({"rule": None, "reason": outcome["reason"], "hook": outcome.get("hook")})
            if outcome["verdict"] == "queue":
                because.append({"rule": outcome.get("decided_by"), "reason": "queued to a userspace program: it decides",
                                "hook": outcome.get("hook")})
        if truncated:
            because.append({"rule": None, "reason": f"more than {MAX_RUNS} combinations of unknown matches", "hook": None})
    outcomes = []
    for outcome, run_state in runs:
        outcomes.append({"verdict": outcome["verdict"], "decided_by": outcome.get("decided_by"),
                         "assuming": [{"rule": d["rule"], "matches": d["assumed_match"]} for d in run_state.decisions],
                         "nat": run_state.nat})
    result = {
        "verdict": verdict,
        "passes": True if verdict == "accept" else (False if verdict in ("drop", "reject") else None),
        "confidence": confidence,
        "decided_by": primary.get("decided_by") if verdict != "unknown" else None,
        "hook": primary.get("hook"),
        "because": because,
        "assumptions": _dedupe(state.assumptions),
        "nat": state.nat,
        "stages": state.stages,
        "trail": state.trail,
        "trail_omitted": state.trail_dropped,
        "rules_examined": state.examined,
        "outcomes": outcomes if len(runs) > 1 else [],
        "packet": _packet_summary(packet),
    }
    return result


def _dedupe(items: list[dict]) -> list[dict]:
    seen = set()
    unique = []
    for item in items:
        key = (item.get("reason"), item.get("text"))
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def _packet_summary(packet: Packet) -> dict[str, t.Any]:
    return {"path": packet.path, "src": packet.src_text, "dst": packet.dst_text, "proto": packet.proto,
            "sport": packet.sport, "dport": packet.dport, "in_interface": packet.in_interface or None,
            "out_interface": packet.out_interface or None, "ipsec_in": packet.ipsec_in, "ipsec_out": packet.ipsec_out,
            "ct_state": packet.ct_state}
