"""Shared fixtures for the tests that run against the real lab (tests/lab/, any area).

`lab_session` gives a module the lab holding its tunnels. The tunnels come from the test modules
themselves: a module declares what it needs at module level,

    LAB_TUNNELS = {
        "xfrm_gcm": {"esp": "aes256gcm16"},
        "xfrm_fw_esp": {"fault": "fw-esp", "right": "libreswan"},
    }

(names are unique across modules; the same name twice must mean the same spec). Only modules
with selected tests count, so `pytest tests/lab/test_x.py` boots just what test_x needs. A full
run packs the modules into as few labs as the 30-tunnel limit allows (usually one boot), runs
each lab's modules together and removes it after them. Tests use `lab_session.tunnel("xfrm_gcm")`.

The lab folder is $ND_LAB_DIR (default <repo>/.lab-test); the slot is $ND_LAB_SLOT, default
`auto` (the first free one, waiting up to $ND_LAB_SLOT_WAIT seconds, default 900, for one).
Tests that do not use `lab_session` run first (they bring up labs of their own).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from lab import Lab, LabConfig, TunnelSpec
from lab.agent_client import ExecResult
from lab.topology import MAX_TUNNELS, tunnel_letter

REPO = Path(__file__).resolve().parents[2]


def _module_tunnels(module) -> dict[str, dict]:
    return dict(getattr(module, "LAB_TUNNELS", {}))


def _pack(modules: list) -> list[list]:
    """Modules into batches whose tunnels (merged by name) fit in one lab; first fit, in order."""
    batches: list[tuple[list, dict]] = []
    for module in modules:
        wanted = _module_tunnels(module)
        if len(wanted) > MAX_TUNNELS:
            raise pytest.UsageError(f"{module.__name__}: LAB_TUNNELS has {len(wanted)} tunnels; a lab holds "
                                    f"at most {MAX_TUNNELS}")
        for mods, tunnels in batches:
            clash = [n for n in wanted if n in tunnels and tunnels[n] != wanted[n]]
            if clash:
                raise pytest.UsageError(f"LAB_TUNNELS: {clash} declared twice with different specs")
            if len({**tunnels, **wanted}) <= MAX_TUNNELS:
                mods.append(module)
                tunnels.update(wanted)
                break
        else:
            batches.append(([module], dict(wanted)))
    return [batch[0] for batch in batches]


class _Labs:
    """The session's labs: one per batch of modules (usually a single one), up while in use."""

    def __init__(self) -> None:
        self.batch_of: dict = {}
        self.batches: list[list] = []
        self.current: int | None = None
        self.session: LabSession | None = None

    def plan(self, items) -> None:
        modules = []
        for item in items:
            module = getattr(item, "module", None)
            if module is not None and "lab_session" in getattr(item, "fixturenames", ()) and module not in modules:
                modules.append(module)
        self.batches = _pack(modules)
        self.batch_of = {m: i for i, batch in enumerate(self.batches) for m in batch}

    def session_for(self, module) -> LabSession:
        if module not in self.batch_of:  # not planned (e.g. a plugin changed the selection): its own lab
            self.batches.append([module])
            self.batch_of[module] = len(self.batches) - 1
        index = self.batch_of[module]
        if self.current == index and self.session is not None:
            return self.session
        self.close()
        wanted: dict[str, dict] = {}
        for mod in self.batches[index]:
            wanted.update(_module_tunnels(mod))
        if not wanted:
            pytest.fail(f"{module.__name__} uses lab_session but declares no LAB_TUNNELS")
        lab_dir = os.environ.get("ND_LAB_DIR") or str(REPO / ".lab-test")
        cfg = LabConfig.from_env(lab_dir=lab_dir, slot=os.environ.get("ND_LAB_SLOT", "auto"))
        lab = Lab(cfg, log=lambda msg: print(msg, flush=True))
        names = list(wanted)
        self.current = index
        state = lab.up([TunnelSpec.from_dict(wanted[name]) for name in names],
                       slot_wait=float(os.environ.get("ND_LAB_SLOT_WAIT", "900")))
        self.session = LabSession(lab, state, names)
        return self.session

    def close(self) -> None:
        if self.session is not None:
            self.session.lab.down()
        self.session = self.current = None


