"""harness judge calibrate SUITE --labels FILE [--metric NAME] [--judge MODEL]

Grades a human-labelled set of answers with the suite's judge metric, reports the judge's agreement
with the people (Cohen's kappa, quadratic-weighted on a 1..N scale, with Spearman; kappa and
accuracy for pass/fail; bootstrap 95% intervals) and stores it under REPORTS/calibration/, keyed by
the rubric's sha256 and the judge's fingerprint. Runs read it back: an uncalibrated judge, or one
under its ``min_kappa``, only advises. When the judge's endpoint is down (its circuit breaker opened)
nothing is stored and the exit code is 3.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.common import add_output_options, add_trust_options, with_trust
from harness.core.errors import HarnessError
from harness.core.options import RESAMPLES


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("judge", help="calibrate an LLM judge against human labels")
    jsub = p.add_subparsers(dest="judge_command", metavar="ACTION", required=True)
    c = jsub.add_parser("calibrate", help="grade a human-labelled set with the suite's judge and store the agreement",
                        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("suite", type=Path, help="suite YAML file with a judge_rubric metric")
    c.add_argument("--labels", type=Path, required=True,
                   help="JSONL of {id, example, output, label[, note]}: an answer to an example of the suite and its human grade")
    c.add_argument("--metric", help="which judge score to calibrate when the suite has several (its `score` name)")
    c.add_argument("--judge", metavar="MODEL", help="calibrate this judge model instead of the suite's (as for run --judge)")
    c.add_argument("--resamples", type=RESAMPLES, default=1000, metavar="N",
                   help=f"bootstrap resamples for the intervals (default 1000; {RESAMPLES.range})")
    add_output_options(c)
    add_trust_options(c)
    c.set_defaults(func=with_trust(calibrate_main))


def pick_metric(metrics: list, wanted: str | None, suite: Path):
    from harness.metrics.judge_rubric import JudgeRubric

    judges = [m for m in metrics if isinstance(m, JudgeRubric)]
    if not judges:
        raise HarnessError(f"{suite}: the suite has no judge_rubric metric to calibrate")
    if wanted is None:
        if len(judges) > 1:
            raise HarnessError(f"{suite}: several judge scores ({', '.join(m.params.score for m in judges)}); pick one with --metric")
        return judges[0]
    for m in judges:
        if wanted in (m.params.score, m.rubric.name):
            return m
    raise HarnessError(f"{suite}: no judge score {wanted!r}; the suite's judge scores are: "
                       f"{', '.join(m.params.score for m in judges)}")


def calibrate_main(args: argparse.Namespace) -> int:
    from harness.evaluate.calibrate import calibrate
    from harness.core.types import RunContext
    from harness.judge import calibration as cal
    from harness.suite.load import load_suite

    loaded = load_suite(args.suite, trust=args.trust)
    metrics = loaded.metrics
    if args.judge:
        from harness.metrics.base import override_judge

        metrics = override_judge(metrics, args.judge)
    m = pick_metric(metrics, args.metric, args.suite)
    context = RunContext(cache_path=args.cache or args.reports / "cache.sqlite", reports_dir=args.reports,
                         progress=not args.no_progress, suite_path=loaded.path, trust=args.trust)
    store = cal.CalibrationStore(cal.store_path(args.reports))
    entry = calibrate(m, loaded, args.labels, store, context, resamples=args.resamples)  # EndpointDown: exit 3
    print(f"judge {m.judge.spec.display()}  rubric {m.rubric.name} (sha256 {entry['rubric_sha256'][:12]})  "
          f"labels {args.labels} ({entry['labels']['n']})")
    for key in ("quadratic_weighted_kappa", "cohen_kappa", "spearman", "accuracy", "exact_accuracy"):
        if key in entry:
            s = entry[key]
            print(f"  {key:<25} {_f(s['value'])}  95% CI [{_f(s['ci_low'])}, {_f(s['ci_high'])}]")
    print(f"  unparseable verdicts      {entry['n_unparseable']}")
    trusted = entry["agreement"] is not None and entry["agreement"] >= m.params.min_kappa
    print(f"  {'trusted' if trusted else 'advisory'}: agreement {_f(entry['agreement'])} "
          f"{'>=' if trusted else '<'} min_kappa {m.params.min_kappa}")
    print(f"stored in {store.file(entry['rubric_sha256'])}")
    return 0


def _f(x: float | None) -> str:
    import math

    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"
