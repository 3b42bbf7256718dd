# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The diagnose playbook on the real lab: the top finding is the injected fault, on the right side.

By default one lab boot holds ten tunnels (both daemon pairs, faults on both sides, every stage);
with ND_DIAGNOSE_FULL=1, for strongSwan <-> strongSwan and strongSwan <-> libreswan each, a healthy
tunnel, a NAT-T tunnel, one tunnel per fault of the catalogue and a few faults on the other side
(tests/lab/diagnose_lab.py; benchmarks/diagnose_accuracy.py prints the same as a table). ``ansible-playbook netdoctor.ipsec.diagnose`` runs over all of them
(real SSH, real modules, capture and probe on); each tunnel's report.json must put the catalogue's
finding for its fault first, on the fault's side, and the healthy and NAT-T tunnels must have no
failing finding. The reports of every tunnel must exist in every format.

Run: ``. tools/env.sh && cd $ND_COLLECTION && python -m pytest -q tests/lab/test_diagnose_accuracy.py``
(as root; lab folder $ND_LAB_DIR, default .lab-diag, slot $ND_LAB_SLOT, default 2).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import typing as t
from pathlib import Path

import pytest

import diagnose_lab


pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
    pytest.mark.skipif(shutil.which("ansible-playbook") is None, reason="ansible-playbook not on PATH (. tools/env.sh)"),
]


# The whole matrix (every fault, both daemon pairs: two labs of 20 tunnels, about 25 minutes under UML)
# with ND_DIAGNOSE_FULL=1; by default a ten-tunnel cut that still covers both pairs, both sides and every stage.
MATRIX = ["strongswan", "libreswan"] if os.environ.get("ND_DIAGNOSE_FULL") == "1" else ["quick"]


@pytest.fixture(scope="module", params=MATRIX)
def accuracy(request: t.Any) -> t.Iterator[dict[str, t.Any]]:
    specs = diagnose_lab.quick_specs() if request.param == "quick" else diagnose_lab.specs(request.param)
    with diagnose_lab.lab_running(specs, fail=pytest.fail) as (_lab, lab_dir):
        out = Path(tempfile.mkdtemp(prefix="diagnose-"))
        try:
            run = diagnose_lab.run_in_batches(lab_dir, out, len(specs), extra={"ipsec_capture_lead": 6, "ipsec_probe_tcp_port": 7})
            rows = diagnose_lab.confusion(lab_dir, out / "reports", specs)
            yield {"run": run, "rows": rows, "out": out, "right": request.param}
        finally:
            shutil.rmtree(out, ignore_errors=True)


def test_playbook_completes(accuracy):
    assert accuracy["run"]["rc"] == 0, accuracy["run"]["log"]


def test_top_finding_is_the_injected_fault_on_its_side(accuracy):
    wrong = [row for row in accuracy["rows"] if not row["ok"]]
    assert not wrong, "\n" + diagnose_lab.table(wrong) + json.dumps(wrong, indent=1)[:4000]


def test_every_tunnel_has_every_report(accuracy):
    for row in accuracy["rows"]:
        folder = accuracy["out"] / "reports" / row["tunnel"]
        for name in ("report.txt", "report.md", "report.html", "report.json", "sides.json"):
            assert (folder / name).stat().st_size > 0, f"{row['tunnel']}: {name}"
    fleet = json.loads((accuracy["out"] / "reports" / "fleet.json").read_text())
    assert fleet["schema"] == "netdoctor.ipsec/fleet" and fleet["tunnels"]


def test_side_records_diagnose_again_offline(accuracy):
    """sides.json (what a ticket would carry) gives the same root cause with no gateway at hand."""
    from ansible_collections.netdoctor.ipsec.plugins.filter.diagnose_pair import diagnose_pair

    for row in accuracy["rows"]:
        saved = json.loads((accuracy["out"] / "reports" / row["tunnel"] / "sides.json").read_text())
        again = diagnose_pair(saved["a"], saved["b"], peer_address=saved["peer_address"], tunnel=saved["tunnel"])
        assert (again["root_cause"] or {}).get("id") == row["top"], row["tunnel"]
