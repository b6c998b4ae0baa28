"""Time of choosing among checkpoints by what they do: three random LoRA adapters over
SmolLM2-135M-Instruct evaluated on support_intent's validation split (80 examples) with
`harness checkpoints`, one base load. Prints the total, per checkpoint, and the base loads.

    python bench/checkpoints_eval.py [--n 3] [--limit N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    from harness.checkpoints.folder import FolderConfig, rank_folder
    from harness.checkpoints.table import text
    from harness.local import models as lm
    from tests.checkpoints.adapters import make_adapter

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=3)
    ap.add_argument("--limit", type=int)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "out"
        for i in range(args.n):  # small random weights: the outputs differ a little, as real checkpoints do
            make_adapter("smollm2", root / f"checkpoint-{10 * (i + 1)}", seed=i, scale=0.02, step=10 * (i + 1),
                         val_loss=1.0 - 0.1 * i)
        lm.clear_model_cache()
        t0 = time.perf_counter()
        ranked, _ = rank_folder(FolderConfig(folder=root, suite=REPO / "suites" / "support_intent.yaml",
                                             limit=args.limit, reports_dir=Path(tmp) / "reports"), log=lambda m: None)
        total = time.perf_counter() - t0
        print(text(ranked.table), end="")
        print(f"{args.n} checkpoints on support_intent validation: {total:.1f} s in all, {total / args.n:.1f} s per "
              f"checkpoint (base loads: {ranked.table.base_loads})")


if __name__ == "__main__":
    main()
