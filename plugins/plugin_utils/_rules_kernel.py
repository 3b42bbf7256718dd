# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Rules of the kernel stage: SAs (SAD), policies (SPD) and routes as the kernel holds them."""

from __future__ import annotations

import typing as t

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _addr
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _compare_selectors
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _finding as F
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _fixes, _fw_checks, _match_sas, _pair
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils._rules import rule

TRUNCATION_FIELDS = {"integrity", "icv_bits"}


def _sha256(summary: dict[str, t.Any]) -> bool:
    return str(summary.get("integrity") or "").startswith("HMAC_SHA2_256")


def _truncation_only(pair: dict[str, t.Any]) -> bool:
    """A pair whose only differences are the HMAC-SHA-256 ICV length (P2.TRUNC's business)."""
    fields = {m["field"] for m in pair["mismatches"]}
    return bool(fields) and fields <= TRUNCATION_FIELDS and _sha256(pair["sender"]) and _sha256(pair["receiver"])


def _reestablish(ctx: t.Any, name: str) -> str:
    conn = ctx.conn(name) or {}
    child = (ctx.tunnel.children(name) or [{}])[0].get("name") or conn.get("name") or "<child>"
    daemon = ctx.daemon(name)
    if daemon == "strongswan":
        return f"on {ctx.host(name)}: `swanctl --terminate --child {child}` then `swanctl --initiate --child {child}`"
    if daemon == "libreswan":
        return f"on {ctx.host(name)}: `ipsec auto --down {conn.get('name') or '<conn>'}` then `ipsec auto --up {conn.get('name') or '<conn>'}`"
    return f"on {ctx.host(name)}: flush the tunnel's SAs and re-negotiate"


@rule("P2.SA_MATCH")
def sa_match(ctx: t.Any) -> dict[str, t.Any]:
    for name in ctx.managed():
        if not ctx.has(name, "xfrm"):
            return F.unknown(ctx.why_not(name, "xfrm"), name)
    if ctx.one_sided:
        states = ctx.tunnel.states["a"]
        evidence = [F.evidence("a", f"{ctx.host('a')}: {s['spi']} {s['src']} -> {s['dst']}") for s in states]
        if not states:
            return F.failed(f"{ctx.host('a')} has no SA with the peer", "a", evidence, "see the earlier failing checks", symptom=True)
        return F.skipped("the peer's SAs cannot be read (one-sided mode)", "b", evidence)
    problems = []
    for name in ("a", "b"):
        if not ctx.tunnel.states[name]:
            claims = ctx.tunnel.child_installed(name)
            text = f"{ctx.host(name)}: no kernel SA for the tunnel"
            if claims:
                problems.append(F.problem("fail", name, text + " although the daemon reports the CHILD_SA installed (SA install failed?)",
                                          _reestablish(ctx, name)))
            else:
                problems.append(F.problem("fail", name, text + " (no CHILD_SA)", "see the earlier failing checks", symptom=True))
    if problems:
        return F.combine(problems, "")
    match = ctx.sa_match
    for pair in match["pairs"]:
        sender, receiver = pair["direction"].split("->")
        label = f"{ctx.host(sender)} -> {ctx.host(receiver)} SPI {pair['spi']}"
        real = [m for m in pair["mismatches"] if not _truncation_only(pair)]
        if not real:
            note = " (ICV length differs: see P2.TRUNC)" if pair["mismatches"] else ""
            keys = " keys equal (fingerprints)," if pair["sender"]["key_fingerprints"] else ""
            problems.append(F.problem("pass", "both", f"{label}: {pair['sender']['encryption']}/{pair['sender']['integrity']},{keys} "
                                      f"encap {pair['sender']['encap'] or 'none'}, ESN {'on' if pair['sender']['esn'] else 'off'}{note}"))
            continue
        diffs = "; ".join(f"{m['field']}: {m['sender']} vs {m['receiver']}" for m in real)
        problems.append(F.problem("fail", "both", f"{label}: sender and receiver SA differ ({diffs})", _reestablish(ctx, sender)))
    directions = match["directions"]
    for orphan in match["orphans"]:
        if orphan["direction"] == "out":
            name = f"{orphan['side']}->{_pair.other(orphan['side'])}"
            status = "fail" if not directions.get(name, {}).get("ok") else "warn"
            problems.append(F.problem(status, orphan["side"], orphan["explanation"],
                                      _reestablish(ctx, orphan["side"])))
        else:
            problems.append(F.problem("pass", orphan["side"], orphan["explanation"]))
    for name, info in directions.items():
        if not info["pairs"] and not any(o["direction"] == "out" and f"{o['side']}->" in name for o in match["orphans"]):
            sender = name.split("->")[0]
            problems.append(F.problem("fail", sender, f"{ctx.host(sender)} has no outbound SA toward the peer", _reestablish(ctx, sender)))
    return F.combine(problems, "every outbound SA matches the peer's inbound SA (SPI, algorithms, keys, encapsulation, ESN)")


