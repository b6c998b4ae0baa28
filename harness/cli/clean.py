"""harness clean [--keep N] [--yes]: old run folders under REPORTS/runs, newest N of each kind kept.

Reruns and pytest sessions leave a run folder each (``<suite>-<split>-<model>-<time>``); folders of
the same suite, split and model are one kind, and all but the newest N of each are old. Without
``--yes`` it only lists what it would remove. It removes nothing but run folders (a folder holding
summary.json) directly under REPORTS/runs: never a link, never anything outside the reports folder.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
from pathlib import Path

from harness.core.options import LIMIT

STAMP = re.compile(r"-(\d{8}T\d{6})(?:-(\d+))?$")  # records/rundir.py: <suite>-<split>-<model>-<time>[-n]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("clean", help="remove old run folders under REPORTS/runs (lists them unless --yes)",
                       description="List (or with --yes remove) the run folders under REPORTS/runs older than the newest "
                                   "N of their suite, split and model. Runs written with --out elsewhere, comparisons, "
                                   "gates and the response cache are kept.")
    p.add_argument("--keep", type=LIMIT, default=1, metavar="N", help="newest runs of each suite, split and model to keep "
                                                                     f"(default 1; {LIMIT.range})")
    p.add_argument("--yes", action="store_true", help="remove them (default: only list what would be removed)")
    p.add_argument("--reports", type=Path, default=Path(os.environ.get("HARNESS_REPORTS", "reports")),
                   help="the reports folder (default: $HARNESS_REPORTS or reports)")
    p.set_defaults(func=main)


def old_runs(reports: Path, keep: int) -> list[Path]:
    """Run folders directly under REPORTS/runs beyond the newest ``keep`` of their kind, oldest first."""
    runs = reports / "runs"
    if not runs.is_dir():
        return []
    kinds: dict[str, list[tuple[str, int, Path]]] = {}
    root = runs.resolve()
    for entry in runs.iterdir():
        if entry.is_symlink() or not entry.is_dir() or entry.resolve().parent != root:
            continue
        if not (entry / "summary.json").is_file():
            continue  # not a finished run (or not a run at all): left alone
        m = STAMP.search(entry.name)
        if not m:
            continue  # named by hand (--out REPORTS/runs/NAME): kept
        kinds.setdefault(entry.name[:m.start()], []).append((m.group(1), int(m.group(2) or 1), entry))
    old = []
    for found in kinds.values():
        found.sort(reverse=True)
        old += [p for _, _, p in found[keep:]]
    return sorted(old, key=lambda p: p.name)


def main(args: argparse.Namespace) -> int:
    old = old_runs(args.reports, args.keep)
    if not old:
        print(f"nothing to remove: no run folder under {args.reports / 'runs'} is older than the newest {args.keep} of its kind")
        return 0
    for p in old:
        print(f"{'removing' if args.yes else 'would remove'} {p}")
    if args.yes:
        for p in old:
            shutil.rmtree(p)
        print(f"removed {len(old)} run folder(s)")
    else:
        print(f"{len(old)} run folder(s); rerun with --yes to remove them")
    return 0
