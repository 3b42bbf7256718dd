# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""What to point the gathering at on one gateway: the peer's address and the protected subnets.

The inventory may say it (``ipsec_peer_address``, ``ipsec_local_subnets``, ``ipsec_remote_subnets``);
otherwise it comes from the gateway's own IKE configuration (an ``ike_info`` result): the named
connection, or the connections toward the peer, or all of them.
"""

from __future__ import annotations

import typing as t

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _addr

WILDCARDS = {"%any", "%any4", "%any6", "0.0.0.0", "::", "%defaultroute", "%default", ""}


def _subnets(values: t.Iterable[t.Any]) -> list[str]:
    found = []
    for value in values or []:
        text = str(value).split("[", maxsplit=1)[0]
        if _addr.normalize_network(text):
            found.append(_addr.normalize_network(text))
    return list(dict.fromkeys(found))


def targets(ike_result: dict[str, t.Any] | None, peer_address: str | None = None, connection: str | None = None,
            local_subnets: t.Sequence[str] | None = None, remote_subnets: t.Sequence[str] | None = None) -> dict[str, t.Any]:
    """``{peer_addresses, local_subnets, remote_subnets, connections}`` for the gathering modules."""
    ike = (ike_result or {}).get("ike") or {}
    conns = [c for c in ike.get("connections") or [] if isinstance(c, dict)]
    if connection:
        conns = [c for c in conns if c.get("name") == connection] or conns
    elif peer_address:
        toward = [c for c in conns if peer_address in (c.get("remote_addrs") or [])]
        conns = toward or conns
    peers = [peer_address] if peer_address else []
    for conn in conns:
        peers += [a.split("/")[0] for a in conn.get("remote_addrs") or [] if a not in WILDCARDS and _addr.address_family(a.split("/")[0])]
    for sa in ike.get("sas") or []:
        if isinstance(sa, dict) and sa.get("remote_host") and (not connection or sa.get("name") == connection):
            peers.append(sa["remote_host"])
    local = list(local_subnets or []) or _subnets(ts for c in conns for ts in c.get("local_ts") or [])
    remote = list(remote_subnets or []) or _subnets(ts for c in conns for ts in c.get("remote_ts") or [])
    return {"peer_addresses": list(dict.fromkeys(p for p in peers if p)), "local_subnets": local, "remote_subnets": remote,
            "connections": [c.get("name") for c in conns]}