def _configured_truncation(ctx: t.Any, name: str) -> int | None:
    """96 when the side's ESP proposals (or a truncbug switch) ask for truncated HMAC-SHA-256."""
    for child in ctx.tunnel.children(name):
        if child.get("integrity_truncation") in (96, "96"):
            return 96
        for proposal in child["esp_proposals"]:
            integrity = proposal.get("integrity") or []
            if "HMAC_SHA2_256_96" in integrity:
                return 96
            if "HMAC_SHA2_256_128" in integrity:
                return 128
    return None


def _kernel_truncation(ctx: t.Any, name: str) -> dict[str, int]:
    found = {}
    for state in ctx.tunnel.states[name]:
        summary = _match_sas.summary(state)
        if _sha256(summary) and summary["icv_bits"]:
            found[state["spi"]] = int(summary["icv_bits"])
    return found


def _trunc_fix(ctx: t.Any, name: str) -> str:
    daemon = ctx.daemon(name)
    host = ctx.host(name)
    if daemon == "libreswan":
        conn = (ctx.conn(name) or {}).get("name") or "<conn>"
        where = _fixes.where(ctx.side(name), ctx.conn(name), "esp_proposals")
        return f"on {host}: sha2-truncbug=no in conn {conn} ({where}); {_fixes.reload_hint(ctx.side(name))}"
    if daemon == "strongswan":
        child = (ctx.tunnel.children(name) or [None])[0]
        return (f"on {host}: use sha256 instead of sha256_96 in {_fixes.where(ctx.side(name), ctx.conn(name), 'esp_proposals', child)} "
                f"(RFC 4868: 128 bits); {_fixes.reload_hint(ctx.side(name))}")
    return f"on {host}: configure HMAC-SHA-256 with the RFC 4868 128-bit ICV"


def _follow_96(ctx: t.Any, name: str) -> str:
    host = ctx.host(name)
    child = (ctx.tunnel.children(name) or [None])[0]
    if ctx.daemon(name) == "libreswan":
        return f"on {host}: sha2-truncbug=yes in conn {(ctx.conn(name) or {}).get('name') or '<conn>'}, or agree on HMAC-SHA-1 / AES-GCM"
    return (f"on {host}: use sha256_96 in {_fixes.where(ctx.side(name), ctx.conn(name), 'esp_proposals', child)}, "
            "or agree on HMAC-SHA-1 / AES-GCM with the racoon peer")


