# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Artifacts for Wireshark: ``esp_sa`` lines and the IKE decryption table (opt-in, never a failure)."""

from __future__ import annotations

import typing as t

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _finding as F
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _match_sas
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils._rules import rule

UNDECRYPTABLE = ("CHACHA20_POLY1305", "AES_CCM", "NULL_AUTH_AES_GMAC")


@rule("ART.ESP_SA")
def esp_sa(ctx: t.Any) -> dict[str, t.Any]:
    artifacts = ctx.tunnel.options.get("artifacts") or {}
    states = [(n, s) for n in ctx.managed() for s in ctx.tunnel.states[n]]
    notes = []
    for name, state in states:
        summary = _match_sas.summary(state)
        if str(summary["encryption"] or "").startswith(UNDECRYPTABLE):
            notes.append(F.evidence(name, f"{ctx.host(name)} SPI {state['spi']}: Wireshark cannot decrypt {summary['encryption']}"))
        if summary["esn"]:
            notes.append(F.evidence(name, f"{ctx.host(name)} SPI {state['spi']}: ESN in use, Wireshark's ICV check fails on it"))
    written = artifacts.get("esp_sa") or {}
    if written.get("files"):
        items = [F.evidence("both", f"esp_sa file: {path}") for path in written["files"]] + notes
        if notes:
            return F.warned(f"esp_sa written for {written.get('count', '?')} SAs; some cannot be decrypted", "both", items)
        return F.passed(f"esp_sa written for {written.get('count', '?')} SAs", items)
    if not states:
        return F.skipped("no SA to export", evidence=notes)
    return F.skipped(f"not requested (ipsec_fetch_esp_sa: true exports the {len(states)} current SAs)", evidence=notes)


@rule("ART.IKE_KEYS")
def ike_keys(ctx: t.Any) -> dict[str, t.Any]:
    artifacts = ctx.tunnel.options.get("artifacts") or {}
    written = artifacts.get("ike_keys") or {}
    if written.get("files"):
        return F.passed(f"IKE decryption table written ({written.get('count', '?')} IKE SAs)",
                        [F.evidence("both", f"file: {path}") for path in written["files"]])
    return F.skipped("IKE keys are not exported: the daemons write them only with strongSwan's save-keys plugin or "
                     "libreswan's plutodebug=private, which this collection does not turn on")
