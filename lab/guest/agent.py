"""The lab agent: the one long-lived process inside the lab (UML guest or native lab namespace).

It builds the topology with netlink (pyroute2, no exec per step: an exec costs ~50 ms in UML),
starts the gateways' daemons inside their namespaces and runs commands for the host-side
driver (`lab/`), which talks to it over TCP on the management bridge. One JSON request per
connection, authenticated by a token the host wrote into the lab folder.

Stand-alone on purpose (standard library + pyroute2): it starts inside the guest, where every
import is slow, and must not pull in the host-side package.
"""

from __future__ import annotations

import base64
import ctypes
import json
import os
import select
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

# pyroute2 is imported in main(), after the zygote is forked (see Zygote): the zygote must stay small.
IPRoute = netns = None

LAB_DIR = os.environ["ND_LAB_DIR"]
NETNS_DIR = "/run/netns"
STATE_DIR = "/run/lab"
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)


def log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)


def _mount(src: str | None, dst: str, fstype: str | None, flags: int) -> None:
    if _libc.mount(src and src.encode(), dst.encode(), fstype and fstype.encode(), flags, None):
        err = ctypes.get_errno()
        raise OSError(err, f"mount {src} on {dst}: {os.strerror(err)}")


def _umount(path: str) -> None:
    if _libc.umount2(path.encode(), MNT_DETACH):
        err = ctypes.get_errno()
        raise OSError(err, f"umount {path}: {os.strerror(err)}")


class Namespaces:
    """Named network namespaces, each with a worker thread that lives inside it."""

    def __init__(self) -> None:
        self._workers: dict[str, ThreadPoolExecutor] = {}
        self._lock = threading.Lock()
        self.anchors: dict[str, int] = {}  # gateway -> pid holding its mount/uts namespaces
        self.kinds: dict[str, str] = {}

    def create(self, name: str, kind: str) -> None:
        def unshare_and_attach() -> None:
            os.unshare(os.CLONE_NEWNET)
            netns.attach(name, threading.get_native_id())

        if os.path.exists(f"{NETNS_DIR}/{name}"):
            raise RuntimeError(f"namespace {name} exists already")
        thread = threading.Thread(target=unshare_and_attach)
        thread.start()
        thread.join()
        if not os.path.exists(f"{NETNS_DIR}/{name}"):
            raise RuntimeError(f"could not create namespace {name}")
        self.kinds[name] = kind

    def run(self, name: str | None, fn, *args):
        """Run fn(*args) in namespace `name` (None: the lab's root namespace)."""
        if name is None:
            return fn(*args)
        with self._lock:
            worker = self._workers.get(name)
            if worker is None:
                worker = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix=f"ns-{name}", initializer=_enter_netns, initargs=(name,)
                )
                self._workers[name] = worker
        return worker.submit(fn, *args).result()

    def enter_argv(self, target: str, argv: list[str]) -> list[str]:
        """argv run inside `target` (gateway: its net, mount, UTS and PID namespaces; else its netns).

        Through nsenter rather than a preexec_fn: without one, Python can vfork, which spares
        copying the agent's page tables (~150 ms per command under UML).
        """
        if target == "guest":
            return argv
        if target in self.anchors:
            ns = f"/proc/{self.anchors[target]}/ns"
            return ["nsenter", f"--net={ns}/net", f"--uts={ns}/uts", f"--mount={ns}/mnt", f"--pid={ns}/pid", "--",
                    *argv]
        if target in self.kinds:
            return ["nsenter", f"--net={NETNS_DIR}/{target}", "--", *argv]
        raise KeyError(f"unknown target {target!r}")


_local = threading.local()


def _ipr() -> IPRoute:
    """This thread's netlink socket (a thread lives in one namespace; sockets stay bound to it)."""
    ipr = getattr(_local, "ipr", None)
    if ipr is None:
        ipr = _local.ipr = IPRoute()
    return ipr


