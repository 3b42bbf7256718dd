# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Accuracy of the diagnosis on the lab: every fault of the catalogue alone, the confusion table.

For strongSwan <-> strongSwan and strongSwan <-> libreswan, one lab boot holds a healthy tunnel, a
NAT-T tunnel, one tunnel per fault on its default side and a few on the other side; the real
diagnose playbook (capture and probe on) runs over all of them at once, and each tunnel's top
finding is compared with the fault the lab injected. Writes benchmarks/results/diagnose_accuracy.{md,json}.

    . tools/env.sh && ND_LAB_DIR=/work/main/.lab-diag ND_LAB_SLOT=2 python benchmarks/diagnose_accuracy.py [strongswan|libreswan ...]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "lab"))

import diagnose_lab  # noqa: E402  (tests/lab/diagnose_lab.py)

RESULTS = REPO / "benchmarks" / "results"


def one_sided_runs(lab_dir: str, out: Path, specs: list[dict]) -> dict[str, dict]:
    """Diagnose only the left gateway of a few tunnels (its peer then counts as unmanaged, ipsec_peer_address)."""
    letters = {spec["name"]: chr(ord("a") + index) for index, spec in enumerate(specs)}
    found = {}
    for name in ("healthy", "fw-esp", "ike-proposal"):
        host = f"{letters[name]}_left"
        run = diagnose_lab.run_playbook(lab_dir, out, limit=host, forks=1, label=f"-{host}",
                                        extra={"ipsec_capture_lead": 6, "ipsec_probe_tcp_port": 7})
        report = out / "reports" / f"tunnel_{letters[name]}" / "report.json"
        diagnosis = json.loads(report.read_text()) if report.exists() else {}
        root = diagnosis.get("root_cause") or {}
        found[name] = {"rc": run["rc"], "one_sided": diagnosis.get("one_sided"), "status": diagnosis.get("status"),
                       "root_cause": root.get("id"), "side": root.get("side"), "summary": root.get("summary")}
        print(f"  one-sided {host} ({name}): {found[name]['status']} {root.get('id')} ({root.get('side')}) {root.get('summary', '')[:90]}",
              flush=True)
    return found


def main(rights: list[str]) -> int:
    RESULTS.mkdir(parents=True, exist_ok=True)
    all_rows, runs = [], {}
    for right in rights:
        specs = diagnose_lab.specs(right)
        started = time.monotonic()
        with diagnose_lab.lab_running(specs) as (_lab, lab_dir):
            up_seconds = round(time.monotonic() - started, 1)
            out = RESULTS / f"diagnose_accuracy-{right}"
            run = diagnose_lab.run_in_batches(lab_dir, out, len(specs), extra={"ipsec_capture_lead": 6, "ipsec_probe_tcp_port": 7})
            rows = diagnose_lab.confusion(lab_dir, out / "reports", specs)
            one_sided = one_sided_runs(lab_dir, out / "one-sided", specs)
        runs[right] = {"lab_up_seconds": up_seconds, "playbook_seconds": run["seconds"], "rc": run["rc"], "tunnels": len(specs),
                       "one_sided": one_sided}
        all_rows += rows
        print(f"strongswan<->{right}: {sum(r['ok'] for r in rows)}/{len(rows)} correct; playbook {run['seconds']} s "
              f"for {len(specs)} tunnels (rc {run['rc']})", flush=True)
    text = diagnose_lab.table(all_rows)
    (RESULTS / "diagnose_accuracy.md").write_text(text)
    (RESULTS / "diagnose_accuracy.json").write_text(json.dumps({"runs": runs, "rows": all_rows}, indent=1))
    print(text)
    return 0 if all(row["ok"] for row in all_rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["strongswan", "libreswan"]))
