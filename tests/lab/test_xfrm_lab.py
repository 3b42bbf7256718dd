# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""xfrm_info, to_esp_sa and playbooks/esp_sa.yml against real SAs: the lab (real kernel xfrm under
UML, real strongSwan and libreswan, Ansible over SSH), real tcpdump on the WAN router and the real
tshark on the host.

Eight tunnels in one lab: strongSwan <-> strongSwan and strongSwan <-> libreswan, each with
AES-CBC + HMAC-SHA-256-128, AES-CBC + HMAC-SHA-1-96, AES-GCM-16 and HMAC-SHA-256 truncated to 96 bits.
For every tunnel: ESP captured on the WAN while the inner hosts ping each other; the esp_sa file
written by the playbook from xfrm_info's output; tshark decrypts both directions with the ICV check
on. Also: the netlink and text readers return identical records; each outbound SA's key fingerprints
equal the peer's inbound SA's under one salt and differ under another; and no raw key appears in
any result, in -vvv output or in any file except the esp_sa file asked for.

Run with ND_LAB_DIR / ND_LAB_SLOT of your own (default <repo>/.lab-xfrm, slot 1; ND_LAB_SLOT=auto takes
any free slot; a busy slot is waited for, ND_LAB_SLOT_WAIT seconds, default 900).
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from lab import Lab, LabConfig, TunnelSpec  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")

# letter -> spec, and what each SA must look like (canonical names, ICV bits, Wireshark strings)
TUNNELS = {
    "a": ({"esp": "aes256-sha256"}, ("AES_CBC_256", "HMAC_SHA2_256_128", 128), ("AES-CBC [RFC3602]", "HMAC-SHA-256-128 [RFC4868]")),
    "b": ({"esp": "aes128-sha1"}, ("AES_CBC_128", "HMAC_SHA1_96", 96), ("AES-CBC [RFC3602]", "HMAC-SHA-1-96 [RFC2404]")),
    "c": ({"esp": "aes256gcm16"}, ("AES_GCM_16_256", None, 128), ("AES-GCM with 16 octet ICV [RFC4106]", "NULL")),
    "d": ({"esp": "aes256-sha256", "sha256_96": True}, ("AES_CBC_256", "HMAC_SHA2_256_96", 96),
          ("AES-CBC [RFC3602]", "HMAC-SHA-256-96 [draft-ietf-ipsec-ciph-sha-256-00]")),
}
TUNNELS.update({
    chr(ord(letter) + 4): (dict(spec, right="libreswan"), names, strings) for letter, (spec, names, strings) in list(TUNNELS.items())
})
SALT_1, SALT_2 = "lab-salt-one", "lab-salt-two"
KEY_RE = re.compile(r"0x([0-9a-f]{32,})")

GATHER_PLAYBOOK = """
- name: Gather the SAs with both readers and two salts
  hosts: all
  gather_facts: false
  tasks:
    - name: Netlink reader, keys included
      netdoctor.ipsec.xfrm_info: {backend: netlink, include_keys: true, fingerprint_salt: %(salt1)s}
      register: by_netlink
      no_log: true
    - name: Text reader, keys included
      netdoctor.ipsec.xfrm_info: {backend: text, include_keys: true, fingerprint_salt: %(salt1)s}
      register: by_text
      no_log: true
    - name: Default reader, other salt, no keys
      netdoctor.ipsec.xfrm_info: {fingerprint_salt: %(salt2)s}
      register: other_salt
    - name: Keep the results on the controller
      ansible.builtin.copy:
        content: "{{ {'netlink': by_netlink, 'text': by_text, 'other_salt': other_salt} | to_json }}"
        dest: "%(out)s/{{ inventory_hostname }}.json"
        mode: "0600"
      delegate_to: localhost
      no_log: true
"""

VERBOSE_PLAYBOOK = """
- name: What a user runs, at -vvv
  hosts: all
  gather_facts: false
  tasks:
    - name: Read the kernel tables (no keys asked for)
      netdoctor.ipsec.xfrm_info: {fingerprint_salt: %(salt1)s}
"""


