# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""iptables-save -c parser on real dumps (ufw, docker-style, ours) and on bad input."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _iptables
from ansible_collections.netdoctor.ipsec.tests.unit.cases import assert_subset, load_cases


def view(result):
    """The parts a case checks: tables with chain summaries, selected rules, warnings, unparsed."""
    tables = {}
    rules = {}
    for table in result["tables"]:
        tables[table["name"]] = dict((chain["name"], [chain["hook"], chain["priority"], chain["policy"], len(chain["rules"])])
                                     for chain in table["chains"])
        for chain in table["chains"]:
            for rule in chain["rules"]:
                rules["%s/%s/%d" % (table["name"], chain["name"], rule["index"])] = rule
    return {"tables": tables, "rules": rules, "warnings": result["warnings"], "unparsed": result["unparsed"]}


@pytest.mark.parametrize("case", load_cases(__file__))
def test_parse_save(case):
    result = _iptables.parse_save(case["input"], family=case.get("family", "ip"), backend=case.get("backend", "iptables-legacy"))
    assert_subset(view(result), case["expected"])


@pytest.mark.parametrize(
    "line, tokens",
    [
        ('-A INPUT -m comment --comment "a \\"quoted\\" word" -j ACCEPT', ["-A", "INPUT", "-m", "comment", "--comment", 'a "quoted" word', "-j", "ACCEPT"]),
        ("-A X  -j LOG --log-prefix \"x y \"", ["-A", "X", "-j", "LOG", "--log-prefix", "x y "]),
    ],
)
def test_tokenize_quotes(line, tokens):
    assert _iptables.tokenize(line) == tokens
