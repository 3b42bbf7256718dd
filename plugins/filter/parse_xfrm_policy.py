# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: parse_xfrm_policy
short_description: Parse C(ip xfrm policy) output into xfrm policy records
version_added: 0.1.0
description:
  - Turns the text of C(ip xfrm policy) (with or without C(-s), C(-s -s) or C(-o)) into the same
    policy records as the M(netdoctor.ipsec.xfrm_info) module returns in
    RV(netdoctor.ipsec.xfrm_info#module:xfrm.policies), including per-socket policies and policies
    with several templates.
  - This is a filter version of the M(netdoctor.ipsec.xfrm_info) module.
  - Lines the parser does not know are kept in each record's C(unparsed) and reported as warnings.
options:
  _input:
    description: The text printed by C(ip xfrm policy).
    type: string
    required: true
seealso:
  - module: netdoctor.ipsec.xfrm_info
author:
  - netdoctor.ipsec contributors (@netdoctor-ipsec)
"""

EXAMPLES = r"""
- name: Outbound policies from a pasted ip xfrm policy
  ansible.builtin.debug:
    msg: "{{ lookup('file', 'ticket-1234/xfrm-policy.txt') | netdoctor.ipsec.parse_xfrm_policy | selectattr('dir', 'eq', 'out') }}"
"""

RETURN = r"""
_value:
  description:
    - The policy records, in the order of the text; the keys are those of
      RV(netdoctor.ipsec.xfrm_info#module:xfrm.policies).
  type: list
  elements: dict
"""

import typing as t

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _xfrm_text
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils._filter_module import FilterModuleMock, require_text


def parse_xfrm_policy(text: t.Any) -> list[dict[str, t.Any]]:
    text = require_text(text, "parse_xfrm_policy")
    module = FilterModuleMock()
    policies, _orphans = _xfrm_text.policy_records(text, module.warn)
    return policies


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"parse_xfrm_policy": parse_xfrm_policy}
