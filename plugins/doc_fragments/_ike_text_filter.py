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