def _enter_netns(name: str) -> None:
    fd = os.open(f"{NETNS_DIR}/{name}", os.O_RDONLY)
    try:
        os.setns(fd, os.CLONE_NEWNET)
    finally:
        os.close(fd)


class Zygote:
    """A small helper forked before the agent loads pyroute2 and starts threads. Starting a
    gateway needs a real fork (namespaces and mounts set up between fork and exec), and under
    UML forking the grown agent costs ~150 ms more than forking this."""

    def __init__(self) -> None:
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.lock = threading.Lock()
        self.pid = os.fork()
        if self.pid == 0:
            self.sock.close()
            try:
                _zygote_loop(theirs)
            finally:
                os._exit(0)
        theirs.close()

    def start_gateway(self, req: dict) -> int:
        with self.lock:
            self.sock.send(json.dumps(req).encode())
            reply = json.loads(self.sock.recv(65536))
        if "error" in reply:
            raise RuntimeError(f"starting the gateway namespaces failed: {reply['error']}")
        return reply["pid"]


def _zygote_loop(sock: socket.socket) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # no zombies of the short-lived middle children
    while True:
        data = sock.recv(65536)
        if not data:
            return
        req = json.loads(data)
        rfd, wfd = os.pipe()
        if os.fork() == 0:
            os.close(rfd)
            try:
                os.setsid()
                _enter_gateway(req["netns"], req["binds"], req["hostname"])
                init = os.fork()  # PID 1 of the gateway's PID namespace
                if init == 0:
                    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
                    os.execv("/bin/sh", ["sh", "-c", "while :; do sleep 3600; done"])  # the shell reaps orphans
                os.write(wfd, f"pid {init}".encode())
            except BaseException as exc:  # reported through the pipe
                os.write(wfd, f"{type(exc).__name__}: {exc}".encode())
            os._exit(0)
        os.close(wfd)
        answer = os.read(rfd, 4096).decode()
        os.close(rfd)
        sock.send(json.dumps({"pid": int(answer[4:])} if answer.startswith("pid ") else
                             {"error": answer or "no answer"}).encode())


def _enter_gateway(netns_path: str, binds: list, hostname: str) -> None:
    """In a fresh child: join the gateway's netns, then own mount/UTS/PID namespaces and binds."""
    fd = os.open(netns_path, os.O_RDONLY)
    os.setns(fd, os.CLONE_NEWNET)
    os.close(fd)
    os.unshare(os.CLONE_NEWNS | os.CLONE_NEWUTS | os.CLONE_NEWPID)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _umount("/sys")
    _mount("sysfs", "/sys", "sysfs", 0)  # shows this namespace's interfaces
    for src, dst in binds:
        _mount(src, dst, None, MS_BIND | MS_REC)
    socket.sethostname(hostname)
    os.chdir("/")


