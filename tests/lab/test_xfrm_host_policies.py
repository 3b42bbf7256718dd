# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""xfrm_info against the host kernel's real XFRM interface, in a throwaway network namespace.

The host kernel has no ESP, so it cannot hold SAs (those tests run in the UML lab), but it holds
xfrm policies: main and sub policies, several templates, marks, if_id, blocks, lifetimes, IPv6, and
the per-socket policies an IKE daemon sets on its sockets. Both readers (netlink and `ip -s -s`
text) must return the same records; the module must pick netlink, run through Ansible, and report
a clear error when it lacks the permission.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NS = "ndxfrm-%d" % os.getpid()
pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip"), reason="needs root and iproute2 (network namespaces)")

A, B = "203.0.113.1", "203.0.113.2"
POLICIES = [
    f"src 10.1.0.0/24 dst 10.2.0.0/24 dir out tmpl src {A} dst {B} proto esp reqid 1 mode tunnel",
    f"src 10.2.0.0/24 dst 10.1.0.0/24 dir in tmpl src {B} dst {A} proto esp reqid 1 mode tunnel",
    f"src 10.2.0.0/24 dst 10.1.0.0/24 dir fwd tmpl src {B} dst {A} proto esp reqid 1 mode tunnel",
    f"src 10.1.0.0/24 dst 10.3.0.0/24 proto tcp dport 443 dir out priority 100 mark 0x5 mask 0xff if_id 7 "
    f"tmpl src {A} dst {B} proto esp spi 0x1234 reqid 2 mode tunnel",
    f"src 10.5.0.0/16 dst 10.1.0.0/16 dir in tmpl src {B} dst {A} proto comp reqid 11 mode tunnel level use "
    f"tmpl src {B} dst {A} proto esp reqid 2 mode tunnel",
    "src 10.9.0.0/16 dst 10.8.0.0/16 proto icmp type 8 code 0 dir out action block priority 5 "
    "limit time-soft 100 limit packet-hard 1000",
    "src 10.7.0.0/16 dst 10.6.0.0/16 dev wan0 proto gre key 77 dir in flag localok icmp",
    "src 10.4.0.0/16 dst 10.1.0.0/16 proto udp sport 500 dport 4500 dir in ptype sub",
    "src 2001:db8:1::/64 dst 2001:db8:2::/64 proto ipv6-icmp type 128 dir out "
    "tmpl src 2001:db8::1 dst 2001:db8::2 proto esp reqid 7 mode tunnel",
]

# Holds IPv4 in/out and IPv6 in per-socket policies (what charon and pluto set on their IKE sockets).
SOCKET_POLICY_HOLDER = r"""
import socket, struct, sys, time
def policy(direction, family):
    sel = struct.pack("=16s16sHHHHHBBB3xiI", b"", b"", 0, 0, 0, 0, family, 0, 0, 0, 0, 0)
    lft = struct.pack("=8Q", *([2 ** 64 - 1] * 4 + [0] * 4)) + struct.pack("=4Q", 0, 0, 0, 0)
    return sel + lft + struct.pack("=IIBBBB", 0, 0, direction, 0, 0, 0) + b"\0" * 4
v4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
v4.setsockopt(socket.IPPROTO_IP, 17, policy(0, socket.AF_INET))
v4.setsockopt(socket.IPPROTO_IP, 17, policy(1, socket.AF_INET))
v6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
v6.setsockopt(socket.IPPROTO_IPV6, 35, policy(0, socket.AF_INET6))
print("ready", flush=True)
sys.stdin.read()
"""

BOTH_READERS = r"""
import json, subprocess
from ansible_collections.netdoctor.ipsec.plugins.module_utils import _xfrm_netlink, _xfrm_record, _xfrm_text
warnings = []
netlink = [_xfrm_record.finish_policy(p, warnings.append) for p in _xfrm_netlink.dump_policies()]
text = subprocess.run(["ip", "-s", "-s", "xfrm", "policy"], capture_output=True, text=True, check=True).stdout
parsed, orphans = _xfrm_text.policy_records(text, warnings.append)
print(json.dumps({"netlink": netlink, "text": parsed, "orphans": orphans, "warnings": warnings,
                  "addresses": _xfrm_netlink.local_addresses()}))
"""


def sh(*args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kwargs)


