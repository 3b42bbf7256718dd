"""The lab's life cycle: up (boot, build, daemons, verify, fault), status, exec and down."""

from __future__ import annotations

import fcntl
import ipaddress
import json
import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

from pyroute2 import IPRoute

from . import boot, daemons, faults, inventory, observe, proposals, topology
from .agent_client import AgentClient, ExecResult
from .config import AGENT_PORT, SLOTS, LabConfig, LabError
from .daemons import GUEST_RUN, Settings
from .spec import TunnelSpec
from .topology import Tunnel

GENERATED_FILES = ("state.json", "inventory.yml", "ansible.cfg", "agent.token", "agent.ready", "agent.log",
                   "console.log")
GENERATED_DIRS = ("gw", "keys", "uml", "guestroot", "ssh-cp", "ansible-tmp")
STATE_VERSION = 1


def _other(side: str) -> str:
    return "left" if side == "right" else "right"


class Lab:
    def __init__(self, cfg: LabConfig | None = None, log: Callable[[str], None] | None = None) -> None:
        self.cfg = cfg or LabConfig.from_env()
        self._log = log or (lambda msg: None)
        self._t0 = time.monotonic()
        try:
            state = self.state()
        except LabError:
            state = None
        if state and isinstance(state.get("slot"), int):
            self.cfg = self.cfg.with_slot(state["slot"])  # a running lab keeps the slot it got

    def log(self, msg: str) -> None:
        self._log(f"[lab {time.monotonic() - self._t0:6.1f}s] {msg}")

    # ---- state ----------------------------------------------------------------------------------

    def state(self) -> dict | None:
        try:
            return json.loads(self.cfg.state_file.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise LabError(f"cannot read {self.cfg.state_file}: {exc}") from None

    def _write_state(self, state: dict) -> None:
        tmp = self.cfg.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        tmp.chmod(0o600)
        tmp.replace(self.cfg.state_file)

    def is_up(self) -> bool:
        state = self.state()
        return bool(state and state.get("pgid") and boot.alive(state["pgid"]))

    def _require_up(self) -> dict:
        state = self.state()
        if not state or not state.get("pgid") or not boot.alive(state["pgid"]):
            raise LabError(f"no lab is up in {self.cfg.lab_dir} (start one with `python -m lab up`)")
        return state

    def agent(self, state: dict | None = None) -> AgentClient:
        state = state or self._require_up()
        return AgentClient(state["agent"]["host"], state["agent"]["port"], self.cfg.token_file.read_text().strip())

    def tunnels(self, state: dict | None = None) -> list[Tunnel]:
        state = state or self._require_up()
        return topology.plan([TunnelSpec(**s) for s in state["specs"]], self.cfg)

    def record_command(self, pid: int) -> None:
        """`lab run`'s command, for the guard to stop if `lab run` itself is killed."""
        state = self._require_up()
        state["command"] = {"pid": pid, "start": process_start(pid)}
        self._write_state(state)

    def mark_detached(self) -> None:
        """The lab outlives the process that brought it up (plain `lab up`)."""
        state = self._require_up()
        state["detached"] = True
        self._write_state(state)

    # ---- up -------------------------------------------------------------------------------------

    def up(self, specs: list[TunnelSpec], *, mode: str | None = None, keep_on_failure: bool = False,
           mem_mb: int | None = None, slot_wait: float | None = None) -> dict:
        """Bring the lab up (see README.md). slot_wait: seconds to wait for a busy slot (default
        $ND_LAB_SLOT_WAIT, else 0)."""
        specs = [s.resolved() for s in specs]
        self.cfg.lab_dir.mkdir(parents=True, exist_ok=True)
        with self._dir_lock():
            self._check_free()
            claim = self._claim_slot(slot_wait)
            try:
                return self._up(specs, mode, keep_on_failure, mem_mb)
            finally:
                claim.close()

    def _up(self, specs: list[TunnelSpec], mode: str | None, keep_on_failure: bool, mem_mb: int | None) -> dict:
        tunnels = topology.plan(specs, self.cfg)
        mode, why = boot.choose_mode(mode)
        self.log(f"mode {why}")
        self._clear_generated()
        settings = self._write_gateway_files(tunnels)
        state = {
            "version": STATE_VERSION, "status": "starting", "mode": mode, "slot": self.cfg.slot,
            "lab_dir": str(self.cfg.lab_dir), "owner_pid": os.getpid(), "detached": False, "pgid": None,
            "host_link": self.cfg.host_link, "agent": {"host": str(self.cfg.bridge_ip), "port": AGENT_PORT},
            "specs": [s.as_dict() for s in specs],
            "settings": _public_settings(settings), "tunnels": {}, "started": time.time(),
        }
        self._write_state(state)
        try:
            return self._boot_and_build(state, tunnels, settings, mode, mem_mb)
        except BaseException:
            if keep_on_failure:
                self.log("left the failed lab up for inspection; `python -m lab down` removes it")
            else:
                self._print_log_tails()
                self.down()
            raise

    def _boot_and_build(self, state: dict, tunnels: list[Tunnel], settings: dict, mode: str,
                        mem_mb: int | None) -> dict:
        cfg = self.cfg
        mem_mb = mem_mb or 320 + 40 * len(tunnels)
        pgid = boot.start(cfg, mode, mem_mb)
        state["pgid"] = pgid
        self._write_state(state)
        self.log(f"started the lab kernel ({mode}, mem {mem_mb}M, process group {pgid})")
        boot.connect_host_link(cfg, mode, pgid)
        agent = self.agent(state)
        agent.wait_ready(60)
        self.log(f"agent ready on {cfg.bridge_ip}")

        steps = topology.build_steps(tunnels) + [self._gateway_step(t, w) for t in tunnels for w in ("left", "right")]
        built = agent.call("build", steps=steps)
        self.log(f"topology built: {len(tunnels)} tunnel(s), {len(steps)} steps in {built['seconds']}s "
                 f"({', '.join(f'{k} {v}s' for k, v in built['per_kind'].items())})")
        self._parallel([lambda t=t: self._setup_router(agent, t) for t in tunnels])

        for t in tunnels:
            for s in t.sides:
                self._spawn_daemon(agent, s)
                agent.call("spawn", target=s.name, name="sshd",
                           argv=["/usr/sbin/sshd", "-D", "-e", "-f", str(cfg.gw_dir(s.name) / "sshd_config")],
                           log=str(cfg.gw_dir(s.name) / "log/sshd.log"))
        ready = [self._ready_path(s) for t in tunnels for s in t.sides]
        ready += [f"{GUEST_RUN}/{s.name}/run/sshd.pid" for t in tunnels for s in t.sides]
        missing = agent.call("wait_paths", paths=ready, timeout=60 + 3 * len(tunnels))["missing"]
        if missing:
            raise LabError(f"daemons did not start (missing {', '.join(missing)}); see {cfg.lab_dir}/gw/*/log/")
        self.log("daemons started (IKE + sshd on every gateway)")
        self._parallel([lambda t=t, w=w: self._load(agent, t, w, settings[t.letter][w])
                        for t in tunnels for w in ("left", "right")])

        results = self._parallel([lambda t=t: self._bring_up(agent, t, settings[t.letter]) for t in tunnels])
        state["tunnels"] = {t.letter: r for t, r in zip(tunnels, results)}
        state["settings"] = _public_settings(settings)
        self._write_state(state)

        self._check_ssh(tunnels)
        cfg.inventory.write_text(inventory.render(cfg, tunnels, settings))
        cfg.ansible_cfg.write_text(inventory.ansible_cfg(cfg))
        state["status"] = "up"
        state["up_seconds"] = round(time.monotonic() - self._t0, 1)
        self._write_state(state)
        self.log(f"lab up in {state['up_seconds']}s; inventory {cfg.inventory}")
        return state

    def _parallel(self, jobs: list[Callable]) -> list:
        """Run jobs concurrently: the lab has one CPU, but most of a tunnel's time is waiting."""
        if len(jobs) == 1:
            return [jobs[0]()]
        with ThreadPoolExecutor(len(jobs)) as pool:
            futures = [pool.submit(job) for job in jobs]
            return [f.result() for f in futures]

    # ---- preparation (host side, before boot) ---------------------------------------------------

    @contextmanager
    def _dir_lock(self):
        with open(self.cfg.lab_dir / ".lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LabError(f"another `lab up` is running in {self.cfg.lab_dir}") from None
            yield

    def _check_free(self) -> None:
        cfg = self.cfg
        state = self.state()
        if state and state.get("pgid") and boot.alive(state["pgid"]):
            raise LabError(f"a lab is already up in {cfg.lab_dir} (process group {state['pgid']}, slot "
                           f"{state['slot']}): run `python -m lab down` first, or use another ND_LAB_DIR")
        if state:
            self.log("removing the remains of a lab that is no longer running")
            self.down()

    def _claim_slot(self, wait: float | None = None) -> socket.socket:
        """Pick the slot (ND_LAB_SLOT, or the first free one for `auto`) and hold it while booting.

        The claim is an abstract unix socket (no file, gone with the process); once the lab runs,
        its host interface ndlab<slot> marks the slot as taken. ND_LAB_SLOT_WAIT=seconds waits
        that long for a busy slot to become free."""
        if wait is None:
            wait = float(os.environ.get("ND_LAB_SLOT_WAIT", "0") or 0)
        deadline = time.monotonic() + wait
        while True:
            try:
                return self._try_claim()
            except LabError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(2)

    def _try_claim(self) -> socket.socket:
        candidates = [self.cfg.slot] if self.cfg.slot is not None else list(SLOTS)
        reasons = []
        for slot in candidates:
            cfg = self.cfg.with_slot(slot)
            why = _slot_busy(cfg)
            if why:
                reasons.append(f"slot {slot}: {why}")
                continue
            claim = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                claim.bind(f"\0netdoctor-lab-slot-{slot}")
            except OSError:
                claim.close()
                reasons.append(f"slot {slot}: another `lab up` is starting on it")
                continue
            self.cfg = cfg
            return claim
        hint = "choose another ND_LAB_SLOT (0..3) or ND_LAB_SLOT=auto" if self.cfg.slot is not None else \
            "stop one of those labs"
        raise LabError(f"no free lab slot: {'; '.join(reasons)}; {hint}")

    def _clear_generated(self) -> None:
        for name in GENERATED_FILES:
            (self.cfg.lab_dir / name).unlink(missing_ok=True)
        for name in GENERATED_DIRS:
            path = self.cfg.lab_dir / name
            if path.exists():
                if _mounted_under(path):
                    raise LabError(f"{path} still has mounts on it; not touching it")
                shutil.rmtree(path)

    def _write_gateway_files(self, tunnels: list[Tunnel]) -> dict[str, dict[str, Settings]]:
        cfg = self.cfg
        keys = cfg.lab_dir / "keys"
        keys.mkdir(mode=0o700)
        for path, comment in ((cfg.ssh_key, "netdoctor-lab"), (cfg.host_key, "netdoctor-lab-host")):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                           check=True, stdin=subprocess.DEVNULL)
        shutil.copy(f"{cfg.ssh_key}.pub", keys / "authorized_keys")
        cfg.token_file.write_text(secrets.token_hex(16) + "\n")
        cfg.token_file.chmod(0o600)
        settings = {}
        for t in tunnels:
            psk = secrets.token_urlsafe(18).replace("-", "x").replace("_", "y")
            settings[t.letter] = {w: self._base_settings(t, w, psk) for w in ("left", "right")}
            for s in t.sides:
                gw = cfg.gw_dir(s.name)
                (gw / "log").mkdir(parents=True)
                daemon = daemons.DAEMONS[s.daemon]
                daemons.write_files(gw, daemon.files(settings[t.letter][s.side]))
                (gw / "sshd_config").write_text(_sshd_config(cfg, s.mgmt_ip))
                if s.daemon == "libreswan":
                    _init_nss(gw / "nss")
        return settings

    @staticmethod
    def _base_settings(t: Tunnel, which: str, psk: str) -> Settings:
        side, peer = t.side(which), t.peer_of(which)
        on_link = ipaddress.IPv4Address(side.peer_address) in ipaddress.IPv4Interface(side.wan_address).network
        return Settings(conn=t.connection, ike_version=t.spec.ike_version, ike=t.spec.ike, esp=t.spec.esp, psk=psk,
                        local_id=side.ike_id, remote_id=peer.ike_id, local_addr=side.local_address,
                        remote_addr=side.peer_address, local_ts=side.lan_net, remote_ts=peer.lan_net,
                        sourceip=side.inside_address, nexthop=None if on_link else side.nexthop,
                        sha256_96=t.spec.sha256_96)

    def _gateway_step(self, t: Tunnel, which: str) -> dict:
        s = t.side(which)
        gw, run = self.cfg.gw_dir(s.name), f"{GUEST_RUN}/{s.name}"
        daemon = daemons.DAEMONS[s.daemon]
        binds = [(str(gw / "etc" / entry), f"/etc/{entry}") for entry in daemon.etc_binds()]
        binds += daemon.extra_binds(gw, self.cfg.libreswan_root)
        binds += [(str(gw / "log"), "/var/log"), (f"{run}/run", "/run")]  # /run last: its source is under /run
        dirs = [f"{run}/run/sshd", f"{run}/run/pluto"]
        return {"do": "gateway", "name": s.name, "hostname": s.name.replace("_", "-"), "binds": binds,
                "dirs": dirs}

    # ---- daemons and tunnels (inside the lab) ---------------------------------------------------

    def _ready_path(self, s: topology.Side) -> str:
        return f"{GUEST_RUN}/{s.name}/run/{daemons.DAEMONS[s.daemon].ready_file}"

    def _spawn_daemon(self, agent: AgentClient, s: topology.Side) -> None:
        daemon = daemons.DAEMONS[s.daemon]
        agent.call("spawn", target=s.name, name="ike", argv=daemon.start_argv(),
                   log=str(self.cfg.gw_dir(s.name) / f"log/{daemon.name}.out"))

    def _load(self, agent: AgentClient, t: Tunnel, which: str, s: Settings) -> None:
        side = t.side(which)
        res = agent.exec(side.name, daemons.DAEMONS[side.daemon].load_argv(s), timeout=60)
        if not res.ok:
            raise LabError(f"{side.name}: loading the {side.daemon} configuration failed: {res.out}{res.err}")

    def _setup_router(self, agent: AgentClient, t: Tunnel) -> None:
        res = agent.exec(t.router, ["iptables-legacy-restore"], input=observe.router_rules(t).encode(), timeout=60)
        if not res.ok:
            raise LabError(f"{t.router}: iptables-legacy-restore failed: {res.err}")

    def _running(self, agent: AgentClient) -> dict[str, bool]:
        return {d["target"]: d["running"] for d in agent.call("daemons")["daemons"] if d["name"] == "ike"}

    def _wait_sas(self, agent: AgentClient, t: Tunnel, want: str, timeout: float) -> bool:
        """Wait until both sides' IKE and CHILD SAs are all `want` (up|down)."""
        deadline = time.monotonic() + timeout
        while True:
            states = observe.sa_states(agent, t, self._running_sides(agent, t), full=False)
            if all(states[w]["ike_sa"] == want and states[w]["child_sa"] == want for w in ("left", "right")):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)

    def _initiate(self, agent: AgentClient, t: Tunnel, settings: dict[str, Settings], timeout: int) -> bool:
        """Initiate from the initiator side and wait until it succeeded, failed or timed out (a
        fault in the way: IKE dropped, say). Under load, UML needs several seconds per exchange."""
        which = t.spec.initiator
        side = t.side(which)
        daemon = daemons.DAEMONS[side.daemon]
        res = agent.exec(side.name, daemon.initiate_argv(settings[which], timeout), timeout=timeout + 3)
        return res.ok and not res.timed_out

    def _terminate(self, agent: AgentClient, t: Tunnel, settings: dict[str, Settings]) -> None:
        for which in (t.spec.initiator, _other(t.spec.initiator)):
            side = t.side(which)
            agent.exec(side.name, daemons.DAEMONS[side.daemon].terminate_argv(settings[which]), timeout=30)
            if self._wait_sas(agent, t, "down", 4):
                return
        raise LabError(f"tunnel {t.letter}: the SAs did not go away after terminating them on both sides")

    def _bring_up(self, agent: AgentClient, t: Tunnel, settings: dict[str, Settings]) -> dict:
        """Establish, verify the healthy baseline, apply the fault, observe."""
        fault_side = t.spec.fault_side or "right"
        problems: list[str] = []
        for attempt in (1, 2):
            if attempt == 2:
                self.log(f"tunnel {t.letter}: baseline failed ({'; '.join(problems)}); re-establishing once")
                self._terminate(agent, t, settings)
            self._initiate(agent, t, settings, timeout=30)
            baseline = observe.observe(agent, t, self._running_sides(agent, t), fault_side)
            problems = faults.mismatches(faults.HEALTHY_EXPECT, baseline)
            if not problems:
                break
        else:
            raise LabError(f"tunnel {t.letter} ({t.spec.left} <-> {t.spec.right}): the healthy baseline failed: "
                           + "; ".join(problems))
        self.log(f"tunnel {t.letter}: healthy baseline verified ({t.spec.left} <-> {t.spec.right}, "
                 f"ESP {baseline['esp']['left_to_right']}/{baseline['esp']['right_to_left']} packets)")
        result = {"baseline": baseline, "fault": t.spec.fault, "fault_side": t.spec.fault_side}
        if t.spec.fault is None:
            result.update(observed=baseline, expected=faults.HEALTHY_EXPECT, mismatches=[])
            return result
        fault = faults.get(t.spec.fault)
        if fault.kind != "topology":
            self._apply_fault(agent, t, settings, fault)
        observed = observe.observe(agent, t, self._running_sides(agent, t), fault_side,
                                   probe_from_fault=fault.probe == "from_fault")
        result.update(observed=observed, expected=fault.expect, mismatches=faults.mismatches(fault.expect, observed))
        self.log(f"tunnel {t.letter}: fault {fault.name} on the {fault_side} side applied; "
                 + ("the documented state is observed" if not result["mismatches"]
                    else "NOT the documented state: " + "; ".join(result["mismatches"])))
        return result

    def _running_sides(self, agent: AgentClient, t: Tunnel) -> dict[str, bool]:
        running = self._running(agent)
        return {w: running.get(t.side(w).name, False) for w in ("left", "right")}

    def _apply_fault(self, agent: AgentClient, t: Tunnel, settings: dict[str, Settings], fault: faults.Fault) -> None:
        which = t.spec.fault_side
        side, peer = t.side(which), t.peer_of(which)
        daemon = daemons.DAEMONS[side.daemon]
        if fault.needs_reestablish:
            self._terminate(agent, t, settings)
        if fault.kind == "config":
            settings[which] = _faulty(settings[which], fault, t, which)
            self._stop_daemon(agent, side)
            agent.call("write_files", files=daemons.file_items(self.cfg.gw_dir(side.name),
                                                               daemon.files(settings[which])))
            self._spawn_daemon(agent, side)
            missing = agent.call("wait_paths", paths=[self._ready_path(side)], timeout=30)["missing"]
            if missing:
                raise LabError(f"{side.name}: the {side.daemon} daemon did not restart with the fault applied")
            self._load(agent, t, which, settings[which])
        elif fault.kind == "firewall":
            for rule in fault.apply["firewall"]:
                args = shlex.split(rule.format(wan=topology.WAN_IF, local_lan=side.lan_net, remote_lan=peer.lan_net))
                res = agent.exec(side.name, ["iptables-legacy", *args], timeout=30)
                if not res.ok:
                    raise LabError(f"{side.name}: iptables-legacy {' '.join(args)} failed: {res.err.strip()}")
        elif fault.kind == "route":
            argv = ["ip", "route", "del", peer.lan_net, "table", daemon.route_table]
            res = agent.exec(side.name, argv, timeout=30)
            if not res.ok:
                raise LabError(f"{side.name}: {' '.join(argv)} failed: {res.err.strip()}")
        elif fault.kind == "daemon":
            self._stop_daemon(agent, side)
        if fault.needs_reestablish:
            self._initiate(agent, t, settings, timeout=20)

    def _stop_daemon(self, agent: AgentClient, side: topology.Side) -> None:
        daemon = daemons.DAEMONS[side.daemon]
        stop = daemon.stop_argv()
        if stop:
            agent.exec(side.name, stop, timeout=30)
        agent.call("signal", target=side.name, name="ike", wait=10)
        agent.exec(side.name, ["rm", "-f", f"/run/{daemon.ready_file}"], timeout=20)

    def _check_ssh(self, tunnels: list[Tunnel]) -> None:
        """Every gateway's sshd answers from the host; one real key login proves the rest of the path."""
        deadline = time.monotonic() + 30
        pending = [s.mgmt_ip for t in tunnels for s in t.sides]
        while pending:
            pending = [ip for ip in pending if not _ssh_banner(ip)]
            if pending and time.monotonic() > deadline:
                raise LabError(f"sshd does not answer on {', '.join(pending)} from the host")
            if pending:
                time.sleep(0.3)
        first = tunnels[0].left
        res = self.ssh(first.name, "true", mgmt_ip=first.mgmt_ip)
        if res.returncode != 0:
            raise LabError(f"ssh root@{first.mgmt_ip} (key {self.cfg.ssh_key}) failed: {res.stderr.strip()}")
        self.log("sshd answers on every gateway; key login from the host works")

    def ssh(self, gateway: str, command: str, mgmt_ip: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
        if mgmt_ip is None:
            mgmt_ip = next(s.mgmt_ip for t in self.tunnels() for s in t.sides if s.name == gateway)
        argv = ["ssh", "-i", str(self.cfg.ssh_key), "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
                *inventory.SSH_COMMON_ARGS.split(), f"root@{mgmt_ip}", command]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                              check=False)

    # ---- status, exec ---------------------------------------------------------------------------

    def status(self, probe: bool = True) -> dict:
        """The recorded state; with probe, every tunnel observed again now (under "live")."""
        state = self._require_up()
        if not probe or state.get("status") != "up":
            return state
        agent = self.agent(state)
        tunnels = self.tunnels(state)
        live = self._parallel([lambda t=t: self._observe_now(agent, t) for t in tunnels])
        return {**state, "live": {t.letter: r for t, r in zip(tunnels, live)}}

    def observe(self, letter: str) -> dict:
        """Observe one tunnel now: SA states, probes, WAN counters, and the check against the catalogue."""
        state = self._require_up()
        for t in self.tunnels(state):
            if t.letter == letter:
                return self._observe_now(self.agent(state), t)
        raise LabError(f"no tunnel {letter!r} in this lab")

    def _observe_now(self, agent: AgentClient, t: Tunnel) -> dict:
        fault = faults.get(t.spec.fault) if t.spec.fault else None
        observed = observe.observe(agent, t, self._running_sides(agent, t), t.spec.fault_side,
                                   probe_from_fault=bool(fault and fault.probe == "from_fault"))
        expected = fault.expect if fault else faults.HEALTHY_EXPECT
        return {"fault": t.spec.fault, "fault_side": t.spec.fault_side, "observed": observed,
                "expected": expected, "mismatches": faults.mismatches(expected, observed)}

    def psks(self) -> dict[str, dict[str, str]]:
        """Each tunnel's pre-shared key per side, read from the gateways' own configuration. For
        tests that check that no secret leaks anywhere; the lab itself never stores or prints them."""
        state = self._require_up()
        agent = self.agent(state)
        found: dict[str, dict[str, str]] = {}
        for t in self.tunnels(state):
            for s in t.sides:
                path = "/etc/swanctl/swanctl.conf" if s.daemon == "strongswan" else "/etc/ipsec.secrets"
                m = re.search(r'secret = "([^"]*)"|PSK "([^"]*)"', agent.exec(s.name, ["cat", path]).out)
                if m is None:
                    raise LabError(f"{s.name}: no pre-shared key in {path}")
                found.setdefault(t.letter, {})[s.side] = m.group(1) or m.group(2)
        return found

    def targets(self, state: dict | None = None) -> list[str]:
        names = ["guest"]
        for t in self.tunnels(state):
            names += [t.left.name, t.right.name, t.left.host_ns, t.right.host_ns, t.router]
        return names

    def exec(self, target: str, argv: list[str], **kwargs) -> ExecResult:
        state = self._require_up()
        if target not in self.targets(state):
            raise LabError(f"unknown lab target {target!r}; targets: {', '.join(self.targets(state))}")
        return self.agent(state).exec(target, argv, **kwargs)

    # ---- down -----------------------------------------------------------------------------------

    def down(self) -> dict:
        """Remove the lab: its processes, host link, SSH masters and generated files."""
        cfg = self.cfg
        report: dict = {"killed": None, "survivors": [], "removed": []}
        state = self.state()
        if state and state.get("pgid"):
            report["killed"] = state["pgid"]
            report["survivors"] = boot.kill(state["pgid"])
            if report["survivors"]:
                raise LabError(f"lab processes survived SIGKILL: {report['survivors']}")
        self._stop_ssh_masters()
        if state and Path(f"/sys/class/net/{cfg.host_link}").exists():
            deadline = time.monotonic() + 5  # the kernel drops the TAP/veth once its owner is gone
            while Path(f"/sys/class/net/{cfg.host_link}").exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            if Path(f"/sys/class/net/{cfg.host_link}").exists() and state.get("mode") == "native":
                with IPRoute() as ipr:
                    ipr.link("del", ifname=cfg.host_link)
        if cfg.lab_dir.exists():
            for name in GENERATED_FILES + GENERATED_DIRS:
                path = cfg.lab_dir / name
                if path.is_dir() and not _mounted_under(path):
                    shutil.rmtree(path, ignore_errors=True)
                    report["removed"].append(name)
                elif path.exists() and not path.is_dir():
                    path.unlink()
                    report["removed"].append(name)
            (cfg.lab_dir / ".lock").unlink(missing_ok=True)
            if cfg.lab_dir == cfg.repo / ".lab" and not any(cfg.lab_dir.iterdir()):
                cfg.lab_dir.rmdir()
        return report

    def _stop_ssh_masters(self) -> None:
        cp = self.cfg.lab_dir / "ssh-cp"
        if not cp.is_dir():
            return
        for sock in cp.iterdir():
            subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "lab"], capture_output=True,
                           timeout=10, stdin=subprocess.DEVNULL, check=False)

    def _print_log_tails(self) -> None:
        for name in ("console.log", "agent.log"):
            path = self.cfg.lab_dir / name
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-15:]
                self.log(f"last lines of {name}:\n    " + "\n    ".join(tail))


