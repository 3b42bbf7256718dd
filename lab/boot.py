"""Starting and killing the lab's kernel: UML on hosts without ESP, namespaces on hosts with it.

Either way the lab is one process group on the host (UML calls setsid(); the native runner is
started in its own session), and everything the lab creates lives inside it: killing the group
removes every namespace, mount, daemon and the host link with it.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from pyroute2 import IPRoute

from .config import AGENT_PORT, LabConfig, LabError

BRIDGE_MAC = "02:4e:44:4c:00:{slot:02x}"


def esp_probe() -> tuple[bool, str]:
    """Can this kernel hold ESP SAs? Tried for real in a throwaway network namespace."""
    key = secrets.token_hex
    script = (
        "ip xfrm state add src 203.0.113.1 dst 203.0.113.2 proto esp spi 0x1001 mode tunnel "
        f"enc 'cbc(aes)' 0x{key(16)} auth-trunc 'hmac(sha256)' 0x{key(32)} 128 && "
        "ip xfrm state add src 203.0.113.1 dst 203.0.113.2 proto esp spi 0x1002 mode tunnel "
        f"aead 'rfc4106(gcm(aes))' 0x{key(20)} 128"
    )
    try:
        proc = subprocess.run(["unshare", "--net", "/bin/sh", "-c", script], capture_output=True, text=True,
                              timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"cannot probe: {exc}"
    if proc.returncode == 0:
        return True, "ESP SAs (AES-CBC/HMAC-SHA-256 and AES-GCM) accepted"
    return False, proc.stderr.strip() or f"ip xfrm exited with {proc.returncode}"


def choose_mode(requested: str | None = None) -> tuple[str, str]:
    mode = requested or os.environ.get("ND_LAB_MODE", "auto")
    if mode not in ("auto", "uml", "native"):
        raise LabError(f"ND_LAB_MODE must be auto, uml or native, not {mode!r}")
    if mode != "auto":
        return mode, f"{mode} (requested)"
    ok, why = esp_probe()
    return ("native", f"native: the host kernel has ESP ({why})") if ok else \
        ("uml", f"uml: the host kernel cannot hold ESP SAs ({why})")


def guest_env(cfg: LabConfig, mode: str) -> dict[str, str]:
    """What the lab's init and agent need to know (UML passes these as kernel arguments)."""
    env = {
        "ND_LAB_DIR": str(cfg.lab_dir),
        "ND_REPO": str(cfg.repo),
        "ND_LAB_MODE": mode,
        "ND_PYTHON": sys.executable,
        "ND_LAB_BRIDGE": "br-mgmt",
        "ND_LAB_BRIDGE_ADDR": f"{cfg.bridge_ip}/{cfg.mgmt_net.prefixlen}",
        "ND_LAB_BRIDGE_MAC": BRIDGE_MAC.format(slot=cfg.slot),
        "ND_LAB_AGENT_PORT": str(AGENT_PORT),
    }
    if mode == "uml":
        env["ND_UML_MODULES"] = str(cfg.uml_modules)
    for key, value in env.items():
        if any(c.isspace() for c in value):
            raise LabError(f"{key}={value!r}: paths with white space cannot be passed to the lab kernel")
    return env


def start(cfg: LabConfig, mode: str, mem_mb: int) -> int:
    """Start the lab kernel/namespace; return the process group id. The host link comes up later."""
    (cfg.lab_dir / "guestroot").mkdir(exist_ok=True)
    console = open(cfg.lab_dir / "console.log", "wb")
    env = guest_env(cfg, mode)
    if mode == "uml":
        if not cfg.uml_kernel.exists():
            raise LabError(f"no UML kernel at {cfg.uml_kernel}: run tools/bootstrap.sh")
        (cfg.lab_dir / "uml").mkdir(exist_ok=True)
        argv = [str(cfg.uml_kernel), f"mem={mem_mb}M", "rootfstype=hostfs", "rootflags=/", "rw",
                f"uml_dir={cfg.lab_dir / 'uml'}", f"umid=ndlab{cfg.slot}",
                f"init={cfg.repo / 'lab/guest/init-uml.sh'}", "con=null", "con0=fd:0,fd:1",
                f"eth0=tuntap,{cfg.host_link}"] + [f"{k}={v}" for k, v in env.items()]
        proc_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "TMPDIR": "/dev/shm"}
    else:
        argv = ["unshare", "--mount", "--uts", "--ipc", "--net", "--pid", "--fork", "--kill-child",
                "--mount-proc", "--propagation", "private", "/bin/sh", str(cfg.repo / "lab/guest/init-native.sh")]
        proc_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **env}
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                                start_new_session=True, env=proc_env, cwd=cfg.lab_dir)
    except OSError as exc:
        raise LabError(f"cannot start the lab ({argv[0]}): {exc}") from None
    finally:
        console.close()
    return proc.pid