def lab_config() -> LabConfig:
    # Several engineers share the 4 slots: wait for ours (or any, with ND_LAB_SLOT=auto) to be free.
    os.environ.setdefault("ND_LAB_SLOT_WAIT", "900")
    return LabConfig.from_env(os.environ.get("ND_LAB_DIR", str(REPO / ".lab-xfrm")), os.environ.get("ND_LAB_SLOT", "1"))


@pytest.fixture(scope="module")
def lab():
    the_lab = Lab(lab_config(), log=lambda msg: print(msg, file=sys.stderr))
    if the_lab.is_up():
        the_lab.down()
    specs = [TunnelSpec.from_dict(dict(spec, name=letter)) for letter, (spec, _names, _strings) in sorted(TUNNELS.items())]
    try:
        state = the_lab.up(specs)
        for letter in TUNNELS:
            assert not state["tunnels"][letter].get("mismatches"), state["tunnels"][letter]
        yield the_lab
    finally:
        the_lab.down()


@pytest.fixture(scope="module")
def workdir(lab):
    path = lab.cfg.lab_dir / "xfrm-test"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    (path / "results").mkdir()
    (path / "wireshark").mkdir()
    yield path
    # the include_keys results hold raw keys (of tunnels gone with the lab): do not leave them behind
    shutil.rmtree(path / "results", ignore_errors=True)


def ansible_env(lab) -> dict[str, str]:
    env = dict(os.environ)
    env["ANSIBLE_CONFIG"] = str(lab.cfg.ansible_cfg)
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_FORKS"] = "16"
    return env


def playbook(lab, path: Path, *extra: str) -> subprocess.CompletedProcess:
    run = subprocess.run(["ansible-playbook", "-i", str(lab.cfg.inventory), str(path), *extra],
                         capture_output=True, text=True, env=ansible_env(lab), timeout=900, check=False)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    return run


@pytest.fixture(scope="module")
def captures(lab, workdir):
    """ESP on each tunnel's WAN (the router's link to the left gateway) while the inner hosts ping."""
    pcaps = {letter: workdir / ("tunnel_%s.pcap" % letter) for letter in TUNNELS}
    listeners = []
    for letter, pcap in pcaps.items():
        argv = ["timeout", "60", "tcpdump", "-n", "-i", "left0", "-c", "6", "-U", "-w", str(pcap), "esp"]
        thread = threading.Thread(target=lab.exec, args=("%s_wan" % letter, argv), kwargs={"timeout": 90})
        thread.start()
        listeners.append(thread)
    time.sleep(3)
    for letter in sorted(TUNNELS):
        n = ord(letter) - ord("a") + 1
        result = lab.exec("%s_left_host" % letter, ["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.%d.2.10" % n])
        assert result.rc == 0, (letter, result.out, result.err)
    for thread in listeners:
        thread.join(timeout=90)
    return pcaps


@pytest.fixture(scope="module")
def gathered(lab, workdir, captures):
    """Every gateway's xfrm_info results (netlink, text, other salt), after the capture traffic."""
    book = workdir / "gather.yml"
    book.write_text(GATHER_PLAYBOOK % {"salt1": SALT_1, "salt2": SALT_2, "out": workdir / "results"})
    playbook(lab, book)
    results = {}
    for path in glob.glob(str(workdir / "results" / "*.json")):
        results[Path(path).stem] = json.loads(Path(path).read_text())
    assert sorted(results) == sorted("%s_%s" % (letter, side) for letter in TUNNELS for side in ("left", "right"))
    return results


@pytest.fixture(scope="module")
def esp_sa_file(lab, workdir, captures):
    playbook(lab, REPO / "playbooks" / "esp_sa.yml", "-e", "netdoctor_wireshark_dir=%s" % (workdir / "wireshark"))
    path = workdir / "wireshark" / "esp_sa"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    return path


@pytest.fixture(scope="module")
def lab_keys(lab, captures):
    """The raw keys as the kernels hold them (ip xfrm state), the ground truth to grep for."""
    keys = set()
    for letter in TUNNELS:
        for side in ("left", "right"):
            out = lab.exec("%s_%s" % (letter, side), ["ip", "xfrm", "state"]).out
            keys.update(KEY_RE.findall(out))
    assert len(keys) >= 2 * len(TUNNELS)
    return keys


