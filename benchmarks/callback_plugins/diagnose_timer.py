# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark helper (not part of the collection): wall time per task, written as JSON at the end.

Enable with ANSIBLE_CALLBACK_PLUGINS=benchmarks/callback_plugins ANSIBLE_CALLBACKS_ENABLED=diagnose_timer;
the file is $DIAGNOSE_TIMER_OUT (default ./task-times.json).
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: diagnose_timer
type: aggregate
short_description: Wall time per task (benchmark helper)
description: Records the wall time of every task of a play and writes them as JSON at the end.
requirements: [enable in the configuration]
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "diagnose_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.started = time.time()
        self.tasks: list[dict] = []
        self.current: dict | None = None

    def _close(self) -> None:
        if self.current is not None:
            self.current["seconds"] = round(time.time() - self.current["start"], 3)
            self.tasks.append(self.current)
            self.current = None

    def v2_playbook_on_task_start(self, task, is_conditional) -> None:
        self._close()
        self.current = {"task": task.get_name(), "start": time.time()}

    def v2_playbook_on_handler_task_start(self, task) -> None:
        self.v2_playbook_on_task_start(task, False)

    def v2_playbook_on_stats(self, stats) -> None:
        self._close()
        total = round(time.time() - self.started, 3)
        with open(os.environ.get("DIAGNOSE_TIMER_OUT", "task-times.json"), "w", encoding="utf-8") as handle:
            json.dump({"total_seconds": total, "tasks": [{k: v for k, v in t.items() if k != "start"} for t in self.tasks]}, handle, indent=1)
