# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Firewall parser and evaluator speed on large rulesets (default 50,000 rules).

Run: . tools/env.sh && python benchmarks/firewall_eval.py [--rules 50000] [--repeat 5]

Rulesets: an iptables-save text whose INPUT walks every rule (host addresses that never match the
probe, spread over user chains reached by jump), and the same size as nft JSON with a named set.
Figures: parse time, evaluation time of a packet that examines every rule (median of --repeat),
and of a packet that forks on unknown matches (an ipset and a mark) near the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import tracemalloc

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _iptables, _nftables
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _firewall_eval

PACKET = {"path": "input", "src": "203.0.113.2", "dst": "203.0.113.1", "proto": "udp", "sport": 500, "dport": 500,
          "in_interface": "wan0", "ct_state": "new"}


def iptables_text(count: int, chains: int = 50) -> str:
    per_chain = count // chains
    lines = ["*filter", ":INPUT DROP [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]"]
    lines += [f":user{c} - [0:0]" for c in range(chains)]
    lines += [f"[0:0] -A INPUT -j user{c}" for c in range(chains)]
    for c in range(chains):
        for r in range(per_chain - 1):
            n = c * per_chain + r
            lines.append(f"[{n}:{n * 60}] -A user{c} -s 10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}/32 -p tcp -m tcp --dport {1 + n % 60000} -j DROP")
    lines.append("[0:0] -A user49 -m set --match-set blocklist src -j DROP")
    lines.append("[0:0] -A user49 -m mark --mark 0x1 -j ACCEPT")
    lines.append("[7:420] -A INPUT -p udp -m multiport --dports 500,4500 -j ACCEPT")
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def nft_json(count: int) -> str:
    objects = [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
               {"table": {"family": "inet", "name": "big", "handle": 1}},
               {"set": {"family": "inet", "table": "big", "name": "peers", "type": "ipv4_addr", "handle": 2,
                        "elem": [f"198.51.100.{i}" for i in range(1, 200)]}},
               {"chain": {"family": "inet", "table": "big", "name": "input", "handle": 3, "type": "filter", "hook": "input",
                          "prio": 0, "policy": "drop"}}]
    for n in range(count - 1):
        objects.append({"rule": {"family": "inet", "table": "big", "chain": "input", "handle": 10 + n, "expr": [
            {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                       "right": f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"}},
            {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 1 + n % 60000}},
            {"counter": {"packets": n, "bytes": n * 60}}, {"drop": None}]}})
    objects.append({"rule": {"family": "inet", "table": "big", "chain": "input", "handle": 10 + count, "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": {"set": [500, 4500]}}},
        {"accept": None}]}})
    return json.dumps({"nftables": objects})


def timed(function, repeat: int) -> tuple[float, object]:
    times = []
    result = None
    for _attempt in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=50000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    text = iptables_text(args.rules)
    parse_s, parsed = timed(lambda: _iptables.parse_save(text), max(1, args.repeat // 2))
    tables = parsed["tables"]
    rules = sum(len(chain["rules"]) for table in tables for chain in table["chains"])
    walk_s, result = timed(lambda: _firewall_eval.evaluate(tables, PACKET), args.repeat)
    assert result["verdict"] == "unknown", result["verdict"]  # the ipset and mark rules make it so
    known = dict(PACKET, mark=0)
    known_s, known_result = timed(lambda: _firewall_eval.evaluate(tables, known), args.repeat)
    print(f"iptables-save: {rules} rules in {len(tables[0]['chains'])} chains ({len(text) / 1e6:.1f} MB text)")
    print(f"  parse                    {parse_s * 1000:8.1f} ms")
    print(f"  evaluate (ipset+mark unknown, {len(result['outcomes'])} branches, {result['rules_examined']} rules examined)"
          f" {walk_s * 1000:8.1f} ms  -> {result['verdict']}")
    print(f"  evaluate (mark given, ipset unknown, {known_result['rules_examined']} rules examined) {known_s * 1000:8.1f} ms  -> {known_result['verdict']}")
    document = nft_json(args.rules)
    nft_parse_s, nft_parsed = timed(lambda: _nftables.parse_json(document), max(1, args.repeat // 2))
    nft_walk_s, nft_result = timed(lambda: _firewall_eval.evaluate(nft_parsed["tables"], PACKET), args.repeat)
    print(f"nft -j: {args.rules} rules ({len(document) / 1e6:.1f} MB JSON)")
    print(f"  parse                    {nft_parse_s * 1000:8.1f} ms")
    print(f"  evaluate ({nft_result['rules_examined']} rules examined) {nft_walk_s * 1000:8.1f} ms"
          f"  -> {nft_result['verdict']} by {nft_result['decided_by']['text']}")
    tracemalloc.start()
    _firewall_eval.evaluate(tables, known)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  evaluation peak memory (iptables, mark given): {peak / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