def connect_host_link(cfg: LabConfig, mode: str, pgid: int, timeout: float = 30) -> None:
    """Give the host its end of the management link (UML: the TAP it opened; native: a veth)."""
    link = cfg.host_link
    deadline = time.monotonic() + timeout
    if mode == "native":
        child = _native_child(pgid, deadline)
        with IPRoute() as ipr:
            ipr.link("add", ifname=link, kind="veth", peer={"ifname": "eth0", "net_ns_pid": child})
    while not Path(f"/sys/class/net/{link}").exists():
        if not alive(pgid):
            raise LabError(f"the lab kernel exited during boot; see {cfg.lab_dir / 'console.log'}")
        if time.monotonic() > deadline:
            raise LabError(f"the lab's host link {link} did not appear within {timeout:.0f}s; "
                           f"see {cfg.lab_dir / 'console.log'}")
        time.sleep(0.05)
    if mode == "uml" and not _owns_tap(pgid, link, deadline):
        raise LabError(f"the host interface {link} belongs to another lab (slot {cfg.slot} was taken meanwhile)")
    v6 = Path(f"/proc/sys/net/ipv6/conf/{link}/disable_ipv6")
    if v6.exists():
        v6.write_text("1")
    with IPRoute() as ipr:
        idx = ipr.link_lookup(ifname=link)[0]
        ipr.addr("add", index=idx, address=str(cfg.host_ip), prefixlen=cfg.mgmt_net.prefixlen)
        ipr.link("set", index=idx, state="up")


def _owns_tap(pgid: int, link: str, deadline: float) -> bool:
    """Is the TAP `link` attached to one of our UML's file descriptors (fdinfo 'iff:')?"""
    needle = f"iff:\t{link}\n"
    while True:
        for pid in session_pids(pgid):
            try:
                fds = os.listdir(f"/proc/{pid}/fdinfo")
            except OSError:
                continue
            for fd in fds:
                try:
                    if needle in Path(f"/proc/{pid}/fdinfo/{fd}").read_text():
                        return True
                except OSError:
                    continue
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


def _native_child(pgid: int, deadline: float) -> int:
    while time.monotonic() < deadline:
        try:
            children = Path(f"/proc/{pgid}/task/{pgid}/children").read_text().split()
        except OSError:
            raise LabError("the native lab runner exited during start") from None
        if children:
            return int(children[0])
        time.sleep(0.05)
    raise LabError("the native lab runner did not start its namespace")


def session_pids(sid: int) -> list[int]:
    """Processes whose session id is sid (the lab's whole process tree on the host)."""
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


def alive(pgid: int) -> bool:
    return bool(session_pids(pgid))


def kill(pgid: int, timeout: float = 15) -> list[int]:
    """Kill the lab's process group; return the pids still there after timeout (should be [])."""
    deadline = time.monotonic() + timeout
    while True:
        pids = session_pids(pgid)
        if not pids:
            return []
        for sig_target in (pgid, *pids):
            try:
                if sig_target == pgid:
                    os.killpg(pgid, signal.SIGKILL)
                else:
                    os.kill(sig_target, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if time.monotonic() > deadline:
            return session_pids(pgid)
        _reap()
        time.sleep(0.1)


def _reap() -> None:
    """Collect our own dead children (the lab process when we started it in this process)."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass
