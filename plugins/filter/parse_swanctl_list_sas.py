# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: parse_swanctl_list_sas
short_description: Parse C(swanctl --list-sas) output into IKE SA records
version_added: 0.1.0
description:
  - Turns the text of C(swanctl --list-sas) (the default layout or C(--raw)) into the records of the
    M(netdoctor.ipsec.ike_info) module, for output
    pasted in a ticket, collected in a sos report or read with the C(raw) module.
  - This is a filter version of the M(netdoctor.ipsec.ike_info) module.
extends_documentation_fragment:
  - netdoctor.ipsec._ike_text_filter
"""

EXAMPLES = r"""
- name: Records from pasted output
  ansible.builtin.set_fact:
    parsed: "{{ lookup('file', 'ticket/list-sas.txt') | netdoctor.ipsec.parse_swanctl_list_sas }}"

- name: Show what was not understood
  ansible.builtin.debug:
    var: parsed.warnings
"""

RETURN = r"""
_value:
  description:
    - The IKE SAs with their child SAs, same keys as RV(netdoctor.ipsec.ike_info#module:ike.sas).
    - C(warnings) (list of text) and C(unparsed) (lines not understood) are always present.
  type: dict
"""

import typing as t

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _strongswan
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils._filter_module import require_text


def parse_swanctl_list_sas(text: t.Any) -> dict[str, t.Any]:
    text = require_text(text, "parse_swanctl_list_sas")
    return _strongswan.parse_list_sas_output(text)


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"parse_swanctl_list_sas": parse_swanctl_list_sas}
