"""`python -m lab up|down|status|exec|run|faults`: the command line of the lab."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time

from . import faults
from .config import LabConfig, LabError
from .core import Lab, process_start
from .spec import TunnelSpec, load_specs


class Terminated(BaseException):
    """SIGTERM/SIGHUP, raised like KeyboardInterrupt so that every cleanup path runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum, frame):
    raise Terminated(signum)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _add_up_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tunnels", type=int, default=1, metavar="N", help="number of identical tunnels (default 1)")
    p.add_argument("--left", default="strongswan", choices=("strongswan", "libreswan"))
    p.add_argument("--right", default="strongswan", choices=("strongswan", "libreswan"))
    p.add_argument("--initiator", default="left", choices=("left", "right"))
    p.add_argument("--fault", help="break every tunnel this way (see `python -m lab faults`)")
    p.add_argument("--fault-side", choices=("left", "right"), help="side the fault is applied to (default: right)")
    p.add_argument("--ike", default=TunnelSpec.ike, help=f"IKE proposal (default {TunnelSpec.ike})")
    p.add_argument("--esp", default=TunnelSpec.esp, help=f"ESP proposal (default {TunnelSpec.esp})")
    p.add_argument("--ike-version", type=int, default=2, choices=(1, 2))
    p.add_argument("--sha256-96", action="store_true", help="both sides truncate HMAC-SHA-256 to 96 bits")
    p.add_argument("--spec", help="YAML file with a list of tunnel dicts (overrides the options above)")
    p.add_argument("--mode", choices=("auto", "uml", "native"), help="default: $ND_LAB_MODE or auto")
    p.add_argument("--mem", type=int, metavar="MB", help="UML memory (default 320 + 40 per tunnel)")
    p.add_argument("--keep-on-failure", action="store_true", help="leave a failed lab up for inspection")


def _specs(args) -> list[TunnelSpec]:
    if args.spec:
        return load_specs(args.spec)
    if args.tunnels < 1:
        raise LabError("--tunnels must be at least 1")
    one = TunnelSpec.from_dict({
        "left": args.left, "right": args.right, "initiator": args.initiator, "fault": args.fault,
        "fault_side": args.fault_side, "ike": args.ike, "esp": args.esp, "ike_version": args.ike_version,
        "sha256_96": args.sha256_96,
    })
    return [one] * args.tunnels


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lab", description="The netdoctor two-gateway IPsec lab.")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="bring a lab up (and leave it running)")
    _add_up_options(up)
    sub.add_parser("down", help="remove the lab: processes, host link, generated files")
    st = sub.add_parser("status", help="the lab's tunnels as observed now")
    st.add_argument("--json", action="store_true")
    st.add_argument("--no-probe", action="store_true", help="print the recorded state without probing")
    ex = sub.add_parser("exec", help="run a command on a gateway, inner host, router or 'guest'")
    ex.add_argument("target")
    ex.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD")
    run = sub.add_parser("run", help="lab up, run CMD, lab down (always); exit with CMD's status")
    _add_up_options(run)
    run.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD")
    sub.add_parser("faults", help="list the fault catalogue")
    guard = sub.add_parser("_guard", help=argparse.SUPPRESS)
    guard.add_argument("owner", type=int)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_terminated)
    signal.signal(signal.SIGHUP, _raise_terminated)
    try:
        return COMMANDS[args.command](args)
    except LabError as exc:
        _log(f"lab: error: {exc}")
        return 2
    except KeyboardInterrupt:
        _log("lab: interrupted")
        return 130
    except Terminated as exc:
        _log(f"lab: terminated by signal {exc.signum}")
        return 128 + exc.signum


def cmd_up(args) -> int:
    lab = Lab(log=_log)
    specs = _specs(args)
    guard = _start_guard(lab.cfg)
    try:
        state = lab.up(specs, mode=args.mode, keep_on_failure=args.keep_on_failure, mem_mb=args.mem)
        lab.mark_detached()
    finally:
        _stop_guard(guard)
    _print_summary(state)
    return 0


def cmd_down(args) -> int:
    lab = Lab(log=_log)
    report = lab.down()
    _log(f"lab down: {'killed process group ' + str(report['killed']) if report['killed'] else 'no lab was running'}"
         f"; removed {len(report['removed'])} generated item(s) from {lab.cfg.lab_dir}")
    return 0


def cmd_status(args) -> int:
    state = Lab(log=_log).status(probe=not args.no_probe)
    if args.json:
        print(json.dumps(state, indent=1))
    else:
        _print_summary(state)
    return 0


