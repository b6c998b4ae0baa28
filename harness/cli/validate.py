"""harness validate SUITE...: check suites and their data without running a model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.cli.common import add_trust_options, with_trust
from harness.cli.plan import add_plan_options
from harness.core.errors import InputProblems, Problem

# Plain validate's quick look at the gate: identical-candidate simulations only, synthetic runs, no cross-check.
QUICK_SIMULATIONS = 100  # Monte-Carlo SE <= 5 points on the 50% line; measured 0.1-1.0 s a suite


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check suites and their datasets without running a model",
                       description="Check suites and their datasets without running a model. Also warns (exit 0) for each "
                                   "blocking comparative rule an identical candidate (the same model twice, synthetic runs "
                                   f"at --base-accuracy, {QUICK_SIMULATIONS} simulations) would fail to PROMOTE more than "
                                   "half the time, and for a max_regressions cap below the regressions an identical model "
                                   "is expected to have. --power prints the full table of `harness plan`.")
    p.add_argument("suites", type=Path, nargs="+", help="suite YAML files")
    p.add_argument("--power", action="store_true", help="also print each suite's `harness plan` table (slower)")
    add_plan_options(p, baseline=False)
    add_trust_options(p, keys=False)
    p.set_defaults(func=with_trust(main))


def gate_warnings(loaded, args: argparse.Namespace) -> list[str]:
    """The quick check: rules on the candidate alone (min, max) are left out, since a synthetic run's level says
    nothing about a real model's (harness plan --baseline RUN judges them on a real run)."""
    from harness.gating.power import COMPARATIVE
    from harness.promote.plan import plan_suite

    if not any(g.rule in COMPARATIVE for g in loaded.suite.gates):
        return []
    plan = plan_suite(loaded, sims=min(args.simulations, QUICK_SIMULATIONS), seed=args.seed,
                      base_accuracy=args.base_accuracy, stickiness=args.stickiness, check=0, gains=())
    plan.rules = [r for r in plan.rules if r.gate.rule in COMPARATIVE]
    return plan.warnings()


def main(args: argparse.Namespace) -> int:
    from harness.data.examples import load_split
    from harness.suite.load import load_suite

    problems: list[Problem] = []
    for path in args.suites:
        try:
            loaded = load_suite(path, trust=args.trust)
        except InputProblems as e:
            problems.extend(e.problems)
            continue
        counts = []
        for split in loaded.suite.dataset.split_names():
            try:
                s = load_split(loaded.suite.dataset, loaded.dataset_dir(), split, loaded.suite.prompt)
                counts.append(f"{split}={len(s.examples)}")
            except InputProblems as e:
                problems.extend(e.problems)
        from harness.suite.judges import judge_warnings

        for w in judge_warnings([{"name": m.name, **m.params()} for m in loaded.suite.metrics], str(path)):
            print(w, file=sys.stderr)
        if counts:
            print(f"{path}: ok ({loaded.suite.name} v{loaded.suite.version}; {', '.join(counts)}; "
                  f"scores: {', '.join(loaded.score_specs())})")
            if len(counts) == len(loaded.suite.dataset.splits):
                if args.power:
                    from harness.gating.power import format_plan
                    from harness.promote.plan import plan_suite

                    print(format_plan(plan_suite(loaded, sims=args.simulations, seed=args.seed,
                                                 base_accuracy=args.base_accuracy, stickiness=args.stickiness)))
                for line in gate_warnings(loaded, args):
                    print(f"{path}: warning: {line}")
    if problems:
        raise InputProblems(problems)
    return 0
