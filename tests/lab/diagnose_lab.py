# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The diagnose role on the real lab: one boot with a tunnel per fault, the real playbook, the truth.

Used by tests/lab/test_diagnose_accuracy.py (asserts) and benchmarks/diagnose_accuracy.py (the
confusion table and timings for the notes). Each spec list holds a healthy tunnel, a NAT-T tunnel
and one tunnel per fault of the lab's catalogue on its default side, plus a few faults on the other
side (so that "always side B" cannot pass). ``playbooks/diagnose.yml`` runs over all of them at once
(``ansible-playbook netdoctor.ipsec.diagnose``, capture and probe on); each tunnel's report.json is
compared with what the lab recorded in the inventory (``lab_fault``, ``lab_fault_side``) and the
catalogue's finding for the fault (``lab/faults.yml``).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import typing as t
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
OTHER_SIDE = ("psk", "identity", "ike-proposal", "fw-esp", "selectors")
HEALTHY = ("none", "nat-t")


def specs(right: str) -> list[dict[str, t.Any]]:
    """Every fault alone on strongSwan (left) <-> ``right``: healthy, nat-t, each fault, some on the left."""
    from lab import faults

    out = [{"name": "healthy", "right": right}, {"name": "nat-t", "fault": "nat-t", "right": right}]
    for name, fault in faults.catalogue().items():
        if name == "nat-t":
            continue
        out.append({"name": name, "fault": name, "fault_side": fault.default_side, "right": right})
    for name in OTHER_SIDE:
        fault = faults.get(name)
        side = "left" if fault.default_side == "right" else "right"
        if side in fault.sides:
            out.append({"name": f"{name}@{side}", "fault": name, "fault_side": side, "right": right})
    return out


def quick_specs() -> list[dict[str, t.Any]]:
    """A ten-tunnel cut of the matrix for the test suite: both daemon pairs, both sides, each stage once."""
    return [
        {"name": "healthy", "right": "libreswan"}, {"name": "nat-t", "fault": "nat-t"},
        {"name": "psk", "fault": "psk", "right": "libreswan"}, {"name": "ike-proposal", "fault": "ike-proposal"},
        {"name": "identity@left", "fault": "identity", "fault_side": "left"},
        {"name": "selectors", "fault": "selectors", "right": "libreswan"}, {"name": "trunc", "fault": "trunc"},
        {"name": "fw-esp@left", "fault": "fw-esp", "fault_side": "left", "right": "libreswan"},
        {"name": "masquerade", "fault": "masquerade", "right": "libreswan"}, {"name": "daemon-down", "fault": "daemon-down"},
    ]


def expected(fault: str | None, fault_side: str | None) -> tuple[str | None, str | None]:
    """(finding id, side a/b) the diagnosis must put first; (None, None) for a healthy tunnel."""
    from lab import faults

    if fault in (None, "none", "nat-t"):
        return None, None
    return faults.get(fault).finding, {"left": "a", "right": "b"}[fault_side]


def lab_up(lab_dir: str, slot: int, tunnel_specs: list[dict[str, t.Any]]) -> tuple[t.Any, dict, bool]:
    """The lab with these tunnels: reused when already up with the same names, else brought up (owned)."""
    from lab import Lab, LabConfig, TunnelSpec

    lab = Lab(LabConfig.from_env(lab_dir, slot))
    if lab.is_up():
        state = lab.state() or {}
        names = [spec.get("name") for spec in state.get("specs") or []]
        if names == [spec["name"] for spec in tunnel_specs] and state.get("status") == "up":
            return lab, state, False
        raise RuntimeError(f"a different lab is up in {lab_dir} (tunnels {names})")
    state = lab.up([TunnelSpec.from_dict(spec) for spec in tunnel_specs])
    return lab, state, True


@contextlib.contextmanager
def lab_running(tunnel_specs: list[dict[str, t.Any]],
                fail: t.Callable[[str], t.Any] | None = None) -> t.Iterator[tuple[t.Any, str]]:
    """The diagnose lab (ND_LAB_DIR, else .lab-diag; ND_LAB_SLOT, else 2) with these tunnels, as (lab, lab_dir);
    brought down on exit when this brought it up. ``fail`` (``pytest.fail`` in the tests) is told when the lab
    cannot come up; without it the error propagates."""
    lab_dir = os.environ.get("ND_LAB_DIR") or str(REPO / ".lab-diag")
    slot = int(os.environ.get("ND_LAB_SLOT", "2"))
    try:
        lab, _state, owned = lab_up(lab_dir, slot, tunnel_specs)
    except Exception as exc:  # noqa: BLE001 - a lab that cannot come up is reported with its own message
        if fail is None:
            raise
        fail(f"the lab did not come up: {exc}")
        raise
    try:
        yield lab, lab_dir
    finally:
        if owned:
            lab.down()


def inventory_hostvars(lab_dir: str) -> dict[str, dict[str, t.Any]]:
    inventory = yaml.safe_load((Path(lab_dir) / "inventory.yml").read_text())
    hostvars: dict[str, dict[str, t.Any]] = {}
    for group in inventory["all"]["children"]["lab_gateways"]["children"].values():
        hostvars.update(group["hosts"])
    return hostvars


