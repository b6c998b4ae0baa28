"""One local Ray cluster (2 CPUs) per test module, the actor pools killed after each test."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest

from tests.deps import requires_module

ROOT = Path(__file__).resolve().parents[2]

INTENTS = ["order_status", "cancel_order", "refund_request"]


@pytest.fixture(scope="module")
def ray_cluster():
    ray = requires_module("ray", "pip install 'finetune-harness[ray]'")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # the workers import harness and this folder's test providers from the checkout
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning",
             runtime_env={"env_vars": {"PYTHONPATH": path}})
    yield ray
    from harness import distributed

    distributed.shutdown()
    ray.shutdown()


@pytest.fixture(autouse=True)
def _pools_released():
    yield
    from harness import distributed

    distributed.shutdown()  # every test starts its own actors (a dead one, a counted load)


def write_suite(folder: Path, n: int, max_tokens: int = 8) -> Path:
    """An n-example intent suite and scripted outputs (every fourth one wrong) in ``folder``."""
    rows = [{"id": f"e{i:02d}", "text": f"message number {i}", "intent": INTENTS[i % 3]} for i in range(n)]
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    outputs = [{"id": r["id"], "output": r["intent"] if i % 4 else "cancel_order"} for i, r in enumerate(rows)]
    (folder / "outputs.jsonl").write_text("".join(json.dumps(o) + "\n" for o in outputs), encoding="utf-8")
    from tests.conftest import INTENT_SUITE

    suite = folder / "suite.yaml"
    suite.write_text(INTENT_SUITE.replace("max_tokens: 8", f"max_tokens: {max_tokens}"), encoding="utf-8")
    return suite


def comparable(run_dir: Path) -> dict[str, str]:
    """The run directory's files as text, with what differs between any two runs taken out: the
    timings, the creation time, the command line and the model's executor."""
    out = {}
    for f in sorted(run_dir.iterdir()):
        text = f.read_text(encoding="utf-8")
        if f.name == "summary.json":
            s = json.loads(text)
            for key in ("timing", "created", "command"):
                s.pop(key)
            for spec in _specs(s):
                spec.pop("executor", None)
            text = json.dumps(s, indent=1, sort_keys=False)
        elif f.name == "results.jsonl":
            rows = [json.loads(line) for line in text.splitlines()]
            for r in rows:
                r.pop("latency_s", None)
            text = "\n".join(json.dumps(r) for r in rows)
        elif f.name == "results.csv":
            rows = list(csv.reader(io.StringIO(text)))
            col = rows[0].index("latency_s")
            text = "\n".join(",".join(c for i, c in enumerate(row) if i != col) for row in rows)
        out[f.name] = text
    return out


def _specs(obj):
    """Every recorded model spec (a dict with provider and name) inside the summary."""
    if isinstance(obj, dict):
        if "provider" in obj and "name" in obj:
            yield obj
        for v in obj.values():
            yield from _specs(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _specs(v)
