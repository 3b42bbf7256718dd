# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Pre-shared keys: decoded to the bytes the daemon uses, fingerprinted, described, matched to IDs.

A PSK never leaves this module in clear. ``secret_record`` turns a configured secret into
``{name, ids, fingerprint, facts, source}``: the fingerprint is HMAC-SHA-256 of the *decoded* bytes
(``0x`` hex and ``0s`` base64 spellings give the fingerprint of the bytes they stand for), and the
facts say what trips old stacks (length, non-ASCII, quotes, spaces, ``#``, surrounding whitespace,
hex/base64 forms) without revealing the key.

``best_secret`` picks the secret a daemon would use for a pair of identities, after the rules of
each daemon (strongSwan's credential manager, libreswan's ipsec.secrets lookup, racoon's psk.txt).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import re

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _addr, _fingerprint

ANY_IDS = ("%any", "%any6", "0.0.0.0", "::", "*", "0.0.0.0/0", "::/0", "")


def _unquote(text):
    """(inner text, quote character or '')."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1], text[0]
    return text, ""


def decode_psk(raw, allow_prefixes=True):
    """The bytes a daemon derives from the secret as written, and how it was written.

    ``raw`` is the value as it appears in the file, with its quotes if any. Returns
    ``(bytes or None, encoding, quote)``; ``encoding`` is ``text``, ``hex`` or ``base64``; None when
    a ``0x``/``0s`` form does not decode (the daemon would reject it too).
    """
    inner, quote = _unquote(raw)
    if allow_prefixes and not quote or allow_prefixes == "always":
        lowered = inner[:2].lower()
        if lowered == "0x":
            digits = inner[2:].replace(" ", "")
            try:
                return binascii.unhexlify(digits if len(digits) % 2 == 0 else "0" + digits), "hex", quote
            except (TypeError, ValueError, binascii.Error):
                return None, "hex", quote
        if lowered == "0s":
            if not re.match(r"^[A-Za-z0-9+/]+={0,2}$", inner[2:]):
                return None, "base64", quote
            try:
                return base64.b64decode(inner[2:].encode("ascii")), "base64", quote
            except (TypeError, ValueError, binascii.Error, UnicodeEncodeError):
                return None, "base64", quote
    return inner.encode("utf-8"), "text", quote


def psk_facts(raw, decoded, encoding, quote):
    """What matters about a secret on old stacks, without the secret."""
    inner, _q = _unquote(raw)
    text = inner if encoding == "text" else ""
    facts = {
        "length": len(decoded) if decoded is not None else None,
        "encoding": encoding,
        "quoted": bool(quote),
        "non_ascii": any(ord(char) > 126 for char in text),
        "control_characters": any(ord(char) < 32 for char in text),
        "spaces": " " in text or "\t" in text,
        "hash_sign": "#" in text,
        "quote_characters": any(char in text for char in "\"'"),
        "backslash": "\\" in text,
        "leading_or_trailing_whitespace": text != text.strip() if text else False,
        "decodes": decoded is not None,
    }
    facts["hints"] = _hints(facts)
    return facts


def _hints(facts):
    hints = []
    if not facts["decodes"]:
        hints.append("the %s form does not decode: the daemon rejects this secret" % facts["encoding"])
    if facts["length"] is not None and facts["length"] < 8:
        hints.append("short secret (%d bytes): some stacks (FIPS mode, Windows, cloud gateways) refuse it" % facts["length"])
    if facts["non_ascii"]:
        hints.append("non-ASCII characters: the peer may encode them differently (UTF-8 vs Latin-1)")
    if facts["hash_sign"]:
        hints.append("'#' in the secret: unquoted, old parsers (racoon psk.txt, ipsec.secrets) take the rest as a comment")
    if facts["spaces"]:
        hints.append("spaces in the secret: unquoted, parsers split the value there")
    if facts["leading_or_trailing_whitespace"]:
        hints.append("leading/trailing whitespace: GUIs and some parsers strip it")
    if facts["quote_characters"] or facts["backslash"]:
        hints.append("quotes or backslashes inside the secret: escaping differs between daemons")
    if facts["control_characters"]:
        hints.append("control characters in the secret")
    if facts["encoding"] in ("hex", "base64"):
        hints.append("written as %s: a peer that takes it as text uses different bytes" % facts["encoding"])
    return hints


def secret_record(name, ids, raw, salt, source, allow_prefixes=True):
    """A configured PSK as a record with its fingerprint and facts, never its text."""
    decoded, encoding, quote = decode_psk(raw, allow_prefixes)
    return {
        "name": name,
        "type": "psk",
        "ids": list(ids),
        "fingerprint": _fingerprint.fingerprint(decoded, salt) if decoded is not None else None,
        "facts": psk_facts(raw, decoded, encoding, quote),
        "source": source,
    }


# --- identities ---------------------------------------------------------------------------------

def normalize_id(text):
    """A comparable identity: quotes and the ``@`` of FQDNs dropped, addresses canonical, lower case.

    ``@#hex`` key IDs and DNs are kept as written (DN comparison is out of scope).
    """
    text = (text or "").strip()
    text, _quote = _unquote(text)
    if text.lower() in ANY_IDS:
        return "%any"
    for prefix in ("fqdn:", "email:", "rfc822:", "ipv4:", "ipv6:", "userfqdn:"):
        if text.lower().startswith(prefix):
            text = text[len(prefix):]
    if text.startswith("@#"):
        return text.lower()
    if text.startswith("@@"):
        text = text[2:]
    elif text.startswith("@"):
        text = text[1:]
    if _addr.address_family(text) and "/" not in text:
        net = _addr.parse_network(text)
        if net:
            return _addr.format_address(net[0], net[1])
    if "=" in text and "," in text:
        return text
    return text.lower()


def id_matches(pattern, actual):
    """How well ``pattern`` (a configured owner ID) matches ``actual``: 2 exact, 1 wildcard, 0 none."""
    pattern_n = normalize_id(pattern)
    actual_n = normalize_id(actual)
    if pattern_n == "%any":
        return 1
    if pattern_n == actual_n:
        return 2
    if "*" in pattern_n:
        regex = "^" + ".*".join(re.escape(part) for part in pattern_n.split("*")) + "$"
        if re.match(regex, actual_n):
            return 1
    return 0


def _owner_score(owners, candidates):
    best = 0
    for owner in owners:
        for candidate in candidates:
            best = max(best, id_matches(owner, candidate))
    return best


def _score_strongswan(secret, local_ids, remote_ids):
    """charon's shared-key lookup: a key without owners matches anything weakly; otherwise at least
    one side must match, and the best sum of both sides wins."""
    owners = secret.get("ids") or []
    if not owners:
        return 2
    mine = _owner_score(owners, local_ids)
    theirs = _owner_score(owners, remote_ids)
    if not mine and not theirs:
        return 0
    return mine * 2 + theirs * 2 + 1


def _score_libreswan(secret, local_ids, remote_ids):
    """pluto's ipsec.secrets lookup: both IDs listed is best, one plus a wildcard next, no IDs last."""
    owners = secret.get("ids") or []
    if not owners:
        return 1
    mine = any(id_matches(owner, c) == 2 for owner in owners for c in local_ids)
    theirs = any(id_matches(owner, c) == 2 for owner in owners for c in remote_ids)
    wildcard = any(normalize_id(owner) == "%any" for owner in owners)
    if mine and theirs:
        return 6
    if theirs and (wildcard or len(owners) == 1):
        return 4
    if mine and (wildcard or len(owners) == 1):
        return 3
    if wildcard and all(normalize_id(owner) == "%any" for owner in owners):
        return 2
    return 0


def _score_racoon(secret, local_ids, remote_ids):
    """racoon's psk.txt: the key whose identifier is the peer's address or ID; ``*`` as a fallback."""
    owners = secret.get("ids") or []
    if any(id_matches(owner, c) == 2 for owner in owners for c in remote_ids):
        return 2
    if any(normalize_id(owner) == "%any" for owner in owners):
        return 1
    return 0


SCORERS = {"strongswan": _score_strongswan, "libreswan": _score_libreswan, "racoon": _score_racoon}


def best_secret(secrets, local_ids, remote_ids, daemon):
    """(secret, how) the daemon would use for these identities, or (None, reason).

    ``how`` is ``exact`` when all of the secret's IDs were matched exactly, ``wildcard`` otherwise.
    Ties go to the first secret, as both strongSwan and pluto keep the first best match.
    """
    scorer = SCORERS[daemon]
    local_ids = [i for i in local_ids if i]
    remote_ids = [i for i in remote_ids if i]
    best, best_score = None, 0
    for secret in secrets:
        if secret.get("type", "psk") != "psk":
            continue
        score = scorer(secret, local_ids, remote_ids)
        if score > best_score:
            best, best_score = secret, score
    if best is None:
        return None, "no PSK matches local %s / remote %s" % (", ".join(local_ids) or "?", ", ".join(remote_ids) or "?")
    owners = best.get("ids") or []
    exact = owners and all(
        any(id_matches(owner, c) == 2 for c in local_ids + remote_ids) for owner in owners
    )
    return best, "exact" if exact else "wildcard"


# --- connections ---------------------------------------------------------------------------------

def _identities(conn, sas, side):
    ids = []
    configured = conn["%s_id" % side]
    if configured and normalize_id(configured) != "%any":
        ids.append(configured)
    for sa in sas:
        if sa["name"] == conn["name"] and sa.get("%s_id" % side):
            ids.append(sa["%s_id" % side])
    if not ids or configured is None:
        ids.extend(a for a in conn["%s_addrs" % side] if normalize_id(a) != "%any")
    unique = []
    for ident in ids:
        if normalize_id(ident) not in [normalize_id(u) for u in unique]:
            unique.append(ident)
    return unique


def attach_to_connections(connections, secrets, sas, daemon):
    """Set ``psk_fingerprint`` and ``psk`` on every connection that authenticates with a PSK."""
    problems = []
    for conn in connections:
        if "psk" not in (conn["local_auth"], conn["remote_auth"]):
            continue
        local_ids = _identities(conn, sas, "local")
        remote_ids = _identities(conn, sas, "remote")
        secret, how = best_secret(secrets, local_ids, remote_ids, daemon)
        if secret is None:
            conn["psk"] = {"secret": None, "match": None, "facts": None, "source": None,
                           "local_ids": local_ids, "remote_ids": remote_ids}
            problems.append("connection '%s' uses PSK authentication but %s" % (conn["name"], how))
            continue
        conn["psk_fingerprint"] = secret["fingerprint"]
        conn["psk"] = {"secret": secret["name"], "match": how, "facts": secret["facts"], "source": secret["source"],
                       "local_ids": local_ids, "remote_ids": remote_ids}
    return problems
