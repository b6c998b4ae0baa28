"""harness run SUITE --model MODEL [--split test] [--limit N | --sample N [--seed S]]"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.cli.common import (
    add_executor_options,
    add_model_options,
    add_output_options,
    add_selection_options,
    add_trust_options,
    executor_from_args,
    model_from_args,
    print_selection,
    selection_from_args,
    with_trust,
)
from harness.core.options import CONNECTION_ERRORS, DOLLARS, REPEATS
from harness.tracking import add_track_option, track


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="evaluate a model on a suite and write a run directory",
                       description="Evaluate every example of a split, score the suite's metrics, write "
                                   "reports/runs/<run>/ and print a per-metric table. Responses are cached: "
                                   "a rerun (or a run killed halfway and started again) redoes no finished work.")
    p.add_argument("suite", type=Path, help="suite YAML file")
    add_model_options(p)
    add_executor_options(p)
    p.add_argument("--label", metavar="NAME", help="a short name for the model in reports, compare, gate, the index and "
                                                   "MLflow (stored in the run summary's model spec; the model file's "
                                                   "label: does the same); default: the model's last meaningful part")
    p.add_argument("--split", help="dataset split (default: the suite's default_split)")
    add_selection_options(p)
    p.add_argument("--judge", metavar="MODEL", help="judge model for the suite's judge metrics, replacing theirs "
                                                    "(as for --model, e.g. openai:gpt-4o-mini); recorded in the summary")
    p.add_argument("--repeats", type=REPEATS, metavar="N",
                   help=f"({REPEATS.range}) generate each example N times, replacing the suite's generation.repeats; scores are reduced per "
                        "example by generation.reducer and each example gets a flakiness figure")
    p.add_argument("--out", type=Path, help="write the run here instead of reports/runs/<name>")
    p.add_argument("--no-retention", action="store_true",
                   help="skip the suite's retention checks (by default each runs into <run>/retention/<name>/)")
    p.add_argument("--max-connection-errors", type=CONNECTION_ERRORS, metavar="N",
                   help="circuit breaker: after N consecutive connection errors the endpoint is taken as down, the "
                        "rest is not sent and the run exits 3; a rerun resumes (default 20, 0: never)")
    p.add_argument("--dry-run", action="store_true",
                   help="print examples, requests (cached / to send), estimated tokens and cost, then exit 0 "
                        "without sending anything or creating a run directory")
    p.add_argument("--max-cost", type=DOLLARS, metavar="USD",
                   help="stop sending new requests once spent + in flight (at their most) would pass USD; what was "
                        "not sent is left for a rerun (exit 3)")
    p.add_argument("--prices", type=Path, metavar="FILE",
                   help="price table laid over the shipped list prices (also HARNESS_PRICES)")
    p.add_argument("--batch", action="store_true",
                   help="send the uncached requests through OpenAI's Batch API (same as openai:MODEL?batch=true)")
    add_output_options(p)
    add_trust_options(p)
    add_track_option(p)
    p.set_defaults(func=with_trust(main))


def main(args: argparse.Namespace) -> int:
    from harness.migrate.retiring import warn_if_retiring
    from harness.evaluate.run import RunConfig, format_table, run_suite

    selection = selection_from_args(args)  # --limit with --sample: refused before anything is read
    model = model_from_args(args)
    if args.label is not None:
        if not args.label.strip():
            from harness.core.errors import HarnessError

            raise HarnessError("--label: give a non-empty name, e.g. --label base")
        model = model.model_copy(update={"label": args.label.strip()})
    if args.max_connection_errors is not None:
        model = model.model_copy(update={"max_connection_errors": args.max_connection_errors})
    if args.batch:
        if model.provider != "openai":
            from harness.core.errors import HarnessError

            raise HarnessError(f"--batch: only the openai provider has a Batch API, not {model.provider}")
        model = model.model_copy(update={"params": model.params.model_copy(update={"batch": True})})
    cfg = RunConfig(suite=args.suite, model=model, split=args.split, **selection,
                    reports_dir=args.reports, out=args.out, cache=args.cache, progress=not args.no_progress,
                    judge=args.judge, repeats=args.repeats, max_cost=args.max_cost, prices=args.prices,
                    executor=executor_from_args(args), trust=args.trust)
    print_selection(selection)
    if args.dry_run:
        from harness.cli.dry_run import dry_run

        print(dry_run(cfg))
        return 0
    warn_if_retiring(cfg.model, trust=cfg.trust)  # one line when an openai model shuts down within 90 days; silent otherwise
    outcome = run_suite(cfg)
    s = outcome.summary
    print(f"{s.suite.name} v{s.suite.version}  split={s.dataset.split}  model={s.model.display}  "
          f"examples={s.counts.examples} (cached {s.counts.cached}, errors {s.counts.errors})")
    if s.dataset.sample is not None:
        from harness.data.sample import sample_note

        print(sample_note(s.dataset.sample))
    print(format_table(s))
    print(f"run directory: {outcome.directory}")
    if not args.no_retention:
        from harness.evaluate.retention import run_retention

        for r in run_retention(cfg, outcome.directory, log=lambda m: print(m, flush=True)):
            from harness.records.run import read_run

            sub = read_run(r.directory).summary
            first = next(iter(sub.metrics.items()), None)
            shown = f"{first[0]} {first[1].mean:.3f}" if first and first[1].mean is not None else ""
            print(f"retention {r.name}: {shown} ({sub.counts.examples} examples) -> {r.directory}")
    code = 0
    if s.cost is not None and s.cost.total_usd is not None:  # a model with no price (local, scripted, self-hosted) prints none
        print(f"cost: {_money(s.cost.total_usd)} ({_money(s.cost.spent_usd)} spent by this invocation)")
    if outcome.cap_reached:
        print(outcome.cap_reached, file=sys.stderr)
        code = 3
    elif outcome.endpoint_down:
        not_sent = sum(1 for r in outcome.results if r.response.attempts == 0 and r.response.error)
        print(f"{outcome.endpoint_down}; {not_sent} example(s) not attempted; rerun to resume", file=sys.stderr)
        code = 3
    elif outcome.n_errors:
        print(f"{outcome.n_errors} example(s) failed (see 'error' in results.jsonl); rerun to retry them")
        code = 3
    return track(args, args.suite, code, lambda t: t.log_run(outcome.directory), "the run")


def _money(x: float | None) -> str:
    from harness.pricing import format_dollars

    return format_dollars(x)

