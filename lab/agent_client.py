"""Host side of the lab agent's protocol: one JSON request per TCP connection."""

from __future__ import annotations

import base64
import json
import socket
import time
from dataclasses import dataclass
from typing import Callable

from .config import LabError


@dataclass
class ExecResult:
    rc: int
    out: str
    err: str
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.rc == 0


class AgentClient:
    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port, self.token = host, port, token

    def _open(self, timeout: float | None) -> socket.socket:
        try:
            return socket.create_connection((self.host, self.port), timeout=timeout)
        except OSError as exc:
            raise LabError(f"cannot reach the lab agent at {self.host}:{self.port}: {exc}") from None

    def _request(self, req: dict, timeout: float | None):
        sock = self._open(timeout)
        try:
            sock.sendall(json.dumps({**req, "token": self.token}).encode() + b"\n")
            for line in sock.makefile("rb"):
                yield json.loads(line)
        except (OSError, ValueError) as exc:
            raise LabError(f"lab agent request {req.get('op')} failed: {exc}") from None
        finally:
            sock.close()

    def call(self, op: str, *, sock_timeout: float | None = 300, **args):
        for msg in self._request({"op": op, **args}, sock_timeout):
            if "error" in msg:
                raise LabError(f"lab agent: {op}: {msg['error']}")
            return msg["result"]
        raise LabError(f"lab agent: {op}: no answer")

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.call("ping", sock_timeout=2)
                return
            except LabError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def exec(self, target: str, argv: list[str], *, input: bytes | None = None, timeout: float | None = 60,
             on_output: Callable[[int, bytes], None] | None = None, env: dict | None = None) -> ExecResult:
        """Run argv in target (a gateway, an inner host, a router or 'guest'); collect or stream output."""
        req = {"op": "exec", "target": target, "argv": argv, "timeout": timeout, "env": env or {}}
        if input is not None:
            req["input"] = base64.b64encode(input).decode()
        out, err = bytearray(), bytearray()
        sock_timeout = None if timeout is None else timeout + 30
        for msg in self._request(req, sock_timeout):
            if "error" in msg:
                raise LabError(f"lab agent: exec on {target}: {msg['error']}")
            if "data" in msg:
                data = base64.b64decode(msg["data"])
                if on_output:
                    on_output(msg["fd"], data)
                (out if msg["fd"] == 1 else err).extend(data)
            elif "rc" in msg:
                return ExecResult(msg["rc"], out.decode(errors="replace"), err.decode(errors="replace"),
                                  msg.get("timed_out", False))
        raise LabError(f"lab agent: exec on {target}: connection closed before the exit status")

    def sh(self, target: str, script: str, timeout: float | None = 60) -> ExecResult:
        return self.exec(target, ["/bin/sh", "-c", script], timeout=timeout)
