# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bad input: no exception escapes the pcap reader, the packet and IKE decoders or the summary.

Random bytes, real frames with bytes flipped, cut or spliced (seeded, so failures reproduce),
every truncation point of real files, unknown link types and damaged pcapng blocks.
"""

from __future__ import annotations

import glob
import io
import json
import os
import random
import struct

import pytest

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _capture_summary, _ike_decode, _packet_decode, _pcap
from ansible_collections.netdoctor.ipsec.tests.unit.cases import FIXTURES

PCAPS = sorted(glob.glob(os.path.join(FIXTURES, "pcap", "*.pcap")))
LINKTYPES = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147, 65535]


def real_frames():
    frames = []
    for path in PCAPS:
        packets, _reader = _pcap.read_file(path)
        frames.extend((packet.linktype, packet.data) for packet in packets)
    return frames


FRAMES = real_frames()


def mutations(rng, data):
    data = bytearray(data)
    choice = rng.randrange(5)
    if choice == 0 and data:
        for _attempt in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif choice == 1:
        data = data[: rng.randrange(len(data) + 1)]
    elif choice == 2 and data:
        start = rng.randrange(len(data))
        data[start:start] = bytes(rng.randrange(256) for _byte in range(rng.randint(1, 40)))
    elif choice == 3 and len(data) > 4:
        # lengths are where parsers go wrong: set a 16-bit field to an extreme
        pos = rng.randrange(len(data) - 1)
        data[pos:pos + 2] = struct.pack("!H", rng.choice([0, 1, 3, 4, 7, 8, 0xFFFF, len(data)]))
    else:
        data = bytearray(rng.randrange(256) for _byte in range(rng.randint(0, 200)))
    return bytes(data)


def test_fixtures_exist():
    assert len(FRAMES) > 200


@pytest.mark.parametrize("seed", range(8))
def test_mutated_frames_never_raise(seed):
    rng = random.Random(seed)
    for _attempt in range(1500):
        linktype, data = rng.choice(FRAMES)
        if rng.random() < 0.1:
            linktype = rng.choice(LINKTYPES)
        mutated = mutations(rng, data)
        decoded = _packet_decode.decode(linktype, mutated, len(data))
        json.dumps({k: v for k, v in decoded.items() if not isinstance(v, bytes)})
        if "ike" in decoded:
            json.dumps(_ike_decode.decode_message(decoded["ike"]))


def ike_messages():
    messages = []
    for linktype, data in FRAMES:
        decoded = _packet_decode.decode(linktype, data)
        if "ike" in decoded:
            messages.append(decoded["ike"])
    return messages


@pytest.mark.parametrize("seed", range(8))
def test_mutated_ike_messages_never_raise(seed):
    rng = random.Random(1000 + seed)
    messages = ike_messages()
    assert messages
    for _attempt in range(3000):
        msg = _ike_decode.decode_message(mutations(rng, rng.choice(messages)))
        assert isinstance(msg["errors"], list)
        json.dumps(msg)


def test_random_bytes_never_raise():
    rng = random.Random(7)
    for _attempt in range(5000):
        data = bytes(rng.randrange(256) for _byte in range(rng.randint(0, 120)))
        _packet_decode.decode(rng.choice(LINKTYPES), data)
        _ike_decode.decode_message(data)


def record_boundaries(data):
    """Offsets where a classic pcap file may end cleanly (after the header or a whole record)."""
    endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    offsets, pos = [24], 24
    while pos + 16 <= len(data):
        pos += 16 + struct.unpack(endian + "I", data[pos + 8:pos + 12])[0]
        offsets.append(pos)
    return offsets


@pytest.mark.parametrize("path", PCAPS[:6], ids=[os.path.basename(p) for p in PCAPS[:6]])
def test_every_truncation_point_of_a_file(path):
    with open(path, "rb") as handle:
        data = handle.read()
    boundaries = record_boundaries(data)
    assert boundaries[-1] == len(data)
    for cut in range(1, len(data) + 1, 5):
        reader = _pcap.CaptureReader(io.BytesIO(data[:cut]))
        packets = list(reader)
        complete_records = len([b for b in boundaries if b <= cut]) - 1
        assert len(packets) == max(0, complete_records)
        assert bool(reader.warnings) == (cut not in boundaries), (cut, reader.warnings)
        summary = _capture_summary.summarize(packets, {"peer_addresses": ["203.0.113.2"]}, reader.warnings)
        json.dumps(summary)


def test_truncated_file_says_so():
    with open(os.path.join(FIXTURES, "pcap", "ns-healthy-a.pcap"), "rb") as handle:
        data = handle.read()
    reader = _pcap.CaptureReader(io.BytesIO(data[:-10]))
    packets = list(reader)
    assert len(packets) == 11
    assert len(reader.warnings) == 1 and reader.warnings[0].startswith("truncated pcap record 12 (")


def test_pcapng_damage_and_truncation():
    with open(os.path.join(FIXTURES, "pcap", "ns-healthy-a.pcapng"), "rb") as handle:
        data = handle.read()
    rng = random.Random(3)
    for _attempt in range(400):
        mutated = mutations(rng, data) if rng.random() < 0.5 else data[: rng.randrange(len(data))]
        reader = _pcap.CaptureReader(io.BytesIO(mutated))
        json.dumps(_capture_summary.summarize(list(reader), {}, reader.warnings))


def test_unknown_link_type_is_counted_not_decoded():
    with open(os.path.join(FIXTURES, "pcap", "ns-healthy-a.pcap"), "rb") as handle:
        data = bytearray(handle.read())
    data[20:24] = struct.pack("<I", 147)  # LINKTYPE_USER0: nobody knows its layout
    reader = _pcap.CaptureReader(io.BytesIO(bytes(data)))
    summary = _capture_summary.summarize(list(reader), {})
    assert summary["packets"]["unknown_link_type"] == 12
    assert summary["link_types"] == {"LINKTYPE_147": 12}
    assert summary["ike"]["messages"] == []


def test_not_a_capture():
    reader = _pcap.CaptureReader(io.BytesIO(b"this is a text file, not a pcap\n"))
    assert list(reader) == []
    assert reader.warnings[0].startswith("not a pcap or pcapng file")
    empty = _pcap.CaptureReader(io.BytesIO(b""))
    assert list(empty) == [] and empty.warnings == ["empty capture file (no header)"]