@rule("P2.TRUNC")
def truncation(ctx: t.Any) -> dict[str, t.Any]:
    kernel = {n: _kernel_truncation(ctx, n) for n in ctx.managed()}
    config = {n: _configured_truncation(ctx, n) for n in ctx.managed()}
    evidence = []
    for name in ctx.managed():
        if kernel[name]:
            text = ", ".join(f"SPI {spi}: {bits} bits" for spi, bits in sorted(kernel[name].items()))
            evidence.append(F.evidence(name, f"{ctx.host(name)} kernel HMAC-SHA-256 ICV: {text}"))
        if config[name]:
            evidence.append(F.evidence(name, f"{ctx.host(name)} configured HMAC-SHA-256 ICV: {config[name]} bits"))
    bits = {}
    for name in ctx.managed():
        values = set(kernel[name].values()) or ({config[name]} if config[name] else set())
        if values:
            bits[name] = 96 if 96 in values else max(values)
    if not bits:
        return F.passed("no HMAC-SHA-256 in use: not affected", evidence)
    if ctx.one_sided:
        if bits.get("a") == 96:
            return F.warned(f"{ctx.host('a')} truncates HMAC-SHA-256 to 96 bits; RFC 4868 peers use 128", "a", evidence, _trunc_fix(ctx, "a"))
        return F.passed(f"{ctx.host('a')} uses the RFC 4868 128-bit ICV", evidence)
    if len(bits) == 2 and bits["a"] != bits["b"]:
        odd = "a" if bits["a"] == 96 else "b"
        other = _pair.other(odd)
        summary = (f"{ctx.host(odd)} truncates HMAC-SHA-256 to 96 bits, {ctx.host(other)} uses 128: each side rejects the "
                   "other's ESP (the ICV length is not negotiated)")
        if ctx.daemon(odd) == "racoon":
            # racoon (PF_KEY) cannot ask the kernel for 128 bits: the other side must follow, or avoid HMAC-SHA-256.
            return F.failed(summary + f"; racoon cannot change it, so {ctx.host(other)} must adapt", other, evidence,
                            _follow_96(ctx, other))
        return F.failed(summary, odd, evidence, _trunc_fix(ctx, odd))
    if set(bits.values()) == {96}:
        return F.warned("both sides truncate HMAC-SHA-256 to 96 bits: works between them, fails with RFC 4868 peers", "both",
                        evidence, " ".join(_trunc_fix(ctx, n) for n in ctx.managed()))
    return F.passed("HMAC-SHA-256 ICV length agrees (128 bits)", evidence)


# --- P2.POLICY ------------------------------------------------------------------------------------

def _net(text: t.Any) -> str | None:
    return _addr.normalize_network(str(text).split("[", maxsplit=1)[0]) if text else None


def _covers(outer: str | None, inner: str | None) -> bool:
    a, b = _addr.parse_network(outer or ""), _addr.parse_network(inner or "")
    return bool(a and b and _addr.network_contains(a, b))


def _find_policy(policies: list[dict[str, t.Any]], direction: str, src: str, dst: str) -> dict[str, t.Any] | None:
    for policy in policies:
        if policy["dir"] != direction or policy.get("socket"):
            continue
        if _covers(_net(policy.get("src")), src) and _covers(_net(policy.get("dst")), dst):
            return policy
    return None


def _priority(policy: dict[str, t.Any]) -> int:
    try:
        return int(policy.get("priority"))
    except (TypeError, ValueError):
        return 0


def _selector_pairs(ctx: t.Any, name: str) -> list[tuple[list[str], list[str]]]:
    """What the policies must cover: the negotiated selectors of installed CHILD_SAs, else the configured ones."""
    negotiated = [(c["local_ts"], c["remote_ts"]) for c in ctx.tunnel.child_sas(name) if c["installed"] and c["local_ts"]]
    if negotiated:
        return negotiated
    return [(c["local_ts"], c["remote_ts"]) for c in ctx.tunnel.children(name) if c["mode"] != "transport"]


