# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: compare_proposals
short_description: Do two gateways' IKE or ESP proposals intersect, and which transform of which side fails?
version_added: 0.1.0
description:
  - Compares two lists of proposals, as M(netdoctor.ipsec.ike_info) reports them (configured) or as
    M(netdoctor.ipsec.capture) decodes them from IKE_SA_INIT / Main Mode (observed on the wire), each a dict of lists of
    alternatives per transform type (C(encryption), C(integrity), C(prf), C(dh), C(esn)) in the canonical names of the
    collection (V(AES_GCM_16_256), V(HMAC_SHA2_256_128), V(MODP_2048), ...).
  - Two proposals match when every transform type has a common alternative (RFC 7296 negotiation). When none match,
    the result names the closest pair of proposals, the transform types that fail there with both sides'
    alternatives, and the odd side out (the side holding on to the weaker transform, or both).
  - HMAC-SHA-256 truncated to 96 bits negotiates like the 128-bit one (same transform id); the difference is
    reported in RV(_value.notes).
  - This is the comparison behind the P1.PROPOSALS and P2.CRYPTO findings of P(netdoctor.ipsec.diagnose_pair#filter).
options:
  _input:
    description: Side A's proposals (a list of proposal dicts; a single dict is taken as a list of one).
    type: raw
    required: true
  other:
    description: Side B's proposals.
    type: raw
    required: true
  kind:
    description: V(ike) or V(esp). In ESP proposals a missing DH group means "no PFS", which does not match a proposal
      that demands one.
    type: str
    choices: [ike, esp]
    default: ike
seealso:
  - plugin: netdoctor.ipsec.diagnose_pair
    plugin_type: filter
  - module: netdoctor.ipsec.ike_info
  - module: netdoctor.ipsec.capture
author:
  - netdoctor.ipsec contributors (@netdoctor-ipsec)
"""

EXAMPLES = r"""
- name: Which transform breaks the IKE negotiation?
  ansible.builtin.debug:
    msg: >-
      {{ [{'encryption': ['AES_CBC_256'], 'integrity': ['HMAC_SHA2_256_128'], 'dh': ['MODP_2048']}]
         | netdoctor.ipsec.compare_proposals([{'encryption': ['AES_CBC_256'], 'integrity': ['HMAC_SHA2_256_128'],
                                               'dh': ['MODP_1024']}]) }}
  # -> match: false, mismatch.types: [{type: dh, a: [MODP_2048], b: [MODP_1024], odd_side: b}]

- name: Configured ESP proposals of both gateways
  ansible.builtin.set_fact:
    esp_check: "{{ a_child.esp_proposals | netdoctor.ipsec.compare_proposals(b_child.esp_proposals, kind='esp') }}"
"""

RETURN = r"""
_value:
  description: The comparison.
  type: dict
  contains:
    kind:
      description: V(ike) or V(esp).
      type: str
    match:
      description: Whether any pair of proposals matches.
      type: bool
    chosen:
      description: The first matching pair in A's order, C({a_index, b_index, transforms}), or null.
      type: dict
      sample: {a_index: 0, b_index: 0, transforms: {encryption: AES_CBC_256, integrity: HMAC_SHA2_256_128, dh: MODP_2048}}
    mismatch:
      description:
        - When nothing matches, the closest pair C({a_index, b_index, types, odd_side, odd_reason}); C(types) lists each
          failing transform type as C({type, a, b, odd_side}). Null when a pair matches or a side has no proposals.
      type: dict
      sample: {a_index: 0, b_index: 0, odd_side: b, odd_reason: "dh: MODP_1024 is weaker than MODP_2048",
               types: [{type: dh, a: [MODP_2048], b: [MODP_1024], odd_side: b}]}
    a:
      description: Side A's proposals as text.
      type: list
      elements: str
    b:
      description: Side B's proposals as text.
      type: list
      elements: str
    notes:
      description: Differences that negotiate but matter elsewhere (HMAC-SHA-256 96/128).
      type: list
      elements: str
    explanation:
      description: One sentence for a report.
      type: str
"""

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _compare_proposals


def _proposals(value: t.Any, which: str) -> list[dict]:
    if isinstance(value, dict):
        value = [value]
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise AnsibleFilterError(f"netdoctor.ipsec.compare_proposals: side {which} must be a list of proposal dicts, got {value!r}")
    return value


def compare_proposals(value: t.Any, other: t.Any, kind: str = "ike") -> dict[str, t.Any]:
    if kind not in _compare_proposals.KINDS:
        raise AnsibleFilterError(f"netdoctor.ipsec.compare_proposals: kind must be ike or esp, got {kind!r}")
    return _compare_proposals.compare_proposals(_proposals(value, "A"), _proposals(other, "B"), kind)


class FilterModule:
    def filters(self) -> dict[str, t.Callable]:
        return {"compare_proposals": compare_proposals}
