# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: diagnose_pair
short_description: The paired diagnosis of an IPsec tunnel from both gateways' side records
version_added: 0.1.0
description:
  - Walks the Linux IPsec debugging checklist on both ends of a tunnel at once, in packet-flow order - host
    prerequisites, IKE (firewall, reachability, version, proposals, secret, identities, NAT, SA, logs), phase 2
    (trigger, selectors, ESP parameters), the kernel (SA cross-match, ICV truncation, policies, routes), the data-path
    firewall (ESP, FORWARD, NAT exemption) and the traffic the captures and the probe saw - and returns one finding per
    checklist item with the evidence from both sides and the fix.
  - The root cause is the first failing finding that is a cause (a configuration or state that breaks the tunnel);
    failures that merely observe its effects (no answer, no SA, a lost probe) are linked to it as consequences.
    Only when no cause fails is the first failing symptom the root cause.
  - Runs on the controller, with no gateway at hand - on records built by P(netdoctor.ipsec.side_record#filter) in the
    same run, or saved as JSON earlier (for example attached to a ticket).
  - Without O(other), the peer is not managed (one-sided mode, O(peer_address) required); findings that need the
    peer's view are V(skip) with the reason, and the captures show what the peer proposes and answers.
options:
  _input:
    description:
      - Side A's record (P(netdoctor.ipsec.side_record#filter)), or its module results by name (then built here).
    type: dict
    required: true
  other:
    description: Side B's record or module results. Omit for one-sided mode.
    type: dict
  peer_address:
    description: The unmanaged peer's outer address (one-sided mode).
    type: str
  tunnel:
    description: A name for the tunnel in reports (for example the inventory group).
    type: str
  connection:
    description: The IKE connection to diagnose when a gateway has several toward the peer.
    type: str
  options:
    description:
      - What the role knows beyond the records - V(inner_a) and V(inner_b) (inside addresses of each side, used for
        the packets of the firewall checks), V(artifacts) (files written, C({esp_sa, ike_keys} -> {files, count})).
    type: dict
  generated:
    description: Timestamp to put in the result (the filter itself reads no clock).
    type: str
seealso:
  - plugin: netdoctor.ipsec.side_record
    plugin_type: filter
  - plugin: netdoctor.ipsec.diagnosis_report
    plugin_type: filter
author:
  - netdoctor.ipsec contributors (@netdoctor-ipsec)
"""

EXAMPLES = r"""
- name: Diagnose a tunnel from two saved side records (a ticket), no gateway needed
  ansible.builtin.debug:
    msg: "{{ (lookup('file', 'gw_a.json') | from_json) | netdoctor.ipsec.diagnose_pair(lookup('file', 'gw_b.json') | from_json) }}"

- name: The root cause only
  ansible.builtin.debug:
    msg: "{{ (side_a | netdoctor.ipsec.diagnose_pair(side_b)).root_cause }}"

- name: One-sided, the peer is a partner's appliance
  ansible.builtin.set_fact:
    diagnosis: "{{ side_a | netdoctor.ipsec.diagnose_pair(peer_address='203.0.113.50', tunnel='partner') }}"
"""

RETURN = r"""
_value:
  description: The diagnosis (schema V(netdoctor.ipsec/diagnosis), version 1; documented in docs/diagnosis-schema.md).
  type: dict
  contains:
    schema:
      description: V(netdoctor.ipsec/diagnosis).
      type: str
    schema_version:
      description: Version of this layout; a consumer must check it. Keys are only added within one version.
      type: int
      sample: 1
    generated:
      description: O(generated) as given.
      type: str
    tunnel:
      description: The tunnel's name.
      type: str
      sample: tunnel_a
    one_sided:
      description: True when the peer is not managed.
      type: bool
    status:
      description: The worst status of all findings (V(pass), V(warn), V(unknown) or V(fail)).
      type: str
      sample: fail
    root_cause:
      description: The root cause finding in short, C({id, title, side, host, summary, fix}), or null when nothing fails.
      type: dict
      sample: {id: P2.FW_ESP, side: b, host: gw_b, summary: "gw_b: ESP in from 198.51.100.1 is dropped by rule ...",
               fix: "on gw_b: remove it (`iptables-legacy -D INPUT -i wan0 -p esp -j DROP`) ..."}
    counts:
      description: Findings per status.
      type: dict
      sample: {pass: 20, warn: 1, fail: 3, skip: 3, unknown: 0}
    findings:
      description: One finding per checklist item, in packet-flow order.
      type: list
      elements: dict
      contains:
        id:
          description: Checklist id (V(HOST.KERNEL) ... V(ART.IKE_KEYS)).
          type: str
        title:
          description: What the item checks.
          type: str
        stage:
          description: V(host), V(ike), V(child), V(kernel), V(firewall), V(traffic) or V(artifact).
          type: str
        status:
          description: V(pass), V(warn), V(fail), V(skip) or V(unknown).
          type: str
        side:
          description: Where the problem is (or the fix applies), V(a), V(b) or V(both).
          type: str
        summary:
          description: One line.
          type: str
        evidence:
          description: What was seen, C({side, text}) with side V(a), V(b), V(both) or V(wire).
          type: list
          elements: dict
        fix:
          description: The concrete change (configuration line, rule, command), empty when nothing to fix.
          type: str
        reason:
          description: Why a V(skip) or V(unknown) finding could not be decided (tool missing, no permission, peer unmanaged, ...).
          type: str
        symptom:
          description: The failure observes an effect rather than a cause.
          type: bool
        root_cause:
          description: This finding is the root cause.
          type: bool
        consequence_of:
          description: The root cause's id when this failure is one of its consequences.
          type: str
        independent:
          description: A second failing cause, not explained by the root cause.
          type: bool
    sides:
      description:
        - Per side (V(a), V(b)) what the report shows side by side - C(host), C(managed), C(daemon),
          C(daemon_version), C(endpoint), C(peers), C(connection), C(ike_version), C(local_id), C(remote_id),
          C(ike_proposals), C(children), C(ike_sas), C(states), C(policies), C(sources), C(warnings).
      type: dict
    selection:
      description: How the tunnel's connection was found on each side.
      type: list
      elements: str
"""

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _diagnosis, _side

MODULE_KEYS = set(_side.MODULE_SOURCES) | {"xfrm_info_after"}


def _record(value: t.Any, which: str) -> dict[str, t.Any]:
    if not isinstance(value, dict):
        raise AnsibleFilterError(f"netdoctor.ipsec.diagnose_pair: side {which} must be a side record or module results, got {type(value).__name__}")
    if set(value) & MODULE_KEYS and "ike" not in value:
        host = value.get("host") or f"gw_{which.lower()}"
        return _side.build_side(str(host), value, peer_address=value.get("peer_address"))
    return value


def diagnose_pair(value: t.Any, other: t.Any = None, peer_address: str | None = None, tunnel: str | None = None,
                  connection: str | None = None, options: dict | None = None, generated: str | None = None) -> dict[str, t.Any]:
    side_a = _record(value, "A")
    side_b = _record(other, "B") if other is not None else None
    try:
        return _diagnosis.diagnose(side_a, side_b, tunnel_name=tunnel, connection=connection, peer_address=peer_address,
                                   options=options, generated=generated)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"netdoctor.ipsec.diagnose_pair: {exc}") from exc


class FilterModule:
    def filters(self) -> dict[str, t.Callable]:
        return {"diagnose_pair": diagnose_pair}
