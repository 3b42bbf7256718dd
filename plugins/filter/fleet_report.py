# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: fleet_report
short_description: One table for many diagnosed IPsec tunnels (the audit's summary)
version_added: 0.1.0
description:
  - Renders a list of diagnoses (P(netdoctor.ipsec.diagnose_pair#filter)) as one row per tunnel - the gateways, the
    status, the root cause with its side and fix, and the counts of failing, warning and unknown findings; the worst
    tunnels first.
  - V(html) is one self-contained page, V(csv) a spreadsheet, V(json) the table with a versioned schema
    (V(netdoctor.ipsec/fleet) version 1, C({schema, schema_version, generated, tunnels, totals})), V(terminal) a few
    lines for the play's output.
options:
  _input:
    description: The diagnoses.
    type: list
    elements: dict
    required: true
  format:
    description: The output format.
    type: str
    choices: [terminal, html, csv, json]
    default: terminal
  generated:
    description: Timestamp to show.
    type: str
  links:
    description: Tunnel name to the URL or path of its own report (V(html) only).
    type: dict
seealso:
  - plugin: netdoctor.ipsec.failing_findings
    plugin_type: filter
  - plugin: netdoctor.ipsec.diagnosis_report
    plugin_type: filter
author:
  - netdoctor.ipsec contributors (@netdoctor-ipsec)
"""

EXAMPLES = r"""
- name: Write the audit table
  ansible.builtin.copy:
    content: "{{ diagnoses | netdoctor.ipsec.fleet_report('csv') }}"
    dest: reports/audit.csv
    mode: "0644"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
_value:
  description: The rendered table.
  type: str
"""

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _report_fleet, _report_json

FORMATS = ("terminal", "html", "csv", "json")


def fleet_report(value: t.Any, format: str = "terminal", generated: str | None = None,  # noqa: A002 - the option's name
                 links: dict | None = None) -> str:
    if format not in FORMATS:
        raise AnsibleFilterError(f"netdoctor.ipsec.fleet_report: format must be one of {', '.join(FORMATS)}, got {format!r}")
    if not isinstance(value, list):
        raise AnsibleFilterError("netdoctor.ipsec.fleet_report: the input must be a list of diagnoses")
    for index, item in enumerate(value):
        problems = _report_json.validate(item)
        if problems:
            raise AnsibleFilterError(f"netdoctor.ipsec.fleet_report: item {index} is not a diagnosis: {'; '.join(problems[:3])}")
    if format == "html":
        return _report_fleet.render_html(value, generated, links)
    if format == "csv":
        return _report_fleet.render_csv(value)
    if format == "json":
        return _report_fleet.render_json(value, generated)
    return _report_fleet.render_terminal(value)


class FilterModule:
    def filters(self) -> dict[str, t.Callable]:
        return {"fleet_report": fleet_report}
