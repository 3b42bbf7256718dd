# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""One bounded capture on a gateway, from plan to summary, that cannot outlive its bound.

Lifecycle (``Session.run``): fork a janitor, create the 0600 capture files, wait for the
controller's start instant, read /proc/net/xfrm_stat, start tcpdump (or the AF_PACKET capture) a
little ahead of the instant, run the probe inside the window, stop at the bound (duration, packet
count, total size), read xfrm_stat again, summarise, then keep or remove the files.

Why it cannot leak:
- tcpdump runs with PR_SET_PDEATHSIG: if the module process dies, even by SIGKILL, the kernel
  sends tcpdump SIGTERM.
- The janitor is a forked child in its own session (so a hang-up of the SSH session does not
  reach it) that holds the read end of a pipe from the module. It is forked before anything is
  created, and the module tells it each directory, file and capture process the moment it exists.
  EOF without a final "done" means the module died: the janitor kills the capture processes it
  was told about and removes the files and the directory. At the hard deadline it kills the
  captures whatever the module is doing.
- Creating the files is all or nothing: when one cannot be created (a name taken, a full disk),
  those already made are removed before the error is reported.
- The module watches its own stdout: when the controller has gone away (the reader of that pipe
  closed), it stops the capture and cleans up instead of running to the end. SIGTERM, SIGINT and
  SIGHUP do the same.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from ansible_collections.netdoctor.ipsec.plugins.module_utils import (
    _af_packet,
    _capture_filter,
    _capture_summary,
    _command,
    _probe,
    _xfrm_stat,
)

PR_SET_PDEATHSIG = 1
LEAD_TIME = 3.0
FLUSH_DELAY = 0.5
LISTEN_TIMEOUT = 10.0
STOP_TIMEOUT = 3.0
EXIT_GRACE = 1.0
HARD_GRACE = 15.0
TICK = 0.1
TCPDUMP_STATS = (
    ("captured", re.compile(r"(\d+) packets? captured")),
    ("received_by_filter", re.compile(r"(\d+) packets? received by filter")),
    ("dropped_by_kernel", re.compile(r"(\d+) packets? dropped by kernel")),
)


class Interrupted(Exception):
    """The run was interrupted (signal or lost controller); the capture is stopped and cleaned."""


class CaptureError(Exception):
    """The capture could not start (tcpdump refused the interface or the filter, ...)."""


def _poll_until(proc, deadline):
    """Wait (Python 2.7 has no ``wait(timeout)``) until ``proc`` has exited or ``deadline`` passes."""
    while proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)


def _pdeathsig():
    """preexec_fn: own process group, private files, and die with the module (best effort)."""
    os.setpgid(0, 0)
    os.umask(0o077)
    try:
        import ctypes  # pylint: disable=import-outside-toplevel

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except Exception:  # pylint: disable=broad-except
        pass


def _alive(pid):
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def remove_paths(paths, directory=None):
    """Remove capture files (and our own temporary directory); the paths actually removed."""
    removed = []
    for path in paths:
        try:
            os.unlink(path)
            removed.append(path)
        except OSError:
            pass
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
    return removed


# --- janitor -------------------------------------------------------------------------------------


