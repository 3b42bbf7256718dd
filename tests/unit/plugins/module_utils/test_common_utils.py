# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The small shared gateway helpers: fingerprints, addresses, the command seam, algorithm names."""

from __future__ import annotations

import pytest

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _addr, _algorithms, _command, _fingerprint


def test_fingerprint_is_salted_and_stable():
    first = _fingerprint.fingerprint(b"secret", "salt-1")
    assert first == _fingerprint.fingerprint("secret", "salt-1")
    assert first != _fingerprint.fingerprint(b"secret", "salt-2")
    assert first != _fingerprint.fingerprint(b"secret2", "salt-1")
    assert first.startswith("hmac-sha256:") and len(first) == len("hmac-sha256:") + 32
    assert "secret" not in first


def test_hex_key_fingerprint_ignores_spelling_but_rejects_non_hex():
    salt = _fingerprint.random_salt()
    assert _fingerprint.fingerprint_hex_key("0xABcd", salt) == _fingerprint.fingerprint_hex_key("abcd", salt)
    assert _fingerprint.fingerprint_hex_key("0xabcd", salt) == _fingerprint.fingerprint(b"\xab\xcd", salt)
    assert _fingerprint.fingerprint_hex_key("0xzz", salt) is None
    assert _fingerprint.random_salt() != salt


@pytest.mark.parametrize(
    "text, expected",
    [
        ("10.1.0.7/24", "10.1.0.0/24"),
        ("10.1.0.7", "10.1.0.7/32"),
        ("2001:db8::1/64", "2001:db8::/64"),
        ("fe80::1%eth0", "fe80::1/128"),
        ("10.1.0.0/33", None),
        ("not-an-address", None),
        ("", None),
    ],
)
def test_normalize_network(text, expected):
    assert _addr.normalize_network(text) == expected


def test_containment_respects_family_and_prefix():
    assert _addr.address_in("10.1.0.9", "10.1.0.0/24")
    assert not _addr.address_in("10.1.1.9", "10.1.0.0/24")
    assert not _addr.address_in("::ffff:10.1.0.9", "10.1.0.0/24")
    wide, narrow = _addr.parse_network("10.0.0.0/8"), _addr.parse_network("10.1.0.0/24")
    assert _addr.network_contains(wide, narrow)
    assert not _addr.network_contains(narrow, wide)  # pylint: disable=arguments-out-of-order
    assert _addr.address_family("2001:db8::1") == 6 and _addr.address_family("x") is None


@pytest.mark.parametrize(
    "name, key_bits, icv_bits, expected",
    [
        ("rfc4106(gcm(aes))", 288, 128, "AES_GCM_16_256"),
        ("rfc4106(gcm(aes))", 160, 64, "AES_GCM_8_128"),
        ("rfc4309(ccm(aes))", 152, 96, "AES_CCM_12_128"),
        ("rfc7539esp(chacha20,poly1305)", 288, 128, "CHACHA20_POLY1305"),
        ("rfc4543(gcm(aes))", 160, 128, "NULL_AUTH_AES_GMAC_128"),
        ("gcm(unknown)", 160, 128, None),
    ],
)
def test_kernel_aead_names(name, key_bits, icv_bits, expected):
    assert _algorithms.kernel_aead(name, key_bits, icv_bits) == expected


def test_kernel_enc_and_auth_names():
    assert _algorithms.kernel_encryption("cbc(aes)", 256) == "AES_CBC_256"
    assert _algorithms.kernel_encryption("rfc3686(ctr(aes))", 160) == "AES_CTR_128"
    assert _algorithms.kernel_encryption("cbc(des3_ede)", 192) == "3DES"
    assert _algorithms.kernel_encryption("cbc(nope)", 128) is None
    assert _algorithms.kernel_integrity("hmac(sha256)", 128) == "HMAC_SHA2_256_128"
    assert _algorithms.kernel_integrity("hmac(sha256)", 96) == "HMAC_SHA2_256_96"
    assert _algorithms.kernel_auth_default_bits("hmac(sha256)") == 96
    assert _algorithms.kernel_integrity("digest_null", 0) == "NONE"


def test_ikev2_transform_numbers():
    assert _algorithms.ikev2_transform(1, 12, 256) == ("encryption", "AES_CBC_256")
    assert _algorithms.ikev2_transform(1, 20, 128) == ("encryption", "AES_GCM_16_128")
    assert _algorithms.ikev2_transform(1, 3, 192) == ("encryption", "3DES")
    assert _algorithms.ikev2_transform(3, 12) == ("integrity", "HMAC_SHA2_256_128")
    assert _algorithms.ikev2_transform(4, 31) == ("dh", "CURVE_25519")
    assert _algorithms.ikev2_transform(1, 999) == ("encryption", "UNKNOWN_ENCR_999")
    assert _algorithms.is_aead("AES_GCM_16_256") and not _algorithms.is_aead("AES_CBC_256")


class _FakeModule:
    def __init__(self, paths, result):
        self.paths, self.result, self.calls = paths, result, []

    def get_bin_path(self, tool, required=False, opt_dirs=None):
        self.calls.append(("which", tool))
        return self.paths.get(tool)

    def run_command(self, argv, data=None, environ_update=None):
        self.calls.append(("run", argv, environ_update))
        return self.result


def test_command_seam_resolves_once_pins_locale_and_names_failures():
    module = _FakeModule({"ip": "/usr/sbin/ip"}, (2, "", "RTNETLINK answers: Operation not permitted\n"))
    runner = _command.CommandRunner(module)
    with pytest.raises(_command.CommandError) as failure:
        runner.run("ip", ["xfrm", "state"])
    assert "'ip xfrm state' failed with rc=2: RTNETLINK answers: Operation not permitted" == str(failure.value)
    assert runner.run("ip", ["xfrm", "state"], check_rc=False)[0] == 2
    assert [c for c in module.calls if c[0] == "which"] == [("which", "ip")]
    assert module.calls[1][2]["LANG"] == "C"
    with pytest.raises(_command.ToolMissing, match="'setkey' is not installed"):
        runner.run("setkey", ["-D"])


def test_salt_is_checked_or_drawn():
    assert _fingerprint.salt_or_random("0123456789abcdef") == "0123456789abcdef"
    drawn = _fingerprint.salt_or_random(None)
    assert len(drawn) == 32 and drawn != _fingerprint.salt_or_random("")
    with pytest.raises(ValueError, match="at least 8 characters"):
        _fingerprint.salt_or_random("short")
