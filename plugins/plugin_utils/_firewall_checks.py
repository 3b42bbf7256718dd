# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The firewall/NAT/routing checks of the IPsec checklist, on one side's firewall_info result.

Each check builds the packets the tunnel needs (as the kernel sees them: the outer IKE and ESP
packets, the decapsulated inner packet inbound, the inner packet about to be encapsulated
outbound), asks the evaluator, and returns ``{check, status, summary, items, blocking}``:
``status`` is ``pass``, ``fail`` (``blocking`` names the rules or routes), ``unknown`` (the items
say because of which rule; or, with ``unread``, the rules that were read pass but a ruleset dump
failed, as listed in the side's ``errors``) or ``skip`` (a fact is missing; ``summary`` says which).
"""

from __future__ import annotations

import typing as t

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _addr, _hostfacts
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _firewall_eval

NAT_TYPES = ("masquerade", "snat", "netmap")


def _lookups(side: dict, purpose: str) -> list[dict]:
    return [entry for entry in ((side.get("routes") or {}).get("lookups") or []) if entry.get("purpose") == purpose]


def _peer_route(side: dict, peer: str) -> dict | None:
    for entry in _lookups(side, "peer"):
        if entry.get("lookup") == peer:
            return entry
    return None


def outer_endpoints(side: dict, peer: str, local: str | None = None, wan_interface: str | None = None) -> tuple[str | None, str | None]:
    """(local outer address, outer interface) from the route lookup toward the peer unless given."""
    route = _peer_route(side, peer) or {}
    return local or route.get("src"), wan_interface or route.get("dev")


def _interface_of(side: dict, address: str | None) -> str | None:
    for entry in side.get("addresses") or []:
        if address and entry.get("address") == address:
            return entry.get("interface")
    return None


def _interface_in(side: dict, subnet: str) -> str | None:
    for entry in side.get("addresses") or []:
        if _addr.address_in(entry.get("address", ""), subnet):
            return entry.get("interface")
    return None


def _remote_route(side: dict, subnet: str) -> dict | None:
    wanted = _addr.normalize_network(subnet)
    for entry in _lookups(side, "remote_subnet"):
        if entry.get("subnet") == wanted:
            return entry
    return None


def _item(name: str, packet: dict, verdict: dict) -> dict:
    return {"name": name, "packet": packet, "verdict": verdict["verdict"], "confidence": verdict["confidence"],
            "decided_by": verdict["decided_by"], "because": verdict["because"], "nat": verdict["nat"],
            "assumptions": verdict["assumptions"]}


def _status(items: list[dict], failing: t.Callable[[dict], bool]) -> tuple[str, list[dict]]:
    blocking = [item["decided_by"] for item in items if failing(item) and item.get("decided_by")]
    if any(failing(item) for item in items):
        return "fail", blocking
    if any(item["verdict"] == "unknown" for item in items):
        return "unknown", []
    return "pass", []


def _result(check: str, items: list[dict], summary_ok: str, failing: t.Callable[[dict], bool] | None = None) -> dict:
    failing = failing or (lambda item: item["verdict"] in ("drop", "reject"))
    status, blocking = _status(items, failing)
    if status == "fail":
        summary = "; ".join(f"{item['name']}: {item['verdict']} by {_describe(item['decided_by'])}" for item in items if failing(item))
    elif status == "unknown":
        summary = "; ".join(f"{item['name']}: unknown because " + ", ".join(_describe(b.get("rule")) + f" ({b['reason']})" for b in item["because"])
                            for item in items if item["verdict"] == "unknown")
    else:
        summary = summary_ok
    return {"check": check, "status": status, "summary": summary, "items": items, "blocking": blocking}


def _unread_rulesets(side: dict, family: int) -> list[dict]:
    """The side's errors that leave part of its ruleset unknown for packets of ``family``."""
    unread = []
    for error in side.get("errors") or []:
        source = str(error.get("source") or "")
        tool = source.split(" ", 1)[0]
        if error.get("kind") == "missing":
            continue  # not installed: that backend holds nothing this tool could show
        if source.startswith("nft -j") or (tool.endswith("-save") and tool.startswith("ip6tables" if family == 6 else "iptables")):
            unread.append(error)
    return unread


def _unless_unread(result: dict, side: dict) -> dict:
    """A pass on a partly unread ruleset is not a pass: the missing rules may drop the packet."""
    if result["status"] != "pass":
        return result
    families = sorted({_addr.address_family(str((item.get("packet") or {}).get("src") or "")) or 4 for item in result["items"]})
    unread = [error for family in families for error in _unread_rulesets(side, family)]
    unread = [error for index, error in enumerate(unread) if error not in unread[:index]]
    if unread:
        result["status"] = "unknown"
        result["unread"] = unread
        result["summary"] = ("the rules that could be read let it pass, but " +
                             "; ".join(f"{error['source']} could not be read ({error.get('message')})" for error in unread))
    return result


def _skip(check: str, why: str) -> dict:
    return {"check": check, "status": "skip", "summary": why, "items": [], "blocking": []}


def _describe(ref: dict | None) -> str:
    if not ref:
        return "(no rule)"
    where = f"{ref.get('backend')} {ref.get('family')} {ref.get('table')}/{ref.get('chain')}"
    if ref.get("kind") == "policy":
        return f"the {str(ref.get('policy')).upper()} policy of {where}"
    if ref.get("kind") == "route":
        return f"route lookup {ref.get('text')}"
    return f"rule {ref.get('index')} of {where}: {ref.get('text')}"


def _evaluate(side: dict, packet: dict, local_addresses: list[str]) -> dict:
    spec = dict(packet)
    spec.setdefault("local_addresses", local_addresses)
    return _firewall_eval.evaluate(side, spec)


def _local_addresses(side: dict) -> list[str]:
    return [entry.get("address") for entry in side.get("addresses") or [] if entry.get("address")]


def check_ike(side: dict, peer: str, local: str | None = None, wan_interface: str | None = None,
              ports: t.Sequence[int] = (500, 4500)) -> dict:
    """UDP 500/4500 from the peer in (INPUT path) and toward the peer out (OUTPUT path), first packet."""
    local, wan = outer_endpoints(side, peer, local, wan_interface)
    if not local:
        return _skip("ike", f"no local outer address toward {peer} (route lookup missing; give local)")
    items = []
    addresses = _local_addresses(side)
    for port in ports:
        packet_in = {"path": "input", "src": peer, "dst": local, "proto": "udp", "sport": port, "dport": port,
                     "in_interface": wan, "ct_state": "new"}
        items.append(_item(f"udp/{port} in from {peer}", packet_in, _evaluate(side, packet_in, addresses)))
        packet_out = {"path": "output", "src": local, "dst": peer, "proto": "udp", "sport": port, "dport": port,
                      "out_interface": wan, "ct_state": "new"}
        items.append(_item(f"udp/{port} out to {peer}", packet_out, _evaluate(side, packet_out, addresses)))
    return _unless_unread(_result("ike", items, f"IKE (udp {', '.join(map(str, ports))}) passes in and out toward {peer}"), side)


def check_esp(side: dict, peer: str, local: str | None = None, wan_interface: str | None = None,
              encap: bool = False) -> dict:
    """ESP (protocol 50) or, with ``encap``, UDP-encapsulated ESP on 4500, in and out."""
    local, wan = outer_endpoints(side, peer, local, wan_interface)
    if not local:
        return _skip("esp", f"no local outer address toward {peer} (route lookup missing; give local)")
    addresses = _local_addresses(side)
    base: dict[str, t.Any] = {"proto": "udp", "sport": 4500, "dport": 4500} if encap else {"proto": "esp"}
    name = "udp/4500 (ESP in UDP)" if encap else "ESP"
    packet_in = dict(base, path="input", src=peer, dst=local, in_interface=wan, ct_state="new")
    packet_out = dict(base, path="output", src=local, dst=peer, out_interface=wan, ct_state="new")
    items = [_item(f"{name} in from {peer}", packet_in, _evaluate(side, packet_in, addresses)),
             _item(f"{name} out to {peer}", packet_out, _evaluate(side, packet_out, addresses))]
    return _unless_unread(_result("esp", items, f"{name} passes in and out toward {peer}"), side)


def _inner_hosts(local_subnets: list[str], remote_subnets: list[str]) -> list[tuple[str, str, str, str]]:
    pairs = []
    for local in local_subnets:
        for remote in remote_subnets:
            if _addr.address_family(local) != _addr.address_family(remote):
                continue
            pairs.append((local, remote, _hostfacts.first_host(local), _hostfacts.first_host(remote)))
    return pairs


def _icmp(family: int) -> dict:
    return {"proto": "icmp" if family == 4 else "icmpv6", "icmp_type": "echo-request"}


def check_forward(side: dict, local_subnets: list[str], remote_subnets: list[str], peer: str | None = None,
                  lan_interface: str | None = None, wan_interface: str | None = None) -> dict:
    """FORWARD of the protected traffic: decapsulated remote->local and local->remote before encapsulation."""
    if not local_subnets or not remote_subnets:
        return _skip("forward", "local_subnets and remote_subnets are needed")
    addresses = _local_addresses(side)
    items = []
    _local, wan = outer_endpoints(side, peer, None, wan_interface) if peer else (None, wan_interface)
    for local, remote, local_host, remote_host in _inner_hosts(local_subnets, remote_subnets):
        lan = lan_interface or _interface_in(side, local)
        out_if = (_remote_route(side, remote) or {}).get("dev") or wan
        family = _addr.address_family(local_host) or 4
        inbound = dict(_icmp(family), path="forward", src=remote_host, dst=local_host, in_interface=wan,
                       out_interface=lan, ct_state="new", ipsec_in=True)
        outbound = dict(_icmp(family), path="forward", src=local_host, dst=remote_host, in_interface=lan,
                        out_interface=out_if, ct_state="new", ipsec_out=True)
        items.append(_item(f"forward {remote} -> {local} (decapsulated)", inbound, _evaluate(side, inbound, addresses)))
        items.append(_item(f"forward {local} -> {remote} (to be encapsulated)", outbound, _evaluate(side, outbound, addresses)))
    if not items:
        return _skip("forward", "no local/remote subnet pair of the same address family")
    return _unless_unread(_result("forward", items, "FORWARD lets the protected traffic through both ways"), side)


def check_nat_exemption(side: dict, local_subnets: list[str], remote_subnets: list[str], peer: str | None = None,
                        lan_interface: str | None = None, wan_interface: str | None = None) -> dict:
    """Does POSTROUTING SNAT/MASQUERADE rewrite local->remote traffic before the IPsec policy sees it?"""
    if not local_subnets or not remote_subnets:
        return _skip("nat_exemption", "local_subnets and remote_subnets are needed")
    addresses = _local_addresses(side)
    inner = (side.get("routes") or {}).get("local_inner_address")
    _local, wan = outer_endpoints(side, peer, None, wan_interface) if peer else (None, wan_interface)
    items = []
    for local, remote, local_host, remote_host in _inner_hosts(local_subnets, remote_subnets):
        out_if = (_remote_route(side, remote) or {}).get("dev") or wan
        family = _addr.address_family(local_host) or 4
        forwarded = dict(_icmp(family), path="forward", src=local_host, dst=remote_host,
                         in_interface=lan_interface or _interface_in(side, local), out_interface=out_if,
                         ct_state="new", ipsec_out=True)
        items.append(_item(f"NAT of forwarded {local} -> {remote}", forwarded, _evaluate(side, forwarded, addresses)))
        if inner and _addr.address_in(inner, local):
            own = dict(_icmp(family), path="output", src=inner, dst=remote_host, out_interface=out_if,
                       ct_state="new", ipsec_out=True)
            items.append(_item(f"NAT of gateway-sourced {inner} -> {remote}", own, _evaluate(side, own, addresses)))
    if not items:
        return _skip("nat_exemption", "no local/remote subnet pair of the same address family")
    for item in items:
        rewrites = [nat for nat in item["nat"] if nat["type"] in NAT_TYPES and nat["hook"] == "postrouting"]
        item["source_nat"] = rewrites
        if rewrites:
            item["decided_by"] = rewrites[0]["rule"]

    def failing(item: dict) -> bool:
        return bool(item.get("source_nat"))

    result = _result("nat_exemption", items, "no source NAT hits the tunnel traffic (or an IPsec exemption comes first)", failing)
    if result["status"] == "fail":
        result["summary"] = "; ".join(f"{item['name']}: source NAT by {_describe(item['decided_by'])} before the IPsec policy lookup"
                                      for item in items if failing(item))
    elif result["status"] == "unknown" or any(item["verdict"] == "unknown" for item in items):
        result["status"] = "unknown" if any(item["verdict"] == "unknown" for item in items) else result["status"]
    return _unless_unread(result, side)


def _route_ref(entry: dict) -> dict:
    text = f"ip route get {entry.get('lookup')}" + (f" from {entry['from']}" if entry.get("from") else "")
    if entry.get("error"):
        text += f": {entry['error']}"
    elif entry.get("type") not in (None, "unicast"):
        text += f": {entry['type']} route"
    return {"kind": "route", "text": text, "lookup": entry.get("lookup"), "from": entry.get("from"),
            "table": entry.get("table"), "dev": entry.get("dev"), "error": entry.get("error")}


def _route_item(name: str, entry: dict) -> dict:
    reachable = entry.get("reachable")
    ref = _route_ref(entry)
    if reachable is None:
        return {"name": name, "verdict": "unknown", "confidence": "unknown", "decided_by": None, "route": entry,
                "because": [{"rule": ref, "reason": entry.get("error") or "the route lookup has no answer", "hook": None}]}
    return {"name": name, "verdict": "accept" if reachable else "drop", "confidence": "certain", "decided_by": ref,
            "route": entry, "because": []}


def check_route(side: dict, remote_subnets: list[str], peer: str | None = None) -> dict:
    """A route toward each remote subnet (from the local inner address) and toward the peer."""
    if not (side.get("routes") or {}).get("lookups"):
        return _skip("route", "no route lookups in the side record (gather routes with remote_subnets/peer_addresses)")
    items = []
    for subnet in remote_subnets:
        entry = _remote_route(side, subnet)
        if entry is None:
            items.append({"name": f"route to {subnet}", "verdict": "unknown", "confidence": "unknown", "decided_by": None,
                          "because": [{"rule": None, "reason": f"no lookup toward {subnet} was gathered", "hook": None}]})
            continue
        items.append(_route_item(f"route to {subnet}", entry))
    if peer:
        entry = _peer_route(side, peer)
        if entry is not None:
            items.append(_route_item(f"route to peer {peer}", entry))
    return _result("route", items, "routes toward the remote subnets and the peer exist")


def check_rp_filter(side: dict, remote_subnets: list[str], peer: str | None = None, wan_interface: str | None = None) -> dict:
    """Would reverse-path filtering drop decapsulated packets from the remote subnets arriving on the outer interface?"""
    sysctl = side.get("sysctl") or {}
    _local, wan = outer_endpoints(side, peer, None, wan_interface) if peer else (None, wan_interface)
    if not wan:
        return _skip("rp_filter", "the outer interface is not known (no route lookup toward the peer)")
    mode = (sysctl.get("effective_rp_filter") or {}).get(wan)
    if mode is None:
        conf = sysctl.get("conf") or {}
        values = [conf.get(scope, {}).get("rp_filter") for scope in ("all", wan)]
        known = [value for value in values if value is not None]
        mode = max(known) if known else None
    if mode is None:
        return _skip("rp_filter", f"rp_filter of {wan} was not gathered")
    items = []
    for subnet in remote_subnets:
        entry = _remote_route(side, subnet)
        ref = {"kind": "sysctl", "text": f"net.ipv4.conf.{wan}.rp_filter (effective) = {mode}"}
        if mode == 0:
            verdict = "accept"
        elif entry is None:
            verdict = "unknown"
        elif not entry.get("reachable"):
            verdict = "drop"
            ref["text"] += f"; no route back to {subnet}"
        elif mode == 1 and entry.get("dev") != wan:
            verdict = "drop"
            ref["text"] += f"; strict mode and the route back to {subnet} leaves via {entry.get('dev')}, not {wan}"
        else:
            verdict = "accept"
        items.append({"name": f"rp_filter on {wan} for packets from {subnet}", "verdict": verdict, "confidence": "certain",
                      "decided_by": ref, "because": [] if verdict != "unknown" else
                      [{"rule": None, "reason": f"no route lookup toward {subnet}", "hook": None}]})
    return _result("rp_filter", items, f"reverse-path filtering on {wan} (mode {mode}) keeps decapsulated packets")


def run_all(side: dict, peer: str, local_subnets: list[str], remote_subnets: list[str], local: str | None = None,
            encap: bool | None = None, lan_interface: str | None = None, wan_interface: str | None = None) -> dict:
    """Every check for one side; ``encap`` None checks both plain ESP and ESP in UDP 4500."""
    checks = [check_ike(side, peer, local, wan_interface)]
    if encap is None or not encap:
        checks.append(check_esp(side, peer, local, wan_interface, encap=False))
    if encap is None or encap:
        encap_check = check_esp(side, peer, local, wan_interface, encap=True)
        encap_check["check"] = "esp_in_udp"
        checks.append(encap_check)
    checks.append(check_forward(side, local_subnets, remote_subnets, peer, lan_interface, wan_interface))
    checks.append(check_nat_exemption(side, local_subnets, remote_subnets, peer, lan_interface, wan_interface))
    checks.append(check_route(side, remote_subnets, peer))
    checks.append(check_rp_filter(side, remote_subnets, peer, wan_interface))
    failing = [check for check in checks if check["status"] == "fail"]
    return {"checks": checks, "status": "fail" if failing else ("unknown" if any(c["status"] == "unknown" for c in checks) else "pass"),
            "failing": [check["check"] for check in failing]}
