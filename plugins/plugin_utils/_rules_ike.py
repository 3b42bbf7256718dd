# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Rules of the IKE (phase 1) stage: from the firewall's view of UDP 500/4500 to the IKE SA."""

from __future__ import annotations

import re
import typing as t

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _addr
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _finding as F
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _fixes, _fw_checks, _logcodes, _pair, _side
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils._rules import rule


def _log_evidence(ctx: t.Any, finding_id: str, limit: int = 3) -> list[dict[str, t.Any]]:
    items = []
    for name in ctx.managed():
        for entry in ctx.logs(name, finding_id)[:limit]:
            items.append(F.evidence(name, f"{ctx.host(name)} log: {_logcodes.line(entry)}", source="logs"))
    return items


def _no_connection(ctx: t.Any) -> dict[str, t.Any] | None:
    """A skip/unknown verdict when a managed side has no connection toward the peer."""
    for name in ctx.managed():
        if not ctx.has(name, "ike"):
            return F.unknown(ctx.why_not(name, "ike"), name)
        if ctx.conn(name) is None:
            return F.skipped(f"{ctx.host(name)} has no IKE connection toward the peer (see P1.IKE_VERSION)", name)
    return None


# --- P1.FW_IKE ------------------------------------------------------------------------------------

def _uses_4500(ctx: t.Any) -> bool:
    """Will IKE move to UDP 4500? (NAT between the gateways, strongSwan IKEv2, forced encapsulation)."""
    if any(sa["nat_local"] or sa["nat_remote"] for n in ctx.managed() for sa in ctx.tunnel.ike_sas[n]):
        return True
    if any((ctx.conn(n) or {}).get("encap") in (True, "yes") for n in ctx.managed()):
        return True
    versions = ctx.versions or {}
    return versions.get("negotiated") == 2 and any(ctx.daemon(n) == "strongswan" for n in ctx.managed())


@rule("P1.FW_IKE")
def fw_ike(ctx: t.Any) -> dict[str, t.Any]:
    uses_4500 = _uses_4500(ctx)
    problems = _fw_checks.check_each_side(ctx, "ike", needed=lambda item: (item.get("packet") or {}).get("dport") != 4500 or uses_4500)
    return F.combine(problems, "IKE (UDP 500/4500) passes both gateways' firewalls in both directions")


# --- P1.REACH --------------------------------------------------------------------------------------

@rule("P1.REACH")
def reach(ctx: t.Any) -> dict[str, t.Any]:
    captured = [n for n in ctx.managed() if ctx.captured(n)]
    log_items = _log_evidence(ctx, "P1.REACH")
    if not captured:
        if all(ctx.tunnel.ike_established(n) for n in ctx.managed()) and ctx.managed():
            return F.passed("IKE SA established (no capture in this run)", log_items)
        not_responding = [e for n in ctx.managed() for e in ctx.logs(n, "P1.REACH", "error")]
        if not_responding:
            names = {n for n in ctx.managed() if ctx.logs(n, "P1.REACH", "error")}
            return F.failed("the IKE peer does not respond (daemon log)", _pair.other(F.side_of(names)), log_items,
                            "run the diagnosis with the capture on to see where IKE is lost", symptom=True)
        return F.skipped("no capture in this run (ipsec_capture: false) and no IKE SA to prove reachability", evidence=log_items)
    problems = []
    for sender in ctx.managed():
        if not ctx.captured(sender):
            continue
        receiver = _pair.other(sender)
        result = ctx.reach(sender)
        s_host, r_host = ctx.host(sender), ctx.host(receiver)
        if not result["sent"]:
            continue
        notifies = f" (answers carry {', '.join(result['notifies_received'])})" if result["notifies_received"] else ""
        if result["received"] == 0:
            problems.append(F.problem("fail", "both", f"{s_host} sent {result['sent']} IKE requests; {r_host} captured none: "
                                      "lost on the way (path, NAT or a filter between the gateways)",
                                      f"check the path between {s_host} and {r_host} for UDP 500/4500", symptom=True))
        elif result["answered"] == 0:
            problems.append(F.problem("fail", receiver, f"{s_host} sent {result['sent']} IKE requests; {r_host} received "
                                      f"{result['received']} and answered none", symptom=True))
        elif result["answered"] is None and not result["answers_received"]:
            problems.append(F.problem("fail", receiver, f"{s_host} sent {result['sent']} IKE requests; the peer {r_host} never answered",
                                      f"ask the peer's administrator whether {r_host} accepts IKE from {ctx.tunnel.endpoint[sender]}",
                                      symptom=True))
        elif not result["answers_received"]:
            problems.append(F.problem("fail", sender, f"{r_host} answered {result['answered']} of {s_host}'s IKE requests, "
                                      f"but {s_host} captured no answer: lost on the way back", symptom=True))
        else:
            problems.append(F.problem("pass", "both", f"{s_host} -> {r_host}: {result['sent']} IKE requests, "
                                      f"{result['answers_received']} answers received{notifies}"))
    if not problems:
        if all(ctx.tunnel.ike_established(n) for n in ctx.managed()):
            return F.passed("no IKE exchange needed in the window; the IKE SA is established", log_items)
        return F.warned("no IKE traffic in the capture window and no IKE SA: nobody initiated (see P2.TRIGGER)", "both", log_items)
    return F.combine(problems, "IKE reaches the peer and is answered", log_items)


