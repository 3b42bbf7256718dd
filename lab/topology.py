"""Names and addresses of every tunnel, and the netlink steps that build them inside the lab.

Tunnel number i (0-based, letter x = a, b, ... z, aa, ab, ...), n = i + 1:

    x_left_host 10.n.1.10 --lan0 10.n.1.1-- x_left --wan0-- x_wan (router) --wan0-- x_right --lan0 10.n.2.1-- x_right_host 10.n.2.10
                                   203.0.113.8i+1/30 -- .8i+2 | .8i+5 -- 203.0.113.8i+6/30

With NAT the left gateway's WAN is 10.n.254.2/24 behind the router's 10.n.254.1, and the router
masquerades it to its own 203.0.113.8i+5, which is then the right gateway's peer address.
The router is also the neutral observer that counts ESP and clear-text packets on the WAN.
Each gateway has a mgmt0 veth on the lab's management bridge (the host reaches sshd there).
"""

from __future__ import annotations

import ipaddress
import string
from dataclasses import dataclass

from .config import LabConfig, LabError
from .spec import TunnelSpec

MAX_TUNNELS = 30  # 60 gateways in a slot's management /26
WAN_NET = ipaddress.IPv4Network("203.0.113.0/24")
BRIDGE = "br-mgmt"
WAN_IF, LAN_IF, MGMT_IF = "wan0", "lan0", "mgmt0"
ROUTER_IF = {"left": "left0", "right": "right0"}
ECHO_PORT = 7


@dataclass(frozen=True)
class Side:
    tunnel: str  # letter
    side: str  # left | right
    daemon: str
    name: str  # gateway / inventory host name, e.g. a_left
    host_ns: str  # the inner host behind it, e.g. a_left_host
    wan_address: str  # with prefix
    nexthop: str  # the router address on the gateway's WAN segment
    peer_address: str  # where this side sends IKE (the peer, or the peer's NAT address)
    lan_net: str
    lan_address: str  # the gateway's own LAN address (with prefix)
    host_address: str  # the inner host's address (with prefix)
    mgmt_address: str  # with prefix
    ike_id: str

    @property
    def local_address(self) -> str:
        return self.wan_address.split("/")[0]

    @property
    def inside_address(self) -> str:
        return self.lan_address.split("/")[0]

    @property
    def host_ip(self) -> str:
        return self.host_address.split("/")[0]

    @property
    def mgmt_ip(self) -> str:
        return self.mgmt_address.split("/")[0]


@dataclass(frozen=True)
class Tunnel:
    index: int
    letter: str
    spec: TunnelSpec
    left: Side
    right: Side

    @property
    def group(self) -> str:
        return f"tunnel_{self.letter}"

    @property
    def connection(self) -> str:
        return f"lab-{self.letter}"

    @property
    def router(self) -> str:
        return f"{self.letter}_wan"

    def side(self, which: str) -> Side:
        return self.left if which == "left" else self.right

    def peer_of(self, which: str) -> Side:
        return self.right if which == "left" else self.left

    @property
    def sides(self) -> tuple[Side, Side]:
        return (self.left, self.right)


