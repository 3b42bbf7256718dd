# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Is an IKE daemon running here, and is it listening on UDP 500/4500? Plus reading its files.

Read from /proc (the gateway's own network namespace): processes by name, the UDP sockets of
``/proc/net/udp{,6}`` and which process owns them (``/proc/<pid>/fd`` links, root only). The parsers
are pure; ``HostView`` does the reading and can be pointed at another root for tests.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import glob
import io
import os

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _hostfacts

DAEMON_PROCESSES = {
    "strongswan": ("charon", "charon-systemd", "charon-nm"),
    "libreswan": ("pluto",),
    "racoon": ("racoon",),
}
IKE_PORTS = (500, 4500)


def parse_proc_udp(text, family):
    """Sockets of ``/proc/net/udp`` (family 4) or ``udp6`` (6): ``[{address, port, inode, family}]``.

    The reading is ``_hostfacts``' (it knows the kernel prints addresses in host byte order).
    """
    return [{"address": sock["address"], "port": sock["port"], "inode": sock["inode"], "family": family}
            for sock in _hostfacts.parse_proc_net_udp(text, family) if sock["inode"] is not None]


def listening_summary(sockets, owned_inodes=None):
    """``{udp_500, udp_4500, sockets}`` for the IKE ports; only the daemon's sockets when known."""
    ike = [s for s in sockets if s["port"] in IKE_PORTS]
    if owned_inodes is not None:
        ike = [s for s in ike if s["inode"] in owned_inodes]
    return {
        "udp_500": any(s["port"] == 500 for s in ike),
        "udp_4500": any(s["port"] == 4500 for s in ike),
        "sockets": [{"address": s["address"], "port": s["port"], "family": s["family"]} for s in ike],
    }


class HostView(object):
    """Reads processes, sockets and files under ``root`` (``/`` on a gateway)."""

    def __init__(self, root="/"):
        self.root = root

    def path(self, path):
        return os.path.join(self.root, path.lstrip("/")) if self.root != "/" else path

    def read(self, path):
        """Text of a file; raises IOError/OSError with the errno of the failure."""
        with io.open(self.path(path), "r", encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def exists(self, path):
        return os.path.exists(self.path(path))

    def glob(self, pattern):
        found = sorted(glob.glob(self.path(pattern)))
        if self.root == "/":
            return found
        return ["/" + os.path.relpath(p, self.root) for p in found]

    def loader(self, problems):
        """An include loader for the settings parsers: ``(pattern, base_dir) -> [(path, text)]``."""

        def load(pattern, base):
            pattern = pattern.strip().strip('"')
            full = pattern if pattern.startswith("/") else os.path.join(base or "/", pattern)
            out = []
            for path in self.glob(full):
                try:
                    out.append((path, self.read(path)))
                except (IOError, OSError) as exc:
                    problems.append(describe_read_error(path, exc))
            return out

        return load

    def processes(self, names):
        """``[{pid, name}]`` of processes whose comm is one of ``names``, in our network namespace.

        Gateways that share a PID namespace (containers, the lab's namespaces) see each other's
        daemons in /proc; a daemon in another network namespace does not serve this gateway.
        """
        found = []
        own_netns = self._netns("self")
        for entry in self._pids():
            try:
                comm = self.read("/proc/%s/comm" % entry).strip()
            except (IOError, OSError):
                continue
            if comm not in names:
                continue
            netns = self._netns(entry)
            if own_netns and netns and netns != own_netns:
                continue
            found.append({"pid": int(entry), "name": comm})
        return found

    def _netns(self, pid):
        try:
            return os.readlink(self.path("/proc/%s/ns/net" % pid))
        except OSError:
            return None

    def _pids(self):
        try:
            return [name for name in os.listdir(self.path("/proc")) if name.isdigit()]
        except OSError:
            return []

    def udp_sockets(self):
        sockets = []
        for family, name in ((4, "/proc/net/udp"), (6, "/proc/net/udp6")):
            try:
                sockets.extend(parse_proc_udp(self.read(name), family))
            except (IOError, OSError):
                continue
        return sockets

    def socket_inodes(self, pids):
        """Inodes of the sockets held by ``pids``; None when /proc/<pid>/fd cannot be read."""
        inodes = set()
        for pid in pids:
            fd_dir = self.path("/proc/%d/fd" % pid)
            try:
                entries = os.listdir(fd_dir)
            except OSError:
                return None
            for entry in entries:
                try:
                    target = os.readlink(os.path.join(fd_dir, entry))
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes.add(int(target[8:-1]))
        return inodes


def describe_read_error(path, exc):
    code = getattr(exc, "errno", None)
    if code == errno.ENOENT:
        return "%s does not exist" % path
    if code in (errno.EACCES, errno.EPERM):
        return "no permission to read %s (run as root / become)" % path
    return "cannot read %s: %s" % (path, exc)
