"""harness plan SUITE [--baseline RUN] [--split S] [--simulations N] [--seed S] [--base-accuracy P]:
what the suite's gate can decide at its size, before a model runs (harness.gating.power)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.common import add_trust_options, with_trust
from harness.core.options import SEED, SIMULATIONS, STICKINESS, UNIT_SHARE

DESCRIPTION = ("Simulate the suite's gate before running a model: S comparisons of an identical candidate (the same "
               "model twice) and of candidates +5 and +10 points better, each judged by the gate's own code. Prints, per "
               "rule and for the gate as a whole, how often an identical candidate is PROMOTEd, BLOCKed or INCONCLUSIVE "
               "and how often it is claimed better (the difference's CI above 0), the PROMOTE rate at +5 and +10 points, "
               "the rule's MDE at the suite's size and the examples that decide it at its margin with 80% power "
               "(analytic, normal approximation). From a baseline run's per-example scores (--baseline), else from "
               "synthetic runs at --base-accuracy.")


def add_plan_options(p: argparse.ArgumentParser, baseline: bool = True) -> None:
    if baseline:
        p.add_argument("--baseline", type=Path, metavar="RUN",
                       help="a run directory: simulate from its per-example scores (its examples; default: synthetic runs)")
        p.add_argument("--split", help="synthetic runs: the split whose size and categories to use (default: the suite's "
                                       "default_split)")
    p.add_argument("--simulations", type=SIMULATIONS, default=1000, metavar="N",
                   help=f"simulated comparisons per scenario (default 1000; {SIMULATIONS.range})")
    p.add_argument("--seed", type=SEED, default=1, help=f"random seed of the simulation (default 1; {SEED.range})")
    p.add_argument("--base-accuracy", type=UNIT_SHARE, default=0.8, metavar="P",
                   help=f"synthetic runs: each example scores the best value with this probability (default 0.8; {UNIT_SHARE.range})")
    p.add_argument("--stickiness", type=STICKINESS, default=0.8, metavar="L",
                   help=f"probability a re-run keeps an example's own outcome (default 0.8; {STICKINESS.range})")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="what a suite's gate can decide at its size: outcome rates, MDE, examples needed",
                       description=DESCRIPTION)
    p.add_argument("suite", type=Path, help="suite YAML file")
    add_plan_options(p)
    add_trust_options(p, keys=False)
    p.set_defaults(func=with_trust(main))


def main(args: argparse.Namespace) -> int:
    from harness.gating.power import format_plan
    from harness.promote.plan import plan_suite

    plan = plan_suite(args.suite, baseline=args.baseline, split=args.split, sims=args.simulations, seed=args.seed,
                      base_accuracy=args.base_accuracy, stickiness=args.stickiness, trust=args.trust)
    print(format_plan(plan))
    return 0
