# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Two gateways in host network namespaces, for running the capture module for real without the
UML lab: a veth WAN (203.0.113.1 <-> 203.0.113.2), an inner veth per gateway (10.1.0.1, 10.2.0.1),
optional strongSwan charon per gateway (own /etc and /run). The host kernel has no ESP, so IKE is
real and CHILD_SAs fail; clear routes between the inner subnets can be added for probe tests.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
A, B = "ndcapt-a", "ndcapt-b"
RUN = Path("/run/ndcapt")
WAN = {A: "203.0.113.1", B: "203.0.113.2"}
LAN = {A: "10.1.0.1", B: "10.2.0.1"}
SUBNET = {A: "10.1.0.0/24", B: "10.2.0.0/24"}
WAN6 = {A: "2001:db8:cafe::1", B: "2001:db8:cafe::2"}
LAN6 = {A: "2001:db8:1::1", B: "2001:db8:2::1"}
SUBNET6 = {A: "2001:db8:1::/64", B: "2001:db8:2::/64"}
PEER = {A: B, B: A}


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), check=check, capture_output=True, text=True)


def usable() -> str | None:
    """None when this host can run the namespace tests, else why not."""
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("ip", "tcpdump"):
        if shutil.which(tool) is None:
            return f"{tool} missing"
    return None