class Janitor(object):
    """A forked guard that cleans up after the module if the module dies (see module docstring)."""

    def __init__(self, hard_deadline):
        self.hard_deadline = hard_deadline
        self.pid = None
        self._fd = None

    def start(self):
        """Fork the janitor; call before anything is created on disk (see ``own_dir``/``own_file``)."""
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, proven by the kill tests
            try:
                os.close(write_fd)
                _janitor_main(read_fd, self.hard_deadline)
            finally:
                os._exit(0)
        os.close(read_fd)
        self.pid = pid
        self._fd = write_fd

    def _send(self, line):
        if self._fd is not None:
            if not isinstance(line, bytes):  # paths go as the bytes the file system has (Python 3: str)
                line = line.encode("utf-8", "surrogateescape") if str is not bytes else line.encode("utf-8")
            try:
                os.write(self._fd, line + b"\n")
            except OSError:
                pass

    def watch(self, pid):
        self._send("pid %d" % pid)

    def own_dir(self, directory):
        """A directory the module created: removed (with its content) if the module dies."""
        self._send("dir %s" % directory)

    def own_file(self, path):
        """A file the module created: removed if the module dies."""
        self._send("file %s" % path)

    def release(self):
        """The module finished normally: the janitor leaves everything as it is and exits."""
        self._send("done")
        self._close()

    def abandon(self):
        """The module gives up: the janitor kills what it knows and removes the files."""
        self._close()

    def _close(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self.pid:
            for _attempt in range(50):
                try:
                    done, _status = os.waitpid(self.pid, os.WNOHANG)
                except OSError:
                    break
                if done:
                    break
                time.sleep(0.02)
            self.pid = None


def _janitor_main(read_fd, hard_deadline):  # pragma: no cover - child process
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    _close_other_fds(keep=(0, 1, 2, read_fd))
    for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(signum, signal.SIG_IGN)
    pids, paths, directories, buffered, killed = [], [], [], b"", False
    while True:
        timeout = None if killed else max(0.0, hard_deadline - time.time())
        try:
            ready, _w, _x = select.select([read_fd], [], [], timeout)
        except (select.error, OSError):
            continue
        if not ready:
            _kill_all(pids)
            killed = True
            continue
        chunk = os.read(read_fd, 4096)
        if not chunk:
            _kill_all(pids)
            remove_paths(paths)
            for directory in directories:
                shutil.rmtree(directory, ignore_errors=True)
            return
        buffered += chunk
        while b"\n" in buffered:
            line, buffered = buffered.split(b"\n", 1)
            if line.startswith(b"pid "):
                pids.append(int(line[4:]))
            elif line.startswith(b"file "):
                paths.append(line[5:])
            elif line.startswith(b"dir "):
                directories.append(line[4:])
            elif line == b"done":
                return


def _close_other_fds(keep):
    try:
        limit = os.sysconf("SC_OPEN_MAX")
    except (ValueError, OSError):
        limit = 1024
    for fd in range(3, min(limit, 65536)):
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _kill_all(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGINT)
        except OSError:
            pass
    deadline = time.time() + STOP_TIMEOUT
    while time.time() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.05)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


# --- capture backends ------------------------------------------------------------------------------


class TcpdumpBackend(object):
    """One tcpdump per interface, writing pcap with -U and --immediate-mode (see lab pitfall 10)."""

    name = "tcpdump"

    def __init__(self, runner, interfaces, paths, expression, snaplen, max_packets, immediate=True):
        self.runner = runner
        self.interfaces = list(interfaces)
        self.paths = list(paths)
        self.expression = expression
        self.snaplen = snaplen
        self.max_packets = max_packets
        self.immediate = immediate
        self.procs = []
        self.records = []

    def argv(self, interface, path):
        args = ["-i", interface, "-n", "-s", str(self.snaplen), "-U"]
        if self.immediate:
            args.append("--immediate-mode")
        if os.geteuid() == 0:
            args += ["-Z", "root"]
        if self.max_packets:
            args += ["-c", str(self.max_packets)]
        return args + ["-w", path, self.expression]

    def commands(self):
        return [["tcpdump"] + self.argv(i, p) for i, p in zip(self.interfaces, self.paths)]

    def start(self, janitor):
        for interface, path in zip(self.interfaces, self.paths):
            args = self.argv(interface, path)
            proc = self.runner.spawn(
                "tcpdump", args, stdin=open(os.devnull, "rb"), stdout=open(os.devnull, "wb"),
                stderr=subprocess.PIPE, preexec_fn=_pdeathsig, close_fds=True,
            )
            janitor.watch(proc.pid)
            self.procs.append(proc)
            self.records.append({"pid": proc.pid, "interface": interface, "command": ["tcpdump"] + args,
                                 "started_at": time.time(), "stderr": "", "listening_at": None})

    def wait_listening(self, timeout):
        """Wait until every tcpdump says "listening on"; returns the names that never did."""
        deadline = time.time() + timeout
        pending = dict((proc.stderr.fileno(), (proc, record)) for proc, record in zip(self.procs, self.records))
        while pending and time.time() < deadline:
            ready, _w, _x = select.select(list(pending), [], [], max(0.0, min(TICK, deadline - time.time())))
            for fd in ready:
                proc, record = pending[fd]
                chunk = os.read(fd, 4096).decode("utf-8", "replace")
                record["stderr"] += chunk
                if "listening on" in record["stderr"]:
                    record["listening_at"] = time.time()
                    del pending[fd]
                elif not chunk:
                    del pending[fd]
                    # stderr closes a moment before the process can be reaped: give it that moment, so that a
                    # tcpdump that failed to start is reported as failed, not as merely silent
                    _poll_until(proc, min(deadline, time.time() + EXIT_GRACE))
        failed = []
        for proc, record in zip(self.procs, self.records):
            if record["listening_at"] is None and proc.poll() is not None:
                detail = (record["stderr"] + proc.stderr.read().decode("utf-8", "replace")).strip()
                failed.append("tcpdump on %s exited with %s: %s" % (record["interface"], proc.returncode, detail or "no output"))
        if failed:
            raise CaptureError("; ".join(failed))
        return [record["interface"] for record in self.records if record["listening_at"] is None]

    def finished(self):
        """A reason to stop early: 'packets' when a tcpdump reached -c, 'exited' when one died."""
        for proc in self.procs:
            code = proc.poll()
            if code is not None:
                return "packets" if code == 0 and self.max_packets else "exited"
        return None

    def bytes_written(self):
        total = 0
        for path in self.paths:
            try:
                total += os.path.getsize(path)
            except OSError:
                pass
        return total

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    proc.send_signal(signal.SIGINT)
                except OSError:
                    pass
        for proc, record in zip(self.procs, self.records):
            _poll_until(proc, time.time() + STOP_TIMEOUT)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
                record["killed"] = True
            record["stopped_at"] = time.time()
            record["exit_code"] = proc.returncode
            try:
                record["stderr"] += proc.stderr.read().decode("utf-8", "replace")
                proc.stderr.close()
            except (IOError, OSError, ValueError):
                pass
            record["stats"] = dict((key, int(m.group(1))) for key, rx in TCPDUMP_STATS for m in [rx.search(record["stderr"])] if m)
        self.procs = []

    def listening_at(self):
        stamps = [r["listening_at"] for r in self.records if r["listening_at"]]
        return max(stamps) if stamps else None


