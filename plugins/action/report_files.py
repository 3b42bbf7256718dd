# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Write report files on the controller in one task (see the report_files module for the documentation)."""

from __future__ import annotations

import os
import tempfile
import typing as t

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.action import ActionBase

ARGUMENT_SPEC = {
    "files": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": {
            "path": {"type": "path", "required": True},
            "content": {"type": "str", "required": True},
            "mode": {"type": "str", "default": "0644"},
        },
    },
}


def _write(path: str, data: bytes, mode: int) -> None:
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, mode=0o755, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".report-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: t.Any = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        written, unchanged = [], []
        for item in args["files"]:
            path = item["path"]
            if not os.path.isabs(path):
                raise AnsibleActionFail(f"netdoctor.ipsec.report_files: {path!r} is not an absolute path")
            try:
                mode = int(item["mode"], 8)
            except ValueError as exc:
                raise AnsibleActionFail(f"netdoctor.ipsec.report_files: mode {item['mode']!r} of {path} is not octal") from exc
            data = to_bytes(item["content"], errors="surrogate_or_strict")
            try:
                with open(path, "rb") as current:
                    same = current.read() == data and (os.stat(path).st_mode & 0o7777) == mode
            except OSError:
                same = False
            if same:
                unchanged.append(path)
                continue
            written.append(path)
            if not self._task.check_mode:
                try:
                    _write(path, data, mode)
                except OSError as exc:
                    raise AnsibleActionFail(f"netdoctor.ipsec.report_files: cannot write {path}: {exc}") from exc
        result.update(changed=bool(written), written=written, unchanged=unchanged)
        return result
