"""Benchmark: wall time of `python -m lab up` (one healthy tunnel, and --tunnels 10) and of `lab down`.

Usage (root, toolchain on PATH: `. tools/env.sh`):

    python benchmarks/lab_up.py [--repeat N] [--tunnels 1 10] [--json FILE]

Each run is a real `lab up` on its own lab folder (a temporary directory), timed from the
command's start to its exit (the lab verified: SAs up, ping and TCP through the tunnel, ESP on
the WAN, sshd reachable from the host), followed by a timed `lab down`. The host's load
average is printed with each figure: the machine is shared, so read the figures with it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_lab(args: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "lab", *args], cwd=REPO, env=env, capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, check=False)
    return time.monotonic() - t0, res


def phases(log: str) -> dict[str, float]:
    """Seconds since start at which `lab up` reached each phase (from its log)."""
    marks = {"agent ready": "agent", "topology built": "topology", "daemons started": "daemons",
             "sshd answers": "ssh", "lab up in": "up"}
    out = {}
    for line in log.splitlines():
        m = re.match(r"\[lab\s+([\d.]+)s\] (.*)", line)
        if m:
            for text, key in marks.items():
                if m.group(2).startswith(text):
                    out[key] = float(m.group(1))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--tunnels", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    results = []
    for tunnels in args.tunnels:
        for i in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix="nd-lab-bench-") as tmp:
                env = {**os.environ, "ND_LAB_DIR": tmp, "ND_LAB_SLOT": os.environ.get("ND_LAB_SLOT", "auto")}
                load = os.getloadavg()[0]
                up_s, up = run_lab(["up", "--tunnels", str(tunnels)], env)
                down_s, down = run_lab(["down"], env)
            ok = up.returncode == 0 and down.returncode == 0
            row = {"tunnels": tunnels, "run": i + 1, "up_s": round(up_s, 1), "down_s": round(down_s, 1),
                   "ok": ok, "load1": round(load, 2), "phases": phases(up.stderr),
                   "verified": len(re.findall(r"\[as documented\]", up.stdout))}
            results.append(row)
            print(f"lab up --tunnels {tunnels:2d}: {up_s:6.1f}s  (down {down_s:4.1f}s, load {load:4.1f}, "
                  f"{'ok' if ok else 'FAILED'}, {row['verified']} tunnel(s) verified) phases {row['phases']}",
                  flush=True)
            if not ok:
                print(up.stderr[-3000:], down.stderr[-1000:], file=sys.stderr)
    for tunnels in dict.fromkeys(args.tunnels):
        times = [r["up_s"] for r in results if r["tunnels"] == tunnels and r["ok"]]
        if times:
            print(f"summary: lab up --tunnels {tunnels}: median {statistics.median(times):.1f}s over {len(times)} run(s)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
