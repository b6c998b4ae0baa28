"""harness quickstart [DIR]: the whole tour in seconds, offline, no key, no training.

Writes a 12-question suite with inline examples and two scripted models' answers to DIR (default
./quickstart), runs both, compares them, gates the candidate against the base and writes the HTML
report, printing each step, the report's path and the gate's verdict (promote, block or inconclusive).
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

VERDICTS = {0: "PROMOTE", 1: "BLOCK", 5: "INCONCLUSIVE"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("quickstart", help="the tour in seconds: a tiny suite, two scripted models, run, compare, gate, report",
                       description="Write a 12-question suite (examples inline) and two scripted models' answers to DIR, "
                                   "run both, compare them, gate the candidate against the base and write the HTML report. "
                                   "Offline, no API key, no training. Exit 0: the tour ran (whatever the verdict).")
    p.add_argument("dir", type=Path, nargs="?", default=Path("quickstart"), help="folder to write to (default: ./quickstart)")
    p.add_argument("--force", action="store_true", help="overwrite the quickstart's files in DIR if they were edited")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from harness.cli.main import main as harness
    from harness.cli.starter import quickstart_files, write_files

    start = time.perf_counter()
    folder: Path = args.dir
    step = _steps()
    step(f"writing the suite (12 questions inline) and two scripted models' answers to {folder}/")
    write_files(folder, quickstart_files(), force=args.force, same_ok=True)
    suite, reports = folder / "suite.yaml", folder / "reports"
    out = {k: reports / k for k in ("base-run", "candidate-run", "comparison", "gate")}
    for path in out.values():  # a rerun replaces the tour's own folders, nothing else
        if path.is_dir():
            shutil.rmtree(path)
    common = ["--reports", str(reports), "--no-progress"]

    step(f"validating {suite}")
    _check(harness(["validate", str(suite)]), "validate")
    step("running the base model (scripted: base.json, 6 of 12 right)")
    _check(harness(["run", str(suite), "--model", f"scripted:{folder / 'base.json'}", "--out", str(out["base-run"]), *common]), "run")
    step("running the candidate model (scripted: candidate.json, 11 of 12 right)")
    _check(harness(["run", str(suite), "--model", f"scripted:{folder / 'candidate.json'}", "--out", str(out["candidate-run"]), *common]), "run")
    step("comparing them example by example (paired bootstrap)")
    _check(harness(["compare", str(out["base-run"]), str(out["candidate-run"]), "--out", str(out["comparison"]),
                    "--reports", str(reports)]), "compare")
    step("gating the candidate against the base (the suite's gates)")
    code = harness(["gate", str(suite), "--baseline", str(out["base-run"]), "--candidate", str(out["candidate-run"]),
                    "--out", str(out["gate"]), *common])
    if code not in VERDICTS:
        _check(code, "gate")
    report = out["gate"] / "report.html"
    print()
    print(f"report: {report.resolve()}")
    print(f"verdict: {VERDICTS[code]} (exit {code}); a gate decides one of three: PROMOTE (0), BLOCK (1), "
          f"INCONCLUSIVE (5: too few examples to decide)")
    print(f"done in {time.perf_counter() - start:.1f} s. Next: edit {suite} and rerun, or `harness init DIR` for a "
          "project of your own")
    return 0


def _steps():
    n = [0]

    def step(text: str) -> None:
        n[0] += 1
        print(f"\n[{n[0]}/6] {text}", flush=True)
    return step


def _check(code: int, what: str) -> None:
    if code != 0:
        from harness.core.errors import HarnessError

        raise HarnessError(f"quickstart: `harness {what}` failed (exit {code}); its message is above")
