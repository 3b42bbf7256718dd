# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: parse_xfrm_state
short_description: Parse C(ip xfrm state) output into xfrm state records
version_added: 0.1.0
description:
  - Turns the text of C(ip xfrm state) (with or without C(-s), C(-s -s) or C(-o)) into the same
    state records as the M(netdoctor.ipsec.xfrm_info) module returns in RV(netdoctor.ipsec.xfrm_info#module:xfrm.states),
    for output pasted in a ticket, collected in a sos report or read with the C(raw) module.
  - This is a filter version of the M(netdoctor.ipsec.xfrm_info) module.
  - Keys are replaced by fingerprints unless O(include_keys=true). Lines the parser does not know are
    kept in each record's C(unparsed) (keys redacted) and reported as warnings.
options:
  _input:
    description: The text printed by C(ip xfrm state).
    type: string
    required: true
  fingerprint_salt:
    description:
      - Salt of the key fingerprints (HMAC-SHA-256). Use the same salt for both gateways' texts to
        compare their keys. A random salt is drawn when omitted.
    type: string
  include_keys:
    description: Keep the raw keys in each record's C(raw_keys) (needed by P(netdoctor.ipsec.to_esp_sa#filter)).
    type: bool
    default: false
  local_addresses:
    description: Addresses of the gateway the text comes from, to tell inbound from outbound SAs.
    type: list
    elements: string
    default: []
seealso:
  - module: netdoctor.ipsec.xfrm_info
  - plugin: netdoctor.ipsec.to_esp_sa
    plugin_type: filter
author:
  - netdoctor.ipsec contributors (@netdoctor-ipsec)
"""

EXAMPLES = r"""
- name: SAs from a pasted ip xfrm state
  ansible.builtin.set_fact:
    states: "{{ lookup('file', 'ticket-1234/xfrm-state.txt') | netdoctor.ipsec.parse_xfrm_state(local_addresses=['192.0.2.1']) }}"

- name: Wireshark esp_sa lines from the same text
  ansible.builtin.copy:
    dest: esp_sa
    mode: "0600"
    content: "{{ lookup('file', 'ticket-1234/xfrm-state.txt') | netdoctor.ipsec.parse_xfrm_state(include_keys=true) | netdoctor.ipsec.to_esp_sa }}"
"""

RETURN = r"""
_value:
  description:
    - The state records, in the order of the text; the keys are those of
      RV(netdoctor.ipsec.xfrm_info#module:xfrm.states).
    - Times printed by C(ip) are read in the controller's local time zone.
  type: list
  elements: dict
"""

import typing as t

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _fingerprint, _xfrm_record, _xfrm_text
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils._filter_module import FilterModuleMock, require_address_list, require_text


def parse_xfrm_state(
    text: t.Any,
    fingerprint_salt: str | None = None,
    include_keys: bool = False,
    local_addresses: list[str] | None = None,
) -> list[dict[str, t.Any]]:
    text = require_text(text, "parse_xfrm_state")
    require_address_list(local_addresses, "parse_xfrm_state")
    module = FilterModuleMock()
    options = _xfrm_record.RecordOptions(
        fingerprint_salt or _fingerprint.random_salt(), include_keys=bool(include_keys), local_addresses=local_addresses
    )
    states, _orphans = _xfrm_text.state_records(text, options, module.warn)
    return states


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"parse_xfrm_state": parse_xfrm_state}
