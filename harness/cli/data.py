"""harness data validate FILE | harness data prepare INPUT --out DIR"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.cli.common import add_trust_options, with_trust
from harness.core.options import EPOCHS, EXAMPLE_TOKENS, NGRAM, PRICE_PER_1K, SEED, SHARE, THRESHOLD
from harness.data.contamination import DEFAULT_NGRAM, DEFAULT_THRESHOLD
from harness.data.validate import DEFAULT_MAX_TOKENS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="check and prepare fine-tuning data",
                       description="Check chat fine-tuning files, and turn raw examples into clean train/validation files.")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    v = dsub.add_parser("validate", help="check an OpenAI chat or preference (DPO) fine-tuning JSONL file",
                        description="Check every line of a chat fine-tuning JSONL file (messages, roles, content, "
                                    "assistant turns, weights, tool calls, token counts) or of a preference file "
                                    "(input.messages, preferred_output, non_preferred_output); print each problem with "
                                    "its line and field, then statistics and an estimated training cost. Exit 2 when "
                                    "any problem.")
    v.add_argument("file", type=Path)
    v.add_argument("--format", choices=("auto", "chat", "preference"), default="auto",
                   help="auto: preference when the first line has input/preferred_output, else chat")
    v.add_argument("--max-tokens", type=EXAMPLE_TOKENS, default=DEFAULT_MAX_TOKENS, metavar="N",
                   help=f"tokens allowed per example (default {DEFAULT_MAX_TOKENS}: SmolLM2's context; {EXAMPLE_TOKENS.range})")
    v.add_argument("--tokenizer", choices=("auto", "smollm2", "estimate"), default="auto",
                   help="auto: SmolLM2's tokenizer when installed, else about 4 characters per token")
    v.add_argument("--epochs", type=EPOCHS, default=3, metavar="N",
                   help=f"epochs for the training-token estimate (default 3; {EPOCHS.range})")
    v.add_argument("--price-per-1k", type=PRICE_PER_1K, metavar="USD",
                   help=f"price per 1K training tokens (default: --base's training price in the price table, "
                        f"harness/pricing/openai.yaml or $HARNESS_PRICES; {PRICE_PER_1K.range})")
    v.add_argument("--base", default="gpt-4o-mini", metavar="MODEL",
                   help="the model to be fine-tuned, for the training price (default gpt-4o-mini); supervised and "
                        "preference (DPO) files are priced per trained token alike")
    v.add_argument("--json", action="store_true", help="print the statistics as JSON")
    v.set_defaults(func=validate_main)

    pr = dsub.add_parser("prepare", help="clean, deduplicate, convert, split and check data for contamination",
                         description="Normalise text (NFKC, whitespace), drop empty and overlong examples, drop exact and "
                                     "near duplicates, convert input/output JSONL or CSV to chat format, split "
                                     "train/validation (stratified by --category-field), and refuse (exit 2) when "
                                     "training text overlaps a --suite's test split. Writes OUT/train.jsonl, "
                                     "OUT/validation.jsonl and OUT/prepare_report.json.")
    pr.add_argument("input", type=Path, nargs="?", help="chat JSONL, or JSONL/CSV with input and output columns")
    pr.add_argument("--from-recording", type=Path, metavar="DIR",
                    help="instead of INPUT: a `harness record` folder; its answers become the training targets "
                         "(distillation), written to OUT/distilled.jsonl and prepared like any chat file")
    pr.add_argument("--category-from-output", action="store_true",
                    help="--from-recording: the recorded answer is also the category (a classifier's label)")
    pr.add_argument("--with-split", metavar="SPLIT",
                    help="--from-recording: add the first --suite's labelled SPLIT (e.g. train) to the teacher's answers; "
                         "where both have a prompt, the label wins")
    pr.add_argument("--out", type=Path, required=True, metavar="DIR")
    pr.add_argument("--format", choices=("auto", "chat", "preference", "jsonl", "csv"), default="auto",
                    help="auto: by extension and first line (chat, preference, or input/output records)")
    pr.add_argument("--input-field", default="input", metavar="NAME", help="column with the user's text (default input)")
    pr.add_argument("--output-field", default="output", metavar="NAME", help="column with the answer (default output)")
    pr.add_argument("--id-field", metavar="NAME", help="column with a stable id (default FILE:LINE)")
    pr.add_argument("--category-field", metavar="NAME", help="stratify the split by this column")
    pr.add_argument("--system", metavar="TEXT", help="system prompt of converted examples (replaces a chat file's own)")
    pr.add_argument("--validation-fraction", type=SHARE, default=0.1, metavar="F",
                    help=f"share of examples held out for validation (default 0.1; {SHARE.range})")
    pr.add_argument("--seed", type=SEED, default=0, metavar="N", help=f"seed of the split (default 0; {SEED.range})")
    pr.add_argument("--max-tokens", type=EXAMPLE_TOKENS, default=DEFAULT_MAX_TOKENS, metavar="N",
                    help=f"longer examples are dropped (default {DEFAULT_MAX_TOKENS}; {EXAMPLE_TOKENS.range})")
    pr.add_argument("--tokenizer", choices=("auto", "smollm2", "estimate"), default="auto")
    pr.add_argument("--near-dup-threshold", type=THRESHOLD, default=0.8, metavar="J",
                    help="word-shingle Jaccard at which a later example is a near duplicate (default 0.8; 1 = exact "
                         f"words only; {THRESHOLD.range})")
    pr.add_argument("--shingle-size", type=NGRAM, default=1, metavar="N",
                    help=f"words per shingle (default 1: word sets; {NGRAM.range})")
    pr.add_argument("--suite", action="append", type=Path, default=[], metavar="SUITE",
                    help="check overlap with this suite's test split (repeatable)")
    pr.add_argument("--ngram", type=NGRAM, default=DEFAULT_NGRAM, metavar="N",
                    help=f"overlap n-gram size in words (default {DEFAULT_NGRAM}; {NGRAM.range})")
    pr.add_argument("--overlap-threshold", type=THRESHOLD, default=DEFAULT_THRESHOLD, metavar="X",
                    help=f"share of a test input's n-grams that makes a pair contaminated (default {DEFAULT_THRESHOLD}; "
                         f"{THRESHOLD.range})")
    pr.add_argument("--allow-contamination", action="store_true", help="drop contaminated examples instead of refusing")
    add_trust_options(pr, keys=False)  # --data-root: the folder a --suite's dataset must stay inside
    pr.set_defaults(func=with_trust(prepare_main))


def training_price(given: float | None, base: str) -> tuple[float, str]:
    """USD per 1K training tokens and where it came from: --price-per-1k, else the price table's entry for ``base``."""
    from harness.core.errors import HarnessError
    from harness.pricing import load_prices

    if given is not None:
        return given, "--price-per-1k"
    table = load_prices()
    entry = table.price(base.removeprefix("openai:"))
    if entry is None or entry.training is None:
        raise HarnessError(f"--base {base}: no training price in the price table; give --price-per-1k USD "
                           "(or add it to a $HARNESS_PRICES file)")
    return entry.training / 1000, f"{base}'s training price in the price table, as of {table.as_of or 'unknown'}"


