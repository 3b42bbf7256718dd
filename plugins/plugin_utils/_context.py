# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""What a rule sees: the paired tunnel, the findings so far, and the comparisons, computed once."""

from __future__ import annotations

import functools
import typing as t

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _finding as F
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import (
    _compare_proposals,
    _compare_selectors,
    _compare_versions,
    _fw_checks,
    _logcodes,
    _match_sas,
    _pair,
    _side,
    _traffic,
)


class Context:
    def __init__(self, tunnel: _pair.Tunnel, findings: dict[str, dict[str, t.Any]] | None = None) -> None:
        self.tunnel = tunnel
        self.findings: dict[str, dict[str, t.Any]] = dict(findings or {})

    # --- sides ---------------------------------------------------------------------------------

    def side(self, name: str) -> dict[str, t.Any]:
        return self.tunnel.side(name)

    def host(self, name: str) -> str:
        return self.tunnel.host(name)

    def label(self, name: str) -> str:
        return f"{self.host(name)} ({name.upper()})"

    def managed(self) -> list[str]:
        return self.tunnel.managed()

    @property
    def one_sided(self) -> bool:
        return self.tunnel.one_sided

    def unmanaged_peer(self, what: str) -> list[dict[str, t.Any]]:
        """In one-sided mode, side B's part of a check that needs the peer: a skip saying ``what``."""
        return [F.problem("skip", "b", f"{self.host('b')}: {what}")] if self.one_sided else []

    def has(self, name: str, source: str) -> bool:
        side = self.side(name)
        return side["managed"] and _side.source_ok(side, source)

    def why_not(self, name: str, source: str) -> str:
        side = self.side(name)
        if not side["managed"]:
            return f"{self.host(name)} is not managed here (one-sided mode)"
        return f"{self.host(name)}: {_side.source_reason(side, source)}"

    def conn(self, name: str) -> dict[str, t.Any] | None:
        return self.tunnel.conn[name]

    def daemon(self, name: str) -> str:
        return (self.side(name)["ike"].get("daemon") or "").lower()

    def failed(self, finding_id: str) -> bool:
        found = self.findings.get(finding_id)
        return bool(found) and found["status"] == "fail"

    def recently_changed(self) -> str | None:
        """The side whose IKE configuration changed clearly later than the other's, if known.

        The files' modification times when both were gathered, else the daemons' last configuration
        (re)load in the log window. "What changed last" breaks a tie only where the evidence is
        otherwise symmetric (two different secrets).
        """
        for read in (lambda n: self.side(n)["ike"].get("config_changed"),
                     lambda n: _logcodes.last_reload(self.side(n)["logs"]) if self.has(n, "logs") else None):
            a_time, b_time = read("a"), read("b")
            if isinstance(a_time, (int, float)) and isinstance(b_time, (int, float)):
                if abs(a_time - b_time) < 2:
                    return None
                return "a" if a_time > b_time else "b"
        return None

    # --- logs ----------------------------------------------------------------------------------

    def logs(self, name: str, finding_id: str | None = None, level: str | None = None) -> list[dict[str, t.Any]]:
        if not self.has(name, "logs"):
            return []
        return _logcodes.entries(self.side(name)["logs"], finding_id, level)

    # --- comparisons (each computed once) -------------------------------------------------------

    @functools.cached_property
    def versions(self) -> dict[str, t.Any] | None:
        conn_a, conn_b = self.conn("a"), self.conn("b")
        if not conn_a or not conn_b:
            return None
        wire = {name: _traffic.reach(self.side(name), None)["versions_sent"] for name in ("a", "b")}
        return _compare_versions.compare_ike_versions(
            conn_a["ike_version"], conn_b["ike_version"], self.daemon("a"), self.daemon("b"), wire
        )

    @functools.cached_property
    def ike_proposals(self) -> dict[str, t.Any] | None:
        conn_a, conn_b = self.conn("a"), self.conn("b")
        if not conn_a or not conn_b:
            return None
        return _compare_proposals.compare_proposals(conn_a["ike_proposals"], conn_b["ike_proposals"], "ike")

    @functools.cached_property
    def child_pairs(self) -> list[tuple[dict[str, t.Any], dict[str, t.Any]]]:
        """Children of A paired with children of B: by name, else by position."""
        a_children, b_children = self.tunnel.children("a"), self.tunnel.children("b")
        pairs = []
        by_name = {child["name"]: child for child in b_children}
        left = list(b_children)
        for child in a_children:
            partner = by_name.get(child["name"]) if len(a_children) > 1 else None
            if partner is None and left:
                partner = left[0]
            if partner is not None:
                pairs.append((child, partner))
                if partner in left:
                    left.remove(partner)
        return pairs

    def narrowing(self) -> bool:
        negotiated = (self.versions or {}).get("negotiated")
        if negotiated == 1:
            return False
        return not any(self.daemon(n) == "libreswan" and not (self.conn(n) or {}).get("ikev2_narrowing") for n in ("a", "b"))

    @functools.cached_property
    def selectors(self) -> list[dict[str, t.Any]]:
        results = []
        for child_a, child_b in self.child_pairs:
            compared = _compare_selectors.compare_selectors(
                child_a["local_ts"], child_a["remote_ts"], child_b["local_ts"], child_b["remote_ts"],
                self.tunnel.endpoint["a"], self.tunnel.endpoint["b"], narrowing=self.narrowing(),
            )
            compared["children"] = (child_a["name"], child_b["name"])
            results.append(compared)
        return results

    @functools.cached_property
    def esp_proposals(self) -> list[dict[str, t.Any]]:
        results = []
        for child_a, child_b in self.child_pairs:
            compared = _compare_proposals.compare_proposals(child_a["esp_proposals"], child_b["esp_proposals"], "esp")
            compared["children"] = (child_a["name"], child_b["name"])
            results.append(compared)
        return results

    @functools.cached_property
    def sa_match(self) -> dict[str, t.Any]:
        return _match_sas.match_sas(
            self.tunnel.states["a"], self.tunnel.states["b"],
            self.side("a")["addresses"], self.side("b")["addresses"],
            labels={"a": self.host("a"), "b": self.host("b")},
        )

    @functools.cached_property
    def firewall(self) -> dict[str, dict[str, t.Any] | None]:
        """Per managed side, the verdicts of the packets the tunnel needs (None: not gathered)."""
        return {name: _fw_checks.evaluate(self.tunnel, name) if self.has(name, "firewall") else None for name in ("a", "b")}

    def reach(self, sender: str) -> dict[str, t.Any]:
        receiver = _pair.other(sender)
        return _traffic.reach(self.side(sender), self.side(receiver) if self.side(receiver)["managed"] else None)

    def captured(self, name: str) -> bool:
        return self.side(name)["managed"] and _traffic.capture_of(self.side(name)) is not None
