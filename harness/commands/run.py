"""harness run SUITE --model MODEL [--split test] [--limit N]"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.commands.common import add_model_options, add_output_options, model_from_args
from harness.tracking import add_track_option, track


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="evaluate a model on a suite and write a run directory",
                       description="Evaluate every example of a split, score the suite's metrics, write "
                                   "reports/runs/<run>/ and print a per-metric table. Responses are cached: "
                                   "a rerun (or a run killed halfway and started again) redoes no finished work.")
    p.add_argument("suite", type=Path, help="suite YAML file")
    add_model_options(p)
    p.add_argument("--split", help="dataset split (default: the suite's default_split)")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N examples")
    p.add_argument("--judge", metavar="MODEL", help="judge model for the suite's judge metrics, replacing theirs "
                                                    "(as for --model, e.g. openai:gpt-4o-mini); recorded in the summary")
    p.add_argument("--out", type=Path, help="write the run here instead of reports/runs/<name>")
    add_output_options(p)
    add_track_option(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from harness.runner import RunConfig, format_table, run_suite

    cfg = RunConfig(suite=args.suite, model=model_from_args(args), split=args.split, limit=args.limit,
                    reports_dir=args.reports, out=args.out, cache=args.cache, progress=not args.no_progress,
                    judge=args.judge)
    outcome = run_suite(cfg)
    s = outcome.summary
    print(f"{s['suite']['name']} v{s['suite']['version']}  split={s['dataset']['split']}  model={s['model']['display']}  "
          f"examples={s['counts']['examples']} (cached {s['counts']['cached']}, errors {s['counts']['errors']})")
    print(format_table(s))
    print(f"run directory: {outcome.directory}")
    code = 0
    if outcome.n_errors:
        print(f"{outcome.n_errors} example(s) failed (see 'error' in results.jsonl); rerun to retry them")
        code = 3
    return track(args, args.suite, code, lambda t: t.log_run(outcome.directory), "the run")
