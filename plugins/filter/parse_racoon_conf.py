# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: parse_racoon_conf
short_description: Parse racoon.conf into connection records
version_added: 0.1.0
description:
  - Turns the text of a racoon.conf (C(remote), C(sainfo) and C(proposal) blocks, C(remote ... inherit))
    into the records of the M(netdoctor.ipsec.ike_info) module, for output
    pasted in a ticket, collected in a sos report or read with the C(raw) module.
  - This is a filter version of the M(netdoctor.ipsec.ike_info) module.
notes:
  - C(include) statements cannot be followed on the controller; they are reported in C(warnings).
extends_documentation_fragment:
  - netdoctor.ipsec._ike_text_filter
"""

EXAMPLES = r"""
- name: Records from pasted output
  ansible.builtin.set_fact:
    parsed: "{{ lookup('file', 'ticket/racoon.conf') | netdoctor.ipsec.parse_racoon_conf }}"

- name: Show what was not understood
  ansible.builtin.debug:
    var: parsed.warnings
"""

RETURN = r"""
_value:
  description:
    - C(connections) (one per C(remote), children = the C(sainfo) blocks that apply) with the keys of
      RV(netdoctor.ipsec.ike_info#module:ike.connections), C(paths) (C(pre_shared_key), C(certificate),
      C(include)).
    - C(warnings) (list of text) and C(unparsed) (lines not understood) are always present.
  type: dict
"""

import typing as t

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _racoon
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils._filter_module import require_text


def parse_racoon_conf(text: t.Any) -> dict[str, t.Any]:
    text = require_text(text, "parse_racoon_conf")
    return _racoon.parse_racoon_conf(text)


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"parse_racoon_conf": parse_racoon_conf}
