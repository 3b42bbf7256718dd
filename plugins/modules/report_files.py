#!/usr/bin/python
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: report_files
short_description: Write report files on the controller in one task
version_added: 0.1.0
description:
  - Writes several text files on the controller (where C(ansible-playbook) runs), whatever the task's host, in one
    step - the reports of the C(netdoctor.ipsec.diagnose) role (the terminal summary, Markdown, HTML, JSON and the
    side records) without one C(copy) per file.
  - Creates the folders it needs (mode 0755). Writes a file only when its content changed, atomically (a temporary
    file renamed over the old one), with the given mode.
  - This is an action plugin; nothing runs on the managed host.
extends_documentation_fragment:
  - netdoctor.ipsec._attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode nothing is written; RV(written) says what would change.
  diff_mode:
    support: none
  action:
    support: full
    description: Runs on the controller.
options:
  files:
    description: The files to write.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path on the controller.
        type: path
        required: true
      content:
        description: The text to write.
        type: str
        required: true
      mode:
        description: File mode, as an octal string.
        type: str
        default: "0644"
author:
  - netdoctor.ipsec contributors (@netdoctor-ipsec)
"""

EXAMPLES = r"""
- name: Write the reports of a diagnosis
  netdoctor.ipsec.report_files:
    files:
      - path: /srv/reports/tunnel_a/report.html
        content: "{{ diagnosis | netdoctor.ipsec.diagnosis_report('html') }}"
      - path: /srv/reports/tunnel_a/report.json
        content: "{{ diagnosis | netdoctor.ipsec.diagnosis_report('json') }}"
        mode: "0640"
"""

RETURN = r"""
written:
  description: The files whose content changed (or would change in check mode).
  type: list
  elements: str
  returned: always
  sample: [/srv/reports/tunnel_a/report.html]
unchanged:
  description: The files that already had this content.
  type: list
  elements: str
  returned: always
"""
