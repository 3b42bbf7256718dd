# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The command seam keeps the output AnsibleModule.run_command would drop (ansible/ansible#51393).

Found on the UML lab: firewall_info through Ansible returned, about once per hundred commands,
rc 0 with an empty stdout (no addresses, no interfaces, "nft -j output is not JSON"). The race:
run_command's select() times out, the command then writes and exits, and the loop stops because
poll() says the process is gone. Here the scheduler's bad timing is made certain: the selector's
first select() waits until the real command has written and exited, then reports a timeout.
"""

from __future__ import annotations

import selectors
import time

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _command


class LateSelector(selectors.PollSelector):
    """select() that 'times out' once, after the command has already written and exited."""

    timed_out_once = False

    def select(self, timeout=None):
        if not LateSelector.timed_out_once:
            LateSelector.timed_out_once = True
            time.sleep(0.5)
            return []
        return super().select(timeout)


@pytest.fixture
def module(monkeypatch: pytest.MonkeyPatch) -> basic.AnsibleModule:
    monkeypatch.setattr(basic.selectors, "PollSelector", LateSelector)
    LateSelector.timed_out_once = False
    with patch_module_args({}):
        return basic.AnsibleModule(argument_spec={})


def test_plain_run_command_drops_the_output(module: basic.AnsibleModule) -> None:
    """The race is real in the ansible-core we run (else the next test would prove nothing)."""
    rc, out, _err = module.run_command(["/bin/echo", "written after the timeout"])
    if out:
        pytest.skip("this ansible-core no longer drops output after a select() timeout")
    assert rc == 0 and out == ""


def test_command_seam_keeps_the_output(module: basic.AnsibleModule) -> None:
    runner = _command.CommandRunner(module)
    rc, out, _err = runner.run("echo", ["written after the timeout"])
    assert LateSelector.timed_out_once
    assert (rc, out) == (0, "written after the timeout\n")


def test_command_seam_keeps_stderr_and_large_output(module: basic.AnsibleModule) -> None:
    runner = _command.CommandRunner(module)
    rc, out, err = runner.run("sh", ["-c", "seq 1 20000; echo oops >&2; exit 3"], check_rc=False)
    assert rc == 3 and out.splitlines()[-1] == "20000" and len(out.splitlines()) == 20000 and err == "oops\n"


def test_guard_does_not_wait_for_a_pipe_held_by_a_grandchild(module: basic.AnsibleModule) -> None:
    """A daemonising command leaves its pipe open but empty: the seam returns when it exits."""
    runner = _command.CommandRunner(module)
    started = time.monotonic()
    rc, out, _err = runner.run("sh", ["-c", "(sleep 3 &) ; echo parent done"])
    assert (rc, out) == (0, "parent done\n")
    assert time.monotonic() - started < 2.5


def test_pending_bytes_of_closed_pipe_is_zero() -> None:
    class Closed:
        def fileno(self) -> int:
            raise ValueError("I/O operation on closed file")

    assert _command._pending_bytes(Closed()) == 0
