# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""YAML-driven unit tests, after community.general's uthelper.

A test module ``test_foo.py`` keeps its cases in ``test_foo.yaml`` beside it::

    - id: strongswan gcm sa                      # pytest id
      input: {fixture: xfrm/strongswan_gcm.txt}  # or: input: {text: "..."} or any plain value
      expected: {states: [{spi: "0xc8e2bf74"}]}  # a subset of the actual result (see assert_subset)
      mocks:                                     # optional: commands the module is expected to run
        run_command:
          - command: [/usr/sbin/ip, -s, -s, xfrm, state]
            rc: 0
            out: {fixture: xfrm/strongswan_gcm.txt}
            err: ""

Fixtures live in ``tests/unit/fixtures``. Their first lines may carry provenance headers
(``# source: ...``, ``# lab: ...``, ``# note: ...``), which are stripped before use.
"""

from __future__ import annotations

import json
import os
import typing as t

import pytest
import yaml

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
HEADER_PREFIXES = ("# source:", "# lab:", "# note:")


def fixture_text(relpath: str) -> str:
    """A fixture's text without its provenance header lines."""
    with open(os.path.join(FIXTURES, relpath), encoding="utf-8", errors="surrogateescape") as handle:
        lines = handle.read().splitlines(True)
    while lines and lines[0].startswith(HEADER_PREFIXES):
        lines.pop(0)
    return "".join(lines)


def resolve(value: t.Any) -> t.Any:
    """Replace ``{fixture: path}`` by the file's text and ``{text: ...}`` by the text, recursively."""
    if isinstance(value, dict):
        if set(value) == {"fixture"}:
            return fixture_text(value["fixture"])
        if set(value) == {"text"}:
            return value["text"]
        if set(value) == {"json_fixture"}:
            return json.loads(fixture_text(value["json_fixture"]))
        return {key: resolve(item) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item) for item in value]
    return value


def load_cases(test_file: str) -> list[t.Any]:
    """pytest params (one per case, with its id) from the YAML file beside ``test_file``."""
    path = os.path.splitext(test_file)[0] + ".yaml"
    with open(path, encoding="utf-8") as handle:
        cases = yaml.safe_load(handle) or []
    return [pytest.param(resolve(case), id=case["id"]) for case in cases]


def assert_subset(actual: t.Any, expected: t.Any, path: str = "result") -> None:
    """Every key of ``expected`` is in ``actual`` with a matching value.

    Dicts match as subsets, recursively. Lists must have the same length and match item by item,
    so a parser that drops or invents a record fails. Scalars must be equal.
    """
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected a mapping, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{path}: missing key {key!r} (have {sorted(actual)})"
            assert_subset(actual[key], value, f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{path}: expected a list, got {actual!r}"
        assert len(actual) == len(expected), f"{path}: expected {len(expected)} items, got {len(actual)}: {actual!r}"
        for index, (item, want) in enumerate(zip(actual, expected)):
            assert_subset(item, want, f"{path}[{index}]")
    else:
        assert actual == expected, f"{path}: expected {expected!r}, got {actual!r}"
