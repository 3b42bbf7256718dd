# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: pair_captures
short_description: Merge the captures of a tunnel's two gateways into one timeline with per-flow verdicts
version_added: 0.1.0
description:
  - Takes the results of the M(netdoctor.ipsec.capture) module on both gateways of a tunnel (or just
    their RV(netdoctor.ipsec.capture#module:summary)) and matches every packet one gateway sent with
    its arrival in the other gateway's capture (IKE by message digest, which survives NAT; ESP by SPI
    and sequence number; clear text and ICMP errors by their headers).
  - Says per flow (IKE requests and responses each way, ESP per SPI each way, clear text) how many
    packets were sent, received, lost inside the other side's window, and whether the other side
    answered; estimates the clock offset between the gateways from the one-way delays (both
    directions, as NTP does); and measures how far apart the two captures began, from ESP streams
    seen on both sides.
  - With only one capture (the peer is not ours) it reports what this side sent and received, and
    whether its IKE requests were answered.
options:
  _input:
    description: The capture result (or summary) of gateway A.
    type: dict
    required: true
  other:
    description: The capture result (or summary) of gateway B; omit for one-sided mode.
    type: dict
  names:
    description: Labels of the two sides in the result.
    type: list
    elements: string
    default: [a, b]
  max_timeline:
    description: At most this many timeline rows.
    type: int
    default: 500
seealso:
  - module: netdoctor.ipsec.capture
author:
  - netdoctor.ipsec contributors (@netdoctor-ipsec)
"""

EXAMPLES = r"""
- name: One story from both gateways' captures
  ansible.builtin.set_fact:
    paired: >-
      {{ hostvars['gw_a'].capture | netdoctor.ipsec.pair_captures(hostvars['gw_b'].capture, names=['gw_a', 'gw_b']) }}

- name: Did gw_a's IKE reach gw_b, and did gw_b answer?
  ansible.builtin.debug:
    msg: "{{ paired.ike | selectattr('from', 'equalto', 'gw_a') | map(attribute='verdict') | list }}"

- name: One-sided (the peer is a cloud VPN)
  ansible.builtin.set_fact:
    seen: "{{ capture | netdoctor.ipsec.pair_captures }}"
"""

RETURN = r"""
_value:
  description: The merged view.
  type: dict
  contains:
    mode:
      description: V(paired) or V(one_sided).
      type: str
    sides:
      description: Per side label, its capture window C({start, end}), packet counters and event counts.
      type: dict
    clock_offset:
      description:
        - Clock of B minus clock of A in seconds (C(seconds)), with C(method) V(two_way) (packets both
          ways; C(uncertainty) is half the smallest round trip), V(one_way) (includes the one-way delay)
          or V(none); C(samples) matched packets; C(min_delay_ab) the smallest one-way delay estimate.
        - V(null) in one-sided mode.
      type: dict
    start_skew:
      description:
        - How far apart the two captures began. C(packets) is measured from ESP streams seen on both
          sides ({ms (positive when B began later), basis, samples, max_abs_ms}); C(declared_ms) is the
          difference of the two windows' starts in their own clocks, C(corrected_ms) the same after
          removing the clock offset.
        - V(null) in one-sided mode.
      type: dict
    flows:
      description:
        - "Paired mode: per direction and flow: {kind (ike, esp, clear, icmp), from, to, spi (ESP),
          message (IKE: request or response), sent, received, lost (sent while the receiver was capturing
          but never seen there), not_watched (sent outside the receiver's window, or after the end of its
          capped event list), first_sent, last_sent, verdict (delivered - everything the receiver watched
          arrived, sent_not_received, partly_lost, not_watched, none_sent)}."
        - Traffic on inner interfaces (clear text bucket C(inner)) is not paired between the gateways.
        - "One-sided mode: {kind, side, direction (sent or received), spi, message, packets, first, last}."
      type: list
      elements: dict
    ike:
      description:
        - "Paired mode: IKE each way: {from, to, requests_sent, requests_received, requests_lost,
          responses_sent, responses_received, answered, verdict (answered, requests_lost,
          received_not_answered, answer_lost, no_requests)}."
        - "One-sided mode: {requests, answered} counted over the side's IKE requests."
      type: raw
    esp:
      description: "Paired mode: ESP per SPI each way: {spi, from, to, sent, received, lost, not_watched, answered (ESP flows the other way), verdict}."
      type: list
      elements: dict
    ike_sas:
      description: One-sided mode only, the side's IKE SAs as in RV(netdoctor.ipsec.capture#module:summary.ike.sas).
      type: list
      elements: dict
    timeline:
      description:
        - "Paired mode: every packet sent by either side in A's clock: {t, kind, id, from, to, src, dst, sent_at
          (sender's clock), seen_at (receiver's clock or null), delivered, delay_ms, and exchange, response,
          message_id (IKE) or bucket (clear text)}."
        - "One-sided mode: the side's events {t, kind, id, direction, src, dst}."
      type: list
      elements: dict
    unmatched_inbound:
      description: Paired mode, per side, inbound packets that the other side never showed leaving.
      type: dict
"""

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _pair_captures


def pair_captures(
    capture: t.Any, other: t.Any = None, names: list[str] | None = None, max_timeline: int = 500
) -> dict[str, t.Any]:
    labels = list(names or ["a", "b"])
    if len(labels) != 2 or not all(isinstance(label, str) and label for label in labels):
        raise AnsibleFilterError("netdoctor.ipsec.pair_captures: names must be two non-empty labels")
    try:
        return _pair_captures.pair_captures(capture, other, (labels[0], labels[1]), int(max_timeline))
    except (ValueError, TypeError, KeyError) as exc:
        raise AnsibleFilterError(f"netdoctor.ipsec.pair_captures: {exc}") from exc


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"pair_captures": pair_captures}