class NetnsPair:
    def __init__(self) -> None:
        self.pids: list[int] = []

    def __enter__(self) -> "NetnsPair":
        self.down()
        RUN.mkdir(parents=True, exist_ok=True)
        for ns in (A, B):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "add", "lan0", "type", "veth", "peer", "name", "lan0p")
            sh("ip", "-n", ns, "link", "set", "lan0", "up")
            sh("ip", "-n", ns, "link", "set", "lan0p", "up")
            sh("ip", "-n", ns, "addr", "add", LAN[ns] + "/24", "dev", "lan0")
            sh("ip", "-n", ns, "addr", "add", LAN6[ns] + "/64", "dev", "lan0", "nodad")
            (RUN / ns).mkdir(exist_ok=True)
            Path(f"/etc/netns/{ns}/swanctl").mkdir(parents=True, exist_ok=True)
        sh("ip", "link", "add", "wan0", "netns", A, "type", "veth", "peer", "name", "wan0", "netns", B)
        for ns in (A, B):
            sh("ip", "-n", ns, "link", "set", "wan0", "up")
            sh("ip", "-n", ns, "addr", "add", WAN[ns] + "/24", "dev", "wan0")
            sh("ip", "-n", ns, "addr", "add", WAN6[ns] + "/64", "dev", "wan0", "nodad")
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    def clear_routes(self) -> None:
        """Plain routes between the inner subnets (no IPsec): probes work, traffic is clear text."""
        for ns in (A, B):
            sh("ip", "-n", ns, "route", "replace", SUBNET[PEER[ns]], "via", WAN[PEER[ns]], "src", LAN[ns])
            sh("ip", "-n", ns, "-6", "route", "replace", SUBNET6[PEER[ns]], "via", WAN6[PEER[ns]], "src", LAN6[ns])

    def exec(self, ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return sh("ip", "netns", "exec", ns, *args, check=check)

    def popen(self, ns: str, *args: str, **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(["ip", "netns", "exec", ns, *args], **kwargs)
        self.pids.append(proc.pid)
        return proc

    def charon(self, ns: str, version: int = 2, proposals: str = "aes256-sha256-modp2048") -> None:
        Path(f"/etc/netns/{ns}/strongswan.conf").write_text(
            "charon {\n load_modular = yes\n retransmit_tries = 3\n retransmit_timeout = 1.0\n"
            " retransmit_base = 1.4\n install_routes = no\n plugins {\n  include strongswan.d/charon/*.conf\n }\n}\n"
            "swanctl {\n load = pem pkcs1 x509 revocation constraints pubkey random\n}\n"
        )
        ids = {A: "gw-a.lab", B: "gw-b.lab"}
        Path(f"/etc/netns/{ns}/swanctl/swanctl.conf").write_text(
            f"connections {{\n site {{\n  version = {version}\n  local_addrs = {WAN[ns]}\n  remote_addrs = {WAN[PEER[ns]]}\n"
            f"  proposals = {proposals}\n  local {{\n   auth = psk\n   id = {ids[ns]}\n  }}\n"
            f"  remote {{\n   auth = psk\n   id = {ids[PEER[ns]]}\n  }}\n  children {{\n   net {{\n"
            f"    local_ts = {SUBNET[ns]}\n    remote_ts = {SUBNET[PEER[ns]]}\n    esp_proposals = aes256-sha256\n"
            f"   }}\n  }}\n }}\n}}\nsecrets {{\n ike-lab {{\n  id-a = gw-a.lab\n  id-b = gw-b.lab\n"
            f"  secret = \"lab-throwaway-psk-1\"\n }}\n}}\n"
        )
        self.popen(ns, "/bin/sh", "-c", 'mount --bind "$0" /run && exec /usr/lib/ipsec/charon', str(RUN / ns),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _attempt in range(50):
            if (RUN / ns / "charon.vici").exists():
                break
            time.sleep(0.1)
        self.swanctl(ns, "--load-all", "--noprompt")

    def swanctl(self, ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.exec(ns, "/bin/sh", "-c", 'mount --bind "$0" /run && shift && exec swanctl "$@"',
                         str(RUN / ns), "x", *args, check=check)

    def down(self) -> None:
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        self.pids = []
        for ns in (A, B):
            if Path(f"/run/netns/{ns}").exists():
                for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                sh("ip", "netns", "del", ns, check=False)
            shutil.rmtree(f"/etc/netns/{ns}", ignore_errors=True)
            shutil.rmtree(RUN / ns, ignore_errors=True)
        if RUN.exists():
            shutil.rmtree(RUN, ignore_errors=True)


def module_args_file(tmp: Path, name: str, args: dict) -> Path:
    path = tmp / f"{name}.json"
    path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    return path


def run_module_in(ns: str, args_file: Path, env: dict | None = None, python: str = "python3") -> subprocess.Popen:
    """Start the capture module directly (as AnsiballZ would run it) inside a namespace."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.Popen(
        ["ip", "netns", "exec", ns, python, "-m", "ansible_collections.netdoctor.ipsec.plugins.modules.capture",
         str(args_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env,
    )


OLD_PYTHONS = Path.home() / ".cache/netdoctor/pybin-old"
OLD_ANSIBLE = Path.home() / ".cache/netdoctor/venv-old/lib/python3.11/site-packages/ansible"
OLD_RUNNER = """
import runpy, sys
sys.path.insert(0, sys.argv.pop(1))
sys.argv[0] = "capture"
runpy.run_module("ansible_collections.netdoctor.ipsec.plugins.modules.capture", run_name="__main__")
"""


def old_python_tree(tmp: Path) -> Path:
    """The module laid out as AnsiballZ ships it to an old gateway (real __init__.py files, since
    Python 2.7 has no namespace packages), with ansible-core 2.16's module_utils (the last to run on 2.7)."""
    root = tmp / "tree"
    plugins = root / "ansible_collections" / "netdoctor" / "ipsec" / "plugins"
    plugins.mkdir(parents=True)
    for name in ("modules", "module_utils"):
        shutil.copytree(REPO / "plugins" / name, plugins / name)
    for folder in (root / "ansible_collections", plugins.parents[1], plugins.parent, plugins, plugins / "modules",
                   plugins / "module_utils"):
        (folder / "__init__.py").touch()
    (root / "ansible").symlink_to(OLD_ANSIBLE)
    (tmp / "run_old.py").write_text(OLD_RUNNER)
    return root


def run_module_old(ns: str, python: str, tmp: Path, args_file: Path) -> subprocess.CompletedProcess:
    return sh("ip", "netns", "exec", ns, str(OLD_PYTHONS / python), str(tmp / "run_old.py"), str(tmp / "tree"),
              str(args_file), check=False)
