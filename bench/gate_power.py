"""The gate's error rates, measured by simulation: a thin script over harness.gating.power (`harness plan`).

    python bench/gate_power.py                         # every suites/*.yaml, synthetic runs (--base-accuracy)
    python bench/gate_power.py --run reports/runs/X    # that run's suite, from the run's per-example scores

Per suite, for an identical candidate (the same model twice): promoted as better (the difference's 95% CI above
0), BLOCKED, INCONCLUSIVE and PROMOTE, and the PROMOTE rate at +5 and +10 points, for the gate as a whole and per
rule. The model of a re-run, the judging (the gate's own code, cross-checked on the first --check simulations
through compare_aligned + evaluate_gates) and the analytic MDE are harness.gating.power's docstring.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.gating.power import IDENTICAL, Plan, format_plan  # noqa: E402
from harness.promote.plan import plan_suite  # noqa: E402


def rows(plan: Plan, label: str) -> list[list[str]]:
    out = []
    for name, n, rates in [("the gate", str(plan.n), plan.gate),
                           *[(r.name + (" (advisory)" if r.advisory else ""), f"{r.n}{' min' if r.per_category else ''}",
                              r.rates) for r in plan.rules]]:
        aa = rates[IDENTICAL]
        out.append([label, n, name, *(f"{100 * x:.1f}%" for x in (aa.better, aa.block, aa.inconclusive,
                                                                              aa.promote)),
                    *(f"{100 * rates[g].promote:.1f}%" for g in plan.scenarios if g != IDENTICAL)])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, help="a run directory: simulate from its per-example scores (its suite)")
    ap.add_argument("--suite", type=Path, action="append", help="suite file(s); default every suites/*.yaml")
    ap.add_argument("--base-accuracy", type=float, default=0.8, help="synthetic runs: each example passes with this probability")
    ap.add_argument("--stickiness", type=float, default=0.8, help="probability a re-run keeps an example's own outcome")
    ap.add_argument("--sims", type=int, default=1000, help="simulated comparisons per scenario")
    ap.add_argument("--check", type=int, default=3, help="simulations per scenario also run through the real gate")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--full", action="store_true", help="also print each suite's `harness plan` table")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    if args.run:
        from harness.records.run import read_run

        suite = args.suite[0] if args.suite else Path(read_run(args.run).summary.suite.path)
        jobs = [(suite, args.run)]
    else:
        jobs = [(p, None) for p in (args.suite or sorted((ROOT / "suites").glob("*.yaml")))]
    print(f"gate_power: {args.sims} simulations per scenario (Monte-Carlo SE <= {50 / math.sqrt(args.sims):.1f} points), "
          f"stickiness {args.stickiness}, synthetic base accuracy {args.base_accuracy} (unless --run)")
    head = ["suite file", "n", "rule", "identical: better", "BLOCKED", "INCONCLUSIVE", "PROMOTE", "PROMOTE +5", "PROMOTE +10"]
    table, report = [head], []
    for suite, run in jobs:
        t0 = time.perf_counter()
        plan = plan_suite(suite, baseline=run, sims=args.sims, seed=args.seed, base_accuracy=args.base_accuracy,
                          stickiness=args.stickiness, check=args.check)
        if args.full:
            print("\n" + format_plan(plan) + f"\n({time.perf_counter() - t0:.1f} s)")
        table += rows(plan, suite.stem if run is None else f"{suite.stem} ({run.name} run)")
        report.append(asdict(plan) | {"seconds": time.perf_counter() - t0})
        for name, why in plan.skipped:
            print(f"   {suite.stem}: not simulated: {name}: {why}")
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    print("\n| " + " | ".join(head) + " |\n|" + "|".join(" --- " for _ in head) + "|")
    for r in table[1:]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
