# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""xfrm_info gathering time against a plain `ip -s xfrm state` + `ip -s xfrm policy` dump.

Run as root on a kernel with ESP (a lab gateway: the host kernel here cannot hold SAs), with the
collection importable (PYTHONPATH or ANSIBLE_COLLECTIONS_PATH) and ansible-core for the module run:

    python3 benchmarks/xfrm_gather.py --sizes 1000,2500,5000,10000 --repeat 5 [--json out.json]

For each size N it makes a throwaway network namespace with N SAs (half AES-CBC+HMAC-SHA-256-128,
half AES-GCM-16; in/out pairs toward N/2 peers) and N policies (one per SA, with a template), then
times, median of --repeat runs:
  ip        `ip -s xfrm state` + `ip -s xfrm policy`, output read through a pipe
  raw       the two netlink dumps alone, without decoding (the kernel's share of `gather`)
  gather    xfrm_info's gathering in one process: netlink dump + decoding + records (fingerprints,
            directions) of states and policies, local addresses and xfrm_stat
  text      the same through the `ip -s -s xfrm` text reader (the fallback)
  module    the xfrm_info module as a process (interpreter start, imports, gathering, JSON out)
and reports the ratios gather/ip and module/ip and the time per SA+policy (linearity).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODULE = REPO / "plugins" / "modules" / "xfrm_info.py"
K16 = "0x" + "11" * 16
K32 = "0x" + "22" * 32
K36 = "0x" + "33" * 36

INNER = r"""
import json, statistics, subprocess, sys, time
from ansible_collections.netdoctor.ipsec.plugins.module_utils import _xfrm_netlink, _xfrm_record, _xfrm_stat, _xfrm_text
repeat, expected = int(sys.argv[1]), int(sys.argv[2])
def median(fn):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result
def ip_dump():
    state = subprocess.run(["ip", "-s", "xfrm", "state"], stdout=subprocess.PIPE, check=True).stdout
    policy = subprocess.run(["ip", "-s", "xfrm", "policy"], stdout=subprocess.PIPE, check=True).stdout
    return len(state) + len(policy)
def records(states, policies, options, warnings):
    return ([_xfrm_record.finish_state(s, options, warnings.append) for s in states],
            [_xfrm_record.finish_policy(p, warnings.append) for p in policies])
def gather():
    warnings = []
    with _xfrm_record.paused_gc():
        options = _xfrm_record.RecordOptions("bench-salt", local_addresses=_xfrm_netlink.local_addresses())
        states, policies = records(_xfrm_netlink.dump_states(), _xfrm_netlink.dump_policies(), options, warnings)
    with open(_xfrm_stat.XFRM_STAT_PATH) as handle:
        _xfrm_stat.parse_xfrm_stat(handle.read())
    return len(states), len(policies), warnings
def text():
    warnings = []
    with _xfrm_record.paused_gc():
        options = _xfrm_record.RecordOptions("bench-salt", local_addresses=_xfrm_netlink.local_addresses())
        state_text = subprocess.run(["ip", "-s", "-s", "xfrm", "state"], stdout=subprocess.PIPE, check=True, text=True).stdout
        policy_text = subprocess.run(["ip", "-s", "-s", "xfrm", "policy"], stdout=subprocess.PIPE, check=True, text=True).stdout
        states = _xfrm_text.state_records(state_text, options, warnings.append)[0]
        policies = _xfrm_text.policy_records(policy_text, warnings.append)[0]
    return len(states), len(policies), warnings
def raw_dump():
    return (len(_xfrm_netlink.dump(_xfrm_netlink.NETLINK_XFRM, _xfrm_netlink.XFRM_MSG_GETSA))
            + len(_xfrm_netlink.dump(_xfrm_netlink.NETLINK_XFRM, _xfrm_netlink.XFRM_MSG_GETPOLICY)))
ip_time, size = median(ip_dump)
raw_time, messages = median(raw_dump)
gather_time, (n_states, n_policies, warnings) = median(gather)
assert (n_states, n_policies) == (expected, expected) and not warnings, (n_states, n_policies, warnings[:3])
text_time, (t_states, t_policies, t_warnings) = median(text)
assert (t_states, t_policies) == (expected, expected) and not t_warnings, t_warnings[:3]
print(json.dumps({"ip": ip_time, "raw": raw_time, "gather": gather_time, "text": text_time, "ip_output_bytes": size}))
"""


