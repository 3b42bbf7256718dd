# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The xfrm state and policy records, built the same way whatever read the kernel.

Both readers (``_xfrm_netlink`` on the kernel's XFRM netlink interface and ``_xfrm_text`` on
``ip -s -s xfrm state|policy`` output) start from ``new_state()`` / ``new_policy()`` /
``new_template()`` and fill the same keys with the same vocabulary (the names iproute2 prints), then
hand the record to ``finish_state()`` / ``finish_policy()``, which derive the canonical algorithm
names, the ICV length, the direction and the key fingerprints, and drop the raw keys unless asked to
keep them. The keys of the records are documented in the RETURN block of the xfrm_info module.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gc
import re
from contextlib import contextmanager

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _addr, _algorithms, _fingerprint

XFRM_INF = (1 << 64) - 1

try:
    INTEGER_TYPES = (int, long)  # noqa: F821 pylint: disable=undefined-variable
except NameError:
    INTEGER_TYPES = (int,)

_LONG_HEX = re.compile(r"(0x)?[0-9a-fA-F]{16,}")

# iproute2's names (ipxfrm.c) for the numbers the kernel uses.
XFRM_PROTOS = {50: "esp", 51: "ah", 108: "comp", 43: "route2", 60: "hao", 255: "ipsec-any"}
IPSEC_PROTOS = ("esp", "ah", "comp")
MODES = {0: "transport", 1: "tunnel", 2: "ro", 3: "in_trigger", 4: "beet"}
STATE_FLAGS = ((1, "noecn"), (2, "decap-dscp"), (4, "nopmtudisc"), (8, "wildrecv"), (16, "icmp"),
               (32, "af-unspec"), (64, "align4"), (128, "esn"))
STATE_EXTRA_FLAGS = ((1, "dont-encap-dscp"), (2, "oseq-may-wrap"))
POLICY_FLAGS = ((1, "localok"), (2, "icmp"))
POLICY_DIRS = {0: "in", 1: "out", 2: "fwd"}
POLICY_ACTIONS = {0: "allow", 1: "block"}
POLICY_TYPES = {0: "main", 1: "sub"}
SHARES = {0: "any", 1: "session", 2: "user", 3: "unique"}
TEMPLATE_LEVELS = {0: "required", 1: "use"}
ENCAP_TYPES = {1: "espinudp-nonike", 2: "espinudp", 7: "espintcp"}
SA_DIRS = {1: "in", 2: "out"}

# IP protocol numbers as Debian's /etc/protocols names them (what `ip` prints through
# getprotobynumber); Python has no getprotobynumber, so the netlink reader uses this table.
IP_PROTOCOLS = {
    1: "icmp", 2: "igmp", 4: "ipencap", 6: "tcp", 8: "egp", 12: "pup", 17: "udp", 20: "hmp",
    22: "xns-idp", 27: "rdp", 29: "iso-tp4", 33: "dccp", 36: "xtp", 37: "ddp", 38: "idpr-cmtp",
    41: "ipv6", 43: "ipv6-route", 44: "ipv6-frag", 45: "idrp", 46: "rsvp", 47: "gre", 50: "esp",
    51: "ah", 57: "skip", 58: "ipv6-icmp", 59: "ipv6-nonxt", 60: "ipv6-opts", 73: "rspf", 81: "vmtp",
    88: "eigrp", 89: "ospf", 93: "ax.25", 94: "ipip", 97: "etherip", 98: "encap", 103: "pim",
    108: "ipcomp", 112: "vrrp", 115: "l2tp", 124: "isis", 132: "sctp", 133: "fc",
    135: "mobility-header", 136: "udplite", 137: "mpls-in-ip", 138: "manet", 139: "hip",
    140: "shim6", 141: "wesp", 142: "rohc", 143: "ethernet", 262: "mptcp",
}
IP_PROTOCOL_NUMBERS = dict((name, number) for number, name in IP_PROTOCOLS.items())
ICMP_PROTOCOLS = (1, 58)
MH_PROTOCOL = 135
GRE_PROTOCOL = 47

# Record keys that only the netlink reader can fill (`ip` does not print them).
NETLINK_ONLY_STATE_KEYS = ("mapping_maxage", "nat_keepalive_interval")