def run_playbook(lab_dir: str, out_dir: Path, playbook: str = "diagnose", limit: str = "lab_gateways",
                 extra: dict[str, t.Any] | None = None, forks: int = 20, label: str = "") -> dict[str, t.Any]:
    """``ansible-playbook netdoctor.ipsec.<playbook>`` against the lab; rc, seconds, log and per-task times."""
    out_dir.mkdir(parents=True, exist_ok=True)
    times = out_dir / f"task-times{label}.json"
    # The gateways share the lab kernel's single CPU: give SSH handshakes time when many start at once.
    env = dict(os.environ, ANSIBLE_CONFIG=str(Path(lab_dir) / "ansible.cfg"), ANSIBLE_TIMEOUT="60",
               ANSIBLE_CALLBACK_PLUGINS=str(REPO / "benchmarks/callback_plugins"),
               ANSIBLE_CALLBACKS_ENABLED="diagnose_timer", DIAGNOSE_TIMER_OUT=str(times))
    variables = {"ipsec_report_dir": str(out_dir / "reports"), "ipsec_fail_on": "never", **(extra or {})}
    argv = ["ansible-playbook", "-i", str(Path(lab_dir) / "inventory.yml"), f"netdoctor.ipsec.{playbook}",
            "-l", limit, "-f", str(forks), "-e", json.dumps(variables)]
    started = time.monotonic()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=3600, stdin=subprocess.DEVNULL, cwd=out_dir,
                          check=False)
    seconds = time.monotonic() - started
    (out_dir / f"playbook{label}.log").write_text(done.stdout + done.stderr)
    return {"rc": done.returncode, "seconds": round(seconds, 1), "log": done.stdout[-6000:] + done.stderr[-2000:],
            "tasks": json.loads(times.read_text()) if times.exists() else None}


def confusion(lab_dir: str, reports: Path, tunnel_specs: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """One row per tunnel: the injected fault and side, the top finding and side, and whether they agree."""
    hostvars = inventory_hostvars(lab_dir)
    rows = []
    for index, spec in enumerate(tunnel_specs):
        letter = chr(ord("a") + index)
        left = hostvars[f"{letter}_left"]
        fault, fault_side = left.get("lab_fault"), left.get("lab_fault_side")
        want_id, want_side = expected(fault, fault_side)
        path = reports / f"tunnel_{letter}" / "report.json"
        row: dict[str, t.Any] = {"tunnel": f"tunnel_{letter}", "name": spec["name"], "daemons": f"{left.get('ipsec_daemon')}<->"
                                 f"{hostvars[f'{letter}_right'].get('ipsec_daemon')}", "fault": fault, "fault_side": fault_side,
                                 "expected": want_id, "expected_side": want_side}
        if not path.exists():
            row.update(top=None, top_side=None, status="no report", ok=False, failing=[])
            rows.append(row)
            continue
        diagnosis = json.loads(path.read_text())
        root = diagnosis.get("root_cause") or {}
        failing = [f"{f['id']}({f['side']})" for f in diagnosis["findings"] if f["status"] == "fail"]
        row.update(top=root.get("id"), top_side=root.get("side"), status=diagnosis["status"], failing=failing,
                   summary=root.get("summary", ""), fix=root.get("fix", ""))
        if want_id is None:
            row["ok"] = not failing
        else:
            row["ok"] = root.get("id") == want_id and root.get("side") == want_side
        rows.append(row)
    return rows


def table(rows: list[dict[str, t.Any]]) -> str:
    lines = ["| daemons | fault (side) | expected | top finding (side) | ok | other failing |", "|---|---|---|---|---|---|"]
    for row in rows:
        fault = f"{row['fault']} ({row['fault_side']})" if row["fault"] not in (None, "none") else "healthy"
        want = f"{row['expected']} ({row['expected_side']})" if row["expected"] else "no fail"
        top = f"{row['top']} ({row['top_side']})" if row.get("top") else "no fail"
        others = ", ".join(f for f in row.get("failing", []) if not f.startswith(f"{row.get('top')}(")) or "-"
        lines.append(f"| {row['daemons']} | {fault} | {want} | {top} | {'yes' if row['ok'] else 'NO'} | {others} |")
    return "\n".join(lines) + "\n"


def run_in_batches(lab_dir: str, out_dir: Path, count: int, size: int = 5, **kwargs: t.Any) -> dict[str, t.Any]:
    """The diagnose playbook over ``count`` tunnels, ``size`` tunnels per run (each run's captures start together)."""
    letters = [chr(ord("a") + index) for index in range(count)]
    runs = []
    for start in range(0, count, size):
        batch = letters[start:start + size]
        limit = ":".join(f"tunnel_{letter}" for letter in batch)
        runs.append(run_playbook(lab_dir, out_dir, limit=limit, forks=2 * len(batch), label=f"-{batch[0]}", **kwargs))
    return {"rc": max(run["rc"] for run in runs), "seconds": round(sum(run["seconds"] for run in runs), 1),
            "runs": [{"rc": run["rc"], "seconds": run["seconds"]} for run in runs],
            "log": "\n".join(run["log"] for run in runs if run["rc"])}