def _public_settings(settings: dict[str, dict[str, Settings]]) -> dict:
    """The daemons' settings for state.json and status output: everything but the PSK, which
    exists only in the gateways' own configuration files (0600, in the lab folder)."""
    return {letter: {w: {k: v for k, v in vars(s).items() if k != "psk"} for w, s in sides.items()}
            for letter, sides in settings.items()}


def _faulty(s: Settings, fault: faults.Fault, t: Tunnel, which: str) -> Settings:
    changes = {}
    for key, value in fault.apply["config"].items():
        if value == "other":
            value = {
                "ike": lambda: proposals.disjoint(proposals.parse(s.ike, "IKE"), "IKE"),
                "esp": lambda: proposals.disjoint(proposals.parse(s.esp, "ESP"), "ESP"),
                "psk": lambda: secrets.token_urlsafe(18).replace("-", "x").replace("_", "y"),
                "local_id": lambda: f"{t.letter}-{which}.wrong.lab",
                "remote_ts": lambda: f"10.{t.index + 1}.99.0/24",
            }[key]()
        changes[key] = value
    return s.replace(**changes)


def _sshd_config(cfg: LabConfig, address: str) -> str:
    return f"""# netdoctor lab gateway sshd (runs inside the gateway's namespaces)
ListenAddress {address}
HostKey {cfg.host_key}
AuthorizedKeysFile {cfg.lab_dir / 'keys/authorized_keys'}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
PidFile /run/sshd.pid
Subsystem sftp internal-sftp
"""