def states_of(result: dict) -> list[dict]:
    return result["xfrm"]["states"]


def tshark(pcap: Path, config_dir: Path) -> list[list[str]]:
    env = dict(os.environ, WIRESHARK_CONFIG_DIR=str(config_dir))
    run = subprocess.run(
        ["tshark", "-n", "-r", str(pcap), "-o", "esp.enable_encryption_decode:TRUE",
         "-o", "esp.enable_authentication_check:TRUE", "-Y", "esp",
         "-T", "fields", "-E", "separator=|", "-e", "esp.spi", "-e", "esp.icv_good", "-e", "esp.icv_bad",
         "-e", "icmp.type", "-e", "ip.src", "-e", "ip.dst"],
        capture_output=True, text=True, env=env, timeout=120, check=False)
    assert run.returncode == 0 and "esp_sa" not in run.stderr, run.stderr
    return [line.split("|") for line in run.stdout.splitlines()]


@pytest.mark.parametrize("letter", sorted(TUNNELS))
def test_tshark_decrypts_both_directions_with_icv_checking(letter, captures, esp_sa_file, gathered):
    n = ord(letter) - ord("a") + 1
    rows = tshark(captures[letter], esp_sa_file.parent)
    assert len(rows) == 6, rows
    left_out = [s for s in states_of(gathered["%s_left" % letter]["netlink"]) if s["direction"] == "out"]
    spis = {s["spi"] for side in ("left", "right") for s in states_of(gathered["%s_%s" % (letter, side)]["netlink"])}
    for spi, icv_good, icv_bad, icmp_type, src, dst in rows:
        assert spi in spis and icv_good == "1" and icv_bad in ("", "0"), rows
        inner_src, inner_dst = src.split(",")[1], dst.split(",")[1]
        if icmp_type == "8":
            assert (inner_src, inner_dst) == ("10.%d.1.10" % n, "10.%d.2.10" % n) and spi == left_out[0]["spi"]
        else:
            assert icmp_type == "0" and (inner_src, inner_dst) == ("10.%d.2.10" % n, "10.%d.1.10" % n)
    assert {row[3] for row in rows} == {"8", "0"} and len({row[0] for row in rows}) == 2
    wanted = TUNNELS[letter][2]
    lines = [line for line in esp_sa_file.read_text().splitlines() if '"%s"' % left_out[0]["spi"] in line]
    assert len(lines) == 1 and '"%s"' % wanted[0] in lines[0] and '"%s"' % wanted[1] in lines[0], lines


def test_esp_sa_file_has_one_line_per_sa(esp_sa_file, gathered):
    lines = esp_sa_file.read_text().splitlines()
    assert len(lines) == 2 * len(TUNNELS)
    assert all(line.count('","') == 7 and line.startswith('"IPv4"') for line in lines)


def test_netlink_and_text_readers_return_identical_records(gathered):
    for host, result in sorted(gathered.items()):
        by_netlink, by_text = result["netlink"], result["text"]
        assert (by_netlink["backend"], by_text["backend"]) == ("netlink", "text")
        assert by_netlink["errors"] == [] and by_text["errors"] == [] and by_text["unparsed"] == []
        assert len(states_of(by_netlink)) == 2, host
        assert by_netlink["xfrm"]["states"] == by_text["xfrm"]["states"], host
        assert by_netlink["xfrm"]["policies"] == by_text["xfrm"]["policies"], host
        assert any(p["socket"] for p in by_netlink["xfrm"]["policies"]), host


