# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: gather_targets
short_description: The peer addresses and protected subnets to point the gathering modules at
version_added: 0.1.0
description:
  - Gives M(netdoctor.ipsec.firewall_info) and M(netdoctor.ipsec.capture) their C(peer_addresses), C(local_subnets)
    and C(remote_subnets) - from the inventory when it says them, else from the gateway's own IKE configuration (an
    M(netdoctor.ipsec.ike_info) result) - the named connection, or the connections toward the peer, or all.
options:
  _input:
    description: The M(netdoctor.ipsec.ike_info) result of the gateway, or null.
    type: raw
    required: true
  peer_address:
    description: The peer's outer address from the inventory.
    type: str
  connection:
    description: The connection to use.
    type: str
  local_subnets:
    description: Protected subnets behind this gateway from the inventory (win over the configuration).
    type: list
    elements: str
  remote_subnets:
    description: Protected subnets behind the peer from the inventory.
    type: list
    elements: str
author:
  - netdoctor.ipsec contributors (@netdoctor-ipsec)
"""

EXAMPLES = r"""
- name: Targets of the gathering
  ansible.builtin.set_fact:
    targets: "{{ ike | netdoctor.ipsec.gather_targets(peer_address=ipsec_peer_address | default(omit)) }}"
"""

RETURN = r"""
_value:
  description: C({peer_addresses, local_subnets, remote_subnets, connections}).
  type: dict
  sample: {peer_addresses: [203.0.113.6], local_subnets: [10.1.1.0/24], remote_subnets: [10.1.2.0/24], connections: [lab-a]}
"""

import typing as t

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _targets


def gather_targets(value: t.Any, peer_address: str | None = None, connection: str | None = None,
                   local_subnets: list | None = None, remote_subnets: list | None = None) -> dict[str, t.Any]:
    return _targets.targets(value if isinstance(value, dict) else None, peer_address, connection, local_subnets, remote_subnets)


class FilterModule:
    def filters(self) -> dict[str, t.Callable]:
        return {"gather_targets": gather_targets}