def tunnel_letter(index: int) -> str:
    """a .. z, then aa, ab, ..."""
    letters = string.ascii_lowercase
    return letters[index] if index < len(letters) else letters[index // len(letters) - 1] + letters[index % len(letters)]


def plan(specs: list[TunnelSpec], cfg: LabConfig) -> list[Tunnel]:
    if not specs:
        raise LabError("a lab needs at least one tunnel")
    if len(specs) > MAX_TUNNELS:
        raise LabError(f"at most {MAX_TUNNELS} tunnels per lab, not {len(specs)}")
    return [_tunnel(i, spec, cfg) for i, spec in enumerate(specs)]


def _tunnel(i: int, spec: TunnelSpec, cfg: LabConfig) -> Tunnel:
    letter = tunnel_letter(i)
    n = i + 1
    wan = [str(WAN_NET.network_address + 8 * i + k) for k in range(8)]
    if spec.nat:
        left_wan, left_hop, right_peer = f"10.{n}.254.2/24", f"10.{n}.254.1", wan[5]
    else:
        left_wan, left_hop, right_peer = f"{wan[1]}/30", wan[2], wan[1]
    mgmt_len = cfg.mgmt_net.prefixlen

    def side(which: str, daemon: str, wan_address: str, nexthop: str, peer: str, lan: int, gw_index: int) -> Side:
        name = f"{letter}_{which}"
        return Side(tunnel=letter, side=which, daemon=daemon, name=name, host_ns=f"{name}_host",
                    wan_address=wan_address, nexthop=nexthop, peer_address=peer,
                    lan_net=f"10.{n}.{lan}.0/24", lan_address=f"10.{n}.{lan}.1/24",
                    host_address=f"10.{n}.{lan}.10/24",
                    mgmt_address=f"{cfg.gateway_mgmt_ip(gw_index)}/{mgmt_len}", ike_id=f"{letter}-{which}.lab")

    left = side("left", spec.left, left_wan, left_hop, wan[6], 1, 2 * i)
    right = side("right", spec.right, f"{wan[6]}/30", wan[5], right_peer, 2, 2 * i + 1)
    return Tunnel(index=i, letter=letter, spec=spec, left=left, right=right)


def build_steps(tunnels: list[Tunnel]) -> list[dict]:
    """The agent's netlink steps (see guest/agent.py `_step_*`) for all tunnels."""
    steps: list[dict] = []
    for t in tunnels:
        n = t.index + 1
        steps.append({"do": "netns", "name": t.router, "kind": "router"})
        for s in t.sides:
            steps += [{"do": "netns", "name": s.name, "kind": "gateway"},
                      {"do": "netns", "name": s.host_ns, "kind": "host"}]
        steps.append({"do": "sysctl", "ns": t.router, "key": "net.ipv4.ip_forward", "value": "1"})
        for s in t.sides:
            router_if = ROUTER_IF[s.side]
            router_addr = (f"10.{n}.254.1/24" if t.spec.nat and s.side == "left"
                           else f"{s.nexthop}/{s.wan_address.split('/')[1]}")
            steps += [
                {"do": "sysctl", "ns": s.name, "key": "net.ipv4.ip_forward", "value": "1"},
                # WAN: gateway <-> router
                {"do": "veth", "ns1": s.name, "if1": WAN_IF, "ns2": t.router, "if2": router_if},
                {"do": "addr", "ns": s.name, "ifname": WAN_IF, "address": s.wan_address},
                {"do": "addr", "ns": t.router, "ifname": router_if, "address": router_addr},
                # LAN: gateway <-> inner host
                {"do": "veth", "ns1": s.name, "if1": LAN_IF, "ns2": s.host_ns, "if2": "eth0"},
                {"do": "addr", "ns": s.name, "ifname": LAN_IF, "address": s.lan_address},
                {"do": "addr", "ns": s.host_ns, "ifname": "eth0", "address": s.host_address},
                {"do": "route", "ns": s.host_ns, "dst": "0.0.0.0/0", "via": s.inside_address},
                # management: gateway <-> the lab's bridge
                {"do": "veth", "ns1": None, "if1": f"m-{s.name}", "ns2": s.name, "if2": MGMT_IF},
                {"do": "master", "ns": None, "ifname": f"m-{s.name}", "bridge": BRIDGE},
                {"do": "addr", "ns": s.name, "ifname": MGMT_IF, "address": s.mgmt_address},
            ]
            if not _on_link(s.wan_address, s.peer_address):
                steps.append({"do": "route", "ns": s.name, "dst": f"{s.peer_address}/32", "via": s.nexthop})
        for s in t.sides:
            steps.append({"do": "echo", "ns": s.host_ns, "port": ECHO_PORT})
    return steps


def _on_link(address_with_prefix: str, other: str) -> bool:
    return ipaddress.IPv4Address(other) in ipaddress.IPv4Interface(address_with_prefix).network