@pytest.mark.parametrize("letter", sorted(TUNNELS))
def test_records_describe_the_negotiated_sas(letter, gathered):
    (spec, (enc_or_aead, integrity, icv_bits), _strings) = TUNNELS[letter]
    for side in ("left", "right"):
        result = gathered["%s_%s" % (letter, side)]["netlink"]
        states = states_of(result)
        assert sorted(s["direction"] for s in states) == ["in", "out"]
        libreswan = spec.get("right") == "libreswan" and side == "right"
        for state in states:
            assert state["icv_bits"] == icv_bits and state["proto"] == "esp" and state["mode"] == "tunnel"
            if integrity is None:
                assert state["aead"]["canonical"] == enc_or_aead and state["auth"] is None
            else:
                assert state["enc"]["canonical"] == enc_or_aead and state["auth"]["canonical"] == integrity
            # pitfall 18: libreswan keeps an ESN-style replay context with replay-window 0 in the header
            assert state["replay"]["esn_context"] is libreswan
            assert not state["esn"] and not state["larval"]
            # the lab's own probes and our three pings, none lost: counters and sequence numbers agree
            packets = state["current"]["packets"]
            assert packets >= 3 and state["current"]["bytes"] > 0
            if state["direction"] == "in":
                assert state["replay"]["window"] > 0 and state["replay"]["seq"] == packets
            else:
                assert state["replay"]["oseq"] == packets
        reqids = {s["reqid"] for s in states}
        assert reqids <= {t["reqid"] for p in result["xfrm"]["policies"] for t in p["tmpls"]}


@pytest.mark.parametrize("letter", sorted(TUNNELS))
def test_outbound_fingerprints_equal_the_peers_inbound(letter, gathered):
    for local, peer in (("left", "right"), ("right", "left")):
        mine = {s["spi"]: s for s in states_of(gathered["%s_%s" % (letter, local)]["netlink"]) if s["direction"] == "out"}
        theirs = {s["spi"]: s for s in states_of(gathered["%s_%s" % (letter, peer)]["netlink"]) if s["direction"] == "in"}
        assert len(mine) == 1 and sorted(mine) == sorted(theirs)
        spi = next(iter(mine))
        assert mine[spi]["key_fingerprints"] == theirs[spi]["key_fingerprints"] and mine[spi]["key_fingerprints"]
        other = {s["spi"]: s for s in states_of(gathered["%s_%s" % (letter, local)]["other_salt"])}
        for kind, fingerprint in mine[spi]["key_fingerprints"].items():
            assert other[spi]["key_fingerprints"][kind] != fingerprint
        # and the two directions never share keys
        back = [s for s in states_of(gathered["%s_%s" % (letter, local)]["netlink"]) if s["direction"] == "in"][0]
        assert set(back["key_fingerprints"].values()).isdisjoint(mine[spi]["key_fingerprints"].values())


def test_no_raw_key_anywhere_unless_asked(lab, workdir, gathered, esp_sa_file, lab_keys):
    book = workdir / "verbose.yml"
    book.write_text(VERBOSE_PLAYBOOK % {"salt1": SALT_1})
    verbose = playbook(lab, book, "-vvv")
    esp_sa_verbose = playbook(lab, REPO / "playbooks" / "esp_sa.yml", "-vvv",
                              "-e", "netdoctor_wireshark_dir=%s" % (workdir / "wireshark-vvv"))
    assert "hmac-sha256:" in verbose.stdout  # the results are really in the -vvv output
    haystacks = {
        "-vvv gather": verbose.stdout + verbose.stderr,
        "-vvv esp_sa playbook": esp_sa_verbose.stdout + esp_sa_verbose.stderr,
    }
    for host, result in gathered.items():
        haystacks["result without include_keys " + host] = json.dumps(result["other_salt"])
    for path in workdir.rglob("*"):
        if path.is_file() and path.name != "esp_sa" and path.suffix != ".pcap" and path.parent.name != "results":
            haystacks[str(path)] = path.read_text(errors="replace")
    for where, text in haystacks.items():
        leaked = [key[:8] + "..." for key in lab_keys if key in text]
        assert not leaked, "raw keys in %s: %s" % (where, leaked)
    # the keys are where they were asked for: the 0600 esp_sa files and the include_keys results
    assert all(key in esp_sa_file.read_text() for key in lab_keys)
    assert all(key in (workdir / "wireshark-vvv" / "esp_sa").read_text() for key in lab_keys)
    asked = json.dumps([result["netlink"] for result in gathered.values()])
    assert all(key in asked for key in lab_keys)