_LABS = _Labs()


def pytest_collection_modifyitems(session, config, items):
    """Modules without lab_session first; then the lab_session modules batch by batch, each module
    whole (so module-scoped fixtures stay up once and every batch boots once)."""
    _LABS.plan(items)
    items.sort(key=lambda item: _LABS.batch_of.get(getattr(item, "module", None), -1))


def pytest_sessionfinish(session, exitstatus):
    _LABS.close()


@dataclass
class LabTunnel:
    """One tunnel of the session lab, with what `lab up` verified and observed."""

    name: str
    letter: str
    spec: dict
    result: dict
    hostvars: dict[str, dict] = field(repr=False)

    @property
    def group(self) -> str:
        return f"tunnel_{self.letter}"

    @property
    def left(self) -> str:
        return f"{self.letter}_left"

    @property
    def right(self) -> str:
        return f"{self.letter}_right"

    @property
    def fault(self) -> str | None:
        return self.result.get("fault")

    @property
    def fault_side(self) -> str | None:
        return self.result.get("fault_side")

    @property
    def fault_host(self) -> str:
        return f"{self.letter}_{self.fault_side or 'right'}"

    @property
    def peer_host(self) -> str:
        return f"{self.letter}_{'left' if (self.fault_side or 'right') == 'right' else 'right'}"

    @property
    def baseline(self) -> dict:
        return self.result["baseline"]

    @property
    def observed(self) -> dict:
        return self.result["observed"]

    @property
    def mismatches(self) -> list[str]:
        return self.result["mismatches"]


class LabSession:
    def __init__(self, lab: Lab, state: dict, names: list[str]) -> None:
        self.lab = lab
        self.state = state
        self.cfg = lab.cfg
        self.inventory = lab.cfg.inventory
        inv = yaml.safe_load(self.inventory.read_text())
        hosts = {}
        for group in inv["all"]["children"]["lab_gateways"]["children"].values():
            hosts.update(group["hosts"])
        self._tunnels = {}
        for index, name in enumerate(names):
            letter = tunnel_letter(index)
            self._tunnels[name] = LabTunnel(
                name=name, letter=letter, spec=state["specs"][index],
                result=state["tunnels"][letter],
                hostvars={h: v for h, v in hosts.items() if h.startswith(f"{letter}_")})

    @property
    def tunnel_names(self) -> list[str]:
        """Every tunnel of the session lab, this module's and those of the modules packed with it."""
        return list(self._tunnels)

    def tunnel(self, name: str) -> LabTunnel:
        if name not in self._tunnels:
            raise KeyError(f"no tunnel {name!r} in the session lab; declare it in LAB_TUNNELS "
                           f"(known: {', '.join(self._tunnels)})")
        return self._tunnels[name]

    def exec(self, target: str, argv: list[str], **kwargs) -> ExecResult:
        return self.lab.exec(target, argv, **kwargs)

    def observe(self, name: str) -> dict:
        """Observe a tunnel again now (SA states, ping/TCP probes, WAN counters, catalogue check)."""
        return self.lab.observe(self.tunnel(name).letter)

    def ansible_env(self) -> dict[str, str]:
        return {**os.environ, "ANSIBLE_CONFIG": str(self.cfg.ansible_cfg), "ANSIBLE_NOCOLOR": "1"}

    def playbook(self, playbook: str | Path, limit: str, *extra: str, timeout: float = 600):
        argv = ["ansible-playbook", "-i", str(self.inventory), str(playbook), "-l", limit, *extra]
        return subprocess.run(argv, env=self.ansible_env(), capture_output=True, text=True, timeout=timeout,
                              cwd=REPO, stdin=subprocess.DEVNULL, check=False)


