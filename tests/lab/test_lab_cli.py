"""The lab's command line on the real lab: up/status/exec/down, busy folder and slot, `lab run`
exit codes and clean-up when the command fails or `lab run` is interrupted or killed.

Each test brings up a lab of its own (in a temporary folder) and checks that nothing of it is
left on the host afterwards: processes, host interface, mounts, namespaces, files.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def lab_cli(args: list[str], env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, check=False)


@pytest.fixture
def lab_env(tmp_path) -> dict:
    return {**os.environ, "ND_LAB_DIR": str(tmp_path / "lab"), "ND_LAB_SLOT": os.environ.get("ND_LAB_SLOT", "auto"),
            "ND_LAB_SLOT_WAIT": os.environ.get("ND_LAB_SLOT_WAIT", "900"), "PYTHONPATH": str(REPO)}


def state_of(env: dict) -> dict:
    return json.loads((Path(env["ND_LAB_DIR"]) / "state.json").read_text())


def test_bad_spec_is_refused_clearly_and_leaves_nothing(lab_env, host_snapshot):
    snap = host_snapshot(Path(lab_env["ND_LAB_DIR"]))
    res = lab_cli(["up", "--esp", "aes256-md5"], lab_env)
    assert res.returncode == 2
    assert "ESP proposal 'aes256-md5': unexpected 'md5'" in res.stderr
    assert "Traceback" not in res.stderr
    res = lab_cli(["up", "--fault", "no-such-fault"], lab_env)
    assert res.returncode == 2 and "unknown fault 'no-such-fault'" in res.stderr
    assert snap.leftovers(None) == []


def test_up_status_exec_down_leave_nothing(lab_env, tmp_path, host_snapshot):
    """Healthy form (strongSwan <-> libreswan): everything a user does with a running lab."""
    snap = host_snapshot(Path(lab_env["ND_LAB_DIR"]))
    res = lab_cli(["up", "--right", "libreswan"], lab_env)
    assert res.returncode == 0, res.stderr
    slot = state_of(lab_env)["slot"]
    try:
        assert re.search(r"tunnel_a: healthy .*IKE up/up CHILD up/up ping ok tcp ok .*\[as documented\]", res.stdout)

        status_text = lab_cli(["status", "--json"], lab_env).stdout
        status = json.loads(status_text)
        live = status["live"]["a"]
        lab_dir = Path(lab_env["ND_LAB_DIR"])
        psk = re.search(r'secret = "([^"]+)"', (lab_dir / "gw/a_left/etc/swanctl/swanctl.conf").read_text()).group(1)
        assert psk in (lab_dir / "gw/a_right/etc/ipsec.secrets").read_text()
        for where, text in (("status", status_text), ("up output", res.stdout + res.stderr),
                            ("state.json", (lab_dir / "state.json").read_text()),
                            ("inventory", (lab_dir / "inventory.yml").read_text())):
            assert psk not in text, f"the PSK appears in the {where}"
        assert live["mismatches"] == []
        assert live["observed"]["child_sa"] == {"left": "up", "right": "up", "fault": "up", "peer": "up"}
        assert live["observed"]["esp"]["left_to_right"] > 0 and live["observed"]["esp"]["right_to_left"] > 0

        traffic = lab_cli(["exec", "a_right", "--", "ipsec", "whack", "--trafficstatus"], lab_env)
        assert traffic.returncode == 0 and '"lab-a"' in traffic.stdout
        assert lab_cli(["exec", "guest", "--", "hostname"], lab_env).stdout.strip() == "guest"
        assert lab_cli(["exec", "a_left", "--", "hostname"], lab_env).stdout.strip() == "a-left"
        assert "10.1.1.10/24" in lab_cli(["exec", "a_left_host", "--", "ip", "-4", "-br", "addr"], lab_env).stdout
        assert lab_cli(["exec", "a_left", "--", "sh", "-c", "exit 3"], lab_env).returncode == 3
        unknown = lab_cli(["exec", "z_left", "--", "true"], lab_env)
        assert unknown.returncode == 2 and "unknown lab target 'z_left'" in unknown.stderr

        key = Path(lab_env["ND_LAB_DIR"]) / "keys/id_ed25519"
        mgmt = state_of(lab_env)["agent"]["host"].rsplit(".", 1)[0] + f".{64 * slot + 3}"
        ssh = subprocess.run(["ssh", "-i", str(key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                              "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", f"root@{mgmt}",
                              "hostname; ipsec whack --trafficstatus | grep -c lab-a"],
                             capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
        assert ssh.returncode == 0 and ssh.stdout.split() == ["a-right", "1"], ssh.stderr

        again = lab_cli(["up"], lab_env)
        assert again.returncode == 2 and "a lab is already up in" in again.stderr
        other = {**lab_env, "ND_LAB_DIR": str(tmp_path / "other"), "ND_LAB_SLOT": str(slot), "ND_LAB_SLOT_WAIT": "0"}
        busy = lab_cli(["up"], other)
        assert busy.returncode == 2 and f"slot {slot}: the host interface ndlab{slot} exists" in busy.stderr
    finally:
        down = lab_cli(["down"], lab_env)
    assert down.returncode == 0, down.stderr
    assert snap.leftovers(slot) == []


def test_up_with_a_fault_then_down_leave_nothing(lab_env, host_snapshot):
    """Fault form: `lab up --fault` reports the documented broken state; `lab down` removes it all."""
    snap = host_snapshot(Path(lab_env["ND_LAB_DIR"]))
    res = lab_cli(["up", "--left", "libreswan", "--fault", "masquerade", "--fault-side", "left"], lab_env)
    assert res.returncode == 0, res.stderr
    slot = state_of(lab_env)["slot"]
    try:
        assert re.search(r"tunnel_a: masquerade on left .*IKE up/up CHILD up/up ping fail tcp fail .*"
                         r"\[as documented\]", res.stdout)
        rules = lab_cli(["exec", "a_left", "--", "iptables-legacy", "-t", "nat", "-S", "POSTROUTING"], lab_env)
        assert "-A POSTROUTING -o wan0 -j MASQUERADE" in rules.stdout
    finally:
        down = lab_cli(["down"], lab_env)
    assert down.returncode == 0, down.stderr
    assert snap.leftovers(slot) == []


def test_failed_up_leaves_nothing(lab_env, tmp_path, host_snapshot):
    """A lab that fails after booting (libreswan asked for, but not unpacked) is removed at once."""
    tools = tmp_path / "tools"
    (tools / "debs").mkdir(parents=True)
    (tools / "debs/uml").symlink_to(Path(os.environ.get("ND_TOOLS", Path.home() / ".cache/netdoctor")) / "debs/uml")
    env = {**lab_env, "ND_TOOLS": str(tools)}
    snap = host_snapshot(Path(env["ND_LAB_DIR"]))
    res = lab_cli(["up", "--right", "libreswan"], env)
    assert res.returncode == 2
    assert "agent ready" in res.stderr  # it did boot
    assert re.search(r"lab: error: .*a_right: bind source .*/debs/libreswan/usr/libexec/ipsec is missing", res.stderr)
    assert "Traceback" not in res.stderr
    slot = int(re.search(r"agent ready on 198\.51\.100\.(\d+)", res.stderr).group(1)) // 64
    assert snap.leftovers(slot) == []


def test_run_with_a_fault_returns_the_command_status_and_cleans_up(lab_env, host_snapshot):
    snap = host_snapshot(Path(lab_env["ND_LAB_DIR"]))
    script = ('grep -q "lab_fault: fw-esp" "$ND_LAB_INVENTORY" && '
              'python -m lab exec a_right -- iptables-legacy -S INPUT | grep -q "esp -j DROP" && exit 7')
    res = lab_cli(["run", "--fault", "fw-esp", "--", "sh", "-c", script], lab_env)
    assert res.returncode == 7, res.stderr
    assert "fault fw-esp on the right side applied; the documented state is observed" in res.stderr
    assert "lab run: lab removed" in res.stderr
    slot = int(re.search(r"agent ready on 198\.51\.100\.(\d+)", res.stderr).group(1)) // 64
    assert snap.leftovers(slot) == []


@pytest.fixture
def start_run(lab_env):
    """Start `lab run -- sleep 600`; whatever happens in the test, it does not outlive it."""
    procs = []

    def start() -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "lab", "run", "--", "sleep", "600"], cwd=REPO, env=lab_env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(120)


def _wait_for_command(proc: subprocess.Popen) -> list[str]:
    """Read lab run's log until it starts the command; return the lines read."""
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if line.startswith("lab run: sleep 600"):
            return lines
    raise AssertionError("lab run never started its command:\n" + "".join(lines))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_interrupted_cleans_up(lab_env, host_snapshot, start_run, sig):
    snap = host_snapshot(Path(lab_env["ND_LAB_DIR"]))
    proc = start_run()
    lines = _wait_for_command(proc)
    slot = state_of(lab_env)["slot"]
    proc.send_signal(sig)
    rest = proc.stderr.read()
    assert proc.wait(120) == 128 + sig, "".join(lines) + rest
    assert "lab run: lab removed" in rest
    assert snap.leftovers(slot) == []


def test_run_killed_is_cleaned_up_by_its_guard(lab_env, host_snapshot, start_run):
    snap = host_snapshot(Path(lab_env["ND_LAB_DIR"]))
    proc = start_run()
    _wait_for_command(proc)
    state = state_of(lab_env)
    command = state["command"]["pid"]
    assert Path(f"/proc/{command}/cmdline").read_bytes() == b"sleep\x00600\x00"
    proc.kill()  # SIGKILL: no clean-up in lab run itself
    proc.wait(30)
    deadline = time.monotonic() + 90
    while (snap.leftovers(state["slot"]) or Path(f"/proc/{command}").exists()) and time.monotonic() < deadline:
        time.sleep(1)
    assert snap.leftovers(state["slot"]) == []
    assert not Path(f"/proc/{command}").exists(), "the guard did not stop lab run's command"