def in_ns(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return sh("ip", "netns", "exec", NS, *args, **kwargs)


def collection_env() -> dict[str, str]:
    env = dict(os.environ)
    collections = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or str(Path.home() / ".cache/netdoctor/collections")
    env["PYTHONPATH"] = collections + os.pathsep + env.get("PYTHONPATH", "")
    env["ANSIBLE_COLLECTIONS_PATH"] = collections
    return env


@pytest.fixture(scope="module")
def namespace():
    sh("ip", "netns", "del", NS, check=False)
    sh("ip", "netns", "add", NS)
    holder = None
    try:
        in_ns("ip", "link", "set", "lo", "up")
        in_ns("ip", "link", "add", "wan0", "type", "veth", "peer", "name", "wan0p")
        in_ns("ip", "addr", "add", A + "/24", "dev", "wan0")
        in_ns("ip", "addr", "add", "2001:db8::1/64", "dev", "wan0")
        for policy in POLICIES:
            in_ns("ip", "xfrm", "policy", "add", *policy.split())
        holder = subprocess.Popen(["ip", "netns", "exec", NS, sys.executable, "-c", SOCKET_POLICY_HOLDER],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert holder.stdout.readline().strip() == "ready"
        yield NS
    finally:
        if holder is not None:
            holder.stdin.close()
            holder.wait(timeout=10)
        sh("ip", "netns", "del", NS, check=False)


def test_netlink_and_text_readers_agree_on_real_policies(namespace):
    result = json.loads(in_ns(sys.executable, "-c", BOTH_READERS, env=collection_env()).stdout)
    netlink, text = result["netlink"], result["text"]
    assert result["orphans"] == [] and result["warnings"] == []
    assert len(netlink) == len(POLICIES) + 3
    assert netlink == text
    sockets = [p for p in netlink if p["socket"]]
    assert sorted((p["family"], p["dir"]) for p in sockets) == [(4, "in"), (4, "out"), (6, "in")]
    two = next(p for p in netlink if p["src"] == "10.5.0.0/16")
    assert [(t["proto"], t["level"]) for t in two["tmpls"]] == [("comp", "use"), ("esp", "required")]
    marked = next(p for p in netlink if p["dport"] == 443)
    assert marked["mark"] == {"value": 5, "mask": 255} and marked["if_id"] == 7 and marked["priority"] == 100
    assert marked["tmpls"][0]["spi"] == "0x00001234"
    block = next(p for p in netlink if p["action"] == "block")
    assert (block["type"], block["code"], block["lifetime"]["hard_packets"], block["lifetime"]["soft_add_seconds"]) == (8, 0, 1000, 100)
    gre = next(p for p in netlink if p["gre_key"] is not None)
    assert gre["gre_key"] == 77 and gre["dev"] == "wan0" and gre["flags"] == ["localok", "icmp"]
    assert next(p for p in netlink if p["dport"] == 4500)["ptype"] == "sub"
    assert "203.0.113.1" in result["addresses"] and "2001:db8::1" in result["addresses"]


def test_module_through_ansible_uses_netlink(namespace):
    env = collection_env()
    env.update(ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_DEPRECATION_WARNINGS="0", ANSIBLE_NOCOLOR="1")
    run = in_ns("ansible", "localhost", "-m", "netdoctor.ipsec.xfrm_info", "-a", "fingerprint_salt=host-test", env=env, check=False)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    result = json.loads(run.stdout.split(" => ", 1)[1])
    assert result["backend"] == "netlink" and result["changed"] is False and result["errors"] == []
    assert len(result["xfrm"]["policies"]) == len(POLICIES) + 3 and result["xfrm"]["states"] == []
    assert "203.0.113.1" in result["local_addresses"]
    assert isinstance(result["xfrm"]["stat"], dict) and "XfrmInNoStates" in result["xfrm"]["stat"]


@pytest.fixture
def world_readable_dir():
    path = Path(tempfile.mkdtemp(prefix="ndxfrm-"))
    try:
        yield path
    finally:
        shutil.rmtree(path)


def test_without_permission_netlink_says_so(namespace, world_readable_dir):
    """An unprivileged user: the netlink dump is refused with EPERM (the module then falls back to
    `ip`, which is refused too, and reports both as errors)."""
    tmp_path = world_readable_dir
    tree = tmp_path / "ansible_collections" / "netdoctor" / "ipsec" / "plugins" / "module_utils"
    tree.mkdir(parents=True)
    for name in ("_xfrm_netlink", "_xfrm_record", "_addr", "_algorithms", "_fingerprint"):
        shutil.copy(REPO / "plugins" / "module_utils" / (name + ".py"), tree)
    for path in [tmp_path, *tmp_path.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    probe = ("import errno\nfrom ansible_collections.netdoctor.ipsec.plugins.module_utils import _xfrm_netlink as n\n"
             "try:\n    n.dump_policies()\n    print('dumped')\nexcept n.NetlinkError as exc:\n"
             "    print('refused', exc.errno == errno.EPERM, exc)\n")
    run = in_ns("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", probe,
                env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}, cwd=str(tmp_path))
    assert run.stdout.startswith("refused True"), run.stdout + run.stderr
    text = in_ns("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "ip", "-s", "-s", "xfrm", "policy", check=False)
    assert text.returncode != 0 and "Operation not permitted" in text.stderr
