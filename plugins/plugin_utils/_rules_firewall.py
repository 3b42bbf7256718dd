# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Rules of the firewall stage for the data path: ESP, FORWARD and the NAT exemption."""

from __future__ import annotations

import typing as t

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _finding as F
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _fw_checks
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils._rules import rule
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils._rules_ike import firewall_problems

NAT_VERDICTS = {"masquerade", "snat", "nat", "dnat", "netmap"}


def _encapsulated(ctx: t.Any) -> bool:
    return any(s.get("encap") for n in ctx.managed() for s in ctx.tunnel.states[n])


def _unmanaged_note(ctx: t.Any) -> list[dict[str, t.Any]]:
    return [F.problem("skip", "b", f"{ctx.host('b')}: firewall of the unmanaged peer not readable")] if ctx.one_sided else []


@rule("P2.FW_ESP")
def fw_esp(ctx: t.Any) -> dict[str, t.Any]:
    encapsulated = _encapsulated(ctx)
    questions = ("ike_in_4500", "ike_out_4500") if encapsulated else ("esp_in", "esp_out")
    problems = []
    for name in ctx.managed():
        problems += firewall_problems(ctx, name, questions, lambda q: True)
    summary = "UDP-encapsulated ESP (4500)" if encapsulated else "ESP (protocol 50)"
    return F.combine(problems + _unmanaged_note(ctx), f"{summary} passes both gateways' firewalls in both directions")


def _forwards(ctx: t.Any, name: str) -> bool:
    return any(child["mode"] != "transport" for child in ctx.tunnel.children(name))


@rule("P2.FORWARD")
def forward(ctx: t.Any) -> dict[str, t.Any]:
    problems = []
    for name in ctx.managed():
        if ctx.conn(name) is None:
            problems.append(F.problem("skip", name, f"{ctx.host(name)}: no connection, so no protected subnets"))
            continue
        if not _forwards(ctx, name):
            problems.append(F.problem("skip", name, f"{ctx.host(name)}: transport mode, nothing is forwarded"))
            continue
        problems += firewall_problems(ctx, name, ("forward_out", "forward_in"), lambda q: True)
    return F.combine(problems + _unmanaged_note(ctx), "FORWARD lets the protected traffic through in both directions")


@rule("P2.NAT_EXEMPT")
def nat_exempt(ctx: t.Any) -> dict[str, t.Any]:
    problems = []
    for name in ctx.managed():
        host = ctx.host(name)
        checks = ctx.firewall[name]
        if checks is None or not checks["available"]:
            reason = ctx.why_not(name, "firewall") if checks is None else checks["reason"]
            problems.append(F.problem("unknown", name, f"{host}: {reason}"))
            continue
        answer = checks["answers"].get("nat_out")
        if answer is None:
            problems.append(F.problem("skip", name, f"{host}: no protected subnets to check"))
            continue
        packet = _fw_checks.packets(ctx.tunnel, name)["nat_out"]
        verdict = str(answer.get("verdict") or "").lower()
        nat = answer.get("nat") or (verdict if verdict in NAT_VERDICTS else None)
        if nat:
            packet = {**packet, "src_net": ", ".join(ts for c in ctx.tunnel.children(name) for ts in c["local_ts"]),
                      "dst_net": ", ".join(ts for c in ctx.tunnel.children(name) for ts in c["remote_ts"])}
            problems.append(F.problem(
                "fail", name,
                f"{host}: {_fw_checks.describe_rule(answer)} applies {str(nat).upper()} to {packet['src']} -> {packet['dst']} at "
                "POSTROUTING before any IPsec exemption: the rewritten source no longer matches the out policy, so the "
                "packet leaves in clear or is dropped",
                _fw_checks.fix_for(ctx.side(name), "nat_out", answer, packet)))
        elif verdict == "unknown":
            problems.append(F.problem("unknown", name, f"{host}: NAT of tunnel traffic: cannot tell ({answer.get('reason') or _fw_checks.describe_rule(answer)})"))
        else:
            problems.append(F.problem("pass", name, f"{host}: no NAT applies to {packet['src']} -> {packet['dst']} "
                                      f"({_fw_checks.describe_rule(answer)})"))
    return F.combine(problems + _unmanaged_note(ctx), "no SNAT/MASQUERADE touches the tunnel traffic")
