#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: log_info
short_description: Read the IKE daemon's log lines of a time window, each classified
version_added: 0.1.0
description:
  - Reads the log lines of strongSwan (charon), libreswan (pluto) and racoon in a time window and
    classifies each one into a code (C(NO_PROPOSAL_CHOSEN), C(AUTHENTICATION_FAILED), C(TS_UNACCEPTABLE),
    C(PEER_NOT_RESPONDING), ...) with this side's view of it (V(local) when this daemon decided,
    V(remote) when the peer told it) and, for proposal failures, the transform that did not match
    when the log says it.
  - Sources, in order - the systemd journal (by the daemons' syslog identifiers) when the host has
    one, and the usual log files (syslog, daemon.log, auth.log, messages, secure, charon.log,
    strongswan.log, pluto.log, racoon.log, plus the files named by strongswan.conf C(filelog) and
    ipsec.conf C(logfile=)); O(files) replaces the list.
  - Bounded - only the window is kept, files are read from their end (at most O(max_bytes) each),
    at most O(max_lines) entries are returned (the newest). Lines not understood are kept as
    C(UNKNOWN) evidence unless O(include_unknown=false).
  - Key material that debug log levels dump (hex dumps, C(Sk_ei secret), C(SKEYSEED)) is withheld.
extends_documentation_fragment:
  - netdoctor.ipsec._attributes
  - netdoctor.ipsec._attributes.info_module
  - netdoctor.ipsec._attributes.idempotent_not_modify_state
options:
  since:
    description:
      - Start of the window - a duration back from now (V(90s), V(10m), V(2h), V(1d)), seconds since
        the epoch, or an ISO 8601 time (gateway's local time unless it carries a zone).
    type: str
    default: 1h
  max_lines:
    description: Most entries returned (the newest ones); RV(truncated) counts the others.
    type: int
    default: 2000
  max_bytes:
    description: Most bytes read from the end of each log file.
    type: int
    default: 16777216
  journal:
    description:
      - V(auto) reads the journal when the host has one, then the files; V(never) reads only files;
        V(always) only the journal.
    type: str
    choices: [auto, never, always]
    default: auto
  files:
    description: Log files to read instead of the default list.
    type: list
    elements: path
  include_unknown:
    description: Keep lines the classifier does not know (code C(UNKNOWN)).
    type: bool
    default: true
notes:
  - Syslog time stamps have no year; the latest year that does not put a line in the future is assumed.
  - Lines without a time stamp (charon file logs without C(time_format)) cannot be placed in the window;
    they are kept and a warning says so.
seealso:
  - module: netdoctor.ipsec.ike_info
  - plugin: netdoctor.ipsec.classify_ike_log
    plugin_type: filter
author:
  - netdoctor.ipsec contributors (@netdoctor-ipsec)
"""

EXAMPLES = r"""
- name: IKE log lines of the last 10 minutes, classified
  netdoctor.ipsec.log_info:
    since: 10m
  register: ike_logs

- name: Show the failures only
  ansible.builtin.debug:
    msg: "{{ ike_logs.entries | rejectattr('code', 'in', ['UNKNOWN', 'PROPOSALS', 'PROPOSAL_SELECTED']) }}"

- name: Since the capture started, from the lab's charon log only
  netdoctor.ipsec.log_info:
    since: "{{ capture_start }}"
    journal: never
    files: [/var/log/charon.log]
"""

RETURN = r"""
entries:
  description: The classified log lines of the window, oldest first.
  returned: always
  type: list
  elements: dict
  contains:
    time:
      description: Local time of the line (ISO 8601, no zone); V(null) when the line has none.
      type: str
      sample: "2026-11-28T05:20:41"
    time_text:
      description: The time stamp as written in the log.
      type: str
    daemon:
      description: Which daemon wrote it.
      type: str
      choices: [strongswan, libreswan, racoon]
    level:
      description: Level or subsystem as logged (charon's C(IKE)/C(CFG)/C(KNL), racoon's C(ERROR), pluto's C(ERROR)).
      type: str
    code:
      description:
        - C(NO_PROPOSAL_CHOSEN), C(AUTHENTICATION_FAILED) (MAC mismatched, IKEv1 decryption/HASH failures),
          C(NO_PSK), C(IDENTITY_MISMATCH), C(TS_UNACCEPTABLE), C(INVALID_ID_INFORMATION), C(INVALID_KE_PAYLOAD),
          C(NO_IKE_CONFIG) (no connection for this address pair or IKE version), C(IKE_VERSION_MISMATCH)
          (IKEv1 packets dropped by an IKEv2-only peer and the like), C(RETRANSMIT), C(PEER_NOT_RESPONDING)
          (gave up, racoon "phase1 negotiation failed due to time up"), C(NO_SAINFO), C(NO_ISAKMP_SA) (racoon),
          C(SA_INSTALL_FAILED), C(DPD_DEAD_PEER);
        - events - C(IKE_SA_ESTABLISHED), C(CHILD_SA_ESTABLISHED), C(IKE_SA_DELETED), C(CHILD_SA_DELETED),
          C(PROPOSAL_SELECTED), C(PROPOSALS) (strongSwan's received/configured proposal lists), C(NOTIFY_ERROR)
          (another error notify); C(UNKNOWN) for the rest.
      type: str
      sample: NO_PROPOSAL_CHOSEN
    view:
      description: V(local) (this daemon decided or detected it), V(remote) (the peer said so in a notify), V(null) for
                   events.
      type: str
    transform:
      description: For C(NO_PROPOSAL_CHOSEN) seen locally, the transform types without a match (V(encryption),
                   V(integrity), V(prf), V(dh), V(esn), V(auth)), when the log tells.
      type: list
      elements: str
      sample: [dh]
    conn:
      description: Connection name, when the line names it.
      type: str
    sa:
      description: IKE SA / state number, when the line names it.
      type: str
    message:
      description: The message text without time and daemon prefixes (key material withheld).
      type: str
    details:
      description: Values the pattern extracted (IDs, proposals received/configured, SPIs, notify names...).
      type: dict
    source:
      description: V(journal) or the file the line came from.
      type: str
counts:
  description: Number of entries per failure code.
  returned: always
  type: dict
  sample: {AUTHENTICATION_FAILED: 3}
sources:
  description: The journal and files that were read.
  returned: always
  type: list
  elements: str
window:
  description: "The window read: C({since, until, since_epoch})."
  returned: success
  type: dict
truncated:
  description: Entries of the window left out because of O(max_lines).
  returned: always
  type: int
source_warnings:
  description: Sources that could not be read or only partly (the rest was still read); also shown as warnings.
  returned: always
  type: list
  elements: str
errors:
  description: Option errors (a V(since) that is not a time); the task then fails with them as its message.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _command, _ike_host, _ike_log_sources


def main():
    module = AnsibleModule(
        argument_spec=dict(
            since=dict(type="str", default="1h"),
            max_lines=dict(type="int", default=2000),
            max_bytes=dict(type="int", default=16 * 1024 * 1024),
            journal=dict(type="str", default="auto", choices=["auto", "never", "always"]),
            files=dict(type="list", elements="path"),
            include_unknown=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    result = _ike_log_sources.collect(_command.CommandRunner(module), _ike_host.HostView("/"), module.params)
    for warning in result["source_warnings"]:
        module.warn(warning)
    if result["errors"]:
        module.fail_json(msg="; ".join(result["errors"]), **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
