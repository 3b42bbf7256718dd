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
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "lab"))

import diagnose_lab  # noqa: E402  (tests/lab/diagnose_lab.py)

RESULTS = REPO / "benchmarks" / "results"


def main(rights: list[str]) -> int:
    lab_dir = os.environ.get("ND_LAB_DIR") or str(REPO / ".lab-diag")
    slot = int(os.environ.get("ND_LAB_SLOT", "2"))
    RESULTS.mkdir(parents=True, exist_ok=True)
    all_rows, runs = [], {}
    for right in rights:
        specs = diagnose_lab.specs(right)
        started = time.monotonic()
        lab, _state, owned = diagnose_lab.lab_up(lab_dir, slot, specs)
        up_seconds = round(time.monotonic() - started, 1)
        try:
            out = RESULTS / f"diagnose_accuracy-{right}"
            run = diagnose_lab.run_in_batches(lab_dir, out, len(specs), extra={"ipsec_capture_lead": 6, "ipsec_probe_tcp_port": 7})
            rows = diagnose_lab.confusion(lab_dir, out / "reports", specs)
        finally:
            if owned:
                lab.down()
        runs[right] = {"lab_up_seconds": up_seconds, "playbook_seconds": run["seconds"], "rc": run["rc"], "tunnels": len(specs)}
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