class AfPacketBackend(object):
    """The standard-library capture, in a thread of the module process."""

    name = "af_packet"

    def __init__(self, interfaces, paths, selector, snaplen, max_packets, max_bytes):
        self.capture = _af_packet.Capture(interfaces, paths, selector, max_packets, max_bytes, snaplen)
        self.interfaces = list(interfaces)
        self.thread = None
        self.reason = None
        self.error = None
        self.records = []
        self._deadline = None

    def commands(self):
        return []

    def start(self, _janitor, deadline):
        self.capture.open()
        self._deadline = deadline
        self.records = [{"pid": os.getpid(), "interface": i, "command": ["af_packet", i], "started_at": time.time(),
                         "listening_at": self.capture.listening_at} for i in self.interfaces]
        self.thread = threading.Thread(target=self._run)
        self.thread.daemon = True
        self.thread.start()

    def _run(self):
        try:
            self.reason = self.capture.run(self._deadline)
        except Exception as exc:  # pylint: disable=broad-except
            self.error = "AF_PACKET capture failed: %s" % exc
            self.reason = "exited"

    def wait_listening(self, _timeout):
        return []

    def finished(self):
        if self.thread is not None and not self.thread.is_alive():
            return self.reason
        return None

    def bytes_written(self):
        return self.capture.bytes_written

    def stop(self):
        self.capture.stop()
        if self.thread is not None:
            self.thread.join(STOP_TIMEOUT + 1)
        self.capture.close()
        for record in self.records:
            record.update(stopped_at=time.time(), exit_code=0, stats={"captured": self.capture.kept, "seen": self.capture.seen})

    def listening_at(self):
        return self.capture.listening_at


# --- xfrm_stat -------------------------------------------------------------------------------------


def read_xfrm_stat():
    """(counters dict, error text or None)."""
    try:
        with open(_xfrm_stat.XFRM_STAT_PATH) as handle:
            counters, _unparsed = _xfrm_stat.parse_xfrm_stat(handle.read())
        return counters, None
    except (IOError, OSError) as exc:
        return None, "cannot read %s: %s" % (_xfrm_stat.XFRM_STAT_PATH, exc)


def xfrm_stat_delta(before, after):
    """Counters that changed during the window: name -> increase."""
    if before is None or after is None:
        return {}
    return dict((name, after[name] - before.get(name, 0)) for name in after if after[name] != before.get(name, 0))


# --- controller loss and signals ---------------------------------------------------------------------


