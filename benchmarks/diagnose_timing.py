# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Time of the diagnose and audit playbooks on the lab (figures for the notes, not a test).

One lab boot with 10 tunnels (healthy ones and a few faults). First the audit playbook over all 10
(read-only, no capture): it must complete and report every tunnel. Then diagnose.yml on one healthy
tunnel, RUNS times: the wall time, the capture window, and everything else (the budget is the
window plus about 30 s under UML). Per-task times go to benchmarks/results/diagnose_timing.json.

    . tools/env.sh && ND_LAB_DIR=/work/main/.lab-diag ND_LAB_SLOT=2 python benchmarks/diagnose_timing.py [RUNS]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "lab"))

import diagnose_lab  # noqa: E402  (tests/lab/diagnose_lab.py)

RESULTS = REPO / "benchmarks" / "results"
SPECS = [
    {"name": "healthy-1"}, {"name": "healthy-2", "right": "libreswan"}, {"name": "healthy-3"},
    {"name": "nat-t", "fault": "nat-t"}, {"name": "fw-esp", "fault": "fw-esp"}, {"name": "psk", "fault": "psk"},
    {"name": "masquerade", "fault": "masquerade", "right": "libreswan"}, {"name": "selectors", "fault": "selectors"},
    {"name": "trunc", "fault": "trunc"}, {"name": "no-route", "fault": "no-route"},
]
WINDOW = 8.0


def main(runs: int) -> int:
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with diagnose_lab.lab_running(SPECS) as (_lab, lab_dir):
        result = {"lab_up_seconds": round(time.monotonic() - started, 1), "tunnels": len(SPECS)}
        out = RESULTS / "diagnose_timing"
        audit = diagnose_lab.run_playbook(lab_dir, out / "audit", playbook="audit", extra={"ipsec_fail_on": "fail"}, forks=20)
        fleet = json.loads((out / "audit" / "reports" / "fleet.json").read_text())
        result["audit"] = {"seconds": audit["seconds"], "rc": audit["rc"], "tunnels_reported": len(fleet["tunnels"]),
                           "statuses": {row["tunnel"]: [row["status"], row["root_cause"]] for row in fleet["tunnels"]}}
        print(f"audit of {len(SPECS)} tunnels: {audit['seconds']} s, rc {audit['rc']}, {len(fleet['tunnels'])} tunnels reported",
              flush=True)
        single = []
        for index in range(runs):
            run = diagnose_lab.run_playbook(lab_dir, out / f"diagnose-{index}", limit="tunnel_a", forks=2,
                                            extra={"ipsec_capture_duration": WINDOW})
            single.append({"seconds": run["seconds"], "rc": run["rc"], "tasks": run["tasks"]})
            print(f"diagnose tunnel_a run {index + 1}: {run['seconds']} s (rc {run['rc']}), window {WINDOW} s, "
                  f"everything else {run['seconds'] - WINDOW:.1f} s", flush=True)
        walls = [run["seconds"] for run in single]
        result["diagnose"] = {"window": WINDOW, "runs": single, "median_seconds": statistics.median(walls),
                              "median_beyond_window": round(statistics.median(walls) - WINDOW, 1)}
    (RESULTS / "diagnose_timing.json").write_text(json.dumps(result, indent=1))
    brief = {k: v for k, v in result.items() if k != "diagnose"}
    brief.update(diagnose_median=result["diagnose"]["median_seconds"], beyond_window=result["diagnose"]["median_beyond_window"])
    print(json.dumps(brief, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
