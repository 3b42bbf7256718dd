# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Where IKE daemon logs are, and reading a bounded time window of them (the backend of ``log_info``).

Sources: the systemd journal (``journalctl -o json``, by syslog identifier) when present, and log
files (syslog/daemon.log/auth.log/messages and the daemons' own files, plus the files named in
strongswan.conf ``filelog`` and ipsec.conf ``logfile=``). Files are read from their end, at most
``max_bytes`` each; every line is classified by ``_ike_logs``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import time as _time

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _command, _ike_logs

JOURNAL_IDENTIFIERS = ("charon", "charon-systemd", "charon-nm", "ipsec", "ipsec_starter", "pluto", "racoon", "swanctl")
SHARED_FILES = ("/var/log/syslog", "/var/log/daemon.log", "/var/log/auth.log", "/var/log/messages", "/var/log/secure")
DAEMON_FILES = {
    "/var/log/charon.log": "strongswan", "/var/log/strongswan.log": "strongswan", "/var/log/charon-debug.log": "strongswan",
    "/var/log/pluto.log": "libreswan", "/var/log/ipsec.log": None, "/var/log/racoon.log": "racoon",
    "/var/log/racoon/racoon.log": "racoon",
}
DEFAULT_FILES = list(SHARED_FILES) + sorted(DAEMON_FILES)


