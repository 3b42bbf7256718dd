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


def _encapsulated(ctx: t.Any) -> bool:
    return any(s.get("encap") for n in ctx.managed() for s in ctx.tunnel.states[n])


def _unmanaged_note(ctx: t.Any) -> list[dict[str, t.Any]]:
    return [F.problem("skip", "b", f"{ctx.host('b')}: firewall of the unmanaged peer not readable")] if ctx.one_sided else []


@rule("P2.FW_ESP")
def fw_esp(ctx: t.Any) -> dict[str, t.Any]:
    encapsulated = _encapsulated(ctx)
    problems = []
    for name in ctx.managed():
        problems += _fw_checks.check_problems(ctx, name, "esp_in_udp" if encapsulated else "esp")
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
        elif not _forwards(ctx, name):
            problems.append(F.problem("skip", name, f"{ctx.host(name)}: transport mode, nothing is forwarded"))
        else:
            problems += _fw_checks.check_problems(ctx, name, "forward")
    return F.combine(problems + _unmanaged_note(ctx), "FORWARD lets the protected traffic through in both directions")


@rule("P2.NAT_EXEMPT")
def nat_exempt(ctx: t.Any) -> dict[str, t.Any]:
    problems = []
    for name in ctx.managed():
        if ctx.conn(name) is None:
            problems.append(F.problem("skip", name, f"{ctx.host(name)}: no connection, so no protected subnets"))
        else:
            problems += _fw_checks.check_problems(ctx, name, "nat_exemption")
    return F.combine(problems + _unmanaged_note(ctx), "no SNAT/MASQUERADE touches the tunnel traffic before the IPsec lookup")
