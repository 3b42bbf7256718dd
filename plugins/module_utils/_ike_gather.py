# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The backend of ``ike_info``: find the IKE daemons of a gateway and read each into the ``ike`` record.

Every source that fails (socket missing, tool missing, no permission, odd output) becomes a warning
or an error of the daemon's record; the other sources are still read.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _command, _hostfacts, _ike_host, _ipsec_conf
from ansible_collections.netdoctor.ipsec.plugins.module_utils import _ike_record as rec
from ansible_collections.netdoctor.ipsec.plugins.module_utils import _libreswan, _psk, _racoon, _stroke
from ansible_collections.netdoctor.ipsec.plugins.module_utils import _strongswan, _strongswan_conf, _swanctl_text, _vici

DEFAULT_PATHS = {
    "swanctl_conf": "/etc/swanctl/swanctl.conf",
    "ipsec_conf": "/etc/ipsec.conf",
    "ipsec_secrets": "/etc/ipsec.secrets",
    "racoon_conf": "/etc/racoon/racoon.conf",
}
STROKE_SOCKETS = ("/var/run/charon.ctl", "/run/charon.ctl")


class Context(object):
    """What a gatherer needs: the command runner, the host view, the options and the salt."""

    def __init__(self, runner, host, options, salt):
        self.runner = runner
        self.host = host
        self.options = options
        self.salt = salt
        self._addresses = None

    def option(self, name):
        value = self.options.get(name)
        return DEFAULT_PATHS.get(name) if value is None else value

    def read_text(self, record, path, what):
        """A file's text, or None with a warning on the record (missing files are silent when optional)."""
        try:
            return self.host.read(path)
        except (IOError, OSError) as exc:
            message = "%s: %s" % (what, _ike_host.describe_read_error(path, exc))
            record["warnings"].append(message)
            return None

    def read_option_file(self, record, option, what):
        """(path, text) of the file that ``option`` names; text is None when the option is empty, the
        file does not exist, or it cannot be read (then with a warning on the record)."""
        path = self.option(option)
        if not path or not self.host.exists(path):
            return path, None
        return path, self.read_text(record, path, what)

    def ipsec_conf(self, record, parse_ipsec_conf):
        """(path, connections) of ipsec.conf read with the daemon's ``parse_ipsec_conf``; (None, [])
        when there is none. Its problems become warnings of the record."""
        path, text = self.read_option_file(record, "ipsec_conf", "ipsec.conf")
        if text is None:
            return None, []
        problems = []
        parsed = parse_ipsec_conf(text, path, self.host.loader(problems), self.local_addresses(record))
        record["warnings"].extend(problems + parsed["warnings"])
        record["unparsed"].extend(parsed["unparsed"])
        return path, parsed["connections"]

    def ipsec_secrets(self, record):
        """(path, PSK records) of ipsec.secrets; (None, []) when there is none."""
        path, text = self.read_option_file(record, "ipsec_secrets", "ipsec.secrets")
        if text is None:
            return None, []
        problems = []
        secrets, secret_problems = _ipsec_conf.parse_secrets(text, self.salt, path, self.host.loader(problems))
        record["warnings"].extend(problems + secret_problems)
        return path, secrets

    def host_state(self, record, daemon):
        return host_state(self, record, daemon)

    def tool_version(self, tool, args, pattern):
        if not self.runner.has(tool):
            return None
        try:
            _rc, out, err = self.runner.run(tool, args, check_rc=False)
        except _command.CommandError:
            return None
        match = re.search(pattern, (out or "") + (err or ""))
        return match.group(1) if match else None

    def local_addresses(self, record):
        """This gateway's addresses (``ip -o addr``), to tell the local side of a config; [] when unknown."""
        if self._addresses is None:
            self._addresses = []
            if self.runner.has("ip"):
                out = self.run(record, "ip", ["-o", "addr", "show"], "ip -o addr show")
                self._addresses = [entry["address"] for entry in _hostfacts.parse_ip_addr(out)]
        return self._addresses

    def run(self, record, tool, args, what):
        """stdout of a command, or None with a warning naming the command and its error."""
        try:
            _rc, out, _err = self.runner.run(tool, args)
            return out
        except _command.CommandError as exc:
            record["warnings"].append("%s: %s" % (what, exc))
            return None


