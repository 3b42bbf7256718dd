# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Oracle test: our decoders against the real tshark (``tshark -T json``) on every capture fixture.

Frame by frame: IKE version, exchange type, SPIs, message ID, flags, notify types, SA transforms
with key lengths (IKEv2) and attributes (IKEv1), vendor IDs; ESP SPI and sequence number (plain and
UDP-encapsulated); ICMP type and code. Then the summary's counts: IKE messages, ESP packets per SPI.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess

import pytest

from ansible_collections.netdoctor.ipsec.plugins.module_utils import (
    _algorithms,
    _capture_summary,
    _ike_decode,
    _packet_decode,
    _pcap,
)
from ansible_collections.netdoctor.ipsec.tests.unit.cases import FIXTURES

TSHARK = shutil.which("tshark")
FIELDS = [
    "frame.number", "isakmp.ispi", "isakmp.rspi", "isakmp.mjver", "isakmp.exchangetype", "isakmp.messageid",
    "isakmp.flag_i", "isakmp.flag_r", "isakmp.flag_e", "isakmp.notify.msgtype", "isakmp.tf.type",
    "isakmp.tf.id.encr", "isakmp.tf.id.prf", "isakmp.tf.id.integ", "isakmp.tf.id.dh", "isakmp.tf.id.esn",
    "isakmp.ike2.attr.key_length", "isakmp.ike.attr.encryption_algorithm", "isakmp.ike.attr.hash_algorithm",
    "isakmp.ike.attr.group_description", "isakmp.ike.attr.key_length", "isakmp.ike.attr.life_duration",
    "isakmp.ike.attr.authentication_method", "isakmp.vid_bytes", "isakmp.prop.protoid", "esp.spi", "esp.sequence",
    "icmp.type", "icmp.code", "icmpv6.type", "icmpv6.code", "ip.src", "ipv6.src", "_ws.col.Protocol",
]
V2_TYPE_NUMBERS = {name: number for number, name in _algorithms.IKEV2_TRANSFORM_TYPES.items()}
CAPTURES = sorted(glob.glob(os.path.join(FIXTURES, "pcap", "*.pcap")) + glob.glob(os.path.join(FIXTURES, "pcap", "*.pcapng")))

pytestmark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")


def tshark_frames(path):
    args = [TSHARK, "-n", "-r", path, "-T", "json", "-o", "tcp.analyze_sequence_numbers:FALSE"]
    for field in FIELDS:
        args += ["-e", field]
    out = subprocess.run(args, check=True, capture_output=True, text=True, env=dict(os.environ, LANG="C")).stdout
    frames = {}
    for entry in json.loads(out or "[]"):
        layers = entry["_source"]["layers"]
        frames[int(layers["frame.number"][0])] = layers
    return frames


def ints(layers, field):
    return [int(value, 0) for value in layers.get(field, [])]


def our_frames(path):
    with open(path, "rb") as handle:
        reader = _pcap.CaptureReader(handle, "wan0")
        packets = list(reader)
    assert not reader.warnings
    frames = {}
    reassembler = _packet_decode.Reassembler()
    for number, packet in enumerate(packets, 1):
        decoded = _packet_decode.decode(packet.linktype, packet.data, packet.wire_len)
        whole = reassembler.add(decoded) if decoded.get("fragment") else None
        frames[number] = whole or decoded
    return frames, packets


