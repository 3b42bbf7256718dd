# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this doc fragment is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  fingerprint_salt:
    description:
      - Salt for the fingerprints of secrets (pre-shared keys, SA keys).
      - A fingerprint is HMAC-SHA-256 of the secret under this salt, cut to 128 bits and prefixed
        with C(hmac-sha256:). Give both gateways of a tunnel the same salt (the C(netdoctor.ipsec.diagnose)
        role draws one per run) to compare their secrets without either leaving the gateway.
      - When omitted, a random salt is drawn, so fingerprints are comparable only within one result.
      - At least 8 characters. The value is C(no_log), so Ansible masks it wherever it would appear in output.
    type: str
"""
