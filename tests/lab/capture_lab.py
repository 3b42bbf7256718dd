# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers for the capture tests on the UML lab: bring a lab up for a module, run the capture
playbook through Ansible on chosen gateways from one instant, and read back each gateway's result."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = Path(__file__).resolve().parent / "playbooks" / "capture.yml"
# UML on a shared two-core host: Ansible needs tens of seconds to reach many gateways, and starting
# tcpdump there takes one to two seconds; the instant and the lead are drawn with that margin.
ARRIVAL_MARGIN = 60.0
LEAD_TIME = 8.0


def lab_or_skip(specs: list[dict]):
    """A started Lab (module fixture body); skips when the lab package cannot run here."""
    try:
        from lab import Lab, LabConfig, TunnelSpec  # pylint: disable=import-outside-toplevel
        from lab.config import LabError  # pylint: disable=import-outside-toplevel
    except ImportError as exc:
        pytest.skip(f"the lab package is not importable: {exc}")
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    lab = Lab(LabConfig.from_env(), log=print)
    try:
        lab.up([TunnelSpec.from_dict(spec) for spec in specs])
    except LabError as exc:
        if "no free lab slot" in str(exc) or "busy" in str(exc):
            pytest.skip(f"lab slot busy: {exc}")
        raise
    return lab


def ansible_env(lab) -> dict[str, str]:
    env = dict(os.environ)
    env["ANSIBLE_CONFIG"] = str(lab.cfg.lab_dir / "ansible.cfg")
    env["ANSIBLE_STDOUT_CALLBACK"] = "default"
    return env


def playbook_argv(lab, hosts: str, start: float, duration: float, out_dir: Path, **extra) -> list[str]:
    argv = ["ansible-playbook", "-i", str(lab.cfg.lab_dir / "inventory.yml"), str(PLAYBOOK), "-f", "16",
            "-e", f"capture_hosts={hosts}", "-e", f"capture_start={start}", "-e", f"capture_duration={duration}",
            "-e", f"out_dir={out_dir}", "-e", f"lead_time={LEAD_TIME}"]
    for key, value in extra.items():
        argv += ["-e", f"{key}={value}"]
    return argv


def start_playbook(lab, hosts, start, duration, out_dir, **extra) -> subprocess.Popen:
    out_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(playbook_argv(lab, hosts, start, duration, out_dir, **extra), env=ansible_env(lab),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            cwd=REPO)


def finish_playbook(proc: subprocess.Popen, timeout: float = 600) -> str:
    out, _err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-3000:]
    return out


def results(out_dir: Path, hosts: list[str]) -> dict[str, dict]:
    return {host: json.loads((out_dir / f"{host}.json").read_text()) for host in hosts}


def at(when: float, action, *args) -> threading.Thread:
    """Run ``action(*args)`` in a thread at the wall-clock instant ``when``."""
    def target():
        time.sleep(max(0.0, when - time.time()))
        action(*args)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def capture_leftovers(lab, gateway: str) -> str:
    """What a capture could leave on a gateway: tcpdump processes and capture directories.

    A gateway's root is an overlay over the host's, so its /tmp also shows the host's capture
    directories (left by other runs on the host): only those the host does not have are the gateway's."""
    done = lab.exec(gateway, ["sh", "-c", "pgrep -a tcpdump; ls -d /tmp/netdoctor-capture-* 2>/dev/null; true"])
    on_host = {str(path) for path in Path("/tmp").glob("netdoctor-capture-*")}
    return "\n".join(line for line in done.out.strip().splitlines() if line not in on_host)
