# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: compare_ike_versions
short_description: Do two IPsec gateways speak the same IKE version?
version_added: 0.1.0
description:
  - Compares the IKE version configured on two gateways (1, 2, or 0 for either) and, optionally, the versions each
    side was seen sending on the wire, and says whether they can negotiate, which version they will use and, when
    they cannot, which side to change (the IKEv1 side, unless the other runs a daemon that speaks IKEv1 only, such
    as racoon).
  - This is the comparison behind the P1.IKE_VERSION finding of P(netdoctor.ipsec.diagnose_pair#filter).
options:
  _input:
    description: Side A's IKE version (V(1), V(2), or V(0) for either), or a connection of M(netdoctor.ipsec.ike_info).
    type: raw
    required: true
  other:
    description: Side B's IKE version, or its connection.
    type: raw
    required: true
  a_daemon:
    description: Side A's IKE daemon (V(strongswan), V(libreswan), V(racoon)).
    type: str
  b_daemon:
    description: Side B's IKE daemon.
    type: str
  wire:
    description: "Versions seen on the wire, C({a: [1], b: [2]}) (major versions of the messages each side sent)."
    type: dict
seealso:
  - plugin: netdoctor.ipsec.diagnose_pair
    plugin_type: filter
author:
  - netdoctor.ipsec contributors (@netdoctor-ipsec)
"""

EXAMPLES = r"""
- name: Compare the versions of two connections
  ansible.builtin.debug:
    msg: "{{ 2 | netdoctor.ipsec.compare_ike_versions(1, a_daemon='strongswan', b_daemon='libreswan') }}"
  # -> compatible: false, odd_side: b, explanation: "side A is IKEv2, side B is IKEv1: side B is on the legacy IKEv1; ..."
"""

RETURN = r"""
_value:
  description: The comparison.
  type: dict
  contains:
    a:
      description: Side A's version in words.
      type: str
      sample: IKEv2
    b:
      description: Side B's version in words.
      type: str
      sample: IKEv1
    compatible:
      description: Whether the two can negotiate a common version.
      type: bool
      sample: false
    negotiated:
      description: The version they will use (2 when both allow it), null when incompatible.
      type: int
      sample: null
    odd_side:
      description: The side to change when incompatible (V(a) or V(b)), else null.
      type: str
      sample: b
    explanation:
      description: One sentence for a report.
      type: str
    wire_notes:
      description: Contradictions between the configuration and what each side sent.
      type: list
      elements: str
"""

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _compare_versions


def _version(value: t.Any, which: str) -> int | None:
    if isinstance(value, dict):
        value = value.get("ike_version")
    if value in (None, "", "any"):
        return 0
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"netdoctor.ipsec.compare_ike_versions: side {which} version must be 0, 1 or 2, got {value!r}") from exc


def compare_ike_versions(value: t.Any, other: t.Any, a_daemon: str | None = None, b_daemon: str | None = None,
                         wire: dict | None = None) -> dict[str, t.Any]:
    return _compare_versions.compare_ike_versions(_version(value, "A"), _version(other, "B"), a_daemon, b_daemon, wire)


class FilterModule:
    def filters(self) -> dict[str, t.Callable]:
        return {"compare_ike_versions": compare_ike_versions}