class Liveness(object):
    """Notices when the reader of our stdout (Ansible, through SSH) has gone away, and signals."""

    def __init__(self, fd=1):
        self.reason = None
        self._poll = None
        self._old = {}
        try:
            poller = select.poll()
            poller.register(fd, 0)
            self._poll = poller
        except (AttributeError, ValueError, OSError, select.error):
            self._poll = None

    def install(self):
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            try:
                self._old[signum] = signal.signal(signum, self._on_signal)
            except (ValueError, OSError):
                pass

    def restore(self):
        for signum, handler in self._old.items():
            try:
                signal.signal(signum, handler)
            except (ValueError, OSError):
                pass
        self._old = {}

    def _on_signal(self, signum, _frame):
        self.reason = "signal %d" % signum
        raise Interrupted(self.reason)

    def check(self):
        if self.reason:
            raise Interrupted(self.reason)
        if self._poll is not None:
            try:
                events = self._poll.poll(0)
            except (select.error, OSError):
                events = []
            for _fd, event in events:
                if event & (select.POLLERR | select.POLLHUP | select.POLLNVAL):
                    self.reason = "controller connection lost"
                    raise Interrupted(self.reason)

    def sleep_until(self, when):
        while True:
            self.check()
            remaining = when - time.time()
            if remaining <= 0:
                return
            time.sleep(min(TICK, remaining))


# --- the session ---------------------------------------------------------------------------------


