# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Salted fingerprints of secrets (pre-shared keys, SA keys).

A fingerprint is HMAC-SHA-256(key=salt, msg=secret), cut to 128 bits. The controller draws one
salt per run and hands it to both gateways, so the two sides' fingerprints can be compared while
nothing can be reversed or looked up in a precomputed table. Without a salt a random one is drawn:
the fingerprints are then only comparable within one result.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import hashlib
import hmac
import os

FINGERPRINT_PREFIX = "hmac-sha256:"
# The salt is a no_log option: Ansible masks its value wherever it appears in a result, so a short
# salt would mask ordinary text (and be easy to guess). The diagnose role draws 32 hex digits.
MIN_SALT_LENGTH = 8
_ONE_SHOT_HMAC = getattr(hmac, "digest", None)


def _to_bytes(value):
    if isinstance(value, bytes):
        return value
    return value.encode("utf-8")


def random_salt():
    """A fresh 128-bit salt as hex text."""
    return binascii.hexlify(os.urandom(16)).decode("ascii")


def salt_or_random(salt):
    """The salt to use: the given one, or a random one when none was given.

    Raises ValueError for a salt shorter than MIN_SALT_LENGTH.
    """
    if not salt:
        return random_salt()
    if len(salt) < MIN_SALT_LENGTH:
        raise ValueError("fingerprint_salt must be at least %d characters long (it is a no_log value; "
                         "the diagnose role draws 32 hex digits)" % MIN_SALT_LENGTH)
    return salt


def module_salt(module):
    """The salt of a module run (its ``fingerprint_salt`` option, else a random one); a salt too
    short to be safe ends the run with ``fail_json`` saying why."""
    try:
        return salt_or_random(module.params["fingerprint_salt"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))


def fingerprint(secret, salt):
    """Fingerprint of ``secret`` (bytes or text) under ``salt`` (text or bytes)."""
    if _ONE_SHOT_HMAC is not None:
        # hmac.digest (3.7+) is the same HMAC, computed in C: it matters for thousands of SA keys.
        digest = binascii.hexlify(_ONE_SHOT_HMAC(_to_bytes(salt), _to_bytes(secret), "sha256")).decode("ascii")
    else:
        digest = hmac.new(_to_bytes(salt), _to_bytes(secret), hashlib.sha256).hexdigest()
    return FINGERPRINT_PREFIX + digest[:32]


def fingerprint_hex_key(hex_key, salt):
    """Fingerprint of a key given as hex text (``0x`` prefix optional), over the key's bytes.

    Returns None when ``hex_key`` is not hex: a key we cannot decode is never fingerprinted as text,
    so that two spellings of one key cannot give two fingerprints.
    """
    text = hex_key[2:] if hex_key[:2] in ("0x", "0X") else hex_key
    if len(text) % 2:
        text = "0" + text
    try:
        raw = binascii.unhexlify(text)
    except (TypeError, ValueError, binascii.Error):
        return None
    return fingerprint(raw, salt)