def _first_existing(host, paths):
    for path in paths:
        if host.exists(path):
            return path
    return None


def host_state(ctx, record, daemon):
    """running/pid/listening of a daemon from /proc."""
    procs = ctx.host.processes(_ike_host.DAEMON_PROCESSES[daemon])
    record["running"] = bool(procs)
    record["pid"] = procs[0]["pid"] if procs else None
    sockets = ctx.host.udp_sockets()
    owned = ctx.host.socket_inodes([p["pid"] for p in procs]) if procs else None
    record["listening"] = _ike_host.listening_summary(sockets, owned)
    if procs and owned is None:
        record["warnings"].append("cannot see which process owns the UDP sockets (not root?): "
                                  "listening reports any socket on UDP 500/4500")
    return procs


def detect(ctx):
    """Daemons present on this host: running, or configured (their configuration file exists)."""
    wanted = ctx.options.get("daemons") or []
    if wanted:
        return list(wanted)
    found = []
    for daemon, names in sorted(_ike_host.DAEMON_PROCESSES.items()):
        if ctx.host.processes(names):
            found.append(daemon)
    if not found:
        if ctx.host.exists(ctx.option("swanctl_conf")) or ctx.runner.has("swanctl") or ctx.runner.has("charon"):
            found.append("strongswan")
        if ctx.runner.has("pluto") or ctx.host.exists("/etc/ipsec.d/policies"):
            found.append("libreswan")
        if ctx.host.exists(ctx.option("racoon_conf")) or ctx.runner.has("racoon"):
            found.append("racoon")
    return found


# --- strongSwan ----------------------------------------------------------------------------------

def _vici_view(ctx, record):
    """(conn events, sa events) from the VICI socket, or None when the socket cannot be used."""
    path = ctx.options.get("vici_socket") or _vici.find_socket(exists=ctx.host.exists)
    if path is None:
        record["warnings"].append("no VICI socket found (%s)" % ", ".join(_vici.DEFAULT_SOCKETS))
        return None
    try:
        with _vici.Session(ctx.host.path(path), timeout=ctx.options.get("timeout") or 10) as session:
            version = session.request("version")
            record["version"] = version.get("version")
            conns, _reply = session.streamed("list-conns", "list-conn")
            sas, _reply = session.streamed("list-sas", "list-sa", {"noblock": "yes"})
    except _vici.ViciError as exc:
        record["warnings"].append("VICI: %s" % exc)
        return None
    record["sources"].append("vici:%s" % path)
    return conns, sas


def _swanctl_view(ctx, record):
    """(conn events, sa events) from ``swanctl --list-conns/--list-sas --raw``, or None."""
    if not ctx.runner.has("swanctl"):
        return None
    conns_text = ctx.run(record, "swanctl", ["--list-conns", "--raw"], "swanctl --list-conns")
    sas_text = ctx.run(record, "swanctl", ["--list-sas", "--raw", "--noblock"], "swanctl --list-sas")
    if conns_text is None and sas_text is None:
        return None
    conns, problems, unparsed = _swanctl_text.parse_raw(conns_text, "list-conn")
    sas, problems2, unparsed2 = _swanctl_text.parse_raw(sas_text, "list-sa")
    record["warnings"].extend(problems + problems2)
    record["unparsed"].extend(unparsed + unparsed2)
    record["sources"].append("command:swanctl --raw")
    return conns, sas


