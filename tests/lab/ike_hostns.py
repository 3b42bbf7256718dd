# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Two real IKE daemons in host network namespaces, for ike_info/log_info against live daemons
without the UML lab.

Each gateway is a network namespace with its own /etc (``/etc/netns/<ns>``), and, inside the mount
namespace of every command run there, its own /run, /var/log and (libreswan) the unpacked libreswan
binaries and NSS database. The daemon configuration comes from the lab's own generator
(``lab.daemons``), so these are the lab's configurations. The host kernel has no ESP: IKE SAs are
real, CHILD SA installation fails (the daemons log it), which is fine for everything IKE.
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
LIBRESWAN = Path(os.environ.get("ND_TOOLS", str(Path.home() / ".cache/netdoctor"))) / "debs/libreswan"
NS = {"left": "ndike-l", "right": "ndike-r"}
WAN = {"left": "198.51.100.21", "right": "198.51.100.22"}
LAN = {"left": "10.1.0.0/24", "right": "10.2.0.0/24"}
IDS = {"left": "gw-a.lab", "right": "gw-b.lab"}
PSK = "ndike-Healthy-Secret-7f3a"
WRONG_PSK = "ndike-Wrong-Secret-91c2"
OTHER = {"left": "right", "right": "left"}
MOUNTPOINTS = ("/usr/libexec/ipsec", "/var/lib/ipsec/nss")
FAULTS = {
    "ike-version": {"ike_version": 1},
    "ike-proposal": {"ike": "aes128-sha1-modp3072"},
    "esp-proposal": {"esp": "aes128-sha1"},
    "psk": {"psk": WRONG_PSK},
    "identity": {"local_id": "gw-x.lab"},
    "selectors": {"remote_ts": "10.9.0.0/24"},
}


def sh(argv: list[str], check: bool = True, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=timeout, **kwargs)


def usable(kinds: tuple[str, ...]) -> str | None:
    """None when this host can run these daemons in namespaces, else why not."""
    if os.geteuid() != 0:
        return "needs root"
    if "strongswan" in kinds and not Path("/usr/lib/ipsec/charon").exists():
        return "strongSwan charon not installed"
    if "libreswan" in kinds and not (LIBRESWAN / "usr/libexec/ipsec/pluto").exists():
        return f"libreswan not unpacked at {LIBRESWAN}"
    return None


