# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Two side records -> one tunnel: which connection, SAs, kernel states and policies belong to it.

A gateway usually carries more than the tunnel under diagnosis. This picks, on each side, the IKE
connection that points at the other side (its remote addresses are the other gateway's
addresses, or the configured peer address), the IKE and CHILD SAs of that connection, and the
kernel states and policies whose endpoints are the two gateways. In one-sided mode side B is
the unmanaged peer: only its address is known.
"""

from __future__ import annotations

import dataclasses
import typing as t

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _addr
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _side

WILDCARDS = {"%any", "%any4", "%any6", "0.0.0.0", "::", "any", "%defaultroute", ""}
SIDES = ("a", "b")


def other(side: str) -> str:
    return "b" if side == "a" else "a"


def _concrete(addresses: t.Iterable[str]) -> list[str]:
    return [a for a in addresses if a and a not in WILDCARDS and _addr.address_family(a)]


@dataclasses.dataclass
class Tunnel:
    """Everything the rules read, per side 'a' and 'b'."""

    a: dict[str, t.Any]
    b: dict[str, t.Any]
    conn: dict[str, dict[str, t.Any] | None]
    endpoint: dict[str, str | None]  # each side's own tunnel (WAN) address
    peers: dict[str, list[str]]  # the addresses each side knows its peer by
    ike_sas: dict[str, list[dict[str, t.Any]]]
    states: dict[str, list[dict[str, t.Any]]]  # current (after the probe when it ran)
    states_before: dict[str, list[dict[str, t.Any]] | None]  # before the probe, when re-read after it
    policies: dict[str, list[dict[str, t.Any]]]
    selection_notes: list[str]
    options: dict[str, t.Any]

    def xfrm(self, name: str) -> dict[str, t.Any]:
        """The side's current kernel state (re-read after the probe when it was)."""
        side = self.side(name)
        return side["xfrm_after"] or side["xfrm"]

    def side(self, name: str) -> dict[str, t.Any]:
        return self.a if name == "a" else self.b

    @property
    def one_sided(self) -> bool:
        return not self.b["managed"]

    def managed(self) -> list[str]:
        return [s for s in SIDES if self.side(s)["managed"]]

    def host(self, name: str) -> str:
        return self.side(name)["host"]

    def children(self, name: str) -> list[dict[str, t.Any]]:
        conn = self.conn[name]
        return list(conn["children"]) if conn else []

    def child_sas(self, name: str) -> list[dict[str, t.Any]]:
        return [child for sa in self.ike_sas[name] for child in sa["children"]]

    def ike_established(self, name: str) -> bool:
        return any(sa["established"] for sa in self.ike_sas[name])

    def child_installed(self, name: str) -> bool:
        return any(child["installed"] for child in self.child_sas(name))


def _score_connection(conn: dict[str, t.Any], own: dict[str, t.Any], peer_addrs: set[str]) -> int:
    score = 0
    remote = set(_concrete(conn["remote_addrs"]))
    if remote & peer_addrs:
        score += 4
    elif not remote:
        score += 1  # %any: could be the peer
    else:
        return 0  # points at another gateway
    local = set(_concrete(conn["local_addrs"]))
    if local and local & set(own["addresses"]):
        score += 2
    return score


def select_connection(
    own: dict[str, t.Any], peer: dict[str, t.Any], wanted: str | None = None
) -> tuple[dict[str, t.Any] | None, str]:
    """The connection of ``own`` toward ``peer`` and a note on how it was chosen."""
    conns = own["ike"]["connections"]
    if not conns:
        return None, f"{own['host']}: no IKE connection configured"
    if wanted:
        named = [c for c in conns if c["name"] == wanted]
        if named:
            return named[0], f"{own['host']}: connection {wanted!r} (asked for)"
        return None, f"{own['host']}: no connection named {wanted!r} (has {', '.join(c['name'] or '?' for c in conns)})"
    peer_addrs = set(_concrete(peer["addresses"])) | set(_concrete([own.get("peer_address") or ""]))
    for sa in own["ike"]["sas"]:
        if sa["remote_addr"] in peer_addrs and sa["name"]:
            peer_addrs.add(sa["remote_addr"])
    scored = sorted(((_score_connection(c, own, peer_addrs), i, c) for i, c in enumerate(conns)), key=lambda x: (-x[0], x[1]))
    best_score, _index, best = scored[0]
    if best_score == 0:
        return None, f"{own['host']}: none of {len(conns)} connections points at the peer ({', '.join(sorted(peer_addrs)) or 'unknown address'})"
    ties = [c for s, _i, c in scored if s == best_score]
    note = f"{own['host']}: connection {best['name']!r}"
    if len(ties) > 1:
        note += f" (first of {len(ties)} equally likely: {', '.join(c['name'] or '?' for c in ties)})"
    return best, note


def _endpoint(own: dict[str, t.Any], conn: dict[str, t.Any] | None, peer: dict[str, t.Any]) -> str | None:
    candidates = _concrete(conn["local_addrs"]) if conn else []
    candidates += [sa["local_addr"] for sa in own["ike"]["sas"] if conn and sa["name"] == conn["name"]]
    if peer["managed"] and peer["ike"]["connections"]:
        for peer_conn in peer["ike"]["connections"]:
            candidates += [a for a in _concrete(peer_conn["remote_addrs"]) if _side.owns_address(own, a)]
    for candidate in candidates:
        if candidate and (not own["addresses"] or _side.owns_address(own, candidate)):
            return candidate
    return candidates[0] if candidates else None


def _peer_addresses(own: dict[str, t.Any], conn: dict[str, t.Any] | None, peer: dict[str, t.Any]) -> list[str]:
    found = []
    for address in [own.get("peer_address") or ""] + (conn["remote_addrs"] if conn else []):
        found += _concrete([address])
    if conn:
        found += [sa["remote_addr"] for sa in own["ike"]["sas"] if sa["name"] == conn["name"] and sa["remote_addr"]]
    found += _concrete(peer["addresses"]) if not found else []
    return list(dict.fromkeys(found))


def _tunnel_states(xfrm: dict[str, t.Any] | None, endpoint: str | None, peers: list[str]) -> list[dict[str, t.Any]] | None:
    if xfrm is None:
        return None
    ends = set(peers) | ({endpoint} if endpoint else set())
    return [s for s in xfrm["states"] if s["src"] in ends and s["dst"] in ends and s["src"] != s["dst"]]


def _tunnel_policies(xfrm: dict[str, t.Any], endpoint: str | None, peers: list[str], children: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    ends = set(peers) | ({endpoint} if endpoint else set())
    selectors = {_addr.normalize_network(ts) for child in children for ts in child["local_ts"] + child["remote_ts"]}
    selectors.discard(None)
    chosen = []
    for policy in xfrm["policies"]:
        tmpl_ends = {tmpl.get("src") for tmpl in policy["tmpls"]} | {tmpl.get("dst") for tmpl in policy["tmpls"]}
        by_tmpl = bool(tmpl_ends & ends)
        by_selector = {_addr.normalize_network(policy.get("src") or ""), _addr.normalize_network(policy.get("dst") or "")} <= selectors
        if by_tmpl or (selectors and by_selector):
            chosen.append(policy)
    return chosen


def pair_sides(
    a: dict[str, t.Any],
    b: dict[str, t.Any],
    connection: str | None = None,
    options: dict[str, t.Any] | None = None,
) -> Tunnel:
    """The tunnel between side records ``a`` and ``b`` (normalised with ``_side.normalise_side``)."""
    a, b = _side.normalise_side(a), _side.normalise_side(b)
    sides = {"a": a, "b": b}
    conn: dict[str, dict[str, t.Any] | None] = {}
    notes = []
    for name in SIDES:
        own, peer = sides[name], sides[other(name)]
        if not own["managed"]:
            conn[name] = None
            continue
        conn[name], note = select_connection(own, peer, connection)
        notes.append(note)
    endpoint = {name: _endpoint(sides[name], conn[name], sides[other(name)]) for name in SIDES}
    if not b["managed"]:
        endpoint["b"] = b["addresses"][0] if b["addresses"] else a.get("peer_address")
    peers = {name: _peer_addresses(sides[name], conn[name], sides[other(name)]) for name in SIDES}
    ike_sas = {
        name: [sa for sa in sides[name]["ike"]["sas"] if conn[name] and sa["name"] in (conn[name]["name"], None)]
        for name in SIDES
    }
    current = {name: sides[name]["xfrm_after"] or sides[name]["xfrm"] for name in SIDES}
    states = {name: _tunnel_states(current[name], endpoint[name], peers[name]) or [] for name in SIDES}
    states_before = {
        name: _tunnel_states(sides[name]["xfrm"], endpoint[name], peers[name]) if sides[name]["xfrm_after"] else None
        for name in SIDES
    }
    children = {name: list(conn[name]["children"]) if conn[name] else [] for name in SIDES}
    policies = {name: _tunnel_policies(current[name], endpoint[name], peers[name], children[name]) for name in SIDES}
    return Tunnel(
        a=a,
        b=b,
        conn=conn,
        endpoint=endpoint,
        peers=peers,
        ike_sas=ike_sas,
        states=states,
        states_before=states_before,
        policies=policies,
        selection_notes=notes,
        options=dict(options or {}),
    )