ALGORITHM_KINDS = ("enc", "auth", "aead", "comp")
_KNOWN_ALGORITHMS = {"enc": _algorithms.KERNEL_ENC, "auth": _algorithms.KERNEL_AUTH, "aead": _algorithms.KERNEL_AEAD}


@contextmanager
def paused_gc():
    """Pause the cyclic garbage collector while building thousands of records (they hold no cycles;
    the collector's passes over them cost more than the decoding)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def flag_names(value, table):
    """Names of the bits set in ``value`` as iproute2 prints them; unknown bits as hex text."""
    names = []
    for bit, name in table:
        if value & bit:
            names.append(name)
            value &= ~bit
    if value:
        names.append("%x" % value)
    return names


def name_of(table, number):
    """iproute2's name for a number, or the number as text when it has none."""
    return table.get(number, "%d" % number) if isinstance(number, INTEGER_TYPES) else number


def protocol_name(number):
    return IP_PROTOCOLS.get(number, "%d" % number)


def spi_text(spi):
    """The SPI as ``0x%08x`` text (what Wireshark compares); raw text stays as it is."""
    if isinstance(spi, INTEGER_TYPES):
        return "0x%08x" % spi
    return spi


def redact(line):
    """A line with every long hex string (a key, whatever the line is) replaced by ``<redacted>``."""
    return _LONG_HEX.sub("<redacted>", line)


def limit(value):
    """A lifetime limit: None for the kernel's infinity."""
    return None if value == XFRM_INF else value


def new_selector():
    return {
        "src": None,
        "dst": None,
        "family": None,
        "proto": None,
        "proto_name": None,
        "sport": None,
        "dport": None,
        "type": None,
        "code": None,
        "gre_key": None,
        "dev": None,
        "uid": None,
    }


def new_lifetime():
    return {
        "soft_bytes": None,
        "hard_bytes": None,
        "soft_packets": None,
        "hard_packets": None,
        "soft_add_seconds": None,
        "hard_add_seconds": None,
        "soft_use_seconds": None,
        "hard_use_seconds": None,
    }


def new_current():
    return {"bytes": None, "packets": None, "add_time": None, "use_time": None}


def _sa_identity():
    """The keys that name an SA: its addresses, protocol, SPI, reqid and mode. A state has them;
    a policy template asks for them."""
    return {
        "src": None,
        "dst": None,
        "family": None,
        "proto": None,
        "spi": None,
        "reqid": None,
        "mode": None,
    }


def new_state():
    """An empty state record: every key present, None (or empty) until a reader fills it."""
    state = _sa_identity()
    state.update({
        "direction": "unknown",
        "sa_dir": None,
        "enc": None,
        "auth": None,
        "aead": None,
        "comp": None,
        "icv_bits": None,
        "key_fingerprints": {},
        "encap": None,
        "esn": False,
        "flags": [],
        "extra_flags": None,
        "replay_window": None,
        "replay": None,
        "seq": None,
        "lifetime": None,
        "current": None,
        "lastused": None,
        "stats": None,
        "selector": None,
        "mark": None,
        "output_mark": None,
        "if_id": None,
        "offload": None,
        "tfcpad": None,
        "coa": None,
        "sec_ctx": None,
        "pcpu": None,
        "mapping_maxage": None,
        "nat_keepalive_interval": None,
        "larval": False,
        "unparsed": [],
        "_keys": {},
    })
    return state


def new_policy():
    """An empty policy record: its selector's keys (flat, as iproute2 prints them), then its own."""
    policy = new_selector()
    policy.update({
        "dir": None,
        "socket": False,
        "action": None,
        "priority": None,
        "index": None,
        "ptype": None,
        "share": None,
        "flags": [],
        "lifetime": None,
        "current": None,
        "tmpls": [],
        "mark": None,
        "if_id": None,
        "offload": None,
        "sec_ctx": None,
        "unparsed": [],
    })
    return policy


def new_template():
    template = _sa_identity()
    template.update({
        "level": None,
        "share": None,
        "enc_mask": None,
        "auth_mask": None,
        "comp_mask": None,
    })
    return template


