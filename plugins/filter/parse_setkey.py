# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: parse_setkey
short_description: Parse C(setkey -D) or C(setkey -DP) output
version_added: 0.1.0
description:
  - Turns the text of C(setkey -D) (security associations) or C(setkey -DP) (policies), Linux or BSD
    into the records of the M(netdoctor.ipsec.ike_info) module, for output
    pasted in a ticket, collected in a sos report or read with the C(raw) module.
  - This is a filter version of the M(netdoctor.ipsec.ike_info) module.
notes:
  - Keys in the dump are replaced by salted fingerprints; they are never returned.
extends_documentation_fragment:
  - netdoctor.ipsec._ike_text_filter
  - netdoctor.ipsec._ike_text_filter.PFKEY_DUMP
"""

EXAMPLES = r"""
- name: Records from pasted output
  ansible.builtin.set_fact:
    parsed: "{{ lookup('file', 'ticket/setkey-D.txt') | netdoctor.ipsec.parse_setkey(fingerprint_salt=salt) }}"

- name: Show what was not understood
  ansible.builtin.debug:
    var: parsed.warnings
"""

RETURN = r"""
_value:
  description:
    - C(states) (SAD - C({src, dst, proto, mode, spi, reqid, encryption, integrity, key_fingerprints,
      state, seq, replay, lifetime, current, encap})) and C(children) (paired in/out child SA records,
      given O(local_addresses)), or C(policies) (SPD - C({src, dst, src_port, dst_port, upper_proto, dir,
      action, priority, templates, spid})).
    - C(warnings) (list of text) and C(unparsed) (lines not understood) are always present.
  type: dict
"""

import typing as t

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _fingerprint, _setkey
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils._filter_module import require_address_list, require_choice, require_text


def _looks_like_spd(text: str) -> bool:
    for line in text.splitlines():
        if line.strip() and not line.startswith((" ", "\t")):
            return "[" in line
    return False


def parse_setkey(
    text: t.Any, fingerprint_salt: str | None = None, platform: str = "linux", local_addresses: list[str] | None = None
) -> dict[str, t.Any]:
    text = require_text(text, "parse_setkey")
    require_choice(platform, ("linux", "bsd"), "parse_setkey", "platform")
    require_address_list(local_addresses, "parse_setkey")
    if _looks_like_spd(text):
        policies, warnings, unparsed = _setkey.parse_spd(text)
        return {"policies": policies, "states": [], "warnings": warnings, "unparsed": unparsed}
    states, warnings, unparsed = _setkey.parse_sad(text, fingerprint_salt or _fingerprint.random_salt(), platform)
    return {"states": states, "policies": [], "children": _setkey.child_sas(states, local_addresses or []),
            "warnings": warnings, "unparsed": unparsed}


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"parse_setkey": parse_setkey}
