# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Rules of the traffic stage: what the captures and the probe saw on the data path."""

from __future__ import annotations

import typing as t

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _finding as F
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _pair, _traffic
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils._rules import rule

OUT_COUNTERS = ("XfrmOutNoStates", "XfrmOutPolBlock", "XfrmOutStateProtoError", "XfrmOutBundleGenError", "XfrmOutStateExpired")
IN_COUNTERS = ("XfrmInNoStates", "XfrmInStateProtoError", "XfrmInStateMismatch", "XfrmInTmplMismatch", "XfrmInNoPols",
               "XfrmInPolBlock", "XfrmFwdHdrError", "XfrmInStateSeqError", "XfrmInStateExpired", "XfrmInStateInvalid")


def _no_capture(ctx: t.Any) -> dict[str, t.Any] | None:
    if not any(ctx.captured(n) for n in ctx.managed()):
        problems = [f"{ctx.host(n)}: {_traffic.capture_problem(ctx.side(n))}" for n in ctx.managed()
                    if _traffic.capture_problem(ctx.side(n))]
        return F.skipped("; ".join(problems) if problems else "no capture in this run (ipsec_capture: false)")
    return None


def _probes(ctx: t.Any) -> dict[str, dict[str, t.Any]]:
    return {n: p for n in ctx.managed() if (p := _traffic.probe_of(ctx.side(n)))}


def _icmp_ok(probe: dict[str, t.Any], large: bool | None = None) -> bool | None:
    results = [r for r in probe.get("icmp") or [] if large is None or bool(r.get("large", _is_large(r))) == large]
    if not results:
        return None
    return any(r.get("ok", (r.get("received") or 0) > 0) for r in results)


def _is_large(result: dict[str, t.Any]) -> bool:
    return int(result.get("size") or 0) > 1000


def _counter_text(delta: dict[str, int], names: t.Sequence[str]) -> list[str]:
    return _traffic.stat_reasons({k: v for k, v in delta.items() if k in names})


@rule("P2.ESP_OUT")
def esp_out(ctx: t.Any) -> dict[str, t.Any]:
    skipped = _no_capture(ctx)
    if skipped:
        return skipped
    probes = _probes(ctx)
    problems = []
    for name in ctx.managed():
        if not ctx.captured(name):
            continue
        host = ctx.host(name)
        leaked = _traffic.plaintext_out(ctx.side(name))
        sent = _traffic.esp_packets(ctx.side(name), "out")
        delta = _traffic.stat_delta(ctx.side(name))
        if leaked:
            problems.append(F.problem("fail", name, f"{host} sent {leaked} packets between the protected subnets IN CLEAR on the "
                                      "interface facing the peer: they bypass IPsec", "see the earlier failing checks (NAT exemption, policies)",
                                      symptom=True))
        if name in probes and not sent and _icmp_ok(probes[name]):
            problems.append(F.problem("pass", name, f"{host}: the probe was answered although the capture saw no ESP leave "
                                      "(the capture started late or dropped packets)"))
        elif name in probes and not sent:
            reasons = _counter_text(delta, OUT_COUNTERS)
            problems.append(F.problem("fail", name, f"{host}: the probe ran but no ESP left toward the peer"
                                      + (f" ({'; '.join(reasons)})" if reasons else ""), "see the earlier failing checks", symptom=True))
        elif sent:
            problems.append(F.problem("pass", name, f"{host}: {sent} ESP packets sent toward the peer, none in clear"))
    if not problems:
        return F.skipped("no protected traffic in the capture window (no probe ran)")
    return F.combine(problems, "protected traffic leaves as ESP")


def _counter_problems(ctx: t.Any) -> list[dict[str, t.Any]]:
    """Sender's outbound SA packet counter against the receiver's inbound one (no capture needed)."""
    problems = []
    if ctx.one_sided:
        return problems
    for pair in ctx.sa_match["pairs"]:
        sent, received = pair["sender"].get("packets"), pair["receiver"].get("packets")
        if not isinstance(sent, int) or not isinstance(received, int) or sent < 3:
            continue
        sender, receiver = pair["direction"].split("->")
        s_host, r_host = ctx.host(sender), ctx.host(receiver)
        label = f"SPI {pair['spi']}: {s_host} sent {sent} packets, {r_host} accepted {received}"
        if received * 2 < sent:
            delta = _traffic.stat_delta(ctx.side(receiver))
            reasons = _counter_text(delta, IN_COUNTERS)
            where = ("; ".join(reasons) if reasons else
                     "no xfrm error counter says why: dropped before decryption (firewall INPUT, or on the way)")
            problems.append(F.problem("fail", receiver, f"{label} ({where})", "see the earlier failing checks", symptom=True))
        else:
            problems.append(F.problem("pass", "both", label))
    return problems


