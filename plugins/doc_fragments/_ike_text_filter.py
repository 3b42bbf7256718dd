# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this doc fragment is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

from __future__ import annotations


class ModuleDocFragment:
    # The filters that parse an IKE daemon's offline text into ike_info's records.
    DOCUMENTATION = r"""
options:
  _input:
    description: The text to parse.
    type: string
    required: true
notes:
  - Lines the parser does not understand are returned in C(unparsed) and counted in C(warnings);
    malformed or truncated input gives partial records, never an exception.
seealso:
  - module: netdoctor.ipsec.ike_info
author:
  - netdoctor.ipsec contributors (@netdoctor-ipsec)
"""

    # The filters that read a PF_KEY dump (setkey -D, racoonctl show-sa esp): its keys and directions.
    PFKEY_DUMP = r"""
options:
  fingerprint_salt:
    description: Salt of the key fingerprints (HMAC-SHA-256); a random one when omitted.
    type: string
  platform:
    description:
      - V(linux) or V(bsd). Through PF_KEY, Linux truncates HMAC-SHA-256 to 96 bits, the BSDs use 128;
        the integrity name follows the platform the text comes from.
    type: string
    choices: [linux, bsd]
    default: linux
  local_addresses:
    description: Addresses of the gateway the text comes from, to tell inbound from outbound SAs.
    type: list
    elements: string
    default: []
"""
