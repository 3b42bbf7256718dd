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


@rule("P2.FW_ESP")
def fw_esp(ctx: t.Any) -> dict[str, t.Any]:
    encapsulated = _encapsulated(ctx)
    problems = _fw_checks.check_each_side(ctx, "esp_in_udp" if encapsulated else "esp")
    summary = "UDP-encapsulated ESP (4500)" if encapsulated else "ESP (protocol 50)"
    return F.combine(problems, f"{summary} passes both gateways' firewalls in both directions")


def _no_subnets(ctx: t.Any, name: str) -> str | None:
    return "no connection, so no protected subnets" if ctx.conn(name) is None else None


def _not_forwarded(ctx: t.Any, name: str) -> str | None:
    no_subnets = _no_subnets(ctx, name)
    if no_subnets or any(child["mode"] != "transport" for child in ctx.tunnel.children(name)):
        return no_subnets
    return "transport mode, nothing is forwarded"


@rule("P2.FORWARD")
def forward(ctx: t.Any) -> dict[str, t.Any]:
    return F.combine(_fw_checks.check_each_side(ctx, "forward", _not_forwarded),
                     "FORWARD lets the protected traffic through in both directions")


@rule("P2.NAT_EXEMPT")
def nat_exempt(ctx: t.Any) -> dict[str, t.Any]:
    return F.combine(_fw_checks.check_each_side(ctx, "nat_exemption", _no_subnets),
                     "no SNAT/MASQUERADE touches the tunnel traffic before the IPsec lookup")
