"""What a tunnel looks like right now: SA states per side, probes through it, packets on its WAN.

The probes run from the peer's inner host to the fault side's inner host (for a healthy tunnel:
left to right), so that the direction of what the WAN router counts means the same for every
fault: `peer_to_fault` is the probe's way in, `fault_to_peer` the answer's way back. A fault
that only hurts connections started on its own side (masquerade) probes the other way.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

from . import daemons
from .agent_client import AgentClient
from .topology import ECHO_PORT, ROUTER_IF, Tunnel

DIRECTIONS = ("left_to_right", "right_to_left")


def router_rules(t: Tunnel) -> str:
    """iptables-legacy-restore input for the WAN router: counters (no verdicts) and the NAT."""
    lines = ["*mangle", ":PREROUTING ACCEPT [0:0]"]
    for src, dst in (("left", "right"), ("right", "left")):
        iface, tag = ROUTER_IF[src], f"{src}_to_{dst}"
        lines += [
            f"-A PREROUTING -i {iface} -p esp -m comment --comment esp_{tag}",
            # ESP in UDP 4500 (NAT-T): a non-zero SPI where IKE has its zero non-ESP marker;
            # packets shorter than 30 bytes are NAT keepalives
            f"-A PREROUTING -i {iface} -p udp -m multiport --ports 4500 -m length --length 30:65535 "
            f'-m u32 ! --u32 "0>>22&0x3C@8=0" -m comment --comment esp_{tag}',
            f"-A PREROUTING -i {iface} -p udp -m multiport --ports 4500 -m u32 "
            f'--u32 "0>>22&0x3C@8=0" -m comment --comment ike_{tag}',
            f"-A PREROUTING -i {iface} -p udp --dport 500 -m comment --comment ike_{tag}",
            f"-A PREROUTING -i {iface} -d {t.side(dst).lan_net} -m comment --comment clear_{tag}",
        ]
    lines.append("COMMIT")
    if t.spec.nat:
        lines += ["*nat", ":POSTROUTING ACCEPT [0:0]",
                  f"-A POSTROUTING -o {ROUTER_IF['right']} -s {t.left.local_address} -j MASQUERADE", "COMMIT"]
    return "\n".join(lines) + "\n"


def parse_counters(save_output: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for m in re.finditer(r"^\[(\d+):\d+\] .*--comment (\S+)", save_output, re.M):
        counts[m.group(2)] = counts.get(m.group(2), 0) + int(m.group(1))
    return counts


def sa_state(agent: AgentClient, t: Tunnel, which: str, running: bool) -> daemons.SaState:
    side = t.side(which)
    if not running:
        return daemons.SaState("down", "down", ())
    daemon = daemons.DAEMONS[side.daemon]
    return daemon.parse_status(agent.exec(side.name, daemon.status_argv(), timeout=30).out)


def side_state(agent: AgentClient, t: Tunnel, which: str, running: bool) -> dict:
    sa = sa_state(agent, t, which, running)
    count = agent.exec(t.side(which).name, ["ip", "xfrm", "state", "count"], timeout=30)
    m = re.search(r"count (\d+)", count.out)
    return {"daemon": "running" if running else "stopped", "ike_sa": sa.ike, "child_sa": sa.child,
            "states": list(sa.states), "xfrm_states": int(m.group(1)) if m else None}


def sa_states(agent: AgentClient, t: Tunnel, running: dict[str, bool], full: bool = True) -> dict[str, dict]:
    """Both sides' SA states (full: with the daemon and xfrm state count), fetched in parallel."""
    def one(which: str) -> dict:
        if full:
            return side_state(agent, t, which, running[which])
        sa = sa_state(agent, t, which, running[which])
        return {"ike_sa": sa.ike, "child_sa": sa.child}

    with ThreadPoolExecutor(2) as pool:
        futures = {w: pool.submit(one, w) for w in ("left", "right")}
        return {w: f.result() for w, f in futures.items()}


def probe(agent: AgentClient, t: Tunnel, src: str, dst: str) -> dict:
    """Ping and a TCP exchange from src's inner host to dst's, with WAN counters around them."""
    agent.exec(t.router, ["iptables-legacy", "-t", "mangle", "-Z", "PREROUTING"], timeout=20)
    target = t.side(dst).host_ip
    ping = agent.exec(t.side(src).host_ns, ["ping", "-n", "-q", "-c", "3", "-i", "0.2", "-w", "3", target],
                      timeout=20)
    m = re.search(r"(\d+) received", ping.out)
    received = int(m.group(1)) if m else 0
    tcp = agent.call("tcp_probe", target=t.side(src).host_ns, host=target, port=ECHO_PORT, timeout=3)
    save = agent.exec(t.router, ["iptables-legacy-save", "-c", "-t", "mangle"], timeout=20)
    counts = parse_counters(save.out)
    return {
        "from": t.side(src).host_ns, "to": target,
        "ping": "ok" if received > 0 else "fail", "ping_received": received,
        "tcp": "ok" if tcp["ok"] else "fail", "tcp_error": tcp["error"],
        "esp": {d: counts.get(f"esp_{d}", 0) for d in DIRECTIONS},
        "ike": {d: counts.get(f"ike_{d}", 0) for d in DIRECTIONS},
        "clear": {d: counts.get(f"clear_{d}", 0) for d in DIRECTIONS},
    }


def observe(agent: AgentClient, t: Tunnel, running: dict[str, bool], fault_side: str | None = None,
            probe_from_fault: bool = False) -> dict:
    """The full observed state; role keys `fault`/`peer` are added for the catalogue's checks."""
    fault = fault_side or t.spec.fault_side or "right"
    peer = "left" if fault == "right" else "right"
    sides = sa_states(agent, t, running)
    pr = probe(agent, t, fault, peer) if probe_from_fault else probe(agent, t, peer, fault)
    probe_info = {k: pr[k] for k in ("from", "to", "ping_received", "tcp_error")}
    out = {"fault_side": fault, "sides": sides, "probe": probe_info, "ping": pr["ping"], "tcp": pr["tcp"]}
    for key in ("ike_sa", "child_sa", "daemon"):
        out[key] = {"left": sides["left"][key], "right": sides["right"][key],
                    "fault": sides[fault][key], "peer": sides[peer][key]}
    for key in ("esp", "ike", "clear"):
        counts = dict(pr[key])
        counts["peer_to_fault"] = counts[f"{peer}_to_{fault}"]
        counts["fault_to_peer"] = counts[f"{fault}_to_{peer}"]
        out[key] = counts
    return out