class IkePair:
    """left/right gateways running ``kinds`` (e.g. ``("strongswan", "libreswan")``)."""

    def __init__(self, kinds: tuple[str, str], workdir: Path) -> None:
        from lab import daemons  # the lab's configuration generator

        self.daemons_mod = daemons
        self.kinds = dict(zip(("left", "right"), kinds))
        self.work = workdir
        self.procs: dict[str, subprocess.Popen] = {}
        self.created_mountpoints: list[str] = []
        self.settings = {side: self._settings(side) for side in ("left", "right")}

    # --- set-up / tear-down -------------------------------------------------------------------

    def _settings(self, side: str):
        other = OTHER[side]
        return self.daemons_mod.Settings(
            conn="site", ike_version=2, ike="aes256-sha256-modp2048", esp="aes256gcm16-modp2048", psk=PSK,
            local_id=IDS[side], remote_id=IDS[other], local_addr=WAN[side], remote_addr=WAN[other],
            local_ts=LAN[side], remote_ts=LAN[other], sourceip=LAN[side].replace("0/24", "1"), nexthop=None,
            sha256_96=False)

    def __enter__(self) -> "IkePair":
        self.down()
        for path in MOUNTPOINTS:
            if not os.path.isdir(path) and "libreswan" in self.kinds.values():
                os.makedirs(path)
                self.created_mountpoints.append(path)
        for side, ns in NS.items():
            sh(["ip", "netns", "add", ns])
            sh(["ip", "-n", ns, "link", "set", "lo", "up"])
            for sub in ("run", "log", "nss"):
                (self.gw(side) / sub).mkdir(parents=True, exist_ok=True)
            Path(f"/etc/netns/{ns}").mkdir(parents=True, exist_ok=True)
        sh(["ip", "link", "add", "wan0", "netns", NS["left"], "type", "veth", "peer", "name", "wan0", "netns", NS["right"]])
        for side, ns in NS.items():
            sh(["ip", "-n", ns, "addr", "add", WAN[side] + "/24", "dev", "wan0"])
            sh(["ip", "-n", ns, "link", "set", "wan0", "up"])
        for side in NS:
            self.write_config(side)
            self.start(side)
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    def down(self) -> None:
        for side, proc in list(self.procs.items()):
            self._stop(proc)
            self.procs.pop(side, None)
        for ns in NS.values():
            if Path(f"/run/netns/{ns}").exists():
                pids = sh(["ip", "netns", "pids", ns], check=False).stdout.split()
                for pid in pids:
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except (ProcessLookupError, ValueError):
                        pass
                sh(["ip", "netns", "del", ns], check=False)
            shutil.rmtree(f"/etc/netns/{ns}", ignore_errors=True)
        for path in reversed(self.created_mountpoints):
            try:
                os.rmdir(path)
            except OSError:
                pass
        self.created_mountpoints = []

    @staticmethod
    def _stop(proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)

    # --- gateways -------------------------------------------------------------------------------

    def gw(self, side: str) -> Path:
        return self.work / side

    def daemon(self, side: str):
        return self.daemons_mod.DAEMONS[self.kinds[side]]

    def binds(self, side: str) -> list[tuple[str, str]]:
        gw = self.gw(side)
        out = [(str(gw / "run"), "/run"), (str(gw / "log"), "/var/log")]
        if self.kinds[side] == "libreswan":
            out += [(str(LIBRESWAN / "usr/libexec/ipsec"), "/usr/libexec/ipsec"),
                    (str(LIBRESWAN / "usr/sbin/ipsec"), "/usr/sbin/ipsec"), (str(gw / "nss"), "/var/lib/ipsec/nss")]
        return out

    def argv(self, side: str, command: list[str]) -> list[str]:
        script = "".join(f"mount --bind '{src}' '{dst}' || exit 97; " for src, dst in self.binds(side))
        return ["ip", "netns", "exec", NS[side], "/bin/sh", "-c", script + 'exec "$@"', "gw", *command]

    def exec(self, side: str, command: list[str], check: bool = False, timeout: float = 60) -> subprocess.CompletedProcess:
        return sh(self.argv(side, command), check=check, timeout=timeout)

    def write_config(self, side: str, **changes) -> None:
        settings = self.settings[side] = self.settings[side].replace(**changes) if changes else self.settings[side]
        files = self.daemon(side).files(settings)
        etc = Path(f"/etc/netns/{NS[side]}")
        for rel, content in files.items():
            if rel.startswith("etc/"):
                target = etc / rel[len("etc/"):]
            else:
                target = self.gw(side) / rel
            if rel.endswith("/"):
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
            if "secret" in rel or rel.endswith("swanctl.conf"):
                target.chmod(0o600)

    def start(self, side: str) -> None:
        if self.kinds[side] == "libreswan" and not any((self.gw(side) / "nss").iterdir()):
            self.exec(side, ["ipsec", "initnss"], check=True)
        proc = subprocess.Popen(self.argv(side, self.daemon(side).start_argv()), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        self.procs[side] = proc
        ready = self.gw(side) / "run" / self.daemon(side).ready_file
        deadline = time.monotonic() + 20
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.kinds[side]} on {side} did not start")
            time.sleep(0.2)
        self.exec(side, self.daemon(side).load_argv(self.settings[side]), check=True)

    def restart(self, side: str) -> None:
        proc = self.procs.pop(side, None)
        if proc is not None:
            self._stop(proc)
        self.start(side)

    def reload(self, side: str, **changes) -> None:
        version_changes = "ike_version" in changes and changes["ike_version"] != self.settings[side].ike_version
        self.write_config(side, **changes)
        if self.kinds[side] == "libreswan" and version_changes:
            self.restart(side)  # ikev1-policy is a "config setup" option: pluto reads it at start only
            return
        if self.kinds[side] == "libreswan":
            self.exec(side, ["ipsec", "auto", "--delete", "site"])
            self.exec(side, ["ipsec", "auto", "--rereadsecrets"])
        self.exec(side, self.daemon(side).load_argv(self.settings[side]), check=True)

    def apply_fault(self, fault: str, side: str = "right") -> None:
        changes = dict(FAULTS[fault])
        if fault == "ike-version" and self.kinds[side] == "libreswan":
            changes = {"ike_version": 1}
        self.reload(side, **changes)

    def terminate(self) -> None:
        for side in NS:
            conn = self.settings[side].conn
            if self.kinds[side] == "strongswan":
                argv = ["swanctl", "--terminate", "--ike", conn, "--timeout", "5"]
            else:
                argv = ["ipsec", "auto", "--down", conn]
            self.exec(side, argv, timeout=20)

    def initiate(self, side: str = "left", wait: float = 8.0) -> subprocess.CompletedProcess:
        conn = self.settings[side].conn
        if self.kinds[side] == "strongswan":
            argv = ["swanctl", "--initiate", "--child", conn, "--timeout", str(int(wait))]
        else:
            argv = ["ipsec", "whack", "--name", conn, "--initiate", "--asynchronous"]
        result = self.exec(side, argv, timeout=wait + 20)
        if self.kinds[side] == "libreswan":
            time.sleep(wait)
        return result

    def clear_logs(self) -> None:
        for side in NS:
            path = self.log_path(side)
            if path.exists():
                path.write_text("")

    def log_path(self, side: str) -> Path:
        return self.gw(side) / "log" / self.daemon(side).log_file

    def log(self, side: str) -> str:
        path = self.log_path(side)
        return path.read_text(errors="replace") if path.exists() else ""

    def module(self, side: str, name: str, args: dict) -> dict:
        """Run one of our modules on the gateway, the way Ansible would (args file, JSON on stdout)."""
        args_file = self.work / f"args-{side}-{name}.json"
        args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
        env_py = Path(os.environ.get("VIRTUAL_ENV", "/usr")) / "bin/python"
        paths = f"{os.environ.get('ND_TOOLS', str(Path.home() / '.cache/netdoctor'))}/collections:{REPO}"
        extra_path = str(LIBRESWAN / "usr/libexec/ipsec") if self.kinds[side] == "libreswan" else ""
        command = ["env", f"PYTHONPATH={paths}", f"PATH={os.environ.get('PATH', '')}:{extra_path}",
                   str(env_py), str(REPO / "plugins/modules" / f"{name}.py"), str(args_file)]
        result = self.exec(side, command, timeout=120)
        try:
            return json.loads(result.stdout)
        except ValueError:
            raise AssertionError(f"{name} on {side} printed no JSON: {result.stdout!r} {result.stderr!r}")
