# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Rules of the traffic stage, one group of cases per finding: see test_rules_traffic.yaml."""

from __future__ import annotations

import pytest

from ansible_collections.netdoctor.ipsec.tests.unit.cases import load_cases
from ansible_collections.netdoctor.ipsec.tests.unit.plugins.plugin_utils import rulecases


@pytest.mark.parametrize("case", load_cases(__file__))
def test_traffic_rules(case):
    rulecases.check(case)
