# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: parse_racoonctl_show_sa
short_description: Parse C(racoonctl show-sa) output
version_added: 0.1.0
description:
  - Turns the text of C(racoonctl [-l|-ll] show-sa isakmp) (phase 1) or C(racoonctl show-sa
    esp|ah|ipsec) (phase 2, the PF_KEY dump layout) into the records of the M(netdoctor.ipsec.ike_info)
    module, for output
    pasted in a ticket, collected in a sos report or read with the C(raw) module.
  - This is a filter version of the M(netdoctor.ipsec.ike_info) module.
notes:
  - The phase 1 state (C(ST)) and the initiator flag need C(-l) or C(-ll).
extends_documentation_fragment:
  - netdoctor.ipsec._ike_text_filter
  - netdoctor.ipsec._ike_text_filter.PFKEY_DUMP
"""

EXAMPLES = r"""
- name: Records from pasted output
  ansible.builtin.set_fact:
    parsed: "{{ lookup('file', 'ticket/show-sa-isakmp.txt') | netdoctor.ipsec.parse_racoonctl_show_sa }}"

- name: Show what was not understood
  ansible.builtin.debug:
    var: parsed.warnings
"""

RETURN = r"""
_value:
  description:
    - C(sas) with the keys of RV(netdoctor.ipsec.ike_info#module:ike.sas) (phase 1 from C(isakmp), child
      SAs from C(esp)); for C(esp) also C(states), the PF_KEY entries as with
      P(netdoctor.ipsec.parse_setkey#filter).
    - C(warnings) (list of text) and C(unparsed) (lines not understood) are always present.
  type: dict
"""

import typing as t

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _fingerprint, _ike_record, _racoon, _setkey
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils._filter_module import require_address_list, require_choice, require_text


def parse_racoonctl_show_sa(
    text: t.Any, fingerprint_salt: str | None = None, platform: str = "linux", local_addresses: list[str] | None = None
) -> dict[str, t.Any]:
    text = require_text(text, "parse_racoonctl_show_sa")
    require_choice(platform, ("linux", "bsd"), "parse_racoonctl_show_sa", "platform")
    require_address_list(local_addresses, "parse_racoonctl_show_sa")
    if "Cookies" in text or not text.strip():
        sas, unparsed = _racoon.parse_show_sa_isakmp(text)
        return {"sas": sas, "unparsed": unparsed, "warnings": _ike_record.unparsed_warnings(unparsed)}
    states, warnings, unparsed = _setkey.parse_sad(text, fingerprint_salt or _fingerprint.random_salt(), platform)
    sas = _racoon.attach_children([], _setkey.child_sas(states, local_addresses or []))
    return {"sas": sas, "states": states, "unparsed": unparsed, "warnings": warnings}


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"parse_racoonctl_show_sa": parse_racoonctl_show_sa}
