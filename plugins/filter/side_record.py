# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: side_record
short_description: One gateway's gathered IPsec facts as the side record the diagnosis reads
version_added: 0.1.0
description:
  - Turns the results registered on one gateway by M(netdoctor.ipsec.ike_info), M(netdoctor.ipsec.xfrm_info),
    M(netdoctor.ipsec.firewall_info), M(netdoctor.ipsec.log_info) and M(netdoctor.ipsec.capture) into the side record
    that P(netdoctor.ipsec.diagnose_pair#filter) compares with the other gateway's.
  - Each source records whether it was gathered (V(ok), V(partial), V(missing), V(error), V(skipped)) and why not,
    so that the diagnosis reports V(unknown) or V(skip) with the reason instead of guessing.
  - The record holds no secret, only the fingerprints the modules computed; it can be saved as JSON and diagnosed
    later, away from the gateways (a ticket).
options:
  _input:
    description:
      - The module results by name, C({ike_info, xfrm_info, xfrm_info_after, firewall_info, log_info, capture}); any may be
        missing. C(xfrm_info_after) is the kernel state read again after the probe.
    type: dict
    required: true
  host:
    description: The gateway's name (the inventory name).
    type: str
    required: true
  peer_address:
    description: The peer's outer address as this gateway knows it, when known from the inventory.
    type: str
  salt_id:
    description:
      - An identifier of the fingerprint salt of this run (never the salt itself), so that records gathered under
        different salts are not compared.
    type: str
seealso:
  - plugin: netdoctor.ipsec.diagnose_pair
    plugin_type: filter
author:
  - netdoctor.ipsec contributors (@netdoctor-ipsec)
"""

EXAMPLES = r"""
- name: Build this gateway's side record on the controller
  ansible.builtin.set_fact:
    side: >-
      {{ {'ike_info': ike, 'xfrm_info': xfrm, 'firewall_info': fw, 'log_info': logs, 'capture': cap}
         | netdoctor.ipsec.side_record(host=inventory_hostname, salt_id=run_salt_id) }}
  delegate_to: localhost
"""

RETURN = r"""
_value:
  description:
    - The side record (schema 1). Keys, always present - C(schema), C(host), C(managed), C(peer_address),
      C(fingerprint_salt_id), C(addresses), C(interfaces), C(sources) (per source C({status, reason})), C(ike)
      (C(daemon), C(version), C(running), C(listening), C(config_changed), C(connections) with their C(children),
      C(sas) with their C(children)), C(xfrm) and C(xfrm_after) (C(states), C(policies), C(stat)), C(firewall)
      (C(backend), C(both_loaded), C(active_backends), C(info) - the firewall_info result for the rule evaluator),
      C(sysctl), C(routes), C(logs), C(capture), C(probe), C(warnings).
  type: dict
"""

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _side


def side_record(value: t.Any, host: str, peer_address: str | None = None, salt_id: str | None = None) -> dict[str, t.Any]:
    if not isinstance(value, dict):
        raise AnsibleFilterError(f"netdoctor.ipsec.side_record: the input must be a dict of module results, got {type(value).__name__}")
    if not host:
        raise AnsibleFilterError("netdoctor.ipsec.side_record: host is required")
    return _side.build_side(str(host), value, peer_address=peer_address, salt_id=salt_id)


class FilterModule:
    def filters(self) -> dict[str, t.Callable]:
        return {"side_record": side_record}
