# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""What a classified IKE daemon log line points at in the checklist.

``log_info`` classifies each line into a code (NO_PROPOSAL_CHOSEN, AUTHENTICATION_FAILED, ...).
This maps the codes to the checklist items they are evidence for, and says which codes are
errors (a failure in the window), which are warnings, and which are merely informative.
"""

from __future__ import annotations

import datetime
import re
import typing as t

# code -> (severity, checklist ids it is evidence for)
CODES: dict[str, tuple[str, tuple[str, ...]]] = {
    "NO_PROPOSAL_CHOSEN": ("error", ("P1.PROPOSALS", "P2.CRYPTO")),
    "IKE_NO_PROPOSAL_CHOSEN": ("error", ("P1.PROPOSALS",)),
    "CHILD_NO_PROPOSAL_CHOSEN": ("error", ("P2.CRYPTO",)),
    "INVALID_KE_PAYLOAD": ("warning", ("P1.PROPOSALS", "P2.CRYPTO")),
    "AUTHENTICATION_FAILED": ("error", ("P1.PSK", "P1.IDENTITY")),
    "MAC_MISMATCH": ("error", ("P1.PSK",)),
    "PSK_MISMATCH": ("error", ("P1.PSK",)),
    "DECRYPTION_FAILED": ("error", ("P1.PSK",)),
    "NO_PSK": ("error", ("P1.PSK",)),
    "ID_MISMATCH": ("error", ("P1.IDENTITY",)),
    "IDENTITY_MISMATCH": ("error", ("P1.IDENTITY",)),
    "NO_CONFIG_FOUND": ("error", ("P1.IDENTITY", "P1.IKE_VERSION")),
    "NO_IKE_CONFIG": ("error", ("P1.IKE_VERSION", "P1.IDENTITY")),
    "NOTIFY_ERROR": ("error", ()),
    "INVALID_ID_INFORMATION": ("error", ("P1.IDENTITY", "P2.SELECTORS")),
    "TS_UNACCEPTABLE": ("error", ("P2.SELECTORS",)),
    "NO_SAINFO": ("error", ("P2.SELECTORS",)),
    "IKEV1_IGNORED": ("error", ("P1.IKE_VERSION",)),
    "IKE_VERSION_MISMATCH": ("error", ("P1.IKE_VERSION",)),
    "PEER_NOT_RESPONDING": ("error", ("P1.REACH",)),
    "RETRANSMIT": ("warning", ("P1.REACH",)),
    "PHASE1_TIMEOUT": ("error", ("P1.REACH",)),
    "NO_ISAKMP_SA": ("error", ("P1.SA",)),
    "SA_INSTALL_FAILED": ("error", ("P2.SA_MATCH", "P2.POLICY")),
    "DPD_DEAD_PEER": ("warning", ("P1.REACH",)),
    "ESTABLISHED": ("info", ()),
    "CHILD_ESTABLISHED": ("info", ()),
    "IKE_SA_ESTABLISHED": ("info", ()),
    "CHILD_SA_ESTABLISHED": ("info", ()),
    "IKE_SA_DELETED": ("info", ()),
    "CHILD_SA_DELETED": ("info", ()),
    "PROPOSAL_SELECTED": ("info", ()),
    "PROPOSALS": ("info", ()),
    "UNKNOWN": ("info", ()),
}


def severity(code: str | None) -> str:
    """error, warning or info; unknown codes count as info."""
    return CODES.get(code or "", ("info", ()))[0]


def points_at(code: str | None) -> tuple[str, ...]:
    return CODES.get(code or "", ("info", ()))[1]


def entries(logs: t.Iterable[dict[str, t.Any]], finding_id: str | None = None, level: str | None = None) -> list[dict[str, t.Any]]:
    """Log entries, optionally only those that are evidence for ``finding_id`` or of a severity."""
    selected = []
    for entry in logs or []:
        code = entry.get("code")
        if finding_id and finding_id not in points_at(code):
            continue
        if level and severity(code) != level:
            continue
        selected.append(entry)
    return selected


def line(entry: dict[str, t.Any], limit: int = 200) -> str:
    """An entry as one evidence line: ``[CODE] message`` (cut to ``limit`` characters)."""
    message = str(entry.get("message") or "").strip()
    if len(message) > limit:
        message = message[: limit - 3] + "..."
    code = entry.get("code")
    return f"[{code}] {message}" if code else message


# Lines that say the daemon (re)loaded its configuration or secrets.
RELOAD = re.compile(
    r"added vici connection|replaced vici connection|loaded IKE shared key|loaded .*secret|"  # strongSwan
    r"added IKEv[12] connection|replac\w+ connection|loading secrets from|loaded PSK secret|"  # libreswan
    r"reading config file|parse\w* configuration file",  # racoon
    re.IGNORECASE,
)


def _epoch(value: t.Any) -> float | None:
    """A log entry's time (ISO 8601 as log_info gives it; the gateway's local time) as seconds."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def last_reload(logs: t.Iterable[dict[str, t.Any]]) -> float | None:
    """When the daemon last (re)loaded its configuration in the log window, or None."""
    times = [_epoch(entry.get("time")) for entry in logs or [] if RELOAD.search(str(entry.get("message") or ""))]
    known = [moment for moment in times if moment is not None]
    return max(known) if known else None
