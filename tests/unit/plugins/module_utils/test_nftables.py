# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nft -j list ruleset normaliser on real dumps (firewalld, nftables examples, ours) and bad input."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _nftables
from ansible_collections.netdoctor.ipsec.tests.unit.cases import assert_subset, load_cases


def view(result):
    tables = {}
    rules = {}
    sets = {}
    for table in result["tables"]:
        key = "%s %s" % (table["family"], table["name"])
        tables[key] = dict((chain["name"], [chain["hook"], chain["priority"], chain["type"], chain["policy"], len(chain["rules"])])
                           for chain in table["chains"])
        for entry in table["sets"]:
            sets["%s/%s" % (key, entry["name"])] = entry
        for chain in table["chains"]:
            for rule in chain["rules"]:
                rules["%s/%s/%d" % (key, chain["name"], rule["handle"])] = rule
    return {"tables": tables, "rules": rules, "sets": sets, "warnings": result["warnings"], "unparsed": result["unparsed"],
            "version": result["version"]}


@pytest.mark.parametrize("case", load_cases(__file__))
def test_parse_json(case):
    result = _nftables.parse_json(case["input"], case.get("listing"))
    assert_subset(view(result), case["expected"])
