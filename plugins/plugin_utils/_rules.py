# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The checklist and its rule registry.

The checklist (``CHECKLIST``) is DESIGN.md's table in packet-flow order: the order in which a
packet meets each stage, from the host's prerequisites through IKE to the ESP data path. Each
item has exactly one rule, a small function ``rule(ctx) -> verdict`` registered with
``@rule("ID")`` in one of the ``_rules_*.py`` files (one per stage). ``run_all`` calls every
rule in checklist order, with the findings so far visible in ``ctx.findings``; a rule that
raises gives an ``unknown`` finding that names the exception, never a traceback.
"""

from __future__ import annotations

import dataclasses
import importlib
import typing as t

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _finding

# (id, title, stage) in packet-flow order.
CHECKLIST: tuple[tuple[str, str, str], ...] = (
    ("HOST.KERNEL", "Kernel IPsec support; IKE daemon running and listening on UDP 500/4500", "host"),
    ("HOST.SYSCTL", "Forwarding, rp_filter, redirects and larval-drop sysctls", "host"),
    ("P1.FW_IKE", "Firewall lets IKE (UDP 500/4500) in and out toward the peer", "ike"),
    ("P1.REACH", "IKE reaches the peer and the peer answers", "ike"),
    ("P1.IKE_VERSION", "Both sides use the same IKE version", "ike"),
    ("P1.PROPOSALS", "IKE proposals intersect", "ike"),
    ("P1.PSK", "Same pre-shared key on both sides", "ike"),
    ("P1.IDENTITY", "Local and remote identities agree", "ike"),
    ("P1.NAT", "NAT detection and NAT-T encapsulation are consistent", "ike"),
    ("P1.SA", "IKE SA established on both sides", "ike"),
    ("P1.LOG", "IKE daemon errors in the window", "ike"),
    ("P2.TRIGGER", "The tunnel is brought up (start action, trap policies, traffic)", "child"),
    ("P2.SELECTORS", "Phase 2 traffic selectors mirror each other", "child"),
    ("P2.CRYPTO", "ESP proposals, PFS and mode agree", "child"),
    ("P2.SA_MATCH", "Each outbound SA is the peer's inbound SA", "kernel"),
    ("P2.TRUNC", "HMAC-SHA-256 ICV length (96 vs 128 bits) agrees", "kernel"),
    ("P2.POLICY", "In/out/fwd policies exist for the selectors and point at the peer", "kernel"),
    ("P2.ROUTE", "A route toward the remote subnet exists", "kernel"),
    ("P2.FW_ESP", "Firewall lets ESP (or UDP 4500) through in both directions", "firewall"),
    ("P2.FORWARD", "FORWARD allows the protected traffic both ways", "firewall"),
    ("P2.NAT_EXEMPT", "No SNAT/MASQUERADE rewrites tunnel traffic before the policy lookup", "firewall"),
    ("P2.ESP_OUT", "Protected traffic leaves as ESP, not in clear", "traffic"),
    ("P2.ESP_ONEWAY", "ESP flows both ways and is accepted", "traffic"),
    ("P2.PROBE", "ICMP and TCP from an inside address cross the tunnel", "traffic"),
    ("P2.MTU", "Large packets cross the tunnel (path MTU)", "traffic"),
    ("ART.ESP_SA", "Wireshark esp_sa lines for the current SAs", "artifact"),
    ("ART.IKE_KEYS", "Wireshark IKE decryption table", "artifact"),
)
CHECKLIST_IDS = tuple(item[0] for item in CHECKLIST)
STAGES = ("host", "ike", "child", "kernel", "firewall", "traffic", "artifact")
RULE_MODULES = (
    "_rules_host",
    "_rules_ike",
    "_rules_child",
    "_rules_kernel",
    "_rules_firewall",
    "_rules_traffic",
    "_rules_artifact",
)

RuleFunc = t.Callable[[t.Any], dict[str, t.Any]]


@dataclasses.dataclass(frozen=True)
class Rule:
    id: str
    title: str
    stage: str
    order: int
    func: RuleFunc


_REGISTRY: dict[str, RuleFunc] = {}


def rule(finding_id: str) -> t.Callable[[RuleFunc], RuleFunc]:
    """Register ``func`` as the rule of checklist item ``finding_id``."""
    if finding_id not in CHECKLIST_IDS:
        raise ValueError(f"{finding_id} is not a checklist id")

    def register(func: RuleFunc) -> RuleFunc:
        if finding_id in _REGISTRY and _REGISTRY[finding_id] is not func:
            raise ValueError(f"{finding_id} already has a rule ({_REGISTRY[finding_id].__name__})")
        _REGISTRY[finding_id] = func
        return func

    return register


def rules() -> list[Rule]:
    """All rules in checklist order; every checklist item must have one."""
    for name in RULE_MODULES:
        importlib.import_module(f"ansible_collections.netdoctor.ipsec.plugins.plugin_utils.{name}")
    missing = [fid for fid in CHECKLIST_IDS if fid not in _REGISTRY]
    if missing:
        raise RuntimeError(f"checklist items without a rule: {', '.join(missing)}")
    return [Rule(fid, title, stage, order, _REGISTRY[fid]) for order, (fid, title, stage) in enumerate(CHECKLIST)]


def run_rule(item: Rule, ctx: t.Any) -> dict[str, t.Any]:
    """One rule's finding (id, title, stage and the verdict), errors turned into ``unknown``."""
    try:
        verdict = item.func(ctx)
    except Exception as exc:  # noqa: BLE001 - a broken rule must not hide the other findings
        verdict = _finding.unknown(f"the rule could not evaluate the gathered data ({type(exc).__name__}: {exc})")
    return {"id": item.id, "title": item.title, "stage": item.stage, **verdict}


def run_all(ctx: t.Any, only: t.Iterable[str] | None = None) -> list[dict[str, t.Any]]:
    """Every rule in order (or only the given ids), each seeing the earlier findings in ``ctx.findings``."""
    wanted = set(only) if only else None
    results = []
    for item in rules():
        if wanted is not None and item.id not in wanted:
            continue
        found = run_rule(item, ctx)
        ctx.findings[item.id] = found
        results.append(found)
    return results