class Agent:
    def __init__(self, zygote: Zygote) -> None:
        self.zygote = zygote
        self.ns = Namespaces()
        self.daemons: dict[tuple[str, str], subprocess.Popen] = {}
        self.listeners: list[socket.socket] = []
        self.token = open(f"{LAB_DIR}/agent.token").read().strip()

    # ---- topology ---------------------------------------------------------------------------

    def op_build(self, req: dict) -> dict:
        """Apply a list of topology steps in order (see lab/topology.py for the producer)."""
        t0 = time.monotonic()
        per_kind: dict[str, float] = {}
        for step in req["steps"]:
            t1 = time.monotonic()
            getattr(self, f"_step_{step['do']}")(**{k: v for k, v in step.items() if k != "do"})
            per_kind[step["do"]] = per_kind.get(step["do"], 0.0) + time.monotonic() - t1
        return {"seconds": round(time.monotonic() - t0, 3), "per_kind": {k: round(v, 3) for k, v in per_kind.items()}}

    def _step_netns(self, name: str, kind: str) -> None:
        self.ns.create(name, kind)
        self.ns.run(name, _link_up, "lo")

    def _step_bridge(self, name: str, address: str, mac: str) -> None:
        with IPRoute() as ipr:
            ipr.link("add", ifname=name, kind="bridge", address=mac)
            idx = ipr.link_lookup(ifname=name)[0]
            addr, plen = address.split("/")
            ipr.addr("add", index=idx, address=addr, prefixlen=int(plen))
            ipr.link("set", index=idx, state="up")

    def _step_uplink(self, ifname: str, bridge: str, wait: float = 15.0) -> None:
        """Attach the host link (UML: eth0 = the host TAP; native: a veth the host moves in)."""
        deadline = time.monotonic() + wait
        with IPRoute() as ipr:
            while not ipr.link_lookup(ifname=ifname):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no {ifname}: the host link never arrived")
                time.sleep(0.1)
            idx = ipr.link_lookup(ifname=ifname)[0]
            br = ipr.link_lookup(ifname=bridge)[0]
            ipr.link("set", index=idx, master=br)
            ipr.link("set", index=idx, state="up")

    def _step_veth(self, ns1: str | None, if1: str, ns2: str | None, if2: str) -> None:
        def add() -> None:
            peer = {"ifname": if2}
            if ns2 is not None:
                peer["net_ns_fd"] = ns2
            _ipr().link("add", ifname=if1, kind="veth", peer=peer)

        self.ns.run(ns1, add)

    def _step_addr(self, ns: str | None, ifname: str, address: str) -> None:
        self.ns.run(ns, _add_address, ifname, address)

    def _step_master(self, ns: str | None, ifname: str, bridge: str) -> None:
        def attach() -> None:
            ipr = _ipr()
            ipr.link("set", index=ipr.link_lookup(ifname=ifname)[0], master=ipr.link_lookup(ifname=bridge)[0],
                     state="up")

        self.ns.run(ns, attach)

    def _step_up(self, ns: str | None, ifname: str) -> None:
        self.ns.run(ns, _link_up, ifname)

    def _step_route(self, ns: str | None, dst: str, via: str | None = None, dev: str | None = None) -> None:
        def add() -> None:
            ipr = _ipr()
            kwargs: dict = {"dst": dst}
            if via:
                kwargs["gateway"] = via
            if dev:
                kwargs["oif"] = ipr.link_lookup(ifname=dev)[0]
            ipr.route("add", **kwargs)

        self.ns.run(ns, add)

    def _step_sysctl(self, ns: str | None, key: str, value: str) -> None:
        def write() -> None:
            with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
                f.write(str(value))

        self.ns.run(ns, write)

    def _step_gateway(self, name: str, hostname: str, binds: list, dirs: list) -> None:
        """Give gateway `name` its own mount, UTS and PID namespaces, held by their PID 1."""
        for d in dirs:
            os.makedirs(d, exist_ok=True)
        for src, dst in binds:
            if not os.path.exists(src):
                raise RuntimeError(f"{name}: bind source {src} is missing")
            if not os.path.exists(dst):  # the lab's root is copy-on-write: this stays inside
                if os.path.isdir(src):
                    os.makedirs(dst, exist_ok=True)
                else:
                    os.makedirs(os.path.dirname(dst), exist_ok=True)
                    open(dst, "a").close()
        self.ns.anchors[name] = self.zygote.start_gateway(
            {"netns": f"{NETNS_DIR}/{name}", "binds": binds, "hostname": hostname})

    def _step_echo(self, ns: str, port: int) -> None:
        """A TCP echo service in namespace `ns`: the far end of the TCP probe."""
        def listen() -> socket.socket:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", port))
            sock.listen(16)
            return sock

        sock = self.ns.run(ns, listen)
        self.listeners.append(sock)
        threading.Thread(target=_serve_echo, args=(sock, ns), daemon=True).start()

    # ---- processes --------------------------------------------------------------------------

    def op_spawn(self, req: dict) -> dict:
        """Start a long-running process (a daemon) in a target's context."""
        key = (req["target"], req["name"])
        old = self.daemons.get(key)
        if old is not None and old.poll() is None:
            raise RuntimeError(f"{req['name']} already runs on {req['target']} (pid {old.pid})")
        argv = self.ns.enter_argv(req["target"], req["argv"])
        out = open(req["log"], "ab") if req.get("log") else subprocess.DEVNULL
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, env=_env(req), cwd="/")
        finally:
            if out is not subprocess.DEVNULL:
                out.close()
        self.daemons[key] = proc
        return {"pid": proc.pid}

    def op_signal(self, req: dict) -> dict:
        proc = self.daemons.get((req["target"], req["name"]))
        if proc is None or proc.poll() is not None:
            return {"running": False}
        os.killpg(proc.pid, req.get("signal", signal.SIGTERM))  # nsenter does not pass signals on
        try:
            proc.wait(req.get("wait", 10))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        return {"running": False, "returncode": proc.returncode}

    def op_daemons(self, req: dict) -> dict:
        return {"daemons": [{"target": t, "name": n, "pid": p.pid, "running": p.poll() is None}
                            for (t, n), p in self.daemons.items()]}

    def op_wait_paths(self, req: dict) -> dict:
        """Wait until every path exists (daemon sockets); report the ones that never came."""
        deadline = time.monotonic() + req.get("timeout", 20)
        missing = list(req["paths"])
        while missing and time.monotonic() < deadline:
            missing = [p for p in missing if not os.path.exists(p)]
            if missing:
                time.sleep(0.1)
        return {"missing": missing}

    def op_write_files(self, req: dict) -> dict:
        """Write files from inside the lab. Under UML the host must not change a file the guest may
        have cached (hostfs keeps serving the old page cache): later edits go through here."""
        for item in req["files"]:
            path = item["path"]
            if item.get("dir"):
                os.makedirs(path, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(base64.b64decode(item["data"]))
            os.chmod(path, item.get("mode", 0o644))
        return {"written": len(req["files"])}

    def op_tcp_probe(self, req: dict) -> dict:
        def probe() -> dict:
            t0 = time.monotonic()
            try:
                with socket.create_connection((req["host"], req["port"]), timeout=req.get("timeout", 3)) as s:
                    s.sendall(b"netdoctor-lab-probe\n")
                    data = s.recv(256)
                ok = data.startswith(b"netdoctor-lab-probe")
                return {"ok": ok, "seconds": round(time.monotonic() - t0, 3),
                        "error": None if ok else f"unexpected answer {data[:40]!r}"}
            except OSError as exc:
                return {"ok": False, "seconds": round(time.monotonic() - t0, 3), "error": str(exc)}

        return self.ns.run(req["target"], probe)

    def exec_streaming(self, req: dict, send, client: socket.socket) -> None:
        """Run a command, stream its output; kill it on timeout or when the client goes away."""
        argv = self.ns.enter_argv(req["target"], req["argv"])
        stdin = subprocess.PIPE if req.get("input") is not None else subprocess.DEVNULL
        try:
            proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True, env=_env(req), cwd="/")
        except (OSError, subprocess.SubprocessError) as exc:
            send({"error": f"cannot run {req['argv'][0]}: {exc}"})
            return
        if stdin is subprocess.PIPE:
            data = base64.b64decode(req["input"])
            threading.Thread(target=_feed, args=(proc.stdin, data), daemon=True).start()
        deadline = time.monotonic() + req["timeout"] if req.get("timeout") else None
        streams = {proc.stdout.fileno(): 1, proc.stderr.fileno(): 2}
        timed_out = gone = False
        try:
            while streams and not gone:
                wait = None if deadline is None else max(0.0, deadline - time.monotonic())
                ready = select.select([*streams, client], [], [], wait)[0]
                if not ready:
                    timed_out = True
                    break
                if client in ready and not client.recv(1, socket.MSG_PEEK):
                    gone = True
                for fd in ready:
                    if fd is client:
                        continue
                    chunk = os.read(fd, 65536)
                    if chunk:
                        send({"fd": streams[fd], "data": base64.b64encode(chunk).decode()})
                    else:
                        del streams[fd]
        except OSError:  # the client went away while we wrote to it
            gone = True
        finally:
            if timed_out or gone:
                _killpg(proc.pid)
            rc = proc.wait()
            proc.stdout.close()
            proc.stderr.close()
        if not gone:
            send({"rc": rc, "timed_out": timed_out})

    # ---- misc -------------------------------------------------------------------------------

    def op_ping(self, req: dict) -> dict:
        return {"pong": True, "pid": os.getpid()}

    def op_halt(self, req: dict) -> dict:
        threading.Timer(0.2, lambda: os._exit(0)).start()
        return {"halting": True}


