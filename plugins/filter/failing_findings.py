# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: failing_findings
short_description: What should fail the job - findings at a threshold, or the user's own JMESPath query
version_added: 0.1.0
description:
  - Given one diagnosis or a list of them (P(netdoctor.ipsec.diagnose_pair#filter)), returns what makes the job fail; an
    empty list means the job passes.
  - Without O(query), every finding whose status is at or above O(threshold), each with its C(tunnel) added.
  - >-
    With O(query), the result of the JMESPath expression over C({"tunnels": [diagnosis, ...]}) (a list is returned as
    is, any other non-empty value as a list of one); for example V(tunnels[].findings[?status=='fail' && id!='P2.MTU'][])
    fails on failures except MTU trouble (more in the examples).
requirements:
  - jmespath (Python library, on the controller) when O(query) is given
options:
  _input:
    description: A diagnosis or a list of diagnoses.
    type: raw
    required: true
  query:
    description: 'A JMESPath expression over C({"tunnels": [...]}).'
    type: str
  threshold:
    description: Without O(query), the lowest status that fails (V(never) fails nothing).
    type: str
    choices: [fail, warn, unknown, never]
    default: fail
seealso:
  - plugin: netdoctor.ipsec.fleet_report
    plugin_type: filter
author:
  - netdoctor.ipsec contributors (@netdoctor-ipsec)
"""

EXAMPLES = r"""
- name: Fail on failures, except on lab tunnels
  ansible.builtin.set_fact:
    blocking: "{{ diagnoses | netdoctor.ipsec.failing_findings(query=\"tunnels[?!starts_with(tunnel, 'lab_')].findings[] | [?status=='fail']\") }}"
  run_once: true

- name: Fail the audit on failures except the MTU check
  ansible.builtin.assert:
    that: not (diagnoses | netdoctor.ipsec.failing_findings(query="tunnels[].findings[?status=='fail' && id!='P2.MTU'][]"))
  run_once: true
"""

RETURN = r"""
_value:
  description: The findings (or query results) that fail the job; empty when it passes.
  type: list
  elements: raw
"""

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _finding, _report_fleet


def failing_findings(value: t.Any, query: str | None = None, threshold: str = "fail") -> list[t.Any]:
    diagnoses = [value] if isinstance(value, dict) else value
    if not isinstance(diagnoses, list) or not all(isinstance(d, dict) and "findings" in d for d in diagnoses):
        raise AnsibleFilterError("netdoctor.ipsec.failing_findings: the input must be a diagnosis or a list of diagnoses")
    if threshold not in _finding.THRESHOLDS:
        raise AnsibleFilterError(f"netdoctor.ipsec.failing_findings: threshold must be one of {', '.join(_finding.THRESHOLDS)}")
    try:
        return _report_fleet.failing(diagnoses, query, threshold)
    except ImportError as exc:
        raise AnsibleFilterError("netdoctor.ipsec.failing_findings: a query needs the jmespath library on the controller") from exc
    except Exception as exc:  # noqa: BLE001 - jmespath raises its own parse errors
        if type(exc).__module__.startswith("jmespath"):
            raise AnsibleFilterError(f"netdoctor.ipsec.failing_findings: invalid JMESPath query {query!r}: {exc}") from exc
        raise


class FilterModule:
    def filters(self) -> dict[str, t.Callable]:
        return {"failing_findings": failing_findings}
