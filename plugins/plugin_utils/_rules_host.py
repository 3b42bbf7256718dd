# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Rules of the host stage: the gateway can do IPsec at all (HOST.KERNEL, HOST.SYSCTL)."""

from __future__ import annotations

import typing as t

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _finding as F
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _fw_checks
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils._rules import rule

START_COMMANDS = {
    "strongswan": "systemctl start strongswan (swanctl setups; strongswan-starter for ipsec.conf), then `swanctl --load-all`",
    "libreswan": "systemctl start ipsec",
    "racoon": "systemctl start racoon",
}


def _nat_between(ctx: t.Any) -> bool:
    return any(sa["nat_local"] or sa["nat_remote"] for n in ctx.managed() for sa in ctx.tunnel.ike_sas[n])


def _daemon_problems(ctx: t.Any, name: str) -> list[dict[str, t.Any]]:
    side = ctx.side(name)
    ike = side["ike"]
    host = ctx.host(name)
    if not ctx.has(name, "ike"):
        return [F.problem("unknown", name, f"{host}: IKE daemon state unknown ({ctx.why_not(name, 'ike')})")]
    daemon = ike.get("daemon")
    if not daemon:
        return [F.problem("fail", name, f"{host}: no IKE daemon (strongSwan, libreswan or racoon) found",
                          f"on {host}: install and start an IKE daemon")]
    version = f" {ike['version']}" if ike.get("version") else ""
    if ike.get("running") is False:
        return [F.problem("fail", name, f"{host}: {daemon}{version} is installed but not running",
                          f"on {host}: {START_COMMANDS.get(daemon, 'start the IKE daemon')}")]
    problems = []
    listening = ike.get("listening") or {}
    if listening.get("500") is False:
        problems.append(F.problem("fail", name, f"{host}: {daemon}{version} runs but does not listen on UDP 500",
                                  f"on {host}: check the daemon's listen/interfaces settings and restart it"))
    elif listening.get("4500") is False and _nat_between(ctx):
        problems.append(F.problem("fail", name, f"{host}: {daemon}{version} does not listen on UDP 4500 but there is NAT "
                                  "between the gateways (NAT-T impossible)", f"on {host}: enable NAT traversal (port 4500) in the daemon"))
    if not problems:
        ports = [p for p in ("500", "4500") if listening.get(p)]
        heard = f", listening on UDP {'/'.join(ports)}" if ports else ""
        problems.append(F.problem("pass", name, f"{host}: {daemon}{version} running{heard}"))
    return problems


def _kernel_problems(ctx: t.Any, name: str) -> list[dict[str, t.Any]]:
    host = ctx.host(name)
    if not ctx.has(name, "xfrm"):
        return [F.problem("unknown", name, f"{host}: kernel IPsec state unknown ({ctx.why_not(name, 'xfrm')})")]
    xfrm = ctx.tunnel.xfrm(name)
    if xfrm.get("esp_supported") is False:
        return [F.problem("fail", name, f"{host}: the kernel has no ESP support (CONFIG_INET_ESP / esp4 module missing)",
                          f"on {host}: load esp4/esp6 (modprobe esp4) or use a kernel with CONFIG_INET_ESP")]
    return [F.problem("pass", name, f"{host}: kernel xfrm readable ({len(xfrm['states'])} SAs, {len(xfrm['policies'])} policies)")]


@rule("HOST.KERNEL")
def host_kernel(ctx: t.Any) -> dict[str, t.Any]:
    problems = []
    for name in ctx.managed():
        problems += _kernel_problems(ctx, name) + _daemon_problems(ctx, name)
    problems += ctx.unmanaged_peer("not managed here; see P1.REACH for whether it answers")
    return F.combine(problems, "both gateways can do IPsec and run their IKE daemon")


def _int(value: t.Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _routes_subnets(ctx: t.Any, name: str) -> bool:
    """True when the tunnel protects networks behind the gateway (so the gateway must forward)."""
    endpoint = ctx.tunnel.endpoint[name]
    for child in ctx.tunnel.children(name):
        for ts in child["local_ts"]:
            text = str(ts).split("[", maxsplit=1)[0]
            if text not in ("dynamic", f"{endpoint}/32", endpoint, f"{endpoint}/128"):
                return True
    return False


def _conf(sysctl: dict[str, t.Any], key: str) -> str:
    conf = sysctl.get("conf") if isinstance(sysctl.get("conf"), dict) else {}
    values = [f"{scope}={values.get(key)}" for scope, values in sorted(conf.items())
              if isinstance(values, dict) and values.get(key) is not None and scope in ("all", "default")]
    return f"{key} " + ", ".join(values) if values else ""


@rule("HOST.SYSCTL")
def host_sysctl(ctx: t.Any) -> dict[str, t.Any]:
    problems = []
    for name in ctx.managed():
        host = ctx.host(name)
        sysctl = ctx.side(name)["sysctl"]
        if not sysctl:
            problems.append(F.problem("unknown", name, f"{host}: sysctls not gathered ({ctx.why_not(name, 'firewall')})"))
            continue
        forward = _int(sysctl.get("ip_forward"))
        if forward == 0 and _routes_subnets(ctx, name):
            problems.append(F.problem(
                "fail", name, f"{host}: net.ipv4.ip_forward = 0 but the tunnel protects subnets behind this gateway",
                f"on {host}: sysctl -w net.ipv4.ip_forward=1 (and persist it in /etc/sysctl.d/)"))
        elif forward is not None:
            problems.append(F.problem("pass", name, f"{host}: net.ipv4.ip_forward = {forward}"))
        if ctx.conn(name) is not None:
            for item in _fw_checks.check_problems(ctx, name, "rp_filter"):
                if item["status"] == "unknown":
                    continue
                if item["status"] == "fail" and "no route back" in item["text"]:
                    # Reverse-path filtering drops what has no route back at all: the missing route is the cause.
                    item = {**item, "symptom": True, "text": item["text"] + " (see P2.ROUTE)"}
                problems.append(item)
        notes = [text for text in (_conf(sysctl, "accept_redirects"), _conf(sysctl, "send_redirects")) if text]
        if sysctl.get("xfrm_larval_drop") is not None:
            notes.append(f"xfrm_larval_drop={sysctl['xfrm_larval_drop']}")
        if notes:
            problems.append(F.problem("pass", name, f"{host}: " + "; ".join(notes)))
    return F.combine(problems, "forwarding and reverse-path filtering suit the tunnel")
