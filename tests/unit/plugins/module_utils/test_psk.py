# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PSKs: decoded bytes, facts without the secret, and the secret each daemon picks for a pair of IDs."""

from __future__ import annotations

import pytest

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _fingerprint, _ike_record, _psk

SALT = "unit-test-salt"


@pytest.mark.parametrize("raw, allow, expected, encoding", [
    ('"abc"', True, b"abc", "text"),
    ("0x616263", True, b"abc", "hex"),
    ("0X616263", True, b"abc", "hex"),
    ("0sYWJj", True, b"abc", "base64"),
    ('"0x616263"', True, b"0x616263", "text"),           # quoted in ipsec.secrets: taken literally
    ('"0x616263"', "always", b"abc", "hex"),              # swanctl.conf: prefixes count even when quoted
    ("0xabc", True, b"\x0a\xbc", "hex"),
    ("0xnothex", True, None, "hex"),
    ("0s!!!", True, None, "base64"),
    ("'grüße'", True, "grüße".encode("utf-8"), "text"),
])
def test_decode(raw, allow, expected, encoding):
    decoded, enc, _quote = _psk.decode_psk(raw, allow)
    assert decoded == expected and enc == encoding


def test_record_has_fingerprint_of_bytes_and_facts_but_never_the_secret():
    record = _psk.secret_record("s1", ["@a"], '" lead and #hash grüße "', SALT, "file")
    assert record["fingerprint"] == _fingerprint.fingerprint(" lead and #hash grüße ".encode("utf-8"), SALT)
    facts = record["facts"]
    assert facts["leading_or_trailing_whitespace"] and facts["hash_sign"] and facts["non_ascii"] and facts["spaces"]
    assert facts["length"] == len(" lead and #hash grüße ".encode("utf-8"))
    assert "lead and" not in repr(record) and "grüße" not in repr(record)
    same = _psk.secret_record("s2", [], "0x" + " lead and #hash grüße ".encode("utf-8").hex(), SALT, "file")
    assert same["fingerprint"] == record["fingerprint"] and same["facts"]["encoding"] == "hex"
    assert any("hex" in hint for hint in same["facts"]["hints"])


def test_undecodable_secret_has_no_fingerprint():
    record = _psk.secret_record("bad", [], "0xzz", SALT, "file")
    assert record["fingerprint"] is None and record["facts"]["decodes"] is False
    assert record["facts"]["hints"][0].startswith("the hex form does not decode")


@pytest.mark.parametrize("text, normal", [
    ("@gw-a.lab", "gw-a.lab"), ("GW-A.LAB", "gw-a.lab"), ('"@gw-a.lab"', "gw-a.lab"), ("%any", "%any"),
    ("0.0.0.0", "%any"), ("fqdn:gw.example", "gw.example"), ("2001:DB8::0001", "2001:db8::1"),
    ("@#0a0b", "@#0a0b"), ("C=CH, O=Test, CN=moon", "C=CH, O=Test, CN=moon"),
])
def test_normalize_id(text, normal):
    assert _psk.normalize_id(text) == normal


def _secrets(*entries):
    return [{"name": name, "type": "psk", "ids": ids, "fingerprint": name} for name, ids in entries]


def test_strongswan_prefers_the_most_specific_owner_and_accepts_one_side():
    secrets = _secrets(("wild", []), ("both", ["gw-a.lab", "gw-b.lab"]), ("peer-only", ["gw-b.lab"]))
    assert _psk.best_secret(secrets, ["gw-a.lab"], ["gw-b.lab"], "strongswan") == (secrets[1], "exact")
    assert _psk.best_secret(secrets, ["gw-x.lab"], ["gw-b.lab"], "strongswan")[0]["name"] == "both"
    assert _psk.best_secret(secrets, ["gw-x.lab"], ["gw-y.lab"], "strongswan") == (secrets[0], "wildcard")
    pattern = _secrets(("pattern", ["*@strongswan.org"]))
    assert _psk.best_secret(pattern, ["moon"], ["carol@strongswan.org"], "strongswan") == (pattern[0], "wildcard")


def test_libreswan_needs_both_ids_or_a_wildcard():
    secrets = _secrets(("other-pair", ["@c", "@d"]), ("any", ["%any"]), ("pair", ["@a", "@b"]))
    assert _psk.best_secret(secrets, ["@a"], ["@b"], "libreswan")[0]["name"] == "pair"
    assert _psk.best_secret(secrets, ["@a"], ["@z"], "libreswan")[0]["name"] == "any"
    none, reason = _psk.best_secret(_secrets(("other-pair", ["@c", "@d"])), ["@a"], ["@b"], "libreswan")
    assert none is None and "no PSK matches" in reason


def test_attach_uses_sa_identities_and_reports_missing_keys():
    conn = _ike_record.connection("site", "daemon")
    conn.update(local_auth="psk", remote_auth="psk", local_id="gw-a.lab", remote_id="%any", remote_addrs=["203.0.113.6"])
    other = _ike_record.connection("cert", "daemon")
    other.update(local_auth="pubkey", remote_auth="pubkey")
    sa = _ike_record.ike_sa("site")
    sa["remote_id"] = "gw-b.lab"
    secrets = [_psk.secret_record("ike-b", ["gw-b.lab"], "s3cr3t-value", SALT, "f")]
    problems = _psk.attach_to_connections([conn, other], secrets, [sa], "strongswan")
    assert problems == [] and conn["psk"]["remote_ids"] == ["gw-b.lab"]
    assert conn["psk_fingerprint"] == secrets[0]["fingerprint"] and other["psk"] is None
    lonely = _ike_record.connection("lonely", "daemon")
    lonely.update(local_auth="psk", local_id="x", remote_id="y")
    problems = _psk.attach_to_connections([lonely], [], [], "libreswan")
    assert lonely["psk_fingerprint"] is None and "uses PSK authentication but no PSK matches" in problems[0]