@rule("P2.ESP_ONEWAY")
def esp_oneway(ctx: t.Any) -> dict[str, t.Any]:
    problems = _counter_problems(ctx)
    for sender in ctx.managed():
        if not ctx.captured(sender):
            continue
        receiver = _pair.other(sender)
        sent = _traffic.esp_packets(ctx.side(sender), "out")
        if not sent:
            continue
        s_host, r_host = ctx.host(sender), ctx.host(receiver)
        if not ctx.side(receiver)["managed"]:
            back = _traffic.esp_packets(ctx.side(sender), "in")
            if back:
                problems.append(F.problem("pass", "both", f"{s_host} sent {sent} ESP packets, received {back} back from the peer"))
            else:
                problems.append(F.problem("fail", "b", f"{s_host} sent {sent} ESP packets; the peer sent none back (it drops or cannot "
                                          "decrypt them)", "ask the peer's administrator to check its SA and firewall", symptom=True))
            continue
        if not ctx.captured(receiver):
            continue
        received = _traffic.esp_packets(ctx.side(receiver), "in")
        delta = _traffic.stat_delta(ctx.side(receiver))
        reasons = _counter_text(delta, IN_COUNTERS)
        why = f" ({'; '.join(reasons)})" if reasons else ""
        if not received:
            probe = _traffic.probe_of(ctx.side(sender))
            if probe and _icmp_ok(probe):
                problems.append(F.problem("pass", "both", f"{s_host} sent {sent} ESP packets and its probe was answered; "
                                          f"{r_host}'s capture saw none (it started late or dropped packets)"))
            else:
                problems.append(F.problem("fail", "both", f"{s_host} sent {sent} ESP packets; {r_host} captured none: lost between "
                                          "the gateways", "check the path (and any filter or NAT between them) for ESP", symptom=True))
            continue
        replied = _traffic.esp_packets(ctx.side(receiver), "out")
        if reasons and any(k in delta for k in IN_COUNTERS[:7]):
            problems.append(F.problem("fail", receiver, f"{r_host} received {received} ESP packets from {s_host} and dropped them{why}",
                                      "see the earlier failing checks", symptom=True))
        elif not replied and _traffic.probe_of(ctx.side(sender)):
            problems.append(F.problem("fail", receiver, f"{r_host} received {received} ESP packets from {s_host} but sent no ESP back"
                                      + (why or f" (no xfrm error counter grew: dropped by {r_host}'s firewall or not answered)"),
                                      "see the earlier failing checks", symptom=True))
        else:
            problems.append(F.problem("pass", "both", f"{s_host} -> {r_host}: {sent} ESP sent, {received} captured by {r_host}"))
    if not problems:
        return F.skipped("no ESP in the capture window and no SA counters to compare")
    return F.combine(problems, "ESP flows in both directions and is accepted")


@rule("P2.PROBE")
def probe(ctx: t.Any) -> dict[str, t.Any]:
    probes = _probes(ctx)
    if not probes:
        return F.skipped("no probe in this run (ipsec_probe: false, or no inside addresses known)")
    problems = []
    for name, result in probes.items():
        host = ctx.host(name)
        src, dst = result.get("source") or "?", result.get("destination") or "?"
        icmp = _icmp_ok(result, large=False)
        if icmp is None:
            icmp = _icmp_ok(result)
        if icmp is False:
            sent = sum(int(r.get("sent") or 0) for r in result.get("icmp") or [])
            problems.append(F.problem("fail", name, f"{host}: ping {src} -> {dst}: no reply ({sent} sent)",
                                      "see the earlier failing checks", symptom=True))
        elif icmp:
            problems.append(F.problem("pass", name, f"{host}: ping {src} -> {dst} answered"))
        tcp = result.get("tcp")
        if isinstance(tcp, dict) and tcp:
            port = tcp.get("port", "?")
            if tcp.get("ok"):
                problems.append(F.problem("pass", name, f"{host}: TCP {src} -> {dst}:{port} connected"))
            elif tcp.get("refused"):
                problems.append(F.problem("pass", name, f"{host}: TCP {src} -> {dst}:{port} refused by the far end (reached it)"))
            else:
                problems.append(F.problem("fail", name, f"{host}: TCP {src} -> {dst}:{port} failed ({tcp.get('error') or 'timeout'})",
                                          "see the earlier failing checks", symptom=True))
    return F.combine(problems, "ICMP and TCP cross the tunnel from the inside addresses")


@rule("P2.MTU")
def mtu(ctx: t.Any) -> dict[str, t.Any]:
    probes = _probes(ctx)
    problems = []
    for name, result in probes.items():
        host = ctx.host(name)
        small, large = _icmp_ok(result, large=False), _icmp_ok(result, large=True)
        sizes = sorted({int(r.get("size") or 0) for r in result.get("icmp") or [] if _is_large(r)})
        if large is None or small is None:
            continue
        frag_needed = [e for e in (ctx.side(name).get("capture") or {}).get("icmp_errors") or []
                       if "frag" in str(e.get("type", "")).lower() or e.get("mtu")]
        note = f"; ICMP fragmentation-needed seen (MTU {frag_needed[0].get('mtu')})" if frag_needed else ""
        if small and not large:
            problems.append(F.problem(
                "fail", name, f"{host}: small pings cross the tunnel but {', '.join(map(str, sizes))}-byte pings with DF do not{note}",
                f"on {host}: lower the MTU toward the tunnel or clamp TCP MSS: "
                "`iptables -t mangle -A FORWARD -m policy --dir out --pol ipsec -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu`"))
        elif small and large:
            problems.append(F.problem("pass", name, f"{host}: {', '.join(map(str, sizes))}-byte pings with DF cross the tunnel"))
    if not problems:
        return F.skipped("no large-packet probe, or the small probe failed too (see P2.PROBE)")
    return F.combine(problems, "large packets cross the tunnel")
