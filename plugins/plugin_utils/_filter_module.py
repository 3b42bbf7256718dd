# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Run gateway-side backends (written against the AnsibleModule API) inside a filter."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display


class FilterModuleMock:
    """Just enough of AnsibleModule for a parser backend: params, check mode, warn and fail_json."""

    check_mode = True

    def __init__(self, params: dict[str, t.Any] | None = None) -> None:
        self.params = dict(params or {})
        self.warnings: list[str] = []

    def warn(self, warning: str) -> None:
        self.warnings.append(warning)
        Display().warning(warning)

    def fail_json(self, msg: str, **kwargs: t.Any) -> t.NoReturn:
        raise AnsibleFilterError(msg)

    def get_bin_path(self, *args: t.Any, **kwargs: t.Any) -> None:
        return None

    def run_command(self, *args: t.Any, **kwargs: t.Any) -> t.NoReturn:
        raise AnsibleFilterError("filters parse text they are given; they never run commands")


def require_text(value: t.Any, filter_name: str) -> str:
    """The filter input as text, or a clear error naming the filter."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        raise AnsibleFilterError(
            f"The input of the netdoctor.ipsec.{filter_name} filter must be text; got {type(value).__name__}"
        )
    return value


def require_choice(value: t.Any, choices: t.Sequence[str], filter_name: str, option: str) -> None:
    """A clear error naming the filter when an option is none of ``choices`` (``a, b or c``)."""
    if value not in choices:
        alternatives = " or ".join([", ".join(choices[:-1]), choices[-1]]) if len(choices) > 1 else choices[0]
        raise AnsibleFilterError(f"netdoctor.ipsec.{filter_name}: {option} must be {alternatives}")


def require_address_list(value: t.Any, filter_name: str) -> None:
    """A clear error naming the filter when ``local_addresses`` is given but not a list."""
    if not isinstance(value, (list, tuple, type(None))):
        raise AnsibleFilterError(f"netdoctor.ipsec.{filter_name}: local_addresses must be a list of addresses")