# --- P1.IKE_VERSION -------------------------------------------------------------------------------

@rule("P1.IKE_VERSION")
def ike_version(ctx: t.Any) -> dict[str, t.Any]:
    log_items = _log_evidence(ctx, "P1.IKE_VERSION")
    for name in ctx.managed():
        if not ctx.has(name, "ike"):
            return F.unknown(ctx.why_not(name, "ike"), name, log_items)
        if ctx.conn(name) is None and ctx.side(name)["ike"]["daemon"]:
            down = ctx.side(name)["ike"].get("running") is False
            conns = ", ".join(c["name"] or "?" for c in ctx.side(name)["ike"]["connections"]) or "none"
            return F.failed(
                f"{ctx.host(name)} has no IKE connection toward {ctx.host(_pair.other(name))} (connections: {conns})",
                name, [F.evidence(name, note) for note in ctx.tunnel.selection_notes] + log_items,
                f"on {ctx.host(name)}: configure and load a connection whose remote address is the peer's "
                f"({', '.join(ctx.tunnel.peers[name]) or ctx.tunnel.endpoint[_pair.other(name)]})",
                symptom=down,
            )
    if ctx.one_sided:
        return _one_sided_version(ctx, log_items)
    versions = ctx.versions
    if versions is None:
        return F.skipped("no connection to compare", evidence=log_items)
    evidence = [F.evidence("a", f"{ctx.host('a')}: {versions['a']} ({ctx.daemon('a') or 'unknown daemon'})"),
                F.evidence("b", f"{ctx.host('b')}: {versions['b']} ({ctx.daemon('b') or 'unknown daemon'})")]
    evidence += [F.evidence("wire", note) for note in versions["wire_notes"]] + log_items
    if versions["compatible"]:
        if versions["wire_notes"]:
            return F.warned(versions["explanation"] + "; but the wire disagrees with the configuration", "both", evidence,
                            "reload the IKE daemon's configuration")
        return F.passed(versions["explanation"], evidence)
    odd = versions["odd_side"]
    target = 1 if versions[{"a": "b", "b": "a"}[odd]] == "IKEv1" else 2
    fix = (_fixes.set_line(ctx.side(odd), ctx.conn(odd), "ike_version", _fixes.version_value(ctx.side(odd), target))
           + "; " + _fixes.reload_hint(ctx.side(odd)))
    return F.failed(versions["explanation"], odd, evidence, fix)