def compare_ike(number, ours, theirs):
    msg = _ike_decode.decode_message(ours["ike"])
    where = f"frame {number}"
    assert msg["ispi"] == theirs["isakmp.ispi"][0], where
    assert msg["rspi"] == theirs["isakmp.rspi"][0], where
    assert msg["major_version"] == ints(theirs, "isakmp.mjver")[0], where
    assert msg["exchange_type"] == ints(theirs, "isakmp.exchangetype")[0], where
    assert msg["message_id"] == ints(theirs, "isakmp.messageid")[0], where
    assert [n["number"] for n in msg["notifies"]] == ints(theirs, "isakmp.notify.msgtype"), where
    assert [v["id"] for v in msg["vendor_ids"]] == theirs.get("isakmp.vid_bytes", []), where
    assert [p["protocol"] for p in msg["proposals"] if "transforms" in p or msg["major_version"] == 1][:1] == [
        _ike_decode.PROTOCOLS.get(x) for x in ints(theirs, "isakmp.prop.protoid")][:1], where
    if msg["major_version"] == 2:
        assert msg["initiator"] == bool(ints(theirs, "isakmp.flag_i")[0]), where
        assert msg["response"] == bool(ints(theirs, "isakmp.flag_r")[0]), where
        transforms = [t for p in msg["proposals"] for t in p["transforms"]]
        assert [V2_TYPE_NUMBERS[t["type"]] for t in transforms] == ints(theirs, "isakmp.tf.type"), where
        for kind, field in (("encryption", "encr"), ("prf", "prf"), ("integrity", "integ"), ("dh", "dh"), ("esn", "esn")):
            assert [t["id"] for t in transforms if t["type"] == kind] == ints(theirs, "isakmp.tf.id." + field), where
        assert [t["key_length"] for t in transforms if t["key_length"]] == ints(theirs, "isakmp.ike2.attr.key_length"), where
    else:
        assert msg["encrypted"] == bool(ints(theirs, "isakmp.flag_e")[0]), where
        encryption = ints(theirs, "isakmp.ike.attr.encryption_algorithm")
        key_lengths = ints(theirs, "isakmp.ike.attr.key_length")
        groups = ints(theirs, "isakmp.ike.attr.group_description")
        ike_proposals = [p for p in msg["proposals"] if p["protocol"] == "IKE"]
        assert len(ike_proposals) == len(encryption), where
        for proposal, encr, bits, group in zip(ike_proposals, encryption, key_lengths, groups):
            assert proposal["encryption"] == [_algorithms.encryption_name(_algorithms.IKEV1_ENCR[encr], bits)], where
            assert proposal["dh"] == [_algorithms.DH_GROUPS[group]], where
        for proposal, hashed in zip(ike_proposals, ints(theirs, "isakmp.ike.attr.hash_algorithm")):
            assert proposal["integrity"] == [_algorithms.HASH_IMPLIES[_algorithms.IKEV1_HASH[hashed]][0]], where
        for proposal, life in zip(ike_proposals, ints(theirs, "isakmp.ike.attr.life_duration")):
            assert proposal["lifetime"] == life, where
        for proposal, method in zip(ike_proposals, ints(theirs, "isakmp.ike.attr.authentication_method")):
            assert proposal["auth_method"] == _algorithms.IKEV1_AUTH_METHOD[method], where
    return msg


@pytest.mark.parametrize("path", CAPTURES, ids=[os.path.basename(p) for p in CAPTURES])
def test_decoders_agree_with_tshark(path):
    theirs = tshark_frames(path)
    ours, packets = our_frames(path)
    assert len(ours) == len(theirs)
    ike_frames = esp_frames = 0
    esp_counts = {}
    for number, decoded in ours.items():
        layers = theirs[number]
        quoted = (decoded.get("icmp") or {}).get("quoted") or {}
        if "isakmp.ispi" in layers and "ike" in decoded:
            compare_ike(number, decoded, layers)
            ike_frames += 1
        elif "isakmp.ispi" in layers and quoted:
            assert quoted.get("ike"), f"frame {number}: tshark sees IKE quoted in an ICMP error, we do not"
        else:
            assert "ike" not in decoded or decoded.get("reassembled"), f"frame {number}: we see IKE, tshark does not"
            assert "isakmp.ispi" not in layers or decoded.get("fragment"), f"frame {number}: tshark sees IKE, we do not"
        if "esp.spi" in layers:
            assert decoded.get("esp"), f"frame {number}: tshark sees ESP, we do not"
            assert int(decoded["esp"]["spi"], 16) == ints(layers, "esp.spi")[0]
            assert decoded["esp"]["seq"] == ints(layers, "esp.sequence")[0]
            key = (decoded["esp"]["spi"], decoded["src"], decoded["dst"])
            esp_counts[key] = esp_counts.get(key, 0) + 1
            esp_frames += 1
        else:
            assert "esp" not in decoded, f"frame {number}: we see ESP, tshark does not"
        icmp_type = ints(layers, "icmp.type") or ints(layers, "icmpv6.type")
        if icmp_type and decoded.get("icmp"):
            assert decoded["icmp"]["type"] == icmp_type[0], f"frame {number}"
            code = ints(layers, "icmp.code") or ints(layers, "icmpv6.code")
            assert decoded["icmp"]["code"] == code[0], f"frame {number}"
    summary = _capture_summary.summarize(packets, {})
    assert summary["packets"]["ike"] == ike_frames
    assert summary["packets"]["esp"] == esp_frames
    assert {(e["spi"], e["src"], e["dst"]): e["packets"] for e in summary["esp"]} == esp_counts
    assert len(summary["ike"]["messages"]) == ike_frames


def test_the_lab_scenarios_are_all_checked():
    """The oracle covers the lab captures of every scenario the issue names, both gateways."""
    names = {os.path.basename(p) for p in CAPTURES}
    for scenario in ("healthy", "ike-version", "ike-proposal", "psk", "fw-ike", "fw-esp", "nat-t"):
        assert {f"lab-{scenario}-a.pcap", f"lab-{scenario}-b.pcap"} <= names
