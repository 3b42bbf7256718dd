# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Gather the firewall of a gateway from every backend that can hold rules at once.

The kernel runs iptables-legacy tables, nf_tables tables made by iptables-nft and native nftables
tables side by side: a packet must pass all of them. This backend reads each (``iptables-save -c``
of both variants, for IPv4 and IPv6, and ``nft -j list ruleset``), says which one the ``iptables``
command uses, and whether rules of the legacy and the nf_tables world are loaded at the same time.
Tables that ``iptables-nft-save`` can show are taken from it (it knows the xt matches nft only
names) and their nft copy is marked ``evaluate: false``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _command, _iptables, _nftables

VERSION_RE = re.compile(r"v(\d+)\.(\d+)(?:\.(\d+))?(?:\s+\((\w+)\))?")
PERMISSION_HINTS = ("permission denied", "operation not permitted", "you must be root", "are you root")


def command_error(source, exc):
    """An ``errors`` entry for a failed command (kind: missing, permission or failed)."""
    text = str(exc)
    kind = "failed"
    if isinstance(exc, _command.ToolMissing):
        kind = "missing"
    elif any(hint in text.lower() for hint in PERMISSION_HINTS):
        kind = "permission"
    return {"source": source, "kind": kind, "message": text}


def iptables_variant(version_text):
    """``iptables --version`` output -> ('iptables-nft'|'iptables-legacy', version) or (None, None)."""
    found = VERSION_RE.search(version_text or "")
    if not found:
        return None, None
    version = ".".join(part for part in found.groups()[:3] if part is not None)
    mode = found.group(4)
    if mode == "nf_tables":
        return "iptables-nft", version
    return "iptables-legacy", version


def table_has_rules(table):
    """True when a table can change a packet's fate: a rule, or a base chain policy that is not accept."""
    for chain in table.get("chains") or []:
        if chain.get("rules"):
            return True
        if chain.get("base") and (chain.get("policy") or "accept") != "accept":
            return True
    return False


def _save_tools(primary, variant):
    """Candidate (ipv4 tool, ipv6 tool) lists for one variant, newest names first."""
    suffix = "legacy" if variant == "iptables-legacy" else "nft"
    tools = [("iptables-%s-save" % suffix, "ip6tables-%s-save" % suffix)]
    if primary == variant:
        tools.append(("iptables-save", "ip6tables-save"))
    return tools


class FirewallGatherer(object):
    """Reads every firewall backend through one CommandRunner; records errors, never raises."""

    def __init__(self, runner):
        self.runner = runner
        self.errors = []
        self.warnings = []

    def _run(self, tool, args, source=None):
        try:
            return self.runner.run(tool, args)[1]
        except _command.CommandError as exc:
            self.errors.append(command_error(source or " ".join([tool] + list(args)), exc))
            return None

    def primary_iptables(self):
        if not self.runner.has("iptables"):
            return None, None
        try:
            rc, out, err = self.runner.run("iptables", ["--version"], check_rc=False)
        except _command.CommandError as exc:
            self.errors.append(command_error("iptables --version", exc))
            return None, None
        return iptables_variant(out or err)

    def iptables_tables(self, variant, primary):
        """(available, tables) of one iptables variant for IPv4 and IPv6."""
        available = False
        tables = []
        for ipv4_tool, ipv6_tool in _save_tools(primary, variant):
            if not self.runner.has(ipv4_tool):
                continue
            available = True
            for tool, family in ((ipv4_tool, "ip"), (ipv6_tool, "ip6")):
                if not self.runner.has(tool):
                    continue
                text = self._run(tool, ["-c"])
                if text is None:
                    continue
                parsed = _iptables.parse_save(text, family=family, backend=variant)
                for warning in parsed["warnings"]:
                    self.warnings.append("%s: %s" % (tool, warning))
                tables.extend(parsed["tables"])
            break
        return available, tables

    def nft_tables(self, with_text=True):
        if not self.runner.has("nft"):
            return False, [], None
        text = self._run("nft", ["-j", "list", "ruleset"])
        if text is None:
            return True, [], None
        if not text.strip().startswith("{"):
            # nft -j always prints a JSON document (at least its metainfo); anything else means the
            # ruleset is unknown, which must not read as "no nftables rules"
            self.errors.append({"source": "nft -j list ruleset", "kind": "failed",
                                "message": "'nft -j list ruleset' exited 0 but printed no JSON: %r" % text[:200]})
            return True, [], None
        # the rule texts are only needed when there are tables (saves a command on most gateways)
        listing = self._run("nft", ["-a", "list", "ruleset"]) if with_text and '"table"' in text else None
        parsed = _nftables.parse_json(text, listing)
        for warning in parsed["warnings"]:
            self.warnings.append("nft: %s" % warning)
        return True, parsed["tables"], parsed["version"]

    def gather(self, with_text=True):
        primary, version = self.primary_iptables()
        legacy_available, legacy = self.iptables_tables("iptables-legacy", primary)
        ipt_nft_available, ipt_nft = self.iptables_tables("iptables-nft", primary)
        nft_available, nft, nft_version = self.nft_tables(with_text)
        shown_by_iptables_nft = set((table["family"], table["name"]) for table in ipt_nft)
        for table in nft:
            if (table["family"], table["name"]) in shown_by_iptables_nft:
                table["managed_by"] = "iptables-nft"
                table["evaluate"] = False
        native = [table for table in nft if table.get("evaluate") is not False]
        loaded = {
            "iptables-legacy": any(table_has_rules(table) for table in legacy),
            "iptables-nft": any(table_has_rules(table) for table in ipt_nft),
            "nftables": any(table_has_rules(table) for table in native),
        }
        both = loaded["iptables-legacy"] and (loaded["iptables-nft"] or loaded["nftables"])
        if both:
            self.warnings.append(
                "iptables-legacy rules and nf_tables rules are loaded at the same time: the kernel runs both, "
                "a packet must pass each of them (iptables -L shows only one)")
        backends = {
            "iptables-legacy": _backend_entry(legacy_available, legacy, loaded["iptables-legacy"]),
            "iptables-nft": _backend_entry(ipt_nft_available, ipt_nft, loaded["iptables-nft"]),
            "nftables": _backend_entry(nft_available, native, loaded["nftables"]),
        }
        backends["nftables"]["version"] = nft_version
        active = [name for name in ("iptables-legacy", "iptables-nft", "nftables") if loaded[name]]
        return {
            "iptables_command": primary,
            "iptables_version": version,
            "backend": active[0] if len(active) == 1 else (None if not active else "mixed"),
            "active_backends": active,
            "both_loaded": both,
            "backends": backends,
            "tables": legacy + ipt_nft + nft,
        }


def _backend_entry(available, tables, loaded):
    return {
        "available": available,
        "loaded": loaded,
        "tables": len(tables),
        "rules": sum(len(chain.get("rules") or []) for table in tables for chain in table.get("chains") or []),
    }