def _require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root (network namespaces, TAP device)")


@pytest.fixture(scope="module")
def lab_session(request) -> LabSession:
    """The lab holding this module's LAB_TUNNELS (shared with the other modules of its batch)."""
    _require_root()
    return _LABS.session_for(request.module)


# ---- leftovers: what a lab must not leave behind ----------------------------------------------

WATCHED_FILES = [Path.home() / ".bashrc", Path.home() / ".profile", Path("/etc/ipsec.conf"),
                 Path("/etc/strongswan.conf")]
NEVER_CREATED = [Path.home() / ".uml", Path("/var/lib/ipsec"), Path("/usr/libexec/ipsec")]
LAB_NAME = re.compile(r"^[a-z]{1,2}_(left|right|wan)(_host)?$")


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _netns() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


@dataclass
class HostSnapshot:
    """The host before a lab: compared with the host after `lab down` (or a killed run)."""

    lab_dir: Path
    started: float = field(default_factory=time.time)
    files: dict = field(default_factory=lambda: {p: _digest(p) for p in WATCHED_FILES})
    existing: dict = field(default_factory=lambda: {p: p.exists() for p in NEVER_CREATED})
    netns: set = field(default_factory=_netns)
    modules: set = field(default_factory=lambda: set(os.listdir("/lib/modules")) if os.path.isdir("/lib/modules")
                         else set())

    def leftovers(self, slot: int | None) -> list[str]:
        lab = str(self.lab_dir)
        problems = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if lab in cmdline:
                problems.append(f"process {pid} still runs: {cmdline[:150]}")
        if slot is not None and _tap_owned_by(f"ndlab{slot}", lab):
            problems.append(f"host interface ndlab{slot} of this lab still exists")
        with open("/proc/self/mounts") as f:
            problems += [f"mount left: {line.strip()}" for line in f if lab in line]
        new_ns = {ns for ns in _netns() - self.netns if LAB_NAME.match(ns)}
        if new_ns:
            problems.append(f"network namespaces left on the host: {sorted(new_ns)}")
        for path, digest in self.files.items():
            if _digest(path) != digest:
                problems.append(f"{path} changed")
        for path, existed in self.existing.items():
            if path.exists() and not existed:
                problems.append(f"{path} was created on the host")
        if os.path.isdir("/lib/modules") and set(os.listdir("/lib/modules")) != self.modules:
            problems.append("/lib/modules changed")
        etc_netns = Path("/etc/netns")
        if etc_netns.is_dir():
            problems += [f"/etc/netns/{n} created" for n in os.listdir(etc_netns) if LAB_NAME.match(n)]
        from lab.core import GENERATED_DIRS, GENERATED_FILES
        if self.lab_dir.exists():
            problems += [f"{self.lab_dir / n} left in the lab folder" for n in GENERATED_FILES + GENERATED_DIRS
                         if (self.lab_dir / n).exists()]
        return problems


def _tap_owned_by(link: str, lab_dir: str) -> bool:
    """Does host interface `link` exist and belong to a process of the lab in lab_dir?"""
    if not Path(f"/sys/class/net/{link}").exists():
        return False
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if lab_dir not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                continue
            for fd in os.listdir(f"/proc/{pid}/fdinfo"):
                if f"iff:\t{link}\n" in Path(f"/proc/{pid}/fdinfo/{fd}").read_text():
                    return True
        except OSError:
            continue
    return not any(p.isdigit() and _holds(p, link) for p in os.listdir("/proc"))


def _holds(pid: str, link: str) -> bool:
    try:
        return any(f"iff:\t{link}\n" in Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
                   for fd in os.listdir(f"/proc/{pid}/fdinfo"))
    except OSError:
        return False


@pytest.fixture
def host_snapshot():
    """Call with the lab folder before bringing a lab up; .leftovers(slot) afterwards."""
    _require_root()
    return HostSnapshot
