# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Which hosts of the play form which tunnel: the diagnose role's inventory model.

A tunnel is either an inventory group of exactly two gateways (``tunnel_a: {hosts: {gw_a, gw_b}}``;
the first host listed is side A), or a pair named by ``ipsec_peer_host`` on a host, or one gateway
with ``ipsec_peer_address`` and no managed peer (one-sided mode). ``ipsec_tunnel_group`` picks the
group when a host sits in several two-host groups.
"""

from __future__ import annotations

import typing as t

IGNORED_GROUPS = {"all", "ungrouped"}


def _get(hostvars: t.Any, host: str, name: str) -> t.Any:
    try:
        value = hostvars[host].get(name)
    except (KeyError, AttributeError):
        return None
    return None if value in ("", None) else value


def _pair_groups(host: str, hostvars: t.Any, groups: dict[str, list[str]]) -> list[str]:
    wanted = _get(hostvars, host, "ipsec_tunnel_group")
    if wanted:
        return [wanted] if host in groups.get(wanted, []) else []
    names = set(_get(hostvars, host, "group_names") or [])
    candidates = [g for g in groups if g in names and g not in IGNORED_GROUPS and len(groups.get(g) or []) == 2]
    # Groups with the same two members are one tunnel (a parent group of a single tunnel): keep the one
    # defined last, usually the innermost.
    by_members: dict[frozenset, str] = {}
    for group in candidates:
        by_members[frozenset(groups[group])] = group
    return list(by_members.values())


def plan(play_hosts: t.Sequence[str], groups: dict[str, list[str]], hostvars: t.Any) -> dict[str, t.Any]:
    """``{hosts: {host: {tunnel, side, peer_host, one_sided, peer_address}}, tunnels: {name: {a, b}}, errors: {host: msg}}``."""
    hosts: dict[str, dict[str, t.Any]] = {}
    tunnels: dict[str, dict[str, t.Any]] = {}
    errors: dict[str, str] = {}
    in_play = set(play_hosts)
    for host in play_hosts:
        peer_address = _get(hostvars, host, "ipsec_peer_address")
        peer_host = _get(hostvars, host, "ipsec_peer_host")
        name = None
        members: list[str] = []
        if peer_host:
            members = sorted([host, peer_host])
            name = f"{members[0]}<->{members[1]}"
        else:
            candidates = _pair_groups(host, hostvars, groups)
            if len(candidates) > 1:
                errors[host] = (f"{host} is in several two-host groups ({', '.join(sorted(candidates))}): "
                                "set ipsec_tunnel_group to the tunnel's group")
                continue
            if candidates:
                name = candidates[0]
                members = list(groups[name])
        if members and all(m in in_play for m in members):
            side = "a" if host == members[0] else "b"
            peer = members[1] if side == "a" else members[0]
            hosts[host] = {"tunnel": name, "side": side, "peer_host": peer, "one_sided": False, "peer_address": peer_address}
            tunnels.setdefault(name, {"a": members[0], "b": members[1], "one_sided": False})
        elif peer_address:
            label = name or host
            hosts[host] = {"tunnel": label, "side": "a", "peer_host": None, "one_sided": True, "peer_address": peer_address}
            tunnels[label] = {"a": host, "b": None, "one_sided": True}
        elif members:
            missing = [m for m in members if m not in in_play]
            errors[host] = (f"{host}'s peer {', '.join(missing)} is not in this play (limit it to the whole group, "
                            "or set ipsec_peer_address for one-sided mode)")
        else:
            errors[host] = (f"{host} has no peer: put it in a group with exactly its peer gateway, set ipsec_peer_host, "
                            "or set ipsec_peer_address for one-sided mode")
    return {"hosts": hosts, "tunnels": tunnels, "errors": errors}
