# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: to_esp_sa
short_description: Write xfrm state records as Wireshark C(esp_sa) lines
version_added: 0.1.0
description:
  - Turns xfrm state records with keys (M(netdoctor.ipsec.xfrm_info) with O(netdoctor.ipsec.xfrm_info#module:include_keys=true),
    or P(netdoctor.ipsec.parse_xfrm_state#filter) with O(netdoctor.ipsec.parse_xfrm_state#filter:include_keys=true))
    into the lines of Wireshark's C(esp_sa) file (the "ESP SAs" table), which Wireshark and tshark use
    to decrypt ESP and check its ICV.
  - Each line has the eight double-quoted fields Wireshark 4.x expects (protocol, source, destination,
    SPI, encryption, encryption key, authentication, authentication key), for IPv4 and IPv6 SAs.
  - AES-GCM is written as C(AES-GCM with 8|12|16 octet ICV [RFC4106]) with C(NULL) authentication
    (the only pairing Wireshark accepts); the kernel's hmac(sha256) as C(HMAC-SHA-256-128 [RFC4868]) or, with the
    kernel's 96-bit truncation, C(HMAC-SHA-256-96 [draft-ietf-ipsec-ciph-sha-256-00]); integrity
    algorithms Wireshark cannot check (AES-XCBC, AES-CMAC, odd truncations) as
    C(ANY N bit authentication [no checking]), with a warning.
  - An SA Wireshark cannot decrypt (ChaCha20-Poly1305 before Wireshark 4.4, AES-CCM, AES-GMAC, other
    ciphers, missing keys) gets a warning naming it instead of a line. SAs with extended sequence
    numbers get a warning that Wireshark's ICV check fails on them (Wireshark issue 19658).
  - The same SA from both gateways of a tunnel gives one line; when the two copies differ, a warning
    says so.
options:
  _input:
    description:
      - State records (a list), an M(netdoctor.ipsec.xfrm_info) result, its C(xfrm) dict, or a list of
        such results (one per gateway).
    type: raw
    required: true
  wireshark_version:
    description:
      - Version of the Wireshark that will read the file; decides which algorithms it knows.
      - The strings were verified against tshark 4.0.17; the ChaCha20-Poly1305 string (4.4 and later)
        comes from newer Wireshark sources and was not tried on a real build.
    type: string
    default: "4.0"
  details:
    description:
      - Return a dictionary with the lines, the warnings and the SAs left out, instead of the file text.
    type: bool
    default: false
seealso:
  - module: netdoctor.ipsec.xfrm_info
  - plugin: netdoctor.ipsec.parse_xfrm_state
    plugin_type: filter
  - name: Wireshark ESP preferences
    description: The ESP SAs table this filter writes.
    link: https://wiki.wireshark.org/ESP_Preferences
author:
  - netdoctor.ipsec contributors (@netdoctor-ipsec)
"""

EXAMPLES = r"""
- name: Read the SAs with their keys (never logged)
  netdoctor.ipsec.xfrm_info:
    include_keys: true
    gather: [states]
  register: sa_keys
  no_log: true

- name: Write Wireshark's esp_sa file
  ansible.builtin.copy:
    dest: "{{ lookup('env', 'HOME') }}/.config/wireshark/esp_sa"
    mode: "0600"
    content: "{{ sa_keys | netdoctor.ipsec.to_esp_sa }}"
  no_log: true
  delegate_to: localhost
"""

RETURN = r"""
_value:
  description:
    - The C(esp_sa) file text, one line per SA, each line ending with a newline.
    - With O(details=true), a dictionary.
  type: raw
  contains:
    text:
      description: The file text.
      type: str
    lines:
      description: The lines without newlines.
      type: list
      elements: str
      sample: ['"IPv4","192.0.2.1","192.0.2.2","0xc8e2bf74","AES-GCM with 16 octet ICV [RFC4106]","0x<key and salt>","NULL",""']
    warnings:
      description: SAs left out or degraded, and why.
      type: list
      elements: str
    skipped:
      description: The SAs without a line (C(spi), C(src), C(dst), C(reason)).
      type: list
      elements: dict
"""

import typing as t

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils._esp_sa import EspSaError, esp_sa_table


def to_esp_sa(value: t.Any, wireshark_version: t.Any = "4.0", details: bool = False) -> t.Any:
    try:
        table = esp_sa_table(value, wireshark_version)
    except EspSaError as exc:
        raise AnsibleFilterError(f"netdoctor.ipsec.to_esp_sa: {exc}") from exc
    display = Display()
    for warning in table.warnings:
        display.warning(f"to_esp_sa: {warning}")
    return table.as_dict() if details else table.text


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"to_esp_sa": to_esp_sa}
