# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: classify_ike_log
short_description: Classify IKE daemon log lines (strongSwan, libreswan, racoon)
version_added: 0.1.0
description:
  - Turns log lines of charon, pluto or racoon (their own log files, syslog or journal text) into the
    classified entries of the M(netdoctor.ipsec.log_info) module - each with a code such as
    C(NO_PROPOSAL_CHOSEN) or C(AUTHENTICATION_FAILED), this side's view (V(local)/V(remote)) and, for
    proposal failures, the transform that did not match when the log says it.
  - This is a filter version of the M(netdoctor.ipsec.log_info) module, for logs pasted in a ticket.
  - Lines it does not know are kept with the code C(UNKNOWN); key material is withheld.
options:
  _input:
    description: The log text, or a list of lines.
    type: raw
    required: true
  daemon:
    description: The daemon that wrote lines which do not say it themselves (a plain C(pluto.log)).
    type: string
    choices: [strongswan, libreswan, racoon]
  failures_only:
    description: Return only the failure codes (drop events and C(UNKNOWN) lines).
    type: bool
    default: false
seealso:
  - module: netdoctor.ipsec.log_info
author:
  - netdoctor.ipsec contributors (@netdoctor-ipsec)
"""

EXAMPLES = r"""
- name: Classify a charon log pasted in a ticket
  ansible.builtin.set_fact:
    events: "{{ lookup('file', 'ticket/charon.log') | netdoctor.ipsec.classify_ike_log(failures_only=true) }}"

- name: The codes found
  ansible.builtin.debug:
    msg: "{{ events | map(attribute='code') | unique }}"
"""

RETURN = r"""
_value:
  description: The entries, same keys as RV(netdoctor.ipsec.log_info#module:entries) (without C(source)).
  type: list
  elements: dict
"""

import typing as t

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _ike_logs
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils._filter_module import require_choice, require_text


def classify_ike_log(value: t.Any, daemon: str | None = None, failures_only: bool = False) -> list[dict[str, t.Any]]:
    if isinstance(value, (list, tuple)):
        lines = [require_text(line, "classify_ike_log") for line in value]
    else:
        lines = require_text(value, "classify_ike_log").splitlines()
    if daemon is not None:
        require_choice(daemon, ("strongswan", "libreswan", "racoon"), "classify_ike_log", "daemon")
    entries = _ike_logs.classify_lines(lines, daemon)
    for entry in entries:
        entry.pop("epoch", None)
    if failures_only:
        entries = [entry for entry in entries if entry["code"] in _ike_logs.FAILURE_CODES]
    return entries


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"classify_ike_log": classify_ike_log}
