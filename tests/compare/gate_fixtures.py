"""Runs of the support-intent suite made with the scripted provider, for compare/gate/report tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from harness.providers.base import ModelSpec
from harness.evaluate.run import RunConfig, run_suite
from tests.conftest import ROOT, write_jsonl

SUITE = ROOT / "suites" / "support_intent.yaml"
ROWS = [json.loads(line) for line in (ROOT / "datasets" / "support_intent" / "test.jsonl").read_text().splitlines() if line.strip()]
INTENTS = sorted({r["intent"] for r in ROWS})
BROKEN = "cancel_order"
WRONG = {BROKEN: "refund_request"}

Answer = Callable[[dict], str]


def right(row: dict) -> str:
    return row["intent"]


def breaks(intent: str) -> Answer:
    """Wrong on every example of ``intent``, right elsewhere."""
    return lambda row: "refund_request" if row["intent"] == intent else row["intent"]


def write_script(folder: Path, name: str, answer: Answer) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return write_jsonl(folder / f"{name}.jsonl", [{"id": r["id"], "output": answer(r)} for r in ROWS])


def make_run(tmp: Path, name: str, answer: Answer, suite: Path = SUITE) -> Path:
    script = write_script(tmp / "scripts", name, answer)
    cfg = RunConfig(suite=suite, model=ModelSpec.parse(f"scripted:{script}"), reports_dir=tmp / "reports",
                    out=tmp / "runs" / name, progress=False)
    return run_suite(cfg).directory


def ids_of(intent: str) -> list[str]:
    return [r["id"] for r in ROWS if r["intent"] == intent]