class Session(object):
    """A planned capture; ``run()`` executes it and returns the module result fields."""

    def __init__(self, plan, runner):
        self.plan = plan
        self.runner = runner
        self.warnings = list(plan.get("warnings", []))
        self.liveness = Liveness()
        self.backend = None
        self.janitor = None
        self.probe_results = None
        self.probe_error = None

    def _make_files(self, janitor):
        """The empty 0600 capture files, in a private temporary directory unless dest_dir was given.

        Each is announced to the janitor the moment it exists (the janitor runs already), so that a
        module killed at any point leaves nothing; if one cannot be made, the others are removed."""
        plan = self.plan
        directory = plan.get("dest_dir")
        created_dir = None
        paths = []
        made = False
        try:
            if not directory:
                directory = created_dir = tempfile.mkdtemp(prefix="netdoctor-capture-")
                janitor.own_dir(created_dir)
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(plan["start"]))
            host = socket.gethostname().split(".")[0] or "gateway"
            for interface in plan["interfaces"]:
                path = os.path.join(directory, "netdoctor-%s-%s-%s.pcap" % (host, stamp, interface))
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                paths.append(path)
                janitor.own_file(path)
            made = True
        finally:
            if not made:
                remove_paths(paths, created_dir)
        return paths, created_dir

    def _backend(self, paths):
        plan = self.plan
        if plan["backend"] == "tcpdump":
            return TcpdumpBackend(self.runner, plan["interfaces"], paths, plan["filter"], plan["snaplen"],
                                  plan["max_packets"], plan.get("immediate_mode", True))
        selector = _capture_filter.Selector(plan["peers"], plan["local_subnets"], plan["remote_subnets"])
        return AfPacketBackend(plan["interfaces"], paths, selector, plan["snaplen"], plan["max_packets"], plan["max_bytes"])

    def _probe_thread(self, when):
        def target():
            try:
                delay = when - time.time()
                if delay > 0:
                    time.sleep(delay)
                self.probe_results = {"started_at": round(time.time(), 6), "results": _probe.run_probe(self.plan["probe"])}
                self.probe_results["ended_at"] = round(time.time(), 6)
            except Exception as exc:  # pylint: disable=broad-except
                self.probe_error = "probe failed: %s" % exc

        thread = threading.Thread(target=target)
        thread.daemon = True
        return thread

    def run(self):
        plan = self.plan
        start, end = plan["start"], plan["start"] + plan["duration"]
        hard_deadline = end + FLUSH_DELAY + HARD_GRACE
        self.janitor = Janitor(hard_deadline)
        self.janitor.start()
        paths, created_dir = [], None
        self.liveness.install()
        completed = False
        stop_reason = None
        stopped_at = None
        xfrm_before = xfrm_after = None
        xfrm_error = None
        probe_thread = None
        try:
            paths, created_dir = self._make_files(self.janitor)
            self.liveness.sleep_until(start - plan.get("lead_time", LEAD_TIME))
            xfrm_before, xfrm_error = read_xfrm_stat()
            self.backend = self._backend(paths)
            if self.backend.name == "tcpdump":
                self.backend.start(self.janitor)
            else:
                self.backend.start(self.janitor, end)
            silent = self.backend.wait_listening(LISTEN_TIMEOUT)
            if silent:
                self.warnings.append("tcpdump did not report listening on %s" % ", ".join(silent))
            self.liveness.sleep_until(start)
            if plan.get("probe"):
                probe_thread = self._probe_thread(start + plan["probe"].get("delay", 1.0))
                probe_thread.start()
            stop_reason = self._monitor(end)
            if stop_reason == "duration":
                self.liveness.sleep_until(time.time() + FLUSH_DELAY)
            if probe_thread is not None:
                probe_thread.join(max(0.0, hard_deadline - time.time()))
            stopped_at = time.time()
            self.backend.stop()
            xfrm_after, error = read_xfrm_stat()
            xfrm_error = xfrm_error or error
            completed = True
        except Interrupted as exc:
            stop_reason = "interrupted: %s" % exc
            raise
        finally:
            self.liveness.restore()
            if self.backend is not None and not completed:
                self.backend.stop()
            if not completed:
                remove_paths(paths, created_dir)
                self.janitor.abandon()
        return self._result(paths, created_dir, stop_reason, stopped_at, xfrm_before, xfrm_after, xfrm_error)

    def _monitor(self, end):
        plan = self.plan
        while True:
            self.liveness.check()
            if time.time() >= end:
                return "duration"
            reason = self.backend.finished()
            if reason:
                if reason == "exited":
                    self.warnings.append("a capture process ended early")
                return reason
            if plan["max_bytes"] and self.backend.bytes_written() >= plan["max_bytes"]:
                return "size"
            time.sleep(min(TICK, max(0.0, end - time.time())))

    def _result(self, paths, created_dir, stop_reason, stopped_at, xfrm_before, xfrm_after, xfrm_error):
        plan = self.plan
        listening = self.backend.listening_at()
        window_start = max(plan["start"], listening or plan["start"])
        window_end = min(plan["start"] + plan["duration"], stopped_at or time.time())
        if listening and listening > plan["start"]:
            self.warnings.append("capture started %.0f ms after the requested instant" % ((listening - plan["start"]) * 1000))
        if getattr(self.backend, "error", None):
            self.warnings.append(self.backend.error)
        if self.probe_error:
            self.warnings.append(self.probe_error)
        context = dict(plan["summary_context"])
        context["window"] = (window_start, window_end)
        summary = _capture_summary.summarize_files(list(zip(paths, plan["interfaces"])), context)
        files = []
        for path, interface in zip(paths, plan["interfaces"]):
            try:
                size = os.path.getsize(path)
                mode = "%04o" % (os.stat(path).st_mode & 0o777)
            except OSError:
                size, mode = None, None
            files.append({"path": path, "interface": interface, "size": size, "mode": mode,
                          "state": "kept" if plan["keep_pcap"] else "removed"})
        if not plan["keep_pcap"]:
            remove_paths(paths, created_dir)
        self.janitor.release()
        processes = []
        for record in self.backend.records:
            keys = ("pid", "interface", "command", "started_at", "listening_at", "stopped_at", "exit_code", "stats")
            entry = dict((key, record.get(key)) for key in keys)
            if record.get("killed"):
                entry["killed"] = True
            entry["running"] = False
            processes.append(entry)
        return {
            "backend": self.backend.name,
            "files": files,
            "directory": created_dir or plan.get("dest_dir"),
            "processes": processes,
            "window": {
                "requested_start": plan["start"],
                "duration": plan["duration"],
                "listening_at": round(listening, 6) if listening else None,
                "start": round(window_start, 6),
                "end": round(window_end, 6),
                "late_ms": round(max(0.0, (listening or plan["start"]) - plan["start"]) * 1000, 1),
                "stopped_at": round(stopped_at, 6) if stopped_at else None,
            },
            "stop_reason": stop_reason,
            "summary": summary,
            "probe": self.probe_results,
            "xfrm_stat": {
                "available": xfrm_before is not None,
                "before": xfrm_before,
                "after": xfrm_after,
                "delta": xfrm_stat_delta(xfrm_before, xfrm_after),
                "error": xfrm_error,
            },
            "warnings": self.warnings,
        }


def tcpdump_has_immediate_mode(runner):
    """True when this tcpdump knows --immediate-mode (4.7+)."""
    try:
        _rc, out, err = runner.run("tcpdump", ["--help"], check_rc=False)
    except _command.CommandError:
        return False
    return "immediate-mode" in (out or "") + (err or "")