def parse_since(value, now):
    """Epoch seconds of ``since``: a duration (``90s``, ``10m``, ``2h``, ``1d``), an epoch number, or an
    ISO 8601 time. Raises ValueError for anything else."""
    text = ("%s" % value).strip()
    match = re.match(r"^(\d+(?:\.\d+)?)\s*([smhd])$", text)
    if match:
        factor = {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
        return now - float(match.group(1)) * factor
    if re.match(r"^\d+(?:\.\d+)?$", text):
        number = float(text)
        return number if number > 1e9 else now - number
    stamp = _ike_logs.parse_time(text.replace(" ", "T", 1) if re.match(r"^\d{4}-\d\d-\d\d \d", text) else text, now)
    if stamp is None:
        raise ValueError("since=%r is neither a duration (10m), an epoch time nor an ISO 8601 time" % (value,))
    return stamp


def read_tail(path, max_bytes):
    """(lines, cut) of the last ``max_bytes`` of a file; ``cut`` tells that earlier content was skipped."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        start = max(0, size - max_bytes)
        handle.seek(start)
        data = handle.read()
    text = data.decode("utf-8", "replace")
    lines = text.splitlines()
    if start > 0 and lines:
        lines = lines[1:]
    return lines, start > 0


def configured_log_files(host):
    """Log files the daemons' configuration names (strongswan.conf filelog, ipsec.conf logfile=)."""
    files = {}
    for conf in ("/etc/strongswan.conf",) + tuple(sorted(host.glob("/etc/strongswan.d/*.conf"))):
        try:
            text = host.read(conf)
        except (IOError, OSError):
            continue
        for path in re.findall(r"^\s*path\s*=\s*(/\S+)", text, re.M):
            files[path] = "strongswan"
        for path in re.findall(r"^\s*(/\S+\.log)\s*\{", text, re.M):
            files[path] = "strongswan"
    try:
        text = host.read("/etc/ipsec.conf")
        for path in re.findall(r"^\s*logfile\s*=\s*\"?(/[^\s\"]+)", text, re.M):
            files[path] = "libreswan"
    except (IOError, OSError):
        pass
    return files


def journal_lines(runner, since, max_lines):
    """(entries, problem): journal entries as (epoch, identifier, message) of the IKE daemons."""
    args = ["-o", "json", "--no-pager", "-q", "--since", "@%d" % int(since), "-n", "%d" % max_lines]
    for ident in JOURNAL_IDENTIFIERS:
        args += ["-t", ident]
    try:
        _rc, out, _err = runner.run("journalctl", args)
    except _command.CommandError as exc:
        return [], "journal: %s" % exc
    entries = []
    for line in out.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        message = record.get("MESSAGE")
        if isinstance(message, list):
            message = bytes(bytearray(message)).decode("utf-8", "replace")
        if not isinstance(message, type(u"")):
            continue
        try:
            stamp = int(record.get("__REALTIME_TIMESTAMP", "0")) / 1e6
        except ValueError:
            stamp = None
        entries.append((stamp, record.get("SYSLOG_IDENTIFIER") or record.get("_COMM"), message))
    return entries, None


def journal_present(runner, host):
    return runner.has("journalctl") and (host.exists("/run/systemd/journal") or host.exists("/var/log/journal"))


def collect(runner, host, options, now=None):
    """The ``log_info`` result: classified entries of the window, newest ``max_lines``."""
    now = now if now is not None else _time.time()
    result = {"sources": [], "entries": [], "counts": {}, "truncated": 0, "source_warnings": [], "errors": []}
    try:
        since = parse_since(options.get("since") or "1h", now)
    except ValueError as exc:
        result["errors"].append("%s" % exc)
        return result
    result["window"] = {"since": _time.strftime("%Y-%m-%dT%H:%M:%S", _time.localtime(since)),
                        "until": _time.strftime("%Y-%m-%dT%H:%M:%S", _time.localtime(now)), "since_epoch": since}
    max_lines = options.get("max_lines") or 2000
    entries = []
    use_journal = options.get("journal", "auto")
    if use_journal in ("auto", "always") and (use_journal == "always" or journal_present(runner, host)):
        lines, problem = journal_lines(runner, since, max_lines)
        if problem:
            result["source_warnings"].append(problem)
        else:
            result["sources"].append("journal")
            classifier = _ike_logs.Classifier(now)
            for stamp, ident, message in lines:
                entry = classifier.classify(message, _ike_logs.IDENT_DAEMON.get(ident), stamp)
                entry["source"] = "journal"
                entries.append(entry)
    if use_journal != "always":
        entries.extend(_file_entries(host, options, since, now, result))
    entries = [e for e in entries if options.get("include_unknown", True) or e["code"] != "UNKNOWN"]
    entries.sort(key=lambda e: e.get("epoch") or 0)
    if len(entries) > max_lines:
        result["truncated"] = len(entries) - max_lines
        entries = entries[-max_lines:]
    for entry in entries:
        entry.pop("epoch", None)
    result["entries"] = entries
    result["counts"] = _ike_logs.summarize(entries)
    return result


def _file_entries(host, options, since, now, result):
    files = options.get("files")
    hints = dict(DAEMON_FILES)
    if not files:
        configured = configured_log_files(host)
        hints.update(configured)
        files = DEFAULT_FILES + [f for f in sorted(configured) if f not in DEFAULT_FILES]
        explicit = False
    else:
        explicit = True
    entries = []
    seen = set()
    for path in files:
        real = os.path.realpath(host.path(path))
        if real in seen or not host.exists(path):
            if explicit and not host.exists(path):
                result["source_warnings"].append("%s does not exist" % path)
            continue
        seen.add(real)
        try:
            lines, cut = read_tail(host.path(path), options.get("max_bytes") or 16 * 1024 * 1024)
        except (IOError, OSError) as exc:
            result["source_warnings"].append("cannot read %s: %s" % (path, exc))
            continue
        daemon_hint = hints.get(path)
        dedicated = path in DAEMON_FILES or path in hints or explicit
        classifier = _ike_logs.Classifier(now)
        undated = 0
        kept = 0
        for line in lines:
            if not line.strip():
                continue
            entry = classifier.classify(line, daemon_hint)
            if entry["daemon"] is None and not dedicated:
                continue
            if entry.get("epoch") is None:
                undated += 1
            elif entry["epoch"] < since:
                continue
            entry["source"] = path
            entries.append(entry)
            kept += 1
        result["sources"].append(path)
        if cut:
            result["source_warnings"].append("%s: only its last %d bytes were read" % (path, options.get("max_bytes") or 16 * 1024 * 1024))
        if undated:
            result["source_warnings"].append("%s: %d line(s) without a time stamp kept (the window cannot apply to them)" % (path, undated))
    return entries
