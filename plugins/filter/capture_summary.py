# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: capture_summary
short_description: Decode a pcap or pcapng file on the controller into the capture module's summary
version_added: 0.1.0
description:
  - Reads capture files on the controller (a pcap fetched from a gateway, one attached to a ticket,
    one from a peer you do not manage) and returns the same summary as the M(netdoctor.ipsec.capture)
    module returns in RV(netdoctor.ipsec.capture#module:summary), ready for
    P(netdoctor.ipsec.pair_captures#filter).
  - This is a filter version of the decoding done by the M(netdoctor.ipsec.capture) module.
  - Classic pcap (micro- and nanosecond) and pcapng; Ethernet, Linux cooked (SLL, SLL2), raw IP and
    loopback link types. Damaged or truncated files give what could be read plus a warning.
options:
  _input:
    description:
      - A path, or a list of paths or of C({path, interface}) dicts (one file per interface, as the
        module writes them).
    type: raw
    required: true
  peer_addresses:
    description: Outer addresses of the peer gateway, to tell inbound from outbound.
    type: list
    elements: string
    default: []
  local_addresses:
    description: Addresses of the gateway that captured.
    type: list
    elements: string
    default: []
  local_subnets:
    description: Protected subnets behind the gateway that captured.
    type: list
    elements: string
    default: []
  remote_subnets:
    description: Protected subnets behind the peer.
    type: list
    elements: string
    default: []
  inner_interfaces:
    description: Interface names (from the list form of the input) that are inner (LAN) interfaces.
    type: list
    elements: string
    default: []
  max_events:
    description: At most this many per-packet events.
    type: int
    default: 2000
seealso:
  - module: netdoctor.ipsec.capture
  - plugin: netdoctor.ipsec.pair_captures
    plugin_type: filter
author:
  - netdoctor.ipsec contributors (@netdoctor-ipsec)
"""

EXAMPLES = r"""
- name: What does the customer's capture show?
  ansible.builtin.set_fact:
    seen: >-
      {{ 'ticket-1234/wan.pcap' | netdoctor.ipsec.capture_summary(peer_addresses=['198.51.100.7'],
         local_subnets=['10.1.0.0/24'], remote_subnets=['10.2.0.0/24']) }}

- name: One-sided view of it
  ansible.builtin.debug:
    msg: "{{ seen | netdoctor.ipsec.pair_captures }}"
"""

RETURN = r"""
_value:
  description: The summary; its keys are those of RV(netdoctor.ipsec.capture#module:summary).
  type: dict
"""

import os
import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _capture_summary


def _files(value: t.Any) -> list[tuple[str, str | None]]:
    items = value if isinstance(value, list) else [value]
    files = []
    for item in items:
        if isinstance(item, str):
            files.append((item, os.path.splitext(os.path.basename(item))[0]))
        elif isinstance(item, dict) and isinstance(item.get("path"), str):
            files.append((item["path"], item.get("interface")))
        else:
            raise AnsibleFilterError(
                "netdoctor.ipsec.capture_summary: the input must be a path or a list of paths or {path, interface} dicts")
    for path, _interface in files:
        if not os.path.isfile(path):
            raise AnsibleFilterError(f"netdoctor.ipsec.capture_summary: no such file: {path}")
    return files


def capture_summary(
    value: t.Any,
    peer_addresses: list[str] | None = None,
    local_addresses: list[str] | None = None,
    local_subnets: list[str] | None = None,
    remote_subnets: list[str] | None = None,
    inner_interfaces: list[str] | None = None,
    max_events: int = 2000,
) -> dict[str, t.Any]:
    files = _files(value)
    context = {
        "peer_addresses": list(peer_addresses or []),
        "local_addresses": list(local_addresses or []),
        "local_subnets": list(local_subnets or []),
        "remote_subnets": list(remote_subnets or []),
        "interface_roles": {name: "inner" for name in inner_interfaces or []},
        "max_events": int(max_events),
    }
    return _capture_summary.summarize_files(files, context)


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"capture_summary": capture_summary}