def validate_main(args: argparse.Namespace) -> int:
    from harness.data.preference import detect_format, validate_preference_file
    from harness.data.validate import format_stats, token_counter, validate_chat_file

    price, source = training_price(args.price_per_1k, args.base)
    fmt = detect_format(args.file) if args.format == "auto" else args.format
    check = validate_preference_file if fmt == "preference" else validate_chat_file
    result = check(args.file, args.max_tokens, token_counter(args.tokenizer))
    for p in result.problems:
        print(p, file=sys.stderr)
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.json:
        print(json.dumps({"file": str(args.file), "format": fmt, "problems": [str(p) for p in result.problems],
                          "warnings": [str(w) for w in result.warnings],
                          **result.stats.to_json(args.epochs, price), "price_source": source}, indent=2))
    else:
        print(format_stats(result, args.epochs, price, source))
    return 2 if result.problems else 0


def prepare_main(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from harness.core.errors import HarnessError
    from harness.data.prepare import PrepareConfig, format_report, prepare_data

    provenance = None
    if args.from_recording is not None:  # distillation: the recording becomes a chat file, then the same steps
        from harness.migrate.distill import recording_as_input

        provenance = recording_as_input(args)
    elif args.input is None:
        raise HarnessError("data prepare: give INPUT or --from-recording DIR")
    elif args.with_split:
        raise HarnessError("data prepare --with-split: it adds a labelled split to a recording's answers; give --from-recording DIR")
    try:
        cfg = PrepareConfig(input=args.input, out_dir=args.out, format=args.format, input_field=args.input_field,
                            output_field=args.output_field, id_field=args.id_field, category_field=args.category_field,
                            system_prompt=args.system, validation_fraction=args.validation_fraction, seed=args.seed,
                            max_tokens=args.max_tokens, tokenizer=args.tokenizer,
                            near_duplicate_threshold=args.near_dup_threshold, shingle_size=args.shingle_size,
                            suites=args.suite, contamination_ngram=args.ngram, contamination_threshold=args.overlap_threshold,
                            allow_contamination=args.allow_contamination, trust=args.trust)
    except ValidationError as e:  # e.g. --validation-fraction 1.5: name the option, exit 2
        raise HarnessError("\n".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())) from None
    result = prepare_data(cfg)
    if provenance is not None:
        from harness.migrate.distill import annotate_report

        annotate_report(result.report_path, provenance)
        mixed = provenance.get("with_split")
        print(f"distilled {provenance['examples']} recorded answers of {provenance['teacher']} "
              f"({provenance['n_skipped']} inputs without an answer left out)" if mixed is None else
              f"distilled {mixed['teacher_only']} recorded answers of {provenance['teacher']} plus {mixed['labelled']} "
              f"labelled examples of {mixed['split']} ({mixed['overlap']} recorded inputs had a label, which won; the "
              f"teacher disagreed with it on {mixed['teacher_disagreed_with_label']}; {provenance['n_skipped']} inputs "
              "without an answer left out)")
    print(format_report(result))
    return 0
