# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How fast the gateway decodes a capture: packets per second of the capture summary.

Builds a large pcap by repeating a real lab capture (ESP both ways, decapsulated copies) with
shifted timestamps (the ESP sequence numbers repeat, so the summary also counts replays), then
times ``summarize_files`` on it. Runs under any Python the
gateway code supports (the old ones through tests/old_python/smoke.py's package stubs):

    python3 benchmarks/capture_summary.py [SOURCE.pcap] [COPIES]
    ~/.cache/netdoctor/pybin-old/python2.7 benchmarks/capture_summary.py
"""

from __future__ import absolute_import, division, print_function

import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "old_python"))
import smoke  # noqa: E402  pylint: disable=wrong-import-position

smoke.install_package_stubs()
_pcap = smoke.load("_pcap")
_capture_summary = smoke.load("_capture_summary")

SOURCE = os.path.join(ROOT, "tests", "unit", "fixtures", "pcap", "lab-healthy-b.pcap")
CONTEXT = {"peer_addresses": ["203.0.113.1"], "local_subnets": ["10.1.2.0/24"], "remote_subnets": ["10.1.1.0/24"]}


def build(source, copies, path):
    packets, _reader = _pcap.read_file(source)
    span = packets[-1].time - packets[0].time + 0.001
    with open(path, "wb") as handle:
        writer = _pcap.PcapWriter(handle, packets[0].linktype)
        for copy in range(copies):
            for packet in packets:
                writer.write(packet.time + copy * span, packet.data, packet.wire_len)
    return len(packets) * copies


def main():
    source = sys.argv[1] if len(sys.argv) > 1 else SOURCE
    copies = int(sys.argv[2]) if len(sys.argv) > 2 else 3500
    fd, path = tempfile.mkstemp(suffix=".pcap")
    os.close(fd)
    try:
        count = build(source, copies, path)
        started = time.time()
        summary = _capture_summary.summarize_files([(path, "wan0")], CONTEXT)
        elapsed = time.time() - started
        assert summary["packets"]["total"] == count
        print("python %d.%d: %d packets (%.1f MB) summarised in %.2f s = %.0f packets/s" % (
            sys.version_info[0], sys.version_info[1], count, os.path.getsize(path) / 1e6, elapsed, count / elapsed))
    finally:
        os.unlink(path)


if __name__ == "__main__":
    main()
