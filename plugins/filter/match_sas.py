# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: match_sas
short_description: Is each gateway's outbound IPsec SA the other gateway's inbound SA?
version_added: 0.1.0
description:
  - Pairs A's outbound kernel SAs with B's inbound SAs by SPI, and B's outbound with A's inbound, and compares what
    must be equal for the receiver to accept the packets, the algorithms (encryption, integrity, ICV length), the keys
    (as salted fingerprints; gather both sides with the same O(netdoctor.ipsec.xfrm_info#module:fingerprint_salt)),
    the UDP encapsulation and extended sequence numbers.
  - An outbound SA without its inbound twin makes the receiver drop every packet (C(XfrmInNoStates)); a key or ICV
    length difference shows as C(XfrmInStateProtoError), an encapsulation difference as C(XfrmInStateMismatch).
  - This is the comparison behind the P2.SA_MATCH finding of P(netdoctor.ipsec.diagnose_pair#filter).
options:
  _input:
    description: Side A's M(netdoctor.ipsec.xfrm_info) result, its C(xfrm) key, or its list of states.
    type: raw
    required: true
  other:
    description: Side B's result, C(xfrm) or states.
    type: raw
    required: true
  a_addresses:
    description:
      - Side A's own addresses, to tell the direction of SAs whose
        RV(netdoctor.ipsec.xfrm_info#module:xfrm.states[].direction) is unknown (taken from the result's
        C(local_addresses) when the whole result is given).
    type: list
    elements: str
  b_addresses:
    description: Side B's own addresses.
    type: list
    elements: str
seealso:
  - module: netdoctor.ipsec.xfrm_info
  - plugin: netdoctor.ipsec.diagnose_pair
    plugin_type: filter
author:
  - netdoctor.ipsec contributors (@netdoctor-ipsec)
"""

EXAMPLES = r"""
- name: Read both gateways' SAs under one salt
  netdoctor.ipsec.xfrm_info:
    fingerprint_salt: "{{ run_salt }}"
  register: xfrm

- name: Compare A's outbound with B's inbound SAs
  ansible.builtin.debug:
    msg: "{{ hostvars['gw_a'].xfrm | netdoctor.ipsec.match_sas(hostvars['gw_b'].xfrm) }}"
  run_once: true
"""

RETURN = r"""
_value:
  description: The pairing.
  type: dict
  contains:
    ok:
      description: Both directions have a consistent pair.
      type: bool
    pairs:
      description:
        - One per outbound SA whose twin exists, C({direction, spi, sender, receiver, mismatches, ok}).
        - C(direction) is V(a->b) or V(b->a); C(sender)/C(receiver) summarise each SA (spi, src, dst, proto, mode,
          encryption, integrity, icv_bits, key_fingerprints, encap, encap_ports, esn, packets); C(mismatches) lists
          C({field, sender, receiver}) (fields proto, mode, encryption, integrity, icv_bits, encap, esn, key:<kind>).
      type: list
      elements: dict
    orphans:
      description: Outbound SAs the receiver does not have, and inbound SAs nobody sends with, C({side, direction, spi, explanation}).
      type: list
      elements: dict
    directions:
      description: Per direction (V(a->b), V(b->a)) C({pairs, ok}).
      type: dict
"""

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _match_sas, _side


def _states(value: t.Any, which: str) -> tuple[list[dict], list[str]]:
    addresses: list[str] = []
    if isinstance(value, dict):
        addresses = list(value.get("local_addresses") or [])
        value = value.get("xfrm", value)
        if isinstance(value, dict):
            value = value.get("states", [])
    if not isinstance(value, list):
        raise AnsibleFilterError(f"netdoctor.ipsec.match_sas: side {which} must be an xfrm_info result or a list of states")
    normalised = _side.normalise_side({"xfrm": {"states": value}})["xfrm"]["states"]
    return normalised, addresses


def match_sas(value: t.Any, other: t.Any, a_addresses: list | None = None, b_addresses: list | None = None) -> dict[str, t.Any]:
    a_states, a_own = _states(value, "A")
    b_states, b_own = _states(other, "B")
    return _match_sas.match_sas(a_states, b_states, a_addresses or a_own, b_addresses or b_own)


class FilterModule:
    def filters(self) -> dict[str, t.Callable]:
        return {"match_sas": match_sas}
