"""harness record SUITE --model MODEL [--split S] | harness record --inputs FILE --model MODEL"""

from __future__ import annotations

import argparse
from pathlib import Path
from harness.core.options import ANSWER_TOKENS, TEMPERATURE

from harness.cli.common import (
    add_executor_options,
    add_model_options,
    add_output_options,
    add_selection_options,
    add_trust_options,
    executor_from_args,
    model_from_args,
    selection_from_args,
    with_trust,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("record", help="record a model's answers (with provenance) to replay as a reference later",
                       description="Ask the model every input of a suite split, or of an unlabelled inputs file, and write "
                                   "a recording folder: recording.json (the model id the API reported, system "
                                   "fingerprints, generation settings, date, suite and prompt hashes, harness version), "
                                   "outputs.jsonl and chat.jsonl (a chat dataset a suite can read). Answers go through "
                                   "the response cache: a killed recording, rerun, redoes nothing. Exit 3 when some "
                                   "inputs failed (rerun to retry them), 2 on bad input.")
    p.add_argument("suite", type=Path, nargs="?", help="suite YAML file; with --inputs, its prompt and settings render "
                                                       "each input (the template's columns must be in the file)")
    p.add_argument("--split", help="dataset split (default: the suite's default_split)")
    p.add_argument("--inputs", type=Path, metavar="FILE",
                   help="unlabelled inputs: chat JSONL, or JSONL/CSV with a text column (--field)")
    p.add_argument("--field", default="text", metavar="NAME", help="--inputs: the text column (default text)")
    p.add_argument("--id-field", metavar="NAME", help="--inputs: a column with stable ids (default: a hash of the input)")
    p.add_argument("--system", metavar="TEXT", help="--inputs: system message sent before each input")
    p.add_argument("--max-tokens", type=ANSWER_TOKENS, metavar="N",
                   help=f"--inputs: max tokens per answer (default 256; {ANSWER_TOKENS.range})")
    p.add_argument("--temperature", type=TEMPERATURE, metavar="T",
                   help=f"--inputs: sampling temperature (default 0; {TEMPERATURE.range})")
    add_selection_options(p, what="inputs")
    p.add_argument("--out", type=Path, metavar="DIR", help="recording folder (default REPORTS/recordings/<source>-<model>)")
    add_model_options(p)
    add_executor_options(p)
    add_output_options(p)
    add_trust_options(p)
    p.set_defaults(func=with_trust(main))


def main(args: argparse.Namespace) -> int:
    from harness.core.errors import HarnessError
    from harness.core.settings import GenerationSettings
    from harness.migrate.recorder import RecordConfig, record
    from harness.migrate.retiring import warn_if_retiring
    from harness.records.rundir import slug

    if args.suite is None and args.inputs is None:
        raise HarnessError("record: give a SUITE, --inputs FILE, or both (the inputs asked with the suite's prompt)")
    if args.suite is not None and any(v is not None for v in (args.max_tokens, args.temperature, args.system)):
        raise HarnessError("record: --max-tokens, --temperature and --system apply to --inputs alone; a suite sets its own")
    if args.suite is not None and args.inputs is not None and args.split:
        raise HarnessError("record: --split reads the suite's data; with --inputs the inputs are the data")
    spec = model_from_args(args)
    assert spec is not None
    from harness.distributed import with_executor

    spec = with_executor(spec, executor_from_args(args))
    gen = None
    if args.inputs is not None:
        over = {k: v for k, v in (("max_tokens", args.max_tokens), ("temperature", args.temperature)) if v is not None}
        gen = GenerationSettings(**over)
    source = args.inputs.stem if args.inputs else args.suite.stem + (f"-{args.split}" if args.split else "")
    out = args.out or args.reports / "recordings" / f"{slug(source)}-{slug(spec.display())}"
    warn_if_retiring(spec, trust=args.trust)
    cfg = RecordConfig(model=spec, out=out, suite=args.suite, split=args.split, inputs=args.inputs, field=args.field,
                       id_field=args.id_field, system=args.system, generation=gen, **selection_from_args(args),
                       cache=args.cache or args.reports / "cache.sqlite", progress=not args.no_progress,
                       trust=args.trust)
    outcome = record(cfg)
    h = outcome.header
    c = h.counts
    models = ", ".join(f"{m} ({n})" for m, n in h.reported_models.items()) or "not reported"
    print(f"recorded {c['outputs']} of {c['examples']} inputs (cached {c['cached']}, errors {c['errors']}) "
          f"from {h.model['display']}; the API reported model: {models}")
    print(f"recording: {outcome.folder}")
    if outcome.n_errors:
        failed = [r["id"] for r in outcome.rows if r["output"] is None]
        print(f"{len(failed)} input(s) failed ({', '.join(failed[:5])}{', ...' if len(failed) > 5 else ''}); "
              "rerun the same command to retry them")
        return 3
    return 0
