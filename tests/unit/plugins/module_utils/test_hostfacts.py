# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Host fact parsers (ip link/addr/rule/route, /proc/net/udp, sysctls) on recorded outputs."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _hostfacts
from ansible_collections.netdoctor.ipsec.tests.unit.cases import assert_subset, load_cases

PARSERS = {
    "ip_link": _hostfacts.parse_ip_link,
    "ip_addr": _hostfacts.parse_ip_addr,
    "ip_rule": _hostfacts.parse_ip_rules,
    "routes": _hostfacts.parse_routes,
    "route_get": _hostfacts.parse_route_get,
    "udp4": lambda text: _hostfacts.ike_listeners(_hostfacts.parse_proc_net_udp(text, 4)),
    "udp6": lambda text: _hostfacts.ike_listeners(_hostfacts.parse_proc_net_udp(text, 6)),
}


@pytest.mark.parametrize("case", load_cases(__file__))
def test_parser(case):
    assert_subset(PARSERS[case["parser"]](case["input"]), case["expected"])


def test_policy_tables_and_first_host():
    rules = [{"table": "local"}, {"table": "220"}, {"table": "main"}, {"table": "220"}, {"table": "vpn"}]
    assert _hostfacts.policy_tables(rules) == ["220", "vpn"]
    assert _hostfacts.first_host("10.2.0.0/24") == "10.2.0.1"
    assert _hostfacts.first_host("10.2.0.7/32") == "10.2.0.7"
    assert _hostfacts.first_host("2001:db8:2::/64") == "2001:db8:2::1"
    assert _hostfacts.first_host("nonsense") is None


def test_sysctls_effective_rp_filter_is_the_maximum():
    files = {
        "/proc/sys/net/ipv4/ip_forward": "1\n",
        "/proc/sys/net/core/xfrm_larval_drop": "1\n",
        "/proc/sys/net/ipv4/conf/all/rp_filter": "2\n",
        "/proc/sys/net/ipv4/conf/eth0/rp_filter": "1\n",
        "/proc/sys/net/ipv4/conf/eth1/rp_filter": "0\n",
        "/proc/sys/net/ipv4/conf/eth0/disable_policy": "1\n",
    }
    result = _hostfacts.collect_sysctls(files.get, ["eth0", "eth1"])
    assert result["ip_forward"] == 1 and result["xfrm_larval_drop"] == 1
    assert result["ipv6_forwarding"] is None  # unreadable file: None, not an error
    assert result["effective_rp_filter"] == {"eth0": 2, "eth1": 2}
    assert result["conf"]["eth0"]["disable_policy"] == 1
    assert result["conf"]["default"]["rp_filter"] is None


def test_local_inner_address():
    addresses = [{"address": "203.0.113.1"}, {"address": "10.1.0.1"}]
    assert _hostfacts.local_inner_address(addresses, ["10.1.0.0/24"]) == "10.1.0.1"
    assert _hostfacts.local_inner_address(addresses, ["10.9.0.0/24"]) is None
