"""harness import openai-eval EVAL.json | openai-evals-registry SPEC.yaml: bring evals written for other tools.

Writes a suite YAML (and its dataset as JSONL) that `harness validate` accepts. What cannot be
converted is printed, one located line each, and listed in the suite's header; the rest is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="turn an OpenAI eval (Evals API object or openai/evals registry) into a suite",
                       description="Convert another tool's evaluation into a suite YAML and dataset.")
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    a = kinds.add_parser("openai-eval", help="an eval object as OpenAI's Evals API returned it (JSON)")
    a.add_argument("source", type=Path, metavar="EVAL.json")
    a.add_argument("--data", type=Path, metavar="FILE.jsonl", help="the eval's items, one {\"item\": {...}} (or item) a line")
    b = kinds.add_parser("openai-evals-registry", help="an eval of the open-source openai/evals registry (YAML)")
    b.add_argument("source", type=Path, metavar="SPEC.yaml")
    b.add_argument("--eval", metavar="NAME", help="which eval of the file (default: the only one)")
    b.add_argument("--registry", type=Path, metavar="DIR", help="the registry folder holding data/ and modelgraded/ "
                                                                "(default: the folder above the spec's)")
    for q in (a, b):
        q.add_argument("--out", type=Path, help="suite file to write (default: suites/<name>.yaml)")
        q.add_argument("--data-out", type=Path, metavar="DIR", help="folder for the dataset (default: datasets/<name>)")
        q.add_argument("--judge", metavar="MODEL", help="judge model for model graders, as for --model "
                                                         "(default: openai:<the grader's model>)")
        q.add_argument("--force", action="store_true", help="replace a suite or dataset file that is already there "
                                                             "(default: refuse, so an import never overwrites held-out data)")
        q.add_argument("--strict", action="store_true", help="exit 2 when anything could not be converted")
        q.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from harness.core.errors import HarnessError
    from harness.importers.common import write

    if not args.source.is_file():
        raise HarnessError(f"{args.source}: no such file")
    if args.kind == "openai-eval":
        from harness.importers.openai_eval import import_openai_eval

        if args.data is not None and not args.data.is_file():
            raise HarnessError(f"{args.data}: no such file")
        imp = import_openai_eval(args.source, args.data, args.judge)
    else:
        from harness.importers.evals_registry import import_registry_eval

        imp = import_registry_eval(args.source, args.eval, args.registry, args.judge)
    out = args.out or Path("suites") / f"{imp.name}.yaml"
    suite_file, data_file = write(imp, out, args.data_out or Path("datasets") / imp.name, force=args.force)
    for n in imp.notes:
        print(n, file=sys.stderr)
    from harness.suite.judges import judge_warnings

    for w in judge_warnings(imp.suite["metrics"], str(suite_file)):
        print(w, file=sys.stderr)
    print(f"wrote {suite_file} ({len(imp.suite['metrics'])} metric(s), {len(imp.suite['gates'])} gate(s))"
          + (f" and {data_file} ({len(imp.rows or [])} examples)" if data_file else "; no data given (--data)"))
    print(f"next: harness validate {suite_file}")
    return 2 if args.strict and imp.notes else 0
