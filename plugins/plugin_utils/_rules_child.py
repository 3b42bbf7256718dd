# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Rules of the CHILD_SA (phase 2) configuration: who brings it up, selectors, ESP parameters."""

from __future__ import annotations

import typing as t

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _compare_selectors
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _finding as F
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _fixes, _logcodes, _pair
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils._rules import rule
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils._rules_ike import proposal_evidence, proposal_fix

INITIATING = {"start", "restart"}
ON_DEMAND = {"trap", "route", "ondemand", "on-demand", "require"}


def _log_evidence(ctx: t.Any, finding_id: str) -> list[dict[str, t.Any]]:
    return [F.evidence(n, f"{ctx.host(n)} log: {_logcodes.line(e)}", source="logs")
            for n in ctx.managed() for e in ctx.logs(n, finding_id)[:3]]


def _missing_children(ctx: t.Any) -> dict[str, t.Any] | None:
    for name in ctx.managed():
        if ctx.conn(name) is None:
            return F.skipped(f"{ctx.host(name)} has no connection toward the peer (see P1.IKE_VERSION)", name)
        if not ctx.tunnel.children(name):
            return F.skipped(f"{ctx.host(name)}: connection {ctx.conn(name)['name']!r} has no phase 2 (child) configuration", name)
    return None


def _start_actions(ctx: t.Any, name: str) -> set[str]:
    actions = set()
    conn = ctx.conn(name) or {}
    for child in ctx.tunnel.children(name):
        for value in (child.get("start_action"), conn.get("start_action")):
            if value:
                actions.update(str(value).lower().replace(",", " ").replace("|", " ").split())
    return actions


def _has_out_policy(ctx: t.Any, name: str) -> bool:
    return any(p["dir"] == "out" and p["tmpls"] for p in ctx.tunnel.policies[name])


def _config_agrees(ctx: t.Any) -> bool:
    """True when nothing in the configuration would stop the CHILD_SA from coming up."""
    if ctx.one_sided:
        return True
    checks = [ctx.versions and ctx.versions["compatible"], ctx.ike_proposals and ctx.ike_proposals["match"]]
    checks += [s["compatible"] for s in ctx.selectors] + [e["match"] for e in ctx.esp_proposals]
    earlier = ("P1.PSK", "P1.IDENTITY", "P1.FW_IKE", "HOST.KERNEL")
    return all(checks) and not any(ctx.failed(fid) for fid in earlier)


@rule("P2.TRIGGER")
def trigger(ctx: t.Any) -> dict[str, t.Any]:
    missing = _missing_children(ctx)
    if missing:
        return missing
    evidence = []
    initiators, on_demand = [], []
    for name in ctx.managed():
        actions = _start_actions(ctx, name)
        trap = _has_out_policy(ctx, name) and not ctx.tunnel.child_installed(name)
        evidence.append(F.evidence(name, f"{ctx.host(name)}: start action {', '.join(sorted(actions)) or 'none'}"
                                         + ("; trap policy installed" if trap else "")))
        if actions & INITIATING:
            initiators.append(name)
        if actions & ON_DEMAND or trap:
            on_demand.append(name)
    before = ctx.tunnel.states_before
    probe_ran = any(ctx.side(n).get("probe") or (ctx.side(n).get("capture") or {}).get("probe") for n in ctx.managed())
    if all(ctx.tunnel.child_installed(n) for n in ctx.managed()):
        came_up = any(before[n] == [] and ctx.tunnel.states[n] for n in ctx.managed())
        note = "; the probe brought it up" if came_up else ""
        return F.passed(f"CHILD_SA installed on {'both sides' if not ctx.one_sided else ctx.host('a')}{note}", evidence)
    if initiators or on_demand:
        who = ", ".join(ctx.host(n) for n in sorted(set(initiators + on_demand)))
        how = "on traffic (trap)" if on_demand and probe_ran else "at start"
        return F.failed(f"no CHILD_SA although {who} brings the tunnel up {how}", F.side_of(
            n for n in ctx.managed() if not ctx.tunnel.child_installed(n)), evidence, "see the earlier failing checks", symptom=True)
    fix_side = "a"
    fix = (f"on {ctx.host(fix_side)}: {_fixes.where(ctx.side(fix_side), ctx.conn(fix_side), 'start_action', ctx.tunnel.children(fix_side)[0])}"
           f" = {'route' if ctx.daemon(fix_side) == 'libreswan' else 'trap'} (on traffic) or start; {_fixes.reload_hint(ctx.side(fix_side))}")
    summary = "nobody brings the tunnel up: no start action and no trap policy on either side, so traffic cannot trigger it"
    return F.failed(summary, "both", evidence, fix, symptom=not _config_agrees(ctx))


def _selector_plausible(ctx: t.Any, selectors: list[str], owner: str) -> bool:
    """Does a selector meant for the networks behind ``owner`` cover one of ``owner``'s addresses?"""
    addresses = list(ctx.side(owner)["addresses"])
    inner = ctx.tunnel.options.get(f"inner_{owner}")
    if inner:
        addresses.append(inner)
    return any(_compare_selectors.covers_address(selectors, addr) for addr in addresses if addr)