def set_algorithm(state, kind, name, key_hex, key_bits, extra_bits=None):
    """Store one algorithm of a state; ``extra_bits`` is the truncation (auth) or ICV length (aead).

    ``key_hex`` is the key as hex text without ``0x`` (empty for key-less algorithms) or None when
    the input hid it; the key itself is kept aside in ``_keys`` until ``finish_state``.
    """
    entry = {"name": name, "canonical": None, "key_bits": key_bits}
    if kind == "auth":
        entry["trunc_bits"] = extra_bits
    elif kind == "aead":
        entry["icv_bits"] = extra_bits
    elif kind == "comp":
        entry = {"name": name}
    state[kind] = entry
    if key_hex is not None and kind != "comp":
        state["_keys"][kind] = key_hex


def _canonical(kind, entry):
    bits = entry.get("key_bits")
    if kind == "enc":
        return _algorithms.kernel_encryption(entry["name"], bits)
    if kind == "auth":
        return _algorithms.kernel_integrity(entry["name"], entry["trunc_bits"]) if entry["trunc_bits"] is not None else None
    if kind == "aead":
        if bits is None or entry["icv_bits"] is None:
            return None
        return _algorithms.kernel_aead(entry["name"], bits, entry["icv_bits"])
    return None


def direction_of(src, dst, local_addresses, sa_dir=None):
    """``in`` when only dst is ours, ``out`` when only src is ours; the kernel's SA dir otherwise."""
    src_local = src in local_addresses
    dst_local = dst in local_addresses
    if dst_local and not src_local:
        return "in"
    if src_local and not dst_local:
        return "out"
    return sa_dir or "unknown"


class RecordOptions(object):
    """What finishing a record needs: the salt, whether raw keys are kept, our local addresses."""

    def __init__(self, salt, include_keys=False, local_addresses=None):
        self.salt = salt
        self.include_keys = include_keys
        self.local_addresses = frozenset(canonical_address(a) for a in (local_addresses or ()))


def canonical_address(text):
    """An address in the one spelling both readers produce (``inet_ntop``), prefix dropped."""
    if text is None:
        return None
    net = _addr.parse_network(text.split("/")[0])
    if net is None:
        return text
    return _addr.format_address(net[0], net[1])


def finish_state(state, options, warn):
    """Derive names, ICV length, direction and fingerprints; drop raw keys unless asked for."""
    keys = state.pop("_keys")
    for kind in ("enc", "auth", "aead"):
        entry = state[kind]
        if entry is None:
            continue
        entry["canonical"] = _canonical(kind, entry)
        if entry["name"] not in _KNOWN_ALGORITHMS[kind]:
            warn("xfrm state %s: unknown %s algorithm %r kept as the kernel names it" % (describe_state(state), kind, entry["name"]))
    if state["aead"] is not None:
        state["icv_bits"] = state["aead"]["icv_bits"]
    elif state["auth"] is not None:
        state["icv_bits"] = state["auth"]["trunc_bits"]
    state["larval"] = state["proto"] in IPSEC_PROTOS and all(state[kind] is None for kind in ALGORITHM_KINDS)
    state["esn"] = "esn" in state["flags"]
    state["direction"] = direction_of(state["src"], state["dst"], options.local_addresses, state["sa_dir"])
    fingerprints = {}
    for kind, key_hex in keys.items():
        if key_hex:
            fingerprint = _fingerprint.fingerprint_hex_key(key_hex, options.salt)
            if fingerprint is None:
                warn("xfrm state %s: the %s key is not hex; no fingerprint" % (describe_state(state), kind))
            else:
                fingerprints[kind] = fingerprint
    state["key_fingerprints"] = fingerprints
    if options.include_keys:
        state["raw_keys"] = dict((kind, "0x" + key_hex) for kind, key_hex in keys.items())
    if state["unparsed"]:
        warn("xfrm state %s: kept %d line(s) the parser does not know: %s"
             % (describe_state(state), len(state["unparsed"]), " | ".join(state["unparsed"])))
    return state


def finish_policy(policy, warn):
    if policy["unparsed"]:
        warn("xfrm policy %s: kept %d line(s) the parser does not know: %s"
             % (describe_policy(policy), len(policy["unparsed"]), " | ".join(policy["unparsed"])))
    return policy


def describe_state(state):
    return "%s %s>%s spi %s" % (state.get("proto"), state.get("src"), state.get("dst"), state.get("spi"))


def describe_policy(policy):
    return "%s>%s dir %s" % (policy.get("src"), policy.get("dst"), policy.get("dir"))