def _one_sided_version(ctx: t.Any, log_items: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    conn = ctx.conn("a")
    result = ctx.reach("a")
    if conn is None:
        return F.skipped("no connection toward the peer on side A", "a", log_items)
    evidence = [F.evidence("a", f"{ctx.host('a')}: IKEv{conn['ike_version'] or '1/2'}")] + log_items
    if ctx.logs("a", "P1.IKE_VERSION", "error"):
        return F.failed("the peer rejects or ignores our IKE version (daemon log)", "both", evidence,
                        f"agree on the IKE version with the peer's administrator; {_fixes.where(ctx.side('a'), conn, 'ike_version')}")
    if result["sent"] and not result["answers_received"] and result["versions_sent"] == [1]:
        return F.warned("the peer does not answer our IKEv1 requests: it may speak IKEv2 only", "both", evidence)
    if ctx.tunnel.ike_established("a"):
        return F.passed("IKE SA established with the unmanaged peer", evidence)
    return F.skipped("the peer is not managed here; its IKE version shows only in its answers", "b", evidence)


# --- P1.PROPOSALS ---------------------------------------------------------------------------------

def proposal_fix(ctx: t.Any, compared: dict[str, t.Any], setting: str, kind: str,
                 child_pair: tuple[dict[str, t.Any], dict[str, t.Any]] | None = None) -> str:
    """'on gw_b: <file>: <option> = <the other side's first proposal>' (or both sides' options)."""
    mismatch = compared["mismatch"] or {}
    odd = mismatch.get("odd_side") or "both"
    target = odd if odd in ("a", "b") else "b"
    source = _pair.other(target)
    source_list = ctx.conn(source)[f"{kind}_proposals"] if kind == "ike" else child_pair[0 if source == "a" else 1]["esp_proposals"]
    first = source_list[mismatch.get("a_index" if source == "a" else "b_index", 0)] if source_list else {}
    text = _fixes.proposal_text(ctx.daemon(target), first, kind)
    child = None if child_pair is None else child_pair[0 if target == "a" else 1]
    fix = _fixes.set_line(ctx.side(target), ctx.conn(target), setting, text, child)
    if odd == "both":
        fix = "agree on one proposal, e.g. " + fix
    return fix + "; " + _fixes.reload_hint(ctx.side(target))


def proposal_evidence(ctx: t.Any, compared: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    items = [F.evidence("a", f"{ctx.host('a')} offers: {'; '.join(compared['a']) or '-'}"),
             F.evidence("b", f"{ctx.host('b')} offers: {'; '.join(compared['b']) or '-'}")]
    for item in (compared["mismatch"] or {}).get("types", []):
        items.append(F.evidence("both", f"{item['type']}: {ctx.host('a')} {', '.join(item['a']) or '-'} vs "
                                        f"{ctx.host('b')} {', '.join(item['b']) or '-'}"))
    return items


@rule("P1.PROPOSALS")
def proposals(ctx: t.Any) -> dict[str, t.Any]:
    log_items = _log_evidence(ctx, "P1.PROPOSALS")
    if ctx.one_sided:
        return _one_sided_proposals(ctx, log_items)
    missing = _no_connection(ctx)
    if missing:
        return missing
    compared = ctx.ike_proposals
    evidence = proposal_evidence(ctx, compared) + log_items
    if compared["match"]:
        negotiated = [sa["proposal"]["text"] for n in ("a", "b") for sa in ctx.tunnel.ike_sas[n] if sa.get("proposal") and sa["proposal"].get("text")]
        if negotiated:
            evidence.append(F.evidence("both", f"negotiated: {negotiated[0]}"))
        return F.passed(compared["explanation"], evidence)
    if not compared["a"] or not compared["b"]:
        return F.unknown(compared["explanation"], "a" if not compared["a"] else "b", evidence)
    mismatch = compared["mismatch"]
    return F.failed(compared["explanation"] + (f"; odd one out: {mismatch['odd_reason']}" if mismatch["odd_side"] != "both" else ""),
                    mismatch["odd_side"], evidence, proposal_fix(ctx, compared, "ike_proposals", "ike"))


def _one_sided_proposals(ctx: t.Any, log_items: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    conn = ctx.conn("a")
    if conn is None:
        return F.skipped("no connection toward the peer on side A", "a", log_items)
    ours = "; ".join(p.get("text") or "?" for p in conn["ike_proposals"])
    evidence = [F.evidence("a", f"{ctx.host('a')} offers: {ours or '-'}")] + log_items
    result = ctx.reach("a")
    if "NO_PROPOSAL_CHOSEN" in result["notifies_received"] or ctx.logs("a", "P1.PROPOSALS", "error"):
        return F.failed("the peer accepts none of our IKE proposals", "both", evidence,
                        f"ask the peer's administrator which proposals it accepts and add one to {_fixes.where(ctx.side('a'), conn, 'ike_proposals')}")
    if ctx.tunnel.ike_established("a"):
        return F.passed("IKE SA established with the unmanaged peer", evidence)
    return F.skipped("the peer is not managed here and did not answer with its choice", "b", evidence)


# --- P1.PSK ---------------------------------------------------------------------------------------

# psk facts (ike_info's vocabulary) that old stacks mangle, in words.
PSK_TRAPS = {
    "leading_or_trailing_whitespace": "leading or trailing whitespace",
    "spaces": "spaces",
    "non_ascii": "non-ASCII characters",
    "quote_characters": "quote characters",
    "hash_sign": "a '#' (a comment start for some parsers)",
    "control_characters": "control characters",
    "backslash": "a backslash",
}


def _psk_traps(facts: dict[str, t.Any]) -> list[str]:
    return [label for key, label in PSK_TRAPS.items() if facts.get(key)]


def _auth(conn: dict[str, t.Any], which: str) -> str:
    value = (conn.get(f"{which}_auth") or "").lower()
    return {"secret": "psk", "pre-shared-key": "psk", "pre_shared_key": "psk", "rsasig": "pubkey", "rsa": "pubkey"}.get(value, value)


@rule("P1.PSK")
def psk(ctx: t.Any) -> dict[str, t.Any]:
    log_items = _log_evidence(ctx, "P1.PSK")
    if ctx.one_sided:
        conn = ctx.conn("a")
        if conn and ctx.logs("a", "P1.PSK", "error"):
            return F.failed("authentication failed (daemon log): the pre-shared keys differ or the peer uses another method",
                            "both", log_items, f"agree on the secret with the peer's administrator ({_fixes.where(ctx.side('a'), conn, 'psk')})")
        return F.skipped("the peer is not managed here: its secret cannot be compared", "b", log_items)
    missing = _no_connection(ctx)
    if missing:
        return missing
    conn_a, conn_b = ctx.conn("a"), ctx.conn("b")
    auths = {"a": (_auth(conn_a, "local"), _auth(conn_a, "remote")), "b": (_auth(conn_b, "local"), _auth(conn_b, "remote"))}
    evidence = [F.evidence(n, f"{ctx.host(n)}: authenticates with {auths[n][0] or '?'}, expects {auths[n][1] or '?'} from the peer")
                for n in ("a", "b")]
    for sender, receiver in (("a", "b"), ("b", "a")):
        sent, expected = auths[sender][0], auths[receiver][1]
        if sent and expected and sent != expected:
            return F.failed(f"{ctx.host(sender)} authenticates with {sent} but {ctx.host(receiver)} expects {expected}",
                            receiver, evidence + log_items,
                            f"make {ctx.host(receiver)} expect {sent} from its peer (or switch {ctx.host(sender)} to {expected})")
    if "psk" not in (auths["a"][0], auths["b"][0], "") and all(auths[n][0] for n in ("a", "b")):
        return F.skipped(f"no pre-shared key in use ({auths['a'][0]} / {auths['b'][0]})", evidence=evidence)
    salts = {n: ctx.side(n).get("fingerprint_salt_id") for n in ("a", "b")}
    if salts["a"] and salts["b"] and salts["a"] != salts["b"]:
        return F.unknown("the two sides were gathered under different fingerprint salts: their PSK fingerprints cannot be compared",
                         "both", evidence)
    fingerprints = {"a": conn_a.get("psk_fingerprint"), "b": conn_b.get("psk_fingerprint")}
    traps = {n: _psk_traps(ctx.conn(n).get("psk_facts") or {}) for n in ("a", "b")}
    for name in ("a", "b"):
        fp = fingerprints[name]
        # No fingerprint digits in evidence: with the run's salt they would let a weak secret be guessed offline.
        evidence.append(F.evidence(name, f"{ctx.host(name)}: PSK {'found' if fp else 'not found'}"
                                         + (f"; contains {', '.join(traps[name])}" if traps[name] else "")))
    evidence += log_items
    for name in ("a", "b"):
        if not fingerprints[name]:
            return F.failed(f"{ctx.host(name)} has no pre-shared key for this connection's identities", name, evidence,
                            f"on {ctx.host(name)}: add the secret in {_fixes.where(ctx.side(name), ctx.conn(name), 'psk')}; "
                            + _fixes.reload_hint(ctx.side(name)))
    if fingerprints["a"] == fingerprints["b"]:
        trapped = [n for n in ("a", "b") if traps[n]]
        if trapped:
            return F.warned(f"same PSK on both sides, but it contains {', '.join(traps[trapped[0]])}, which old stacks mangle",
                            F.side_of(trapped), evidence, "use a long random ASCII secret without spaces, quotes or '#'")
        return F.passed("same pre-shared key on both sides (salted fingerprints agree)", evidence)
    odd, why = "both", ""
    trapped = [n for n in ("a", "b") if traps[n]]
    if len(trapped) == 1:
        odd, why = trapped[0], f"; {ctx.host(trapped[0])}'s secret contains {', '.join(traps[trapped[0]])}"
    elif ctx.recently_changed():
        odd = ctx.recently_changed()
        why = f"; {ctx.host(odd)}'s IKE configuration changed (or was reloaded) last"
    target = odd if odd in ("a", "b") else "b"
    fix = (f"set the same secret on both gateways: on {ctx.host(target)}, {_fixes.where(ctx.side(target), ctx.conn(target), 'psk')} "
           f"must hold {ctx.host(_pair.other(target))}'s secret; " + _fixes.reload_hint(ctx.side(target)))
    return F.failed(f"the pre-shared keys differ (salted fingerprints disagree){why}", odd, evidence, fix)


# --- P1.IDENTITY ----------------------------------------------------------------------------------

def normalise_id(identity: str | None) -> str | None:
    if identity is None:
        return None
    text = str(identity).strip().strip('"')
    if text in ("%any", "%any6", "", "*"):
        return None
    text = re.sub(r"^(@#|@|fqdn:|keyid:|ipv4:|ipv6:|email:|userfqdn:)", "", text, flags=re.I)
    return text.lower()


def effective_local_id(ctx: t.Any, name: str) -> str | None:
    conn = ctx.conn(name)
    return normalise_id(conn.get("local_id")) or ctx.tunnel.endpoint[name]


def effective_remote_id(ctx: t.Any, name: str) -> str | None:
    """None when the side accepts any identity."""
    conn = ctx.conn(name)
    explicit = normalise_id(conn.get("remote_id"))
    if explicit or conn.get("remote_id") in ("%any", "%any6"):
        return explicit
    if ctx.daemon(name) == "strongswan":
        return None
    return ctx.tunnel.endpoint[_pair.other(name)]


def _plausibility(ctx: t.Any, identity: str | None, owner: str) -> int:
    """How well an identity fits gateway ``owner``: 2 its address, 1 its host name, 0 neither."""
    if not identity:
        return 0
    if _side.owns_address(ctx.side(owner), identity):
        return 2
    tokens = {re.sub(r"[^a-z0-9]", "", part) for part in re.split(r"[._]", ctx.host(owner).lower()) if part}
    flat = re.sub(r"[^a-z0-9]", "", identity.split(".")[0])
    host_flat = re.sub(r"[^a-z0-9]", "", ctx.host(owner).lower())
    return 1 if flat and (flat == host_flat or flat in tokens) else 0


def _domain(identity: str | None) -> str | None:
    if not identity:
        return None
    if _addr.address_family(identity):
        return "(address)"
    return identity.split(".", 1)[1] if "." in identity else ""


def _consistency(identity: str | None, others: list[str | None]) -> int:
    """How many of the tunnel's other identities share this one's domain (``gw-a.lab`` and ``gw-b.lab`` do)."""
    domain = _domain(identity)
    return sum(1 for other in others if other and domain is not None and _domain(other) == domain)


@rule("P1.IDENTITY")
def identity(ctx: t.Any) -> dict[str, t.Any]:
    log_items = _log_evidence(ctx, "P1.IDENTITY")
    if ctx.one_sided:
        if ctx.conn("a") and ctx.logs("a", "P1.IDENTITY", "error"):
            return F.failed("the peer's identity does not match ours (daemon log)", "both", log_items,
                            f"check {_fixes.where(ctx.side('a'), ctx.conn('a'), 'remote_id')} against the identity the peer sends")
        return F.skipped("the peer is not managed here: its identities cannot be compared", "b", log_items)
    missing = _no_connection(ctx)
    if missing:
        return missing
    problems = []
    for owner, checker in (("a", "b"), ("b", "a")):
        presented = effective_local_id(ctx, owner)
        expected = effective_remote_id(ctx, checker)
        own_host, chk_host = ctx.host(owner), ctx.host(checker)
        if expected is None or presented == expected or (
            _side.owns_address(ctx.side(owner), presented or "") and _side.owns_address(ctx.side(owner), expected)
        ):
            problems.append(F.problem("pass", "both", f"{own_host} presents {presented!r}; {chk_host} expects "
                                      f"{expected or 'any identity'!r}"))
            continue
        # Which of the two is the odd one out: first, does it fit the gateway it names (its address, its
        # host name)? then, does it look like the tunnel's other identities (same domain)?
        others = [effective_remote_id(ctx, owner), effective_local_id(ctx, checker)]
        fit_presented = (_plausibility(ctx, presented, owner), _consistency(presented, others))
        fit_expected = (_plausibility(ctx, expected, owner), _consistency(expected, others))
        if fit_presented > fit_expected:
            wrong, setting, value = checker, "remote_id", presented
        elif fit_expected > fit_presented:
            wrong, setting, value = owner, "local_id", expected
        elif ctx.recently_changed():
            wrong = ctx.recently_changed()
            setting, value = ("local_id", expected) if wrong == owner else ("remote_id", presented)
        else:
            wrong, setting, value = "both", "remote_id", presented
        target = checker if wrong == "both" else wrong
        fix = _fixes.set_line(ctx.side(target), ctx.conn(target), setting, value) + "; " + _fixes.reload_hint(ctx.side(target))
        problems.append(F.problem("fail", wrong, f"{own_host} presents identity {presented!r} but {chk_host} expects {expected!r}",
                                  fix if wrong != "both" else f"make the two agree, e.g. {fix}"))
    return F.combine(problems, "identities agree in both directions", log_items)


# --- P1.NAT ---------------------------------------------------------------------------------------

def _encap_kind(state: dict[str, t.Any]) -> str:
    encap = state.get("encap")
    if not encap:
        return "none"
    return str(encap.get("type") if isinstance(encap, dict) else encap)


@rule("P1.NAT")
def nat(ctx: t.Any) -> dict[str, t.Any]:
    problems = []
    nat_seen = False
    for name in ctx.managed():
        for sa in ctx.tunnel.ike_sas[name]:
            if sa["nat_local"] or sa["nat_remote"]:
                nat_seen = True
                where = "this side" if sa["nat_local"] else "the peer"
                problems.append(F.problem("pass", name, f"{ctx.host(name)}: IKE detected NAT ({where} is behind NAT)"))
    if not ctx.one_sided:
        for name in ("a", "b"):
            other = _pair.other(name)
            seen_as = [addr for addr in ctx.tunnel.peers[other]
                       if ctx.side(name)["addresses"] and not _side.owns_address(ctx.side(name), addr)]
            if seen_as:
                nat_seen = True
                problems.append(F.problem("pass", name, f"{ctx.host(other)} knows {ctx.host(name)} as {seen_as[0]}, which "
                                          f"{ctx.host(name)} does not own: address translation between them"))
    encap = {name: sorted({_encap_kind(s) for s in ctx.tunnel.states[name]}) for name in ctx.managed()}
    for name in ctx.managed():
        plain = [s for s in ctx.tunnel.states[name] if not s.get("encap")]
        if nat_seen and plain:
            problems.append(F.problem(
                "fail", name, f"{ctx.host(name)}: NAT between the gateways but SA {plain[0]['spi']} is plain ESP, not "
                "UDP-encapsulated: the NAT device drops or mangles it",
                f"enable NAT-T: {_fixes.where(ctx.side(name), ctx.conn(name), 'encap')} (remove settings that disable "
                "encapsulation), then re-establish the SA"))
    if not nat_seen and not ctx.one_sided and all(ctx.tunnel.states[n] for n in ("a", "b")):
        if (encap["a"] == ["none"]) != (encap["b"] == ["none"]):
            problems.append(F.problem(
                "fail", "both", f"UDP encapsulation differs: {ctx.host('a')} {', '.join(encap['a'])}, {ctx.host('b')} "
                f"{', '.join(encap['b'])} (the receiver counts XfrmInStateMismatch)", "re-establish the CHILD_SA on both sides"))
    wire = []
    for name in ctx.managed():
        encapsulated = [f for f in (ctx.side(name).get("capture") or {}).get("esp") or [] if f.get("encap")]
        if encapsulated:
            wire.append(F.evidence("wire", f"{ctx.host(name)} captured UDP-encapsulated ESP (SPI {encapsulated[0].get('spi')})"))
    if not nat_seen and not any(p["status"] != "pass" for p in problems) and not any(
            ctx.tunnel.ike_established(n) for n in ctx.managed()):
        return F.skipped("no IKE SA, so no NAT detection result", evidence=wire)
    summary = "NAT between the gateways; NAT-T encapsulation used consistently" if nat_seen else "no NAT between the gateways"
    return F.combine(problems, summary, wire)


# --- P1.SA ----------------------------------------------------------------------------------------

@rule("P1.SA")
def ike_sa(ctx: t.Any) -> dict[str, t.Any]:
    problems = []
    for name in ctx.managed():
        host = ctx.host(name)
        if not ctx.has(name, "ike"):
            problems.append(F.problem("unknown", name, f"{host}: {ctx.why_not(name, 'ike')}"))
            continue
        sas = ctx.tunnel.ike_sas[name]
        if ctx.tunnel.ike_established(name):
            sa = next(s for s in sas if s["established"])
            problems.append(F.problem("pass", name, f"{host}: IKE SA {sa['name'] or ''} {sa['state']} "
                                      f"(SPIs {sa.get('spi_i') or '?'}/{sa.get('spi_r') or '?'})"))
        elif sas:
            states = ", ".join(sorted({str(s["state"]) for s in sas}))
            problems.append(F.problem("fail", name, f"{host}: IKE SA not established (state {states})", symptom=True))
        else:
            problems.append(F.problem("fail", name, f"{host}: no IKE SA for this tunnel", symptom=True))
    problems += ctx.unmanaged_peer("SA state of the unmanaged peer not readable")
    return F.combine(problems, "IKE SA established on both sides")


# --- P1.LOG ---------------------------------------------------------------------------------------

@rule("P1.LOG")
def daemon_log(ctx: t.Any) -> dict[str, t.Any]:
    problems = []
    for name in ctx.managed():
        host = ctx.host(name)
        if not ctx.has(name, "logs"):
            problems.append(F.problem("skip", name, f"{host}: {ctx.why_not(name, 'logs')}"))
            continue
        errors = ctx.logs(name, level="error")
        warnings = ctx.logs(name, level="warning")
        retransmits = [e for e in warnings if e.get("code") == "RETRANSMIT"]
        if 0 < len(retransmits) < 3:
            # A retransmit or two is a slow answer, not a problem; three or more say the peer is not answering.
            warnings = [e for e in warnings if e.get("code") != "RETRANSMIT"]
            problems.append(F.problem("pass", name, f"{host}: {len(retransmits)} IKE retransmit(s) in the window"))
        for entry in errors[:4]:
            pointed = ", ".join(_logcodes.points_at(entry.get("code")))
            problems.append(F.problem("fail", name, f"{host}: {_logcodes.line(entry)}" + (f" (see {pointed})" if pointed else ""),
                                      symptom=True))
        if len(errors) > 4:
            problems.append(F.problem("fail", name, f"{host}: {len(errors) - 4} more error lines", symptom=True))
        for entry in warnings[:2]:
            problems.append(F.problem("warn", name, f"{host}: {_logcodes.line(entry)}"))
        if not errors and not warnings:
            problems.append(F.problem("pass", name, f"{host}: {len(ctx.side(name)['logs'])} log lines in the window, no IKE errors"))
        elif len(retransmits) >= 3 and not errors:
            problems.append(F.problem("warn", name, f"{host}: {len(retransmits)} IKE retransmits in the window"))
    return F.combine(problems, "no IKE errors logged in the window")