def _init_nss(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["certutil", "-N", "-d", f"sql:{path}", "--empty-password"], capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, check=False)
    if res.returncode != 0:
        raise LabError(f"certutil (libnss3-tools) could not create libreswan's NSS database: {res.stderr.strip()}")


def process_start(pid: int) -> str | None:
    """A process's start time (field 22 of /proc/PID/stat), to tell it from a reused PID."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _slot_busy(cfg: LabConfig) -> str | None:
    """Why the slot cannot be used now, or None."""
    if Path(f"/sys/class/net/{cfg.host_link}").exists():
        return f"the host interface {cfg.host_link} exists (another lab uses the slot)"
    with IPRoute() as ipr:
        for route in ipr.get_routes(family=socket.AF_INET):
            dst = route.get_attr("RTA_DST")
            if dst is None or route["dst_len"] == 0:
                continue
            net = ipaddress.IPv4Network(f"{dst}/{route['dst_len']}", strict=False)
            if net.overlaps(cfg.mgmt_net):
                links = ipr.get_links(route.get_attr("RTA_OIF"))
                dev = links[0].get_attr("IFLA_IFNAME") if links else "?"
                return f"its management subnet {cfg.mgmt_net} overlaps {net} on host interface {dev}"
    return None


def _ssh_banner(ip: str) -> bool:
    try:
        with socket.create_connection((ip, 22), timeout=2) as s:
            return s.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def _mounted_under(path: Path) -> bool:
    prefix = str(path.resolve())
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == prefix or line.split()[1].startswith(prefix + "/") for line in f)
