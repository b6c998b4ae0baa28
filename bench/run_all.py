"""Run the benchmarks in turn (`make bench`). Figures, not tests: each prints its own table.

    .venv/bin/python bench/run_all.py [--skip local] [--peers]

1. harness_throughput.py: `harness run` of 500 requests at concurrency 64 against a 100 ms
   loopback server, beside a bare openai SDK loop (target: <= 2.5 s wall, <= 3 ms CPU a request).
2. local_generation.py: the local provider's new tokens per second on CPU (SmolLM2, batch of 16).
3. With --peers: the peers rig (../shared/peers/run.sh: promptfoo and inspect_ai) with our row
   (bench/peers_row.sh); it installs the peers under /tmp/pb on first use.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS = ROOT.parent / "shared" / "peers" / "run.sh"


def step(title: str, cmd: list[str]) -> int:
    print(f"\n== {title}: {' '.join(cmd)}", flush=True)
    t0 = time.perf_counter()
    code = subprocess.run(cmd, cwd=ROOT).returncode
    print(f"== {title}: exit {code} in {time.perf_counter() - t0:.0f} s", flush=True)
    return code


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip", action="append", default=[], choices=["throughput", "local"], help="leave a benchmark out")
    ap.add_argument("--peers", action="store_true", help="also run the peers rig with our row")
    a = ap.parse_args()
    print(f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f} (figures move with it)")
    codes = []
    if "throughput" not in a.skip:
        codes.append(step("throughput", [sys.executable, str(HERE / "harness_throughput.py")]))
    if "local" not in a.skip:
        codes.append(step("local generation", [sys.executable, str(HERE / "local_generation.py")]))
    if a.peers:
        if PEERS.is_file():
            codes.append(step("peers rig", ["bash", str(PEERS), "bash", str(HERE / "peers_row.sh")]))
        else:
            print(f"\n== peers rig: {PEERS} not found; our row alone:")
            codes.append(step("peers row (standalone)", ["bash", str(HERE / "peers_row.sh"), "--standalone"]))
    return max(codes, default=0)


if __name__ == "__main__":
    sys.exit(main())
