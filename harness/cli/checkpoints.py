"""harness checkpoints DIR --suite S [--split validation] [--metric M] [--base MODEL]"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.common import add_executor_options, add_output_options, executor_from_args, add_trust_options, positive_int, with_trust


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("checkpoints", help="evaluate a folder of adapter checkpoints on one loaded base, choose the best",
                       description="Find the LoRA adapter checkpoints in DIR (TRL / HF Trainer checkpoint-N/ folders, "
                                   "axolotl output folders: any folder with adapter_config.json, 3 levels down), "
                                   "evaluate each on the suite's split over one loaded base (adapters switched, no "
                                   "reload), and choose the best by the suite's primary gate metric (the first "
                                   "comparative gate's), the lowest validation loss (trainer_state.json) breaking "
                                   "ties. Prints the table; writes checkpoints.json, .csv, .md and .html under "
                                   "REPORTS/checkpoints/<suite>-<folder>/ (or --out).")
    p.add_argument("folder", type=Path, metavar="DIR", help="folder of adapter checkpoints")
    p.add_argument("--suite", type=Path, required=True, metavar="S", help="suite YAML file")
    p.add_argument("--split", default="validation", help="split to evaluate on (default validation)")
    p.add_argument("--metric", metavar="M", help="score to choose by (default: the first comparative gate's metric, "
                                                 "else the first gate's, else the first metric's first score)")
    p.add_argument("--base", metavar="MODEL", help="base model the adapters are over: smollm2 or a local folder "
                                                   "(default: base_model_name_or_path of their adapter_config.json)")
    p.add_argument("--limit", type=positive_int, metavar="N", help="evaluate only the first N examples")
    p.add_argument("--out", type=Path, metavar="DIR", help="folder for the table and the runs")
    add_executor_options(p)
    add_output_options(p)
    add_trust_options(p, keys=False)
    p.set_defaults(func=with_trust(main))


def main(args: argparse.Namespace) -> int:
    from harness.checkpoints.folder import FolderConfig, rank_folder
    from harness.checkpoints.table import text

    cfg = FolderConfig(folder=args.folder, suite=args.suite, split=args.split, metric=args.metric, base=args.base,
                       limit=args.limit, reports_dir=args.reports, out=args.out, cache=args.cache, progress=not args.no_progress,
                       executor=executor_from_args(args), trust=args.trust)
    from harness.report.html import write_checkpoints_html

    ranked, paths = rank_folder(cfg, log=lambda m: print(m, flush=True))
    paths["html"] = write_checkpoints_html(ranked.table, paths["json"].parent)
    print()
    print(text(ranked.table), end="")
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0
