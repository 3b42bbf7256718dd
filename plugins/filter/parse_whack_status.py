# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: parse_whack_status
short_description: Parse libreswan C(ipsec whack --status) output
version_added: 0.1.0
description:
  - Turns the text of libreswan's C(ipsec whack --status) / C(ipsec status) (4.x with C(000) codes, or
    5.x) into the records of the M(netdoctor.ipsec.ike_info) module, for output
    pasted in a ticket, collected in a sos report or read with the C(raw) module.
  - This is a filter version of the M(netdoctor.ipsec.ike_info) module.
notes:
  - whack does not print IKE SPIs; C(spi_i)/C(spi_r) are V(null).
extends_documentation_fragment:
  - netdoctor.ipsec._ike_text_filter
"""

EXAMPLES = r"""
- name: Records from pasted output
  ansible.builtin.set_fact:
    parsed: "{{ lookup('file', 'ticket/ipsec-status.txt') | netdoctor.ipsec.parse_whack_status }}"

- name: Show what was not understood
  ansible.builtin.debug:
    var: parsed.warnings
"""

RETURN = r"""
_value:
  description:
    - C(version), C(interfaces) (C({interface, address, port, nat})), C(setup), C(connections) and C(sas)
      with the keys of RV(netdoctor.ipsec.ike_info#module:ike.connections) and
      RV(netdoctor.ipsec.ike_info#module:ike.sas).
    - C(warnings) (list of text) and C(unparsed) (lines not understood) are always present.
  type: dict
"""

import typing as t

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _libreswan
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils._filter_module import require_text


def parse_whack_status(text: t.Any) -> dict[str, t.Any]:
    text = require_text(text, "parse_whack_status")
    return _libreswan.parse_whack_status(text)


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"parse_whack_status": parse_whack_status}
