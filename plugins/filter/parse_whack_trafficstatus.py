# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: parse_whack_trafficstatus
short_description: Parse libreswan C(ipsec whack --trafficstatus) output
version_added: 0.1.0
description:
  - Turns the text of libreswan's C(ipsec whack --trafficstatus) / C(ipsec trafficstatus) into the
    records of the M(netdoctor.ipsec.ike_info) module, for output
    pasted in a ticket, collected in a sos report or read with the C(raw) module.
  - This is a filter version of the M(netdoctor.ipsec.ike_info) module.
extends_documentation_fragment:
  - netdoctor.ipsec._ike_text_filter
"""

EXAMPLES = r"""
- name: Records from pasted output
  ansible.builtin.set_fact:
    parsed: "{{ lookup('file', 'ticket/trafficstatus.txt') | netdoctor.ipsec.parse_whack_trafficstatus }}"

- name: Show what was not understood
  ansible.builtin.debug:
    var: parsed.warnings
"""

RETURN = r"""
_value:
  description:
    - C(entries), one per child SA - C({serial, name, peer, type, add_time, bytes_in, bytes_out,
      max_bytes, id, username, lease}).
    - C(warnings) (list of text) and C(unparsed) (lines not understood) are always present.
  type: dict
"""

import typing as t

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _ike_record, _libreswan
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils._filter_module import require_text


def parse_whack_trafficstatus(text: t.Any) -> dict[str, t.Any]:
    text = require_text(text, "parse_whack_trafficstatus")
    entries, unparsed = _libreswan.parse_trafficstatus(text)
    return {"entries": entries, "unparsed": unparsed, "warnings": _ike_record.unparsed_warnings(unparsed)}


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"parse_whack_trafficstatus": parse_whack_trafficstatus}
