# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: compare_selectors
short_description: Do two gateways' phase 2 traffic selectors mirror each other?
version_added: 0.1.0
description:
  - Checks that A's local selectors are what B expects behind A (B's remote selectors) and the other way round, and
    explains each direction as V(equal), V(a_within_b) (A's selectors are narrower), V(b_within_a), V(overlap)
    (partial) or V(disjoint).
  - An IKEv2 responder may narrow a proposal to its own selectors (RFC 7296 2.9), so anything but V(disjoint) can
    negotiate there, with only the intersection protected; IKEv1 (and libreswan without narrowing) needs an exact
    mirror. RV(_value.compatible) takes O(narrowing) into account.
  - Selectors are text as the daemons print them (V(10.1.0.0/24), V(10.1.0.0/24[tcp/80]), V(10.1.0.1..10.1.0.9),
    V(dynamic)) or dicts C({net, proto, port}).
  - This is the comparison behind the P2.SELECTORS finding of P(netdoctor.ipsec.diagnose_pair#filter).
options:
  _input:
    description: Side A's child configuration C({local_ts, remote_ts}) (for example from M(netdoctor.ipsec.ike_info)).
    type: dict
    required: true
  other:
    description: Side B's child configuration C({local_ts, remote_ts}).
    type: dict
    required: true
  a_address:
    description: Side A's outer address (what V(dynamic) stands for on A).
    type: str
  b_address:
    description: Side B's outer address.
    type: str
  narrowing:
    description: Whether IKEv2 narrowing is available (false for IKEv1).
    type: bool
    default: true
seealso:
  - plugin: netdoctor.ipsec.diagnose_pair
    plugin_type: filter
author:
  - netdoctor.ipsec contributors (@netdoctor-ipsec)
"""

EXAMPLES = r"""
- name: Are the selectors mirrored?
  ansible.builtin.debug:
    msg: >-
      {{ {'local_ts': ['10.1.0.0/24'], 'remote_ts': ['10.2.0.0/24']}
         | netdoctor.ipsec.compare_selectors({'local_ts': ['10.2.0.0/24'], 'remote_ts': ['10.9.0.0/24']}) }}
  # -> mirror: false, compatible: false; a_to_b: disjoint ("A's local 10.1.0.0/24 and B's remote 10.9.0.0/24 do not overlap")
"""

RETURN = r"""
_value:
  description: The comparison.
  type: dict
  contains:
    mirror:
      description: Both directions are equal.
      type: bool
    compatible:
      description: The selectors can be negotiated (no direction disjoint, and narrowing available where needed).
      type: bool
    directions:
      description:
        - Two entries. V(a_to_b) compares A's C(local_ts) with B's C(remote_ts) (the subnets behind A), V(b_to_a) A's
          C(remote_ts) with B's C(local_ts).
        - Each is C({name, a_field, b_field, a, b, relation, explanation}).
      type: list
      elements: dict
      sample: [{name: a_to_b, a_field: local_ts, b_field: remote_ts, a: [10.1.0.0/24], b: [10.9.0.0/24], relation: disjoint}]
    unparsed:
      description: Selectors that could not be read.
      type: list
      elements: str
    explanation:
      description: Both directions in words.
      type: str
"""

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _compare_selectors


def _selectors(value: t.Any, which: str) -> tuple[list, list]:
    if not isinstance(value, dict):
        raise AnsibleFilterError(f"netdoctor.ipsec.compare_selectors: side {which} must be a dict with local_ts and remote_ts")

    def as_list(item: t.Any) -> list:
        return item if isinstance(item, list) else [item] if item else []

    return as_list(value.get("local_ts")), as_list(value.get("remote_ts"))


def compare_selectors(value: t.Any, other: t.Any, a_address: str | None = None, b_address: str | None = None,
                      narrowing: bool = True) -> dict[str, t.Any]:
    a_local, a_remote = _selectors(value, "A")
    b_local, b_remote = _selectors(other, "B")
    return _compare_selectors.compare_selectors(a_local, a_remote, b_local, b_remote, a_address, b_address, narrowing)


class FilterModule:
    def filters(self) -> dict[str, t.Callable]:
        return {"compare_selectors": compare_selectors}
