# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a module's ``main()`` in-process with mocked commands (the ``mocks: run_command`` of a case)."""

from __future__ import annotations

import json
import typing as t

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


class RunCommandMock:
    """Replays expected commands in order; any other command fails the test."""

    def __init__(self, calls: list[dict[str, t.Any]], binaries: dict[str, str | None] | None = None) -> None:
        self.calls = list(calls)
        self.binaries = binaries or {}
        self.seen: list[list[str]] = []

    def get_bin_path(self, module: t.Any, arg: str, required: bool = False, opt_dirs: t.Any = None) -> str | None:
        if arg in self.binaries:
            return self.binaries[arg]
        return f"/usr/sbin/{arg}"

    def run_command(self, module: t.Any, args: t.Any, **kwargs: t.Any) -> tuple[int, str, str]:
        argv = list(args) if isinstance(args, (list, tuple)) else str(args).split()
        self.seen.append(argv)
        assert self.calls, f"unexpected command {argv}"
        call = self.calls.pop(0)
        assert argv == call["command"], f"expected command {call['command']}, got {argv}"
        return call.get("rc", 0), call.get("out", ""), call.get("err", "")


def run_module(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    main: t.Callable[[], None],
    args: dict[str, t.Any],
    calls: list[dict[str, t.Any]] | None = None,
    binaries: dict[str, str | None] | None = None,
) -> dict[str, t.Any]:
    """The module's JSON result after running ``main`` with ``args`` and mocked commands."""
    mock = RunCommandMock(calls or [], binaries)

    # Plain functions, so that Python binds the AnsibleModule instance as their first argument.
    def run_command(module: t.Any, *args: t.Any, **kwargs: t.Any) -> tuple[int, str, str]:
        return mock.run_command(module, *args, **kwargs)

    def get_bin_path(module: t.Any, *args: t.Any, **kwargs: t.Any) -> str | None:
        return mock.get_bin_path(module, *args, **kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", get_bin_path)
    with patch_module_args(args), pytest.raises(SystemExit):
        main()
    result = json.loads(capsys.readouterr().out)
    assert not mock.calls, f"commands not run: {[c['command'] for c in mock.calls]}"
    return result