def sh(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), check=True, capture_output=True, text=True, **kwargs)


def batch(size: int) -> str:
    """`ip -batch` lines for `size` SAs (in/out pairs) and `size` policies."""
    lines = []
    for index in range(size // 2):
        peer = "10.%d.%d.%d" % (64 + index // 65536, (index // 256) % 256, index % 256)
        reqid = index + 1
        algorithms = (f"enc 'cbc(aes)' {K16} auth-trunc 'hmac(sha256)' {K32} 128" if index % 2 == 0
                      else f"aead 'rfc4106(gcm(aes))' {K36} 128")
        for spi, src, dst in ((0x10000000 + index, "198.51.100.1", peer), (0x20000000 + index, peer, "198.51.100.1")):
            lines.append(f"xfrm state add src {src} dst {dst} proto esp spi {spi:#x} reqid {reqid} mode tunnel "
                         f"replay-window 32 {algorithms}")
        local = "172.%d.%d.%d/32" % (16 + index // 65536 % 16, index // 256 % 256, index % 256)
        remote = "10.%d.%d.0/24" % (128 + index // 65536 % 64, index % 256)
        lines.append(f"xfrm policy add src {local} dst {remote} dir out tmpl src 198.51.100.1 dst {peer} "
                     f"proto esp reqid {reqid} mode tunnel")
        lines.append(f"xfrm policy add src {remote} dst {local} dir in tmpl src {peer} dst 198.51.100.1 "
                     f"proto esp reqid {reqid} mode tunnel")
    return "\n".join(lines) + "\n"


def module_run(namespace: str, repeat: int, env: dict[str, str]) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": {"fingerprint_salt": "bench-salt"}}, handle)
    try:
        times = []
        for _round in range(repeat):
            start = time.perf_counter()
            out = sh("ip", "netns", "exec", namespace, sys.executable, str(MODULE), handle.name, env=env).stdout
            times.append(time.perf_counter() - start)
        result = json.loads(out)
        assert result["backend"] == "netlink" and not result["errors"], result.get("errors")
        return statistics.median(times)
    finally:
        os.unlink(handle.name)


def measure(size: int, repeat: int, env: dict[str, str]) -> dict[str, float]:
    namespace = "ndxbench-%d" % os.getpid()
    sh("ip", "netns", "add", namespace)
    try:
        sh("ip", "-n", namespace, "link", "set", "lo", "up")
        sh("ip", "-n", namespace, "link", "add", "wan0", "type", "dummy")
        sh("ip", "-n", namespace, "addr", "add", "198.51.100.1/24", "dev", "wan0")
        start = time.perf_counter()
        subprocess.run(["ip", "-n", namespace, "-batch", "-"], input=batch(size), check=True, text=True)
        fill = time.perf_counter() - start
        inner = sh("ip", "netns", "exec", namespace, sys.executable, "-c", INNER, str(repeat), str(size), env=env)
        figures = json.loads(inner.stdout)
        figures["module"] = module_run(namespace, repeat, env)
        figures.update(size=size, fill_seconds=fill)
        return figures
    finally:
        subprocess.run(["ip", "netns", "del", namespace], check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--sizes", default="1000,2500,5000,10000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args()
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    collections = env.get("ANSIBLE_COLLECTIONS_PATH", str(Path.home() / ".cache/netdoctor/collections"))
    env["PYTHONPATH"] = collections + os.pathsep + env.get("PYTHONPATH", "")
    rows = []
    print("%12s %8s %8s %8s %8s %8s %10s %10s %14s" % ("SAs+pols", "ip [s]", "raw", "gather", "text", "module",
                                                       "gather/ip", "module/ip", "gather us/rec"))
    for size in [int(text) for text in args.sizes.split(",")]:
        row = measure(size, args.repeat, env)
        rows.append(row)
        print("%12s %8.3f %8.3f %8.3f %8.3f %8.3f %10.2f %10.2f %14.1f" % (
            "%d+%d" % (size, size), row["ip"], row["raw"], row["gather"], row["text"], row["module"],
            row["gather"] / row["ip"], row["module"] / row["ip"], row["gather"] / (2 * size) * 1e6), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"kernel": os.uname().release, "python": sys.version.split()[0],
                                               "repeat": args.repeat, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