def _swanctl_config(ctx, record):
    """(connections, PSK records) from swanctl.conf and its includes; empty when absent."""
    path, text = ctx.read_option_file(record, "swanctl_conf", "swanctl.conf")
    if text is None:
        return [], []
    problems = []
    tree, parse_problems, unparsed = _strongswan_conf.parse_settings(text, path, ctx.host.loader(problems))
    conns, conn_problems = _strongswan_conf.swanctl_connections(tree, path)
    secrets, secret_problems = _strongswan_conf.swanctl_secrets(tree, ctx.salt, path)
    record["warnings"].extend(problems + parse_problems + conn_problems + secret_problems)
    record["unparsed"].extend(unparsed)
    record["sources"].append("file:%s" % path)
    return conns, secrets


def _stroke_config(ctx, record):
    """(connections, PSK records) of a legacy ipsec.conf/ipsec.secrets set-up (strongSwan flavour).

    A strongSwan host often keeps the distribution's empty ipsec.conf beside swanctl.conf: a file
    is named among the sources only when it holds connections or secrets.
    """
    conf_path, conns = ctx.ipsec_conf(record, _stroke.parse_ipsec_conf)
    if conns:
        record["sources"].append("file:%s" % conf_path)
    secrets_path, secrets = ctx.ipsec_secrets(record)
    if secrets:
        record["sources"].append("file:%s" % secrets_path)
    return conns, secrets


def _statusall(ctx, record):
    if not (ctx.runner.has("ipsec") and _first_existing(ctx.host, STROKE_SOCKETS)):
        return None
    out = ctx.run(record, "ipsec", ["statusall"], "ipsec statusall")
    if out is None or "strongSwan" not in out and "Security Associations" not in out:
        return None
    parsed = _stroke.parse_statusall(out)
    record["warnings"].extend(parsed["warnings"])
    record["unparsed"].extend(parsed["unparsed"])
    record["sources"].append("command:ipsec statusall")
    if parsed.get("version") and not record["version"]:
        record["version"] = parsed["version"]
    return parsed


def gather_strongswan(ctx):
    record = rec.daemon_record("strongswan")
    host_state(ctx, record, "strongswan")
    view = _vici_view(ctx, record) or _swanctl_view(ctx, record)
    conf_conns, secrets = [], []
    stroke_conns, stroke_secrets = [], []
    if ctx.options.get("read_config", True):
        conf_conns, secrets = _swanctl_config(ctx, record)
        stroke_conns, stroke_secrets = _stroke_config(ctx, record)
    loaded = _strongswan.connections_from_vici(view[0]) if view else []
    sas = _strongswan.sas_from_vici(view[1]) if view else []
    status = _statusall(ctx, record) if not view or stroke_conns else None
    if status:
        loaded_names = set(c["name"] for c in loaded)
        loaded.extend(c for c in status["connections"] if c["name"] not in loaded_names)
        sa_names = set((s["name"], s["uniqueid"]) for s in sas)
        sas.extend(s for s in status["sas"] if (s["name"], s["uniqueid"]) not in sa_names)
    answered = view is not None or status is not None
    record["connections"] = _strongswan.merge_connections(loaded, conf_conns + stroke_conns, record["warnings"], answered)
    record["sas"] = sas
    record["secrets"] = secrets + stroke_secrets
    record["warnings"].extend(_psk.attach_to_connections(record["connections"], record["secrets"], sas, "strongswan"))
    if not answered and record["running"]:
        record["errors"].append("charon runs but neither VICI nor swanctl nor ipsec statusall answered: live SAs unknown")
    if not record["version"]:
        record["version"] = ctx.tool_version("swanctl", ["--version"], r"strongSwan (\S+)")
    return record


# --- libreswan and racoon ------------------------------------------------------------------------

GATHERERS = {"strongswan": gather_strongswan, "libreswan": _libreswan.gather, "racoon": _racoon.gather}


def gather(ctx):
    """(primary record, all records). The primary is the running daemon (else the first configured)."""
    records = []
    for daemon in detect(ctx):
        gatherer = GATHERERS.get(daemon)
        if gatherer is None:
            continue
        records.append(gatherer(ctx))
    if not records:
        record = rec.daemon_record(None)
        record["errors"].append("no IKE daemon found: no charon, pluto or racoon process and no configuration")
        return record, []
    running = [r for r in records if r["running"]]
    return (running or records)[0], records
