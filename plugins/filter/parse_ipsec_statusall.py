# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: parse_ipsec_statusall
short_description: Parse strongSwan C(ipsec statusall) output
version_added: 0.1.0
description:
  - Turns the text of strongSwan's C(ipsec statusall) or C(ipsec status) (legacy stroke interface) into
    the records of the M(netdoctor.ipsec.ike_info) module, for output
    pasted in a ticket, collected in a sos report or read with the C(raw) module.
  - This is a filter version of the M(netdoctor.ipsec.ike_info) module.
extends_documentation_fragment:
  - netdoctor.ipsec._ike_text_filter
"""

EXAMPLES = r"""
- name: Records from pasted output
  ansible.builtin.set_fact:
    parsed: "{{ lookup('file', 'ticket/statusall.txt') | netdoctor.ipsec.parse_ipsec_statusall }}"

- name: Show what was not understood
  ansible.builtin.debug:
    var: parsed.warnings
"""

RETURN = r"""
_value:
  description:
    - C(version), C(listening_addresses), C(connections) and C(sas) with the keys of
      RV(netdoctor.ipsec.ike_info#module:ike.connections) and RV(netdoctor.ipsec.ike_info#module:ike.sas).
    - C(warnings) (list of text) and C(unparsed) (lines not understood) are always present.
  type: dict
"""

import typing as t

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _stroke
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils._filter_module import require_text


def parse_ipsec_statusall(text: t.Any) -> dict[str, t.Any]:
    text = require_text(text, "parse_ipsec_statusall")
    return _stroke.parse_statusall(text)


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"parse_ipsec_statusall": parse_ipsec_statusall}
