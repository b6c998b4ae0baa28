"""harness init [DIR]: a starter project: a suite, a 10-line dataset, scripted answers and a pytest file."""

from __future__ import annotations

import argparse
import re
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="write a starter suite, a 10-line dataset and a pytest file to DIR",
                       description="Write DIR/suite.yaml, DIR/data/test.jsonl (10 rows), DIR/outputs.json (scripted "
                                   "answers) and DIR/test_suite.py (pytest: the suite validates and its gates pass). "
                                   "Existing files are never overwritten without --force.")
    p.add_argument("dir", type=Path, nargs="?", default=Path("."), help="folder to write to (default: the current one)")
    p.add_argument("--name", help="the suite's name (default: the folder's name)")
    p.add_argument("--force", action="store_true", help="overwrite files that are already there")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from harness.cli.starter import init_files, write_files
    from harness.core.extras import missing, pip_command

    if missing("pytest"):
        print(f"note: test_suite.py needs pytest, which is not installed: {pip_command('pytest')}")

    folder: Path = args.dir
    name = args.name or re.sub(r"[^A-Za-z0-9_.-]+", "-", folder.resolve().name).strip("-.") or "my-suite"
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", name):
        name = "suite-" + name
    for p in write_files(folder, init_files(name), force=args.force):
        print(f"wrote {p}")
    print(f"next: cd {folder} && harness validate suite.yaml && pytest -q test_suite.py")
    return 0
