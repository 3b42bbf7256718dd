# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: tunnel_plan
short_description: Which hosts of a play form which IPsec tunnel (the diagnose role's inventory model)
version_added: 0.1.0
description:
  - A tunnel is an inventory group of exactly two gateways (the first host listed is side A), or two hosts that name
    each other with C(ipsec_peer_host), or one gateway with C(ipsec_peer_address) whose peer is not managed (one-sided
    mode). C(ipsec_tunnel_group) picks the group when a host belongs to several groups of two.
  - A host whose peer is not in the play falls back to one-sided mode when it has C(ipsec_peer_address); otherwise it
    is reported in RV(_value.errors) with what to change.
options:
  _input:
    description: The play's hosts (C(ansible_play_hosts_all)).
    type: list
    elements: str
    required: true
  groups:
    description: The inventory's C(groups).
    type: dict
    required: true
  hostvars:
    description: The inventory's C(hostvars).
    type: raw
    required: true
author:
  - netdoctor.ipsec contributors (@netdoctor-ipsec)
"""

EXAMPLES = r"""
- name: Pair the gateways of the play
  ansible.builtin.set_fact:
    plan: "{{ ansible_play_hosts_all | netdoctor.ipsec.tunnel_plan(groups, hostvars) }}"
  run_once: true
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    hosts:
      description: Per host C({tunnel, side, peer_host, one_sided, peer_address}); C(side) is V(a) or V(b).
      type: dict
      sample: {gw_a: {tunnel: tunnel_a, side: a, peer_host: gw_b, one_sided: false, peer_address: 203.0.113.6}}
    tunnels:
      description: Per tunnel C({a, b, one_sided}) (host names; C(b) is null in one-sided mode).
      type: dict
    errors:
      description: Per host that cannot be placed, what to change.
      type: dict
"""

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _inventory


def tunnel_plan(value: t.Any, groups: t.Any, hostvars: t.Any) -> dict[str, t.Any]:
    if not isinstance(value, list):
        raise AnsibleFilterError("netdoctor.ipsec.tunnel_plan: the input must be the list of the play's hosts")
    if not isinstance(groups, dict):
        raise AnsibleFilterError("netdoctor.ipsec.tunnel_plan: groups must be the inventory's groups")
    return _inventory.plan(value, groups, hostvars)


class FilterModule:
    def filters(self) -> dict[str, t.Callable]:
        return {"tunnel_plan": tunnel_plan}