@rule("P2.SELECTORS")
def selectors(ctx: t.Any) -> dict[str, t.Any]:
    log_items = _log_evidence(ctx, "P2.SELECTORS")
    if ctx.one_sided:
        child_sas = ctx.tunnel.child_sas("a")
        if ctx.logs("a", "P2.SELECTORS", "error"):
            return F.failed("the peer rejects our traffic selectors (daemon log)", "both", log_items,
                            "agree on the protected subnets with the peer's administrator")
        if child_sas:
            return F.passed("CHILD_SA negotiated with the unmanaged peer", [F.evidence("a", f"{c['local_ts']} <-> {c['remote_ts']}") for c in child_sas])
        return F.skipped("the peer is not managed here: its selectors cannot be compared", "b", log_items)
    missing = _missing_children(ctx)
    if missing:
        return missing
    problems = []
    for compared, (child_a, child_b) in zip(ctx.selectors, ctx.child_pairs):
        for direction in compared["directions"]:
            relation = direction["relation"]
            if relation == "equal":
                problems.append(F.problem("pass", "both", direction["explanation"]))
                continue
            owner = "a" if direction["name"] == "a_to_b" else "b"
            local_child, remote_child = (child_a, child_b) if owner == "a" else (child_b, child_a)
            local_sel, remote_sel = local_child["local_ts"], remote_child["remote_ts"]
            fits_local = _selector_plausible(ctx, local_sel, owner)
            fits_remote = _selector_plausible(ctx, remote_sel, owner)
            checker = _pair.other(owner)
            if fits_local and not fits_remote:
                wrong, setting, value, child = checker, "remote_ts", ", ".join(local_sel), remote_child
            elif fits_remote and not fits_local:
                wrong, setting, value, child = owner, "local_ts", ", ".join(remote_sel), local_child
            elif ctx.recently_changed():
                wrong = ctx.recently_changed()
                setting, value, child = (("local_ts", ", ".join(remote_sel), local_child) if wrong == owner
                                         else ("remote_ts", ", ".join(local_sel), remote_child))
            else:
                wrong, setting, value, child = "both", "remote_ts", ", ".join(local_sel), remote_child
            target = checker if wrong == "both" else wrong
            fix = _fixes.set_line(ctx.side(target), ctx.conn(target), setting, value, child) + "; " + _fixes.reload_hint(ctx.side(target))
            if relation == "disjoint" or not compared["compatible"]:
                problems.append(F.problem("fail", wrong, direction["explanation"], fix))
            else:
                problems.append(F.problem("warn", wrong, direction["explanation"], fix))
        if compared["unparsed"]:
            problems.append(F.problem("unknown", "both", f"selectors not understood: {', '.join(compared['unparsed'])}"))
    negotiated = [F.evidence(n, f"{ctx.host(n)} CHILD_SA: {', '.join(c['local_ts'])} <-> {', '.join(c['remote_ts'])}")
                  for n in ("a", "b") for c in ctx.tunnel.child_sas(n) if c["local_ts"]]
    return F.combine(problems, "phase 2 selectors mirror each other", negotiated + log_items)


@rule("P2.CRYPTO")
def crypto(ctx: t.Any) -> dict[str, t.Any]:
    log_items = _log_evidence(ctx, "P2.CRYPTO")
    if ctx.one_sided:
        if ctx.logs("a", "P2.CRYPTO", "error"):
            return F.failed("the peer accepts none of our ESP proposals (daemon log)", "both", log_items,
                            f"ask the peer which ESP proposals/PFS group it accepts; {_fixes.where(ctx.side('a'), ctx.conn('a'), 'esp_proposals')}")
        return F.skipped("the peer is not managed here: its ESP proposals cannot be compared", "b", log_items)
    missing = _missing_children(ctx)
    if missing:
        return missing
    problems = []
    evidence = []
    for compared, pair in zip(ctx.esp_proposals, ctx.child_pairs):
        evidence += proposal_evidence(ctx, compared)
        evidence += [F.evidence("both", note) for note in compared["notes"]]
        if compared["match"]:
            problems.append(F.problem("pass", "both", compared["explanation"]))
        elif not compared["a"] or not compared["b"]:
            problems.append(F.problem("unknown", "a" if not compared["a"] else "b", compared["explanation"]))
        else:
            mismatch = compared["mismatch"]
            pfs = [item for item in mismatch["types"] if item["type"] == "dh"]
            what = "PFS (DH group in the ESP proposal) differs" if pfs and len(mismatch["types"]) == 1 else compared["explanation"]
            odd = f"; odd one out: {mismatch['odd_reason']}" if mismatch["odd_side"] != "both" else ""
            problems.append(F.problem("fail", mismatch["odd_side"], what + odd, proposal_fix(ctx, compared, "esp_proposals", "esp", pair)))
        child_a, child_b = pair
        if child_a["mode"] != child_b["mode"]:
            odd = "a" if child_a["mode"] == "transport" else "b"
            child = pair[0 if odd == "a" else 1]
            problems.append(F.problem("fail", odd, f"mode differs: {ctx.host('a')} {child_a['mode']}, {ctx.host('b')} {child_b['mode']}",
                                      _fixes.set_line(ctx.side(odd), ctx.conn(odd), "mode", "tunnel", child)))
    return F.combine(problems, "ESP proposals, PFS and mode agree", evidence + log_items)
