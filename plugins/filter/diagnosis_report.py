# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: diagnosis_report
short_description: Render an IPsec diagnosis as a terminal summary, Markdown, HTML or JSON
version_added: 0.1.0
description:
  - Renders the result of P(netdoctor.ipsec.diagnose_pair#filter).
  - V(terminal) - a summary that fits one screen (at most 40 lines of 110 characters), root cause first, with its
    evidence from both sides, the fix, the consequences, other problems and the checklist in a few lines.
  - V(markdown) - the full report for a ticket or a chat - root cause, the two gateways side by side, the
    checklist and the evidence of every finding.
  - V(html) - one self-contained page (inline CSS and SVG, no script, no external asset) - root cause, the two
    gateways side by side, the checklist with the evidence per side, the IKE ladder from the paired captures, ESP per
    direction and the packet-flow picture of each gateway (netfilter hooks and xfrm lookup) with the failing stage
    marked.
  - V(json) - the diagnosis itself, validated against its documented, versioned schema (docs/diagnosis-schema.md).
options:
  _input:
    description: A diagnosis from P(netdoctor.ipsec.diagnose_pair#filter).
    type: dict
    required: true
  format:
    description: The output format.
    type: str
    choices: [terminal, markdown, html, json]
    default: terminal
  report_path:
    description: Where the full report is, named at the end of the terminal summary.
    type: str
seealso:
  - plugin: netdoctor.ipsec.diagnose_pair
    plugin_type: filter
  - plugin: netdoctor.ipsec.fleet_report
    plugin_type: filter
author:
  - netdoctor.ipsec contributors (@netdoctor-ipsec)
"""

EXAMPLES = r"""
- name: Print the summary
  ansible.builtin.debug:
    msg: "{{ diagnosis | netdoctor.ipsec.diagnosis_report(report_path='reports/tunnel_a/report.html') }}"

- name: Write the HTML page
  ansible.builtin.copy:
    content: "{{ diagnosis | netdoctor.ipsec.diagnosis_report('html') }}"
    dest: reports/tunnel_a/report.html
    mode: "0644"
  delegate_to: localhost
"""

RETURN = r"""
_value:
  description: The rendered report.
  type: str
"""

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _report_html, _report_json, _report_markdown, _report_terminal

FORMATS = ("terminal", "markdown", "html", "json")


def diagnosis_report(value: t.Any, format: str = "terminal", report_path: str | None = None) -> str:  # noqa: A002 - the option's name
    if format not in FORMATS:
        raise AnsibleFilterError(f"netdoctor.ipsec.diagnosis_report: format must be one of {', '.join(FORMATS)}, got {format!r}")
    problems = _report_json.validate(value)
    if problems:
        raise AnsibleFilterError("netdoctor.ipsec.diagnosis_report: the input is not a diagnosis: " + "; ".join(problems[:5]))
    if format == "terminal":
        return _report_terminal.render(value, report_path)
    if format == "markdown":
        return _report_markdown.render(value)
    if format == "html":
        return _report_html.render(value)
    return _report_json.render(value)


class FilterModule:
    def filters(self) -> dict[str, t.Callable]:
        return {"diagnosis_report": diagnosis_report}
