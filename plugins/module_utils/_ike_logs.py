# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""IKE daemon log lines (strongSwan charon, libreswan pluto, racoon) to classified events.

Each line becomes ``{time, daemon, level, code, view, transform, conn, sa, message, details}``:

- ``code``: what happened (``NO_PROPOSAL_CHOSEN``, ``AUTHENTICATION_FAILED``, ``TS_UNACCEPTABLE``...,
  see ``CODES``); ``UNKNOWN`` lines are kept as evidence, never dropped.
- ``view``: ``local`` when this daemon decided (it rejected the peer's proposal, its MAC check
  failed), ``remote`` when the peer told it (a notify), None for plain events.
- ``transform``: for proposal failures, the transform type(s) that did not match, when the log says
  it (strongSwan's ``received proposals``/``configured proposals`` pair, racoon's ``rejected
  enctype``, pluto's configured and received proposals).

Input formats: charon file logs (``Nov 28 05:20:41 14[IKE] <site|3> ...``, with or without time and
IKE SA name), pluto log files (``Nov 28 05:29:26.741213: "site" #2: ...``), racoon log files
(``2014-06-02 15:37:52: ERROR: ...``) and syslog lines of any of them (``host charon: ...``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import re
import time as _time

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _algorithms as alg
from ansible_collections.netdoctor.ipsec.plugins.module_utils import _proposals

CODES = (
    "NO_PROPOSAL_CHOSEN", "AUTHENTICATION_FAILED", "NO_PSK", "IDENTITY_MISMATCH", "TS_UNACCEPTABLE",
    "INVALID_ID_INFORMATION", "INVALID_KE_PAYLOAD", "NO_IKE_CONFIG", "IKE_VERSION_MISMATCH", "RETRANSMIT",
    "PEER_NOT_RESPONDING", "NO_SAINFO", "NO_ISAKMP_SA", "SA_INSTALL_FAILED", "DPD_DEAD_PEER",
    "IKE_SA_ESTABLISHED", "CHILD_SA_ESTABLISHED", "IKE_SA_DELETED", "CHILD_SA_DELETED", "PROPOSAL_SELECTED",
    "PROPOSALS", "NOTIFY_ERROR", "UNKNOWN",
)
FAILURE_CODES = CODES[:15]
NOTIFY_CODES = {
    "NO_PROPOSAL_CHOSEN": "NO_PROPOSAL_CHOSEN", "AUTHENTICATION_FAILED": "AUTHENTICATION_FAILED",
    "TS_UNACCEPTABLE": "TS_UNACCEPTABLE", "INVALID_KE_PAYLOAD": "INVALID_KE_PAYLOAD",
    "INVALID_ID_INFORMATION": "INVALID_ID_INFORMATION",
}
MONTHS = dict((name, index) for index, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1))
IDENT_DAEMON = {
    "charon": "strongswan", "charon-systemd": "strongswan", "charon-nm": "strongswan", "charon-cmd": "strongswan",
    "swanctl": "strongswan", "ipsec_starter": "strongswan", "starter": "strongswan",
    "pluto": "libreswan", "ipsec": "libreswan", "libreswan": "libreswan",
    "racoon": "racoon",
}
TRANSFORM_NAMES = {
    "ENCRYPTION_ALGORITHM": "encryption", "INTEGRITY_ALGORITHM": "integrity", "PSEUDO_RANDOM_FUNCTION": "prf",
    "DIFFIE_HELLMAN_GROUP": "dh", "KEY_EXCHANGE_METHOD": "dh", "EXTENDED_SEQUENCE_NUMBERS": "esn",
    "enctype": "encryption", "hashtype": "integrity", "authmethod": "auth", "dh_group": "dh", "keylen": "encryption",
    "dh group": "dh",
}

# --- line prefixes ----------------------------------------------------------------------------------

_SYSLOG_TIME = (r"(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)?"
                r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)")
_SYSLOG = re.compile(r"^(?P<time>" + _SYSLOG_TIME + r")\s+(?P<host>\S+)\s+(?P<ident>[\w\-./]+?)(?:\[(?P<pid>\d+)\])?:\s?(?P<msg>.*)$")
_CHARON = re.compile(
    r"^(?:(?P<time>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)?|\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?)\s+)?"
    r"(?P<thread>\d\d)\[(?P<group>[A-Z]{3})\]\s+(?:<(?P<ikename>[^>]*)>\s+)?(?P<msg>.*)$")
_PLUTO_FILE = re.compile(r"^(?P<time>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)?):\s(?P<msg>.*)$")
_RACOON = re.compile(r"^(?:(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d):\s+)?(?P<level>INFO|NOTIFY|WARNING|ERROR|DEBUG2?|CRITICAL):\s+(?P<msg>.*)$")
_PLUTO_CONN = re.compile(r'^(?:(?P<level>ERROR|WARNING|IMPAIR|EXPECTATION FAILED): )?"(?P<conn>[^"]+)"(?P<inst>\[\d+\])?'
                         r'(?: [^#:]*?)?(?: #(?P<sa>\d+))?: (?P<msg>.*)$')
_PLUTO_PACKET = re.compile(r"^(?:(?P<level>ERROR|WARNING): )?packet from (?P<peer>\S+?):(?: (?P<msg>.*))?$")


_HEX_DUMP = re.compile(r"^\s*(?:\d+:\s+)?(?:[0-9A-Fa-f]{2}[ :]){4,}")
_KEY_LINE = re.compile(r"(?i)(secret|key|SKEYSEED|SKEYID\w*|Sk_\w+|nonce|g\^xy|psk)\b\s*(?:=>|:|=)\s*\S")


def redact(message):
    """Debug levels dump keys and packets in hex: such lines are replaced, never returned."""
    if _HEX_DUMP.match(message) or (message.startswith("| ") and _HEX_DUMP.match(message[2:])):
        return "<hex dump withheld>", True
    if _KEY_LINE.search(message) and re.search(r"(?:[0-9A-Fa-f]{2}[ :]){4,}|\d+ bytes @ 0x", message):
        return _KEY_LINE.sub(lambda m: m.group(1) + " <withheld>", message).split(" <withheld>")[0] + " <withheld>", True
    return message, False


def parse_time(text, now=None):
    """Seconds since the epoch of a log time stamp (syslog times have no year: the latest year that
    does not put the time in the future is assumed). None when not a time stamp."""
    if not text:
        return None
    now = now if now is not None else _time.time()
    text = text.strip()
    match = re.match(r"^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$", text)
    if match:
        year, month, day, hour, minute, second = [int(x) for x in match.groups()[:6]]
        fraction = float(match.group(7) or 0)
        zone = match.group(8)
        if zone:
            offset = 0 if zone == "Z" else (1 if zone[0] == "+" else -1) * (int(zone[1:3]) * 3600 + int(zone[-2:]) * 60)
            return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) - offset + fraction
        return _time.mktime((year, month, day, hour, minute, second, 0, 0, -1)) + fraction
    match = re.match(r"^([A-Z][a-z]{2}) +(\d+) (\d\d):(\d\d):(\d\d)(\.\d+)?$", text)
    if match and match.group(1) in MONTHS:
        month = MONTHS[match.group(1)]
        day, hour, minute, second = [int(x) for x in match.groups()[1:5]]
        fraction = float(match.group(6) or 0)
        year = _time.localtime(now).tm_year
        stamp = _time.mktime((year, month, day, hour, minute, second, 0, 0, -1)) + fraction
        if stamp > now + 86400:
            stamp = _time.mktime((year - 1, month, day, hour, minute, second, 0, 0, -1)) + fraction
        return stamp
    return None


def split_line(line):
    """(time text, daemon or None, level or None, conn, sa, message, thread key) of one raw line."""
    text = line.rstrip("\r\n")
    stamp = ident = level = None
    match = _SYSLOG.match(text)
    if match and (match.group("ident") in IDENT_DAEMON or _CHARON.match(match.group("msg") or "")):
        stamp, ident, text = match.group("time"), match.group("ident"), match.group("msg")
    daemon = IDENT_DAEMON.get(ident) if ident else None
    match = _CHARON.match(text)
    if match and daemon in (None, "strongswan"):
        conn, sa = _ike_name(match.group("ikename"))
        return (stamp or match.group("time"), "strongswan", match.group("group"), conn, sa, match.group("msg"),
                (match.group("thread"), sa))
    match = _RACOON.match(text)
    if match and daemon in (None, "racoon"):
        return stamp or match.group("time"), "racoon", match.group("level"), None, None, match.group("msg"), None
    if daemon is None:
        match = _PLUTO_FILE.match(text)
        if match and (_PLUTO_CONN.match(match.group("msg")) or _PLUTO_PACKET.match(match.group("msg"))
                      or re.match(r"^(ERROR|WARNING): ", match.group("msg"))):
            stamp, text, daemon = match.group("time"), match.group("msg"), "libreswan"
    match = _PLUTO_CONN.match(text)
    if match and daemon in (None, "libreswan"):
        conn = match.group("conn") + (match.group("inst") or "")
        return stamp, "libreswan", match.group("level") or level, conn, match.group("sa"), match.group("msg"), None
    match = _PLUTO_PACKET.match(text)
    if match and daemon in (None, "libreswan"):
        return stamp, "libreswan", match.group("level"), None, None, "packet from %s: %s" % (match.group("peer"), match.group("msg") or ""), None
    return stamp, daemon, level, None, None, text, None


def _ike_name(text):
    """charon's ``ike_name`` prefix: ``site|3`` -> ('site', '3'); ``3`` -> (None, '3')."""
    if not text:
        return None, None
    name, _sep, number = text.rpartition("|")
    return (name or None), (number or None)


# --- message patterns -------------------------------------------------------------------------------
# (code, view, regex); named groups become details. Checked in order, first match wins.

_PATTERNS = [
    # strongSwan
    ("PROPOSALS", None, r"^received proposals: (?P<received>.*)$"),
    ("PROPOSALS", None, r"^configured proposals: (?P<configured>.*)$"),
    ("PROPOSAL_SELECTED", None, r"^selected proposal: (?P<selected>\S+)$"),
    ("NO_PROPOSAL_CHOSEN", "local", r"^received proposals unacceptable"),
    ("NO_PROPOSAL_CHOSEN", "local", r"^no acceptable proposal found"),
    ("NO_PROPOSAL_CHOSEN", "local", r"^\s*no acceptable (?P<transform_name>[A-Z_]+) found"),
    ("NO_PROPOSAL_CHOSEN", "remote", r"^received NO_PROPOSAL_CHOSEN (?:error )?notify"),
    ("NO_IKE_CONFIG", "local", r"^no IKE config found for (?P<local>\S+?)\.\.\.(?P<remote>\S+?), sending NO_PROPOSAL_CHOSEN"),
    ("AUTHENTICATION_FAILED", "local", r"^tried (?P<keys>\d+) shared keys? for '(?P<local_id>[^']*)' - '(?P<remote_id>[^']*)', but MAC mismatched"),
    ("AUTHENTICATION_FAILED", "local", r"^invalid HASH_V1 payload length, decryption failed\?"),
    ("AUTHENTICATION_FAILED", "local", r"^verification of .* failed|^integrity check failed"),
    ("AUTHENTICATION_FAILED", "remote", r"^received AUTHENTICATION_FAILED (?:error )?notify"),
    ("NO_PSK", "local", r"^no shared key found for '(?P<local_id>[^']*)' - '(?P<remote_id>[^']*)'"),
    ("IDENTITY_MISMATCH", "local", r"^no matching peer config found"),
    ("IDENTITY_MISMATCH", "local", r"^constraint check failed: identity '(?P<expected_id>[^']*)' required"),
    ("IDENTITY_MISMATCH", "local", r"^IDir '(?P<received_id>[^']*)' does not match to '(?P<expected_id>[^']*)'"),
    ("IDENTITY_MISMATCH", "local", r"^selected peer config '(?P<config>[^']*)' unacceptable"),
    ("TS_UNACCEPTABLE", "remote", r"^received TS_UNACCEPTABLE notify"),
    ("TS_UNACCEPTABLE", "local", r"^traffic selectors (?P<selectors>.*) unacceptable"),
    ("TS_UNACCEPTABLE", "local", r"^no matching CHILD_SA config found"),
    ("INVALID_ID_INFORMATION", "remote", r"^received INVALID_ID_INFORMATION (?:error )?notify"),
    ("INVALID_KE_PAYLOAD", "remote", r"^peer didn't accept DH group (?P<sent>\S+), it requested (?P<requested>\S+)"),
    ("INVALID_KE_PAYLOAD", "remote", r"^received INVALID_KE_PAYLOAD notify"),
    ("INVALID_KE_PAYLOAD", "local", r"^DH group (?P<received>\S+) unacceptable, requesting (?P<requested>\S+)"),
    ("RETRANSMIT", None, r"^(?:sending )?retransmit (?P<count>\d+) of request (?:with )?message ID (?P<message_id>\d+)"),
    ("PEER_NOT_RESPONDING", None, r"^giving up after (?P<count>\d+) retransmits"),
    ("PEER_NOT_RESPONDING", None, r"^establishing IKE_SA failed, peer not responding"),
    ("SA_INSTALL_FAILED", "local", r"^unable to install (?:inbound and outbound IPsec SA \(SAD\)|IPsec policies \(SPD\)) in kernel"),
    ("SA_INSTALL_FAILED", "local", r"^unable to add SAD entry with SPI (?P<spi>\w+)"),
    ("DPD_DEAD_PEER", None, r"^DPD check timed out|^peer not responding, (?:restarting|closing|holding|clearing)"),
    ("IKE_SA_ESTABLISHED", None, r"^IKE_SA (?P<name>\S+)\[(?P<uid>\d+)\] established between (?P<local>\S+)\.\.\.(?P<remote>\S+)"),
    ("CHILD_SA_ESTABLISHED", None, r"^CHILD_SA (?P<name>\S+)\{(?P<uid>\d+)\} established with SPIs (?P<spi_in>\w+)_i (?P<spi_out>\w+)"
                                   r"_o(?: and TS (?P<ts>.*))?"),
    ("IKE_SA_DELETED", None, r"^IKE_SA (?P<name>\S+)\[(?P<uid>\d+)\] state change: \w+ => DESTROYING|^deleting IKE_SA"),
    ("CHILD_SA_DELETED", None, r"^closing CHILD_SA (?P<name>\S+)\{(?P<uid>\d+)\}"),
    ("NOTIFY_ERROR", "remote", r"^received (?P<notify>[A-Z_]+) (?:error )?notify(?: error)?"),
    # libreswan
    ("SENT_NOTIFY", "local", r"responding to \S+ (?:message|\(\d+\) message) .*with (?:encrypted|unencrypted) notification (?P<notify>[A-Z_]+)"),
    ("NO_PROPOSAL_CHOSEN", "local", r"^no local proposal matches remote proposals (?P<received_lsw>.*)$"),
    ("NO_PROPOSAL_CHOSEN", "local", r"responder SA processing returned NO_PROPOSAL_CHOSEN"),
    ("NO_PROPOSAL_CHOSEN", "remote", r"rejected Child SA with NO_PROPOSAL_CHOSEN"),
    ("NO_PROPOSAL_CHOSEN", "remote", r"^dropping unexpected IKE_SA_INIT message containing NO_PROPOSAL_CHOSEN"),
    ("NO_PROPOSAL_CHOSEN", "remote", r"(?:received and ignored notification payload|ignoring informational payload):? NO_PROPOSAL_CHOSEN"),
    ("NO_PROPOSAL_CHOSEN", "remote", r"(?:response|notification) (?:rejected|containing|payload:?) .*NO_PROPOSAL_CHOSEN"),
    ("NO_PROPOSAL_CHOSEN", "remote", r"received unauthenticated v2N_NO_PROPOSAL_CHOSEN"),
    ("AUTHENTICATION_FAILED", "local", r"^authentication failed: computed hash does not match"),
    ("AUTHENTICATION_FAILED", "local", r"probable authentication failure \(mismatch of preshared secrets\?\)"),
    ("AUTHENTICATION_FAILED", "remote", r"authentication request rejected by peer: AUTHENTICATION_FAILED"),
    ("AUTHENTICATION_FAILED", "remote", r"^Possible authentication failure: no acceptable response to our first encrypted message"),
    ("AUTHENTICATION_FAILED", "remote", r"AUTHENTICATION_FAILED"),
    ("NO_PSK", "local", r"(?:unable to locate my private key|no PreShared Key Found|Can't authenticate: no preshared key found) for (?P<ids>.*)"),
    ("IDENTITY_MISMATCH", "local", r"[Pp]eer ID '(?P<received_id>[^']*)' mismatched|no suitable connection for peer '(?P<peer_id>[^']*)'"),
    ("TS_UNACCEPTABLE", "local", r"^No IKEv2 connection found with compatible Traffic Selectors"),
    ("TS_UNACCEPTABLE", "remote", r"rejected Child SA with TS_UNACCEPTABLE|TS_UNACCEPTABLE"),
    ("INVALID_ID_INFORMATION", "local", r"cannot respond to IPsec SA request because no connection is known for (?P<selectors>.*)"),
    ("INVALID_ID_INFORMATION", "remote", r"INVALID_ID_INFORMATION"),
    ("INVALID_KE_PAYLOAD", "remote", r"received unauthenticated INVALID_KE_PAYLOAD response to .*?(?P<sent>\S+); resending with suggested (?P<requested>\S+)"),
    ("INVALID_KE_PAYLOAD", "local", r"with unencrypted notification INVALID_KE_PAYLOAD"),
    ("IKE_VERSION_MISMATCH", "local", r"^ignoring IKEv1 packet as policy is set to silently drop all IKEv1 packets"),
    ("IKE_VERSION_MISMATCH", "local", r"message received on \S+ but no (?:suitable )?connection (?:has been authorized|found) with (?"
                                      r"P<version>IKEv[12]) policy"),
    ("NO_IKE_CONFIG", "local", r"no (?:suitable )?connection (?:has been authorized|found) with"),
    ("PEER_NOT_RESPONDING", None, r"(?P<seconds>\d+) second timeout exceeded after (?P<count>\d+) retransmits"),
    ("RETRANSMIT", None, r"(?:STATE_\w+|\w+_[IR]\d): retransmission; will wait (?P<wait>[\d.]+) seconds?"),
    ("SA_INSTALL_FAILED", "local", r"netlink response for (?:Add|Update) SA (?P<sa>\S+): (?P<error>.*)"),
    ("SA_INSTALL_FAILED", "local", r"setup_half_ipsec_sa\(\) hit fail|install_ipsec_sa\(\) failed|failed to add (?:inbound|outbound) (?:SA|policy)"),
    ("DPD_DEAD_PEER", None, r"liveness_check - peer .* has not responded in|liveness: peer .* is dead|DPD: No response from peer|declaring peer dead"),
    ("IKE_SA_ESTABLISHED", None, r"^(?:initiator|responder) established IKE SA|ISAKMP SA established|^IKE SA established|established IKE SA;"),
    ("CHILD_SA_ESTABLISHED", None, r"established Child SA|IPsec SA established|^negotiated connection"),
    # racoon
    ("PEER_NOT_RESPONDING", None, r"^phase1 negotiation failed due to time up"),
    ("NO_ISAKMP_SA", None, r"^phase2 negotiation failed due to time up waiting for phase1"),
    ("PEER_NOT_RESPONDING", None, r"give up to get IPsec-SA due to time up to wait"),
    ("NO_SAINFO", "local", r"^failed to get sainfo"),
    ("NO_ISAKMP_SA", "local", r"ISAKMP-SA has not been established yet|has not been established yet"),
    ("NO_PROPOSAL_CHOSEN", "local", r"^rejected (?P<transform_name>enctype|hashtype|authmethod|dh_group|keylen): DB\([^)]*\):Peer\([^)"
                                    r"]*\) = (?P<ours>[^:]*):(?P<theirs>.*)$"),
    ("NO_PROPOSAL_CHOSEN", "local", r"^pfs group mismatched: my:(?P<ours>\d+) peer:(?P<theirs>\d+)"),
    ("NO_PROPOSAL_CHOSEN", "local", r"^no suitable proposal found|^failed to get valid proposal|^no Proposal chosen"),
    ("NO_PSK", "local", r"^couldn't find the (?:proper )?pskey"),
    ("AUTHENTICATION_FAILED", "local", r"^HASH mismatch|^Packet decryption failed|^failed to decrypt message|^HASH\(\d\) mismatch"),
    ("IDENTITY_MISMATCH", "local", r"^ID mismatched|^ID type mismatched"),
    ("TS_UNACCEPTABLE", "local", r"^no policy found|^no suitable policy found|^not matched$"),
    ("NO_PROPOSAL_CHOSEN", "remote", r"^notification NO-PROPOSAL-CHOSEN received"),
    ("INVALID_ID_INFORMATION", "remote", r"^notification INVALID-ID-INFORMATION received"),
    ("AUTHENTICATION_FAILED", "remote", r"^notification (?:INVALID-HASH-INFORMATION|AUTHENTICATION-FAILED|INVALID-SIGNATURE) received"),
    ("NOTIFY_ERROR", "remote", r"^notification (?P<notify>[A-Z\-]+) received in informational exchange"),
    ("RETRANSMIT", None, r"^the packet is retransmitted by (?P<peer>\S+)"),
    ("IKE_SA_ESTABLISHED", None, r"^ISAKMP-SA established (?P<local>\S+)-(?P<remote>\S+)"),
    ("CHILD_SA_ESTABLISHED", None, r"^IPsec-SA established: (?P<sa>.*)"),
    ("DPD_DEAD_PEER", None, r"^DPD: remote \(ISAKMP-SA spi=(?P<spi>[^)]*)\) seems to be dead"),
    ("SA_INSTALL_FAILED", "local", r"^pfkey (?:ADD|UPDATE) failed|^libipsec failed pfkey (?:add|update)|^failed to send SADB_(?:ADD|UPDATE)"),
]
_COMPILED = [(code, view, re.compile(pattern)) for code, view, pattern in _PATTERNS]
_LSW_REMOTE_PROPOSAL = re.compile(r"(\d+):(IKE|ESP|AH):([^ \[]+)")
_LSW_LOCAL_PROPOSAL = re.compile(r"^\s*(\d+):(IKE|ESP|AH)=(\S+)$")
_LSW_TRANSFORM_TYPES = {"ENCR": "encryption", "INTEG": "integrity", "PRF": "prf", "DH": "dh", "KE": "dh", "ESN": "esn"}
_LSW_ICV_OCTETS = {"A": 8, "B": 12, "C": 16}


def _lsw_name(kind, name):
    """pluto's wire names (``AES_CBC_256``, ``AES_GCM_C_256``, ``HMAC_SHA2_256_128``, ``MODP2048``, ``DISABLED``) -> ours."""
    name = name.upper()
    if kind == "encryption":
        name = re.sub(r"^AES_(GCM|CCM)_([ABC])", lambda m: "AES_%s_%d" % (m.group(1), _LSW_ICV_OCTETS[m.group(2)]), name)
        return _proposals.canonical_encryption(name)
    if kind == "prf":
        return "PRF_AES128_XCBC" if name == "AES_XCBC" else "PRF_" + name.replace("PRF_", "")
    if kind == "dh":
        return _proposals.canonical_dh(name) or name
    if kind == "esn":
        return {"DISABLED": "NO_ESN", "ENABLED": "ESN"}.get(name, name)
    return "HMAC_SHA2_256_96" if name == "HMAC_SHA2_256_TRUNCBUG" else name


def _add_lsw(proposal, kind, value):
    """One of pluto's transform names into the proposal; NONE means the type is not there."""
    if value and value != "NONE":
        alg.add_transform(proposal, kind, _lsw_name(kind, value))


def parse_lsw_remote_proposals(text):
    """``1:IKE:ENCR=AES_CBC_256;INTEG=HMAC_SHA2_256_128;PRF=HMAC_SHA2_256;DH=MODP2048`` -> proposals."""
    proposals = []
    for _number, protocol, body in _LSW_REMOTE_PROPOSAL.findall(text or ""):
        proposal = _proposals.new_proposal(body, protocol.lower())
        for item in body.split(";"):
            key, _sep, value = item.partition("=")
            kind = _LSW_TRANSFORM_TYPES.get(key)
            if kind:
                _add_lsw(proposal, kind, value)
        proposals.append(proposal)
    return proposals


def parse_lsw_local_proposal(text):
    """pluto's ``1:IKE=AES_CBC_256-HMAC_SHA2_256-HMAC_SHA2_256_128-MODP2048`` (enc-prf-integ-dh) and
    ``1:ESP=AES_GCM_C_256-NONE-NONE-ENABLED+DISABLED`` (enc-integ-dh-esn) lines -> proposal or None."""
    match = _LSW_LOCAL_PROPOSAL.match(text or "")
    if not match:
        return None
    protocol = match.group(2).lower()
    order = ("encryption", "prf", "integrity", "dh") if protocol == "ike" else ("encryption", "integrity", "dh", "esn")
    proposal = _proposals.new_proposal(match.group(3), protocol)
    for kind, field in zip(order, match.group(3).split("-")):
        for value in field.split("+"):
            _add_lsw(proposal, kind, value)
    return proposal


class Classifier(object):
    """Classifies lines in order, keeping the little context some conclusions need (the last
    received/configured proposals per IKE SA, pluto's configured proposals per connection)."""

    def __init__(self, now=None):
        self.now = now
        self.proposals = {}
        self.lsw_configured = {}
        self._lsw_pending = None

    def classify(self, line, daemon_hint=None, time_hint=None):
        stamp, daemon, level, conn, sa, message, key = split_line(line)
        daemon = daemon or daemon_hint
        message, redacted = redact(message)
        entry = {
            "time": None, "time_text": stamp or time_hint, "daemon": daemon, "level": level, "code": "UNKNOWN",
            "view": None, "transform": [], "conn": conn, "sa": sa, "message": message, "details": {},
        }
        when = parse_time(stamp, self.now) if stamp else time_hint if isinstance(time_hint, (int, float)) else None
        if when is not None:
            entry["time"] = _time.strftime("%Y-%m-%dT%H:%M:%S", _time.localtime(when))
            entry["epoch"] = when
        if redacted:
            entry["details"]["redacted"] = True
            return entry
        self._lsw_context(conn, message)
        for code, view, regex in _COMPILED:
            match = regex.search(message)
            if match:
                entry["code"], entry["view"] = code, view
                entry["details"] = dict((k, v) for k, v in match.groupdict().items() if v is not None)
                if code == "SENT_NOTIFY":
                    entry["code"] = NOTIFY_CODES.get(entry["details"]["notify"], "NOTIFY_ERROR")
                break
        self._transform(entry, key or (conn, sa))
        return entry

    def _lsw_context(self, conn, message):
        """Remember pluto's configured proposals (logged when a connection is added)."""
        if conn is None:
            return
        if re.match(r"^(IKE SA|Child SA) proposals \(connection add\):", message):
            self._lsw_pending = (conn, "ike" if message.startswith("IKE") else "esp")
            self.lsw_configured[self._lsw_pending] = []
            return
        proposal = parse_lsw_local_proposal(message)
        if proposal is not None and self._lsw_pending and self._lsw_pending[0] == conn:
            self.lsw_configured[self._lsw_pending].append(proposal)
        else:
            self._lsw_pending = None

    def _transform(self, entry, key):
        details = entry["details"]
        if entry["code"] == "PROPOSALS":
            context = self.proposals.setdefault(key, {})
            for side in ("received", "configured"):
                if side in details:
                    context[side] = _proposals.parse_strongswan_names(details[side])[0]
            return
        if entry["code"] != "NO_PROPOSAL_CHOSEN" or entry["view"] != "local":
            return
        if "transform_name" in details:
            entry["transform"] = [TRANSFORM_NAMES.get(details["transform_name"], details["transform_name"].lower())]
            return
        if entry["message"].startswith("pfs group mismatched"):
            entry["transform"] = ["dh"]
            return
        context = self.proposals.get(key) or {}
        received, configured = context.get("received"), context.get("configured")
        if "received_lsw" in details:
            received = parse_lsw_remote_proposals(details["received_lsw"])
            protocol = received[0]["protocol"] if received else "ike"
            configured = self.lsw_configured.get((entry["conn"], "esp" if protocol in ("esp", "ah") else "ike"))
            details["received"] = [p["text"] for p in received]
        if received and configured:
            entry["transform"] = _proposals.failing_transforms(received, configured)
            details["received"] = [p["text"] for p in received]
            details["configured"] = [p["text"] for p in configured]


def classify_lines(lines, daemon_hint=None, now=None):
    """Classified entries of an iterable of raw lines (blank lines skipped)."""
    classifier = Classifier(now)
    out = []
    for line in lines:
        if line.strip():
            out.append(classifier.classify(line, daemon_hint))
    return out


def summarize(entries):
    """``{code: count}`` of the failure codes present, for a quick look."""
    counts = {}
    for entry in entries:
        if entry["code"] in FAILURE_CODES:
            counts[entry["code"]] = counts.get(entry["code"], 0) + 1
    return counts