def cmd_exec(args) -> int:
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        raise LabError("usage: python -m lab exec TARGET -- CMD [ARGS...]")

    def forward(fd: int, data: bytes) -> None:
        stream = sys.stdout.buffer if fd == 1 else sys.stderr.buffer
        stream.write(data)
        stream.flush()

    res = Lab().exec(args.target, argv, on_output=forward, timeout=None)
    return res.rc


def cmd_run(args) -> int:
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        raise LabError("usage: python -m lab run [up options] -- CMD [ARGS...]")
    lab = Lab(log=_log)
    specs = _specs(args)
    guard = _start_guard(lab.cfg)
    child = None
    try:
        lab.up(specs, mode=args.mode, mem_mb=args.mem)
        env = {**os.environ, "ND_LAB_DIR": str(lab.cfg.lab_dir), "ND_LAB_SLOT": str(lab.cfg.slot),
               "ND_LAB_INVENTORY": str(lab.cfg.inventory)}
        child = subprocess.Popen(argv, env=env)
        lab.record_command(child.pid)
        _log(f"lab run: {' '.join(argv)}")
        rc = child.wait()
        _log(f"lab run: command exited with status {rc}")
        return rc if rc >= 0 else 128 - rc
    except (KeyboardInterrupt, Terminated) as exc:
        if child is not None and child.poll() is None:
            child.send_signal(exc.signum if isinstance(exc, Terminated) else signal.SIGINT)
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        raise
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the teardown itself must not be interrupted
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            lab.down()
            _log("lab run: lab removed")
        finally:
            _stop_guard(guard)


def cmd_faults(args) -> int:
    for name, fault in faults.catalogue().items():
        print(f"{name:13} {fault.finding:15} {fault.title}")
    return 0


def cmd_guard(args) -> int:
    """Watch the `lab up`/`lab run` process; if it dies without finishing (SIGKILL), remove its lab."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        fd = os.pidfd_open(args.owner)
    except ProcessLookupError:
        fd = None
    if fd is not None:
        import select
        select.select([fd], [], [])
        os.close(fd)
    lab = Lab()
    try:
        state = lab.state()
    except LabError:
        return 0
    if state and state.get("owner_pid") == args.owner and not state.get("detached"):
        command = state.get("command")
        if command:
            _stop_process(command["pid"], command["start"])
        lab.down()
    return 0


def _stop_process(pid: int, start: str) -> None:
    """Stop `lab run`'s command (if pid is still that process: its start time matches)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process_start(pid) != start:
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        for _attempt in range(50):
            if process_start(pid) != start:
                return
            time.sleep(0.1)


def _start_guard(cfg: LabConfig) -> subprocess.Popen:
    env = {**os.environ, "ND_LAB_DIR": str(cfg.lab_dir)}  # the slot comes from the lab's state file
    return subprocess.Popen([sys.executable, "-m", "lab", "_guard", str(os.getpid())], env=env, cwd=str(cfg.repo),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def _stop_guard(guard: subprocess.Popen) -> None:
    guard.terminate()
    try:
        guard.wait(5)
    except subprocess.TimeoutExpired:
        guard.kill()
        guard.wait()


def _print_summary(state: dict) -> None:
    print(f"lab {state.get('status')} in {state['lab_dir']} (slot {state['slot']}, {state['mode']}); "
          f"inventory {state['lab_dir']}/inventory.yml")
    tunnels = state.get("live") or state.get("tunnels") or {}
    for letter, info in tunnels.items():
        obs = info["observed"]
        fault = f"{info['fault']} on {info['fault_side']}" if info.get("fault") else "healthy"
        verdict = "as documented" if not info["mismatches"] else "UNEXPECTED: " + "; ".join(info["mismatches"])
        print(f"  tunnel_{letter}: {fault:24} IKE {obs['ike_sa']['left']}/{obs['ike_sa']['right']} "
              f"CHILD {obs['child_sa']['left']}/{obs['child_sa']['right']} ping {obs['ping']} tcp {obs['tcp']} "
              f"ESP l>r {obs['esp']['left_to_right']} r>l {obs['esp']['right_to_left']}  [{verdict}]")


COMMANDS = {"up": cmd_up, "down": cmd_down, "status": cmd_status, "exec": cmd_exec, "run": cmd_run,
            "faults": cmd_faults, "_guard": cmd_guard}
