# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The one seam through which a module runs commands on a gateway.

Binaries are resolved once (PATH plus the sbin directories, where IPsec tools live), the locale is
pinned to C so that parsers see the English output they were written for, and failures raise an
error that names the command and its stderr.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import os
import struct
import subprocess
import termios

C_LOCALE = {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}
SBIN_DIRS = ["/sbin", "/usr/sbin", "/usr/local/sbin", "/usr/libexec/ipsec", "/usr/lib/ipsec"]


class CommandError(Exception):
    """A command failed; the message names the command and what it said."""

    def __init__(self, message, rc=None, stdout="", stderr=""):
        super(CommandError, self).__init__(message)
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr


class ToolMissing(CommandError):
    """The binary is not installed on the gateway."""


def _command_line(argv):
    return " ".join(argv)


def _pending_bytes(pipe):
    """Bytes waiting in a pipe (0 when closed or unknown)."""
    try:
        return struct.unpack("i", fcntl.ioctl(pipe.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]
    except (IOError, OSError, ValueError):
        return 0


def guard_unread_output(process):
    """Keep AnsibleModule.run_command from dropping output (ansible/ansible#51393).

    Its read loop ends when select() timed out and the process has exited meanwhile, so what the
    process wrote between the two is lost (rc 0, empty stdout). That happens on loaded gateways
    (seen on the UML lab: about one command in a hundred). Used as ``before_communicate_callback``:
    while a pipe still holds unread bytes, ``poll()`` reports the process as running, so the loop
    reads them first. A pipe at EOF or held open by a grandchild holds no bytes: no new waits.
    """
    real_poll = process.poll
    pipes = [pipe for pipe in (process.stdout, process.stderr) if pipe is not None]

    def poll():
        status = real_poll()
        if status is not None and any(_pending_bytes(pipe) for pipe in pipes):
            return None
        return status

    process.poll = poll


def _is_ansible_module(module):
    """Only the real AnsibleModule.run_command takes the callback (test doubles may not)."""
    try:
        from ansible.module_utils.basic import AnsibleModule
    except ImportError:
        return False
    return isinstance(module, AnsibleModule)


class CommandRunner(object):
    """Runs named tools through ``module.run_command`` with a C locale.

    ``module`` is an AnsibleModule (or anything with ``get_bin_path`` and ``run_command``).
    """

    def __init__(self, module):
        self._module = module
        self._paths = {}

    def path(self, tool):
        """Absolute path of ``tool``, or None when it is not installed. Resolved once."""
        if tool not in self._paths:
            self._paths[tool] = self._module.get_bin_path(tool, required=False, opt_dirs=SBIN_DIRS)
        return self._paths[tool]

    def has(self, tool):
        return self.path(tool) is not None

    def run(self, tool, args, check_rc=True, data=None):
        """Run ``tool args...``; returns (rc, stdout, stderr).

        Raises ToolMissing when the tool is absent and CommandError on a non-zero exit when
        ``check_rc`` is true.
        """
        path = self.path(tool)
        shown = _command_line([tool] + list(args))
        if path is None:
            raise ToolMissing("'%s' is not installed on this host (looked in PATH and %s)" % (tool, ":".join(SBIN_DIRS)))
        extra = {"before_communicate_callback": guard_unread_output} if _is_ansible_module(self._module) else {}
        rc, out, err = self._module.run_command([path] + list(args), data=data, environ_update=C_LOCALE, **extra)
        if check_rc and rc != 0:
            detail = (err or out or "").strip() or "no output"
            raise CommandError("'%s' failed with rc=%d: %s" % (shown, rc, detail), rc=rc, stdout=out, stderr=err)
        return rc, out, err

    def spawn(self, tool, args, **popen_kwargs):
        """Start ``tool args...`` in the background (C locale) and return its ``subprocess.Popen``.

        For the few tools that must run alongside the module (a capture), not to completion.
        Raises ToolMissing when the tool is absent.
        """
        path = self.path(tool)
        if path is None:
            raise ToolMissing("'%s' is not installed on this host (looked in PATH and %s)" % (tool, ":".join(SBIN_DIRS)))
        env = dict(os.environ)
        env.update(C_LOCALE)
        # run_command waits for the command to end; a capture must run beside the module.
        return subprocess.Popen([path] + list(args), env=env, **popen_kwargs)  # pylint: disable=ansible-bad-function