def _env(req: dict) -> dict:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": "/root", "TERM": "dumb"}
    env.update(req.get("env") or {})
    return env


def _killpg(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _feed(pipe, data: bytes) -> None:
    try:
        pipe.write(data)
        pipe.close()
    except OSError:
        pass


def _link_up(ifname: str) -> None:
    ipr = _ipr()
    ipr.link("set", index=ipr.link_lookup(ifname=ifname)[0], state="up")


def _add_address(ifname: str, address: str) -> None:
    addr, plen = address.split("/")
    ipr = _ipr()
    idx = ipr.link_lookup(ifname=ifname)[0]
    ipr.addr("add", index=idx, address=addr, prefixlen=int(plen))
    ipr.link("set", index=idx, state="up")


def _serve_echo(sock: socket.socket, ns: str) -> None:
    while True:
        try:
            conn = sock.accept()[0]
        except OSError:
            return
        threading.Thread(target=_echo_once, args=(conn,), daemon=True).start()


def _echo_once(conn: socket.socket) -> None:
    with conn:
        conn.settimeout(5)
        try:
            data = conn.recv(256)
            conn.sendall(data)
        except OSError:
            pass


class Handler(socketserver.StreamRequestHandler):
    agent: Agent

    def handle(self) -> None:
        def send(obj: dict) -> None:
            self.wfile.write(json.dumps(obj).encode() + b"\n")
            self.wfile.flush()

        try:
            req = json.loads(self.rfile.readline())
        except ValueError:
            return
        if req.get("token") != self.agent.token:
            send({"error": "bad token"})
            return
        op = req.get("op", "")
        try:
            if op == "exec":
                self.agent.exec_streaming(req, send, self.connection)
            elif hasattr(self.agent, f"op_{op}"):
                send({"result": getattr(self.agent, f"op_{op}")(req)})
            else:
                send({"error": f"unknown op {op!r}"})
        except Exception as exc:  # reported to the host, which turns it into a clear message
            log(f"op {op} failed: {exc!r}")
            send({"error": f"{type(exc).__name__}: {exc}"})


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def main() -> int:
    zygote = Zygote()
    global IPRoute, netns
    from pyroute2 import IPRoute, netns  # noqa: F811  (after the zygote, see there)

    os.makedirs(NETNS_DIR, exist_ok=True)
    os.makedirs(STATE_DIR, exist_ok=True)
    agent = Agent(zygote)
    Handler.agent = agent
    bridge, address, mac = os.environ["ND_LAB_BRIDGE"], os.environ["ND_LAB_BRIDGE_ADDR"], os.environ["ND_LAB_BRIDGE_MAC"]
    agent._step_bridge(bridge, address, mac)
    agent._step_uplink(os.environ.get("ND_LAB_UPLINK", "eth0"), bridge)
    port = int(os.environ["ND_LAB_AGENT_PORT"])
    server = Server((address.split("/")[0], port), Handler)
    log(f"agent ready on {address} port {port}")
    with open(f"{LAB_DIR}/agent.ready", "w") as f:
        f.write(f"{os.getpid()}\n")
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
