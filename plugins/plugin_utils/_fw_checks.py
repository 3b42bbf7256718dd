# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The firewall checks of one side of the tunnel, and how to write about them.

The checks themselves (which packets a tunnel needs, asked of the rule evaluator) live in
``_firewall_checks``; this file feeds them the tunnel's facts as the pairing found them (the
peer's address as this side knows it, this side's outer address, the protected subnets, whether
ESP is UDP-encapsulated) and turns their items into evidence text and concrete fixes.
"""

from __future__ import annotations

import typing as t

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _addr
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _finding as F
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _firewall_checks


def _subnets(tunnel: t.Any, name: str, key: str) -> list[str]:
    return [str(ts).split("[", maxsplit=1)[0] for child in tunnel.children(name) for ts in child[key] if str(ts) != "dynamic"]


def evaluate(tunnel: t.Any, name: str) -> dict[str, t.Any]:
    """``{available, reason, backend, both_loaded, checks: {ike, esp, esp_in_udp, forward, nat_exemption, route, rp_filter}}``."""
    side = tunnel.side(name)
    info = side["firewall"].get("info")
    result: dict[str, t.Any] = {"available": False, "reason": "", "backend": side["firewall"].get("backend"),
                                "both_loaded": side["firewall"].get("both_loaded"), "checks": {}}
    if not info:
        result["reason"] = "no firewall_info result in the side record"
        return result
    other = "b" if name == "a" else "a"
    peer = (tunnel.peers[name] or [tunnel.endpoint[other]])[0]
    if not peer:
        result["reason"] = "the peer's address is not known"
        return result
    local_subnets, remote_subnets = _subnets(tunnel, name, "local_ts"), _subnets(tunnel, name, "remote_ts")
    local = tunnel.endpoint[name]
    calls: dict[str, t.Callable[[], dict[str, t.Any]]] = {
        "ike": lambda: _firewall_checks.check_ike(info, peer, local),
        "esp": lambda: _firewall_checks.check_esp(info, peer, local, encap=False),
        "esp_in_udp": lambda: _firewall_checks.check_esp(info, peer, local, encap=True),
        "forward": lambda: _firewall_checks.check_forward(info, local_subnets, remote_subnets, peer),
        "nat_exemption": lambda: _firewall_checks.check_nat_exemption(info, local_subnets, remote_subnets, peer),
        "route": lambda: _firewall_checks.check_route(info, remote_subnets, peer),
        "rp_filter": lambda: _firewall_checks.check_rp_filter(info, remote_subnets, peer),
    }
    for name, call in calls.items():
        try:
            result["checks"][name] = call()
        except Exception as exc:  # noqa: BLE001 - a ruleset the evaluator cannot read must not hide the other checks
            result["checks"][name] = {"check": name, "status": "skip", "items": [], "blocking": [],
                                      "summary": f"the firewall_info result could not be evaluated ({type(exc).__name__}: {exc})"}
    result["available"] = True
    return result


def describe_ref(ref: dict[str, t.Any] | None) -> str:
    """``rule `-A INPUT -p esp -j DROP` (iptables-legacy filter/INPUT #3, 12 packets)`` or the chain policy."""
    if not ref:
        return "no rule or policy stops it"
    if ref.get("kind") in ("route", "sysctl"):
        return str(ref.get("text"))
    where = " ".join(str(part) for part in (ref.get("backend"), f"{ref.get('table')}/{ref.get('chain')}") if part)
    counters = ref.get("counters") or {}
    counted = f", {counters['packets']} packets" if counters.get("packets") is not None else ""
    if ref.get("kind") == "policy":
        return f"the {str(ref.get('policy')).upper()} policy of {where}{counted}"
    index = f" #{ref['index']}" if ref.get("index") is not None else ""
    return f"rule `{ref.get('text')}` ({where}{index}{counted})"


def describe_unknown(item: dict[str, t.Any]) -> str:
    reasons = [f"{describe_ref(b.get('rule')) if b.get('rule') else ''} {b.get('reason') or ''}".strip() for b in item.get("because") or []]
    return "; ".join(r for r in reasons if r) or "the evaluator cannot tell"


def _iptables(ref: dict[str, t.Any]) -> str:
    backend = str(ref.get("backend") or "iptables")
    command = "iptables-legacy" if backend == "iptables-legacy" else "iptables"
    if ref.get("family") in ("ip6",):
        command = command.replace("iptables", "ip6tables")
    return command


def _widen(address: t.Any, subnets: t.Sequence[str]) -> t.Any:
    """The protected subnet an inner test address stands for (the fix covers the subnet)."""
    for subnet in subnets:
        if address and _addr.address_in(str(address), subnet):
            return subnet
    return address


def fix_for(host: str, item: dict[str, t.Any], subnets: t.Sequence[str] = ()) -> str:
    """The concrete change for a failing check item: delete or precede the rule, or change the policy.

    ``subnets`` are the tunnel's protected subnets: inner test addresses in a fix are widened to them.
    """
    packet = dict(item.get("packet") or {})
    packet["src"], packet["dst"] = _widen(packet.get("src"), subnets), _widen(packet.get("dst"), subnets)
    ref = item.get("decided_by") or {}
    if item.get("source_nat"):
        nat_ref = item["source_nat"][0].get("rule") or ref
        if str(nat_ref.get("backend")) == "nftables":
            return (f"on {host}: exempt IPsec traffic before the NAT rule: "
                    f"`nft insert rule {nat_ref.get('family')} {nat_ref.get('table')} {nat_ref.get('chain')} "
                    f"position {nat_ref.get('handle')} rt ipsec exists accept`")
        return (f"on {host}: exempt IPsec traffic before {describe_ref(nat_ref)}: `{_iptables(nat_ref)} -t nat -I POSTROUTING "
                f"{nat_ref.get('index') or 1} -s {packet.get('src')} -d {packet.get('dst')} -m policy --dir out --pol ipsec -j ACCEPT` "
                "(or limit the MASQUERADE to non-tunnel destinations)")
    if ref.get("kind") == "route":
        return f"on {host}: add the missing route ({ref.get('text')})"
    if ref.get("kind") == "sysctl":
        return f"on {host}: sysctl -w net.ipv4.conf.all.rp_filter=2 (loose) and the same for the outer interface"
    chain = ref.get("chain") or "INPUT"
    forwarded = packet.get("path") == "forward"
    proto = "" if forwarded else f" -p {packet.get('proto')}"
    port = f" --dport {packet['dport']}" if packet.get("dport") and not forwarded else ""
    ipsec = ""
    if packet.get("ipsec_in"):
        ipsec = " -m policy --dir in --pol ipsec"
    elif packet.get("ipsec_out"):
        ipsec = " -m policy --dir out --pol ipsec"
    if str(ref.get("backend")) == "nftables":
        if ref.get("kind") == "policy":
            return f"on {host}: accept the packet in {ref.get('family')} {ref.get('table')} {ref.get('chain')} (its policy is {ref.get('policy')})"
        where = f"{ref.get('family')} {ref.get('table')} {ref.get('chain')}"
        return f"on {host}: `nft delete rule {where} handle {ref.get('handle')}` or accept the packet before it"
    accept = f"`{_iptables(ref)} -I {chain} -s {packet.get('src')} -d {packet.get('dst')}{proto}{port}{ipsec} -j ACCEPT`"
    if ref.get("kind") == "policy":
        return f"on {host}: the {chain} policy is {str(ref.get('policy')).upper()}: insert {accept}"
    text = str(ref.get("text") or "")
    table = ref.get("table")
    table_opt = f"-t {table} " if table and table != "filter" else ""
    if text.startswith("-A "):
        return f"on {host}: remove it (`{_iptables(ref)} {table_opt}-D {text[3:]}`) or insert {accept} before it"
    return f"on {host}: insert {accept}"


PAST = {"drop": "dropped", "reject": "rejected"}


def check_problems(ctx: t.Any, name: str, check_name: str,
                   needed: t.Callable[[dict[str, t.Any]], bool] = lambda item: True) -> list[dict[str, t.Any]]:
    """Observations (see ``_finding.problem``) of one firewall check on side ``name``.

    A blocked item is a failure when ``needed(item)``, else a warning; an item the evaluator cannot
    decide is unknown, with the rules that made it so.
    """
    host = ctx.host(name)
    subnets = _subnets(ctx.tunnel, name, "local_ts") + _subnets(ctx.tunnel, name, "remote_ts")
    found = ctx.firewall[name]
    if found is None:
        return [F.problem("unknown", name, f"{host}: firewall not gathered ({ctx.why_not(name, 'firewall')})")]
    if not found["available"]:
        return [F.problem("unknown", name, f"{host}: {found['reason']}")]
    check = found["checks"].get(check_name)
    if check is None or check["status"] == "skip":
        return [F.problem("unknown", name, f"{host}: {check_name} check not possible ({(check or {}).get('summary', 'not run')})")]
    problems = []
    for item in check["items"]:
        verdict = item.get("verdict")
        ref = item.get("decided_by")
        if item.get("source_nat"):
            nat = item["source_nat"][0]
            problems.append(F.problem("fail" if needed(item) else "warn", name,
                                      f"{host}: {item['name']}: {str(nat.get('type')).upper()} by {describe_ref(nat.get('rule'))} "
                                      "before the IPsec policy lookup", fix_for(host, item, subnets)))
        elif verdict in PAST and check_name == "nat_exemption":
            # Dropped by a filter before NAT could matter: P2.FORWARD (or the firewall checks) report that.
            problems.append(F.problem("pass", name, f"{host}: {item['name']}: no source NAT (the packet is {PAST[verdict]} "
                                      f"earlier, by {describe_ref(ref)})"))
        elif verdict in PAST:
            problems.append(F.problem("fail" if needed(item) else "warn", name,
                                      f"{host}: {item['name']} is {PAST[verdict]} by {describe_ref(ref)}", fix_for(host, item, subnets)))
        elif verdict == "unknown":
            problems.append(F.problem("unknown", name, f"{host}: {item['name']}: cannot tell ({describe_unknown(item)})"))
        else:
            problems.append(F.problem("pass", name, f"{host}: {item['name']}: {verdict} ({describe_ref(ref)})"))
    return problems


def check_each_side(ctx: t.Any, check_name: str, skip_reason: t.Callable[[t.Any, str], str | None] | None = None,
                    needed: t.Callable[[dict[str, t.Any]], bool] = lambda item: True) -> list[dict[str, t.Any]]:
    """``check_problems`` of every managed side, a side for which ``skip_reason`` gives a reason
    skipped with it, and the skip of an unmanaged peer, whose firewall cannot be read."""
    problems = []
    for name in ctx.managed():
        reason = skip_reason(ctx, name) if skip_reason else None
        if reason:
            problems.append(F.problem("skip", name, f"{ctx.host(name)}: {reason}"))
        else:
            problems += check_problems(ctx, name, check_name, needed)
    return problems + ctx.unmanaged_peer("firewall of the unmanaged peer not readable")