def _policy_problems(ctx: t.Any, name: str) -> list[dict[str, t.Any]]:
    host = ctx.host(name)
    all_policies = ctx.tunnel.xfrm(name)["policies"]
    problems = []
    installed = ctx.tunnel.child_installed(name)
    peer_ends = set(ctx.tunnel.peers[name])
    for local_ts, remote_ts in _selector_pairs(ctx, name):
        for local in local_ts:
            for remote in remote_ts:
                src, dst = _net(local), _net(remote)
                if not src or not dst:
                    continue
                wanted = [("out", src, dst)] + [(d, dst, src) for d in ("in", "fwd")]
                for direction, p_src, p_dst in wanted:
                    found = _find_policy(all_policies, direction, p_src, p_dst)
                    label = f"{host}: {direction} policy {p_src} -> {p_dst}"
                    if found is None:
                        if installed:
                            problems.append(F.problem("fail", name, label + " missing although the CHILD_SA is installed",
                                                      _reestablish(ctx, name)))
                        else:
                            problems.append(F.problem("fail", name, label + " missing (no CHILD_SA, no trap policy)",
                                                      "see the earlier failing checks", symptom=True))
                        continue
                    if found["action"] == "block":
                        problems.append(F.problem("fail", name, label + f" is a block policy (priority {found.get('priority')})",
                                                  f"on {host}: `ip xfrm policy delete dir {direction} src {found.get('src')} dst {found.get('dst')}`"))
                        continue
                    if not found["tmpls"]:
                        problems.append(F.problem("fail", name, label + " matches a bypass policy without template "
                                                  f"({found.get('src')} -> {found.get('dst')}, priority {found.get('priority')}): traffic skips IPsec",
                                                  f"on {host}: remove the bypass policy or give it a lower priority than the tunnel's"))
                        continue
                    # The far end of the template: its destination outbound, its source inbound.
                    far = {t_.get("dst" if direction == "out" else "src") for t_ in found["tmpls"]} - {"0.0.0.0", "::", ""}
                    if peer_ends and far and not far & peer_ends:
                        problems.append(F.problem("fail", name, label + f" sends to template end {', '.join(sorted(far))}, not the "
                                                  f"peer {', '.join(sorted(peer_ends))}", _reestablish(ctx, name)))
                        continue
                    problems.append(F.problem("pass", name, label + f" (priority {found.get('priority')}, template "
                                              + ", ".join(f"{t_.get('src')}->{t_.get('dst')}" for t_ in found["tmpls"]) + ")"))
    return problems


@rule("P2.POLICY")
def policy(ctx: t.Any) -> dict[str, t.Any]:
    problems = []
    for name in ctx.managed():
        if not ctx.has(name, "xfrm"):
            problems.append(F.problem("unknown", name, ctx.why_not(name, "xfrm")))
        elif ctx.conn(name) is None:
            problems.append(F.problem("skip", name, f"{ctx.host(name)}: no connection, so no selectors to look up"))
        else:
            problems += _policy_problems(ctx, name)
    problems += ctx.unmanaged_peer("the peer's policies cannot be read")
    return F.combine(problems, "out/in/fwd policies exist for the selectors and point at the peer")


# --- P2.ROUTE -------------------------------------------------------------------------------------

def _route_fix(ctx: t.Any, name: str, destination: str) -> str:
    host = ctx.host(name)
    peer = ctx.tunnel.endpoint[_pair.other(name)]
    local_inner = next((a for a in ctx.side(name)["addresses"]
                        if any(_compare_selectors.covers_address(c["local_ts"], a) for c in ctx.tunnel.children(name))), None)
    src = f" src {local_inner}" if local_inner else ""
    if ctx.daemon(name) == "strongswan":
        hint = " (strongSwan installs it in table 220 itself unless charon.install_routes = no; re-initiating the CHILD_SA restores it)"
    elif ctx.daemon(name) == "libreswan":
        hint = " (libreswan adds it when leftsourceip= is set; `ipsec auto --route` restores it)"
    else:
        hint = ""
    return f"on {host}: `ip route add {destination} via {peer or '<next hop toward the peer>'}{src}`{hint}"


@rule("P2.ROUTE")
def route(ctx: t.Any) -> dict[str, t.Any]:
    problems = []
    for name in ctx.managed():
        host = ctx.host(name)
        installs_routes = ctx.daemon(name) in ("strongswan", "libreswan") and not ctx.tunnel.child_installed(name)
        for item in _fw_checks.check_problems(ctx, name, "route"):
            if item["status"] == "fail":
                destination = next((str(ts).split("[", maxsplit=1)[0] for child in ctx.tunnel.children(name) for ts in child["remote_ts"]
                                    if str(ts).split("[", maxsplit=1)[0] in item["text"]), None)
                item = {**item, "fix": _route_fix(ctx, name, destination or "<remote subnet>")}
                if installs_routes:
                    # strongSwan and libreswan install this route together with the CHILD_SA.
                    item = {**item, "symptom": True, "text": item["text"] + " (no CHILD_SA: the daemon installs the route with it)"}
            problems.append(item)
        if not problems:
            problems.append(F.problem("unknown", name, f"{host}: no route lookup"))
    return F.combine(problems, "routes toward the remote subnets and the peer exist")
