"""harness validate SUITE...: check suites and their data without running a model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.cli.common import add_trust_options, with_trust
from harness.core.errors import InputProblems, Problem


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check suites and their datasets without running a model")
    p.add_argument("suites", type=Path, nargs="+", help="suite YAML files")
    add_trust_options(p, keys=False)
    p.set_defaults(func=with_trust(main))


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
    if problems:
        raise InputProblems(problems)
    return 0
