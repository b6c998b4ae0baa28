"""Judge calibration, the workflow (`harness judge calibrate`): load the suite's examples, grade a
human-labelled set of answers with the suite's judge metric through one engine, measure agreement
and store it (:class:`harness.judge.calibration.CalibrationStore`, which runs read back).

It sits above the metrics and the data layer, like the runner: ``harness.judge`` holds the parts
(labels, agreement, the store) and imports neither.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from harness.core.aio import run_sync
from harness.core.errors import InputProblems, Problem
from harness.core.hashing import hash_path
from harness.core.types import Example, Failure, Item, RunContext
from harness.data.examples import load_split, render_messages
from harness.engine import EndpointDown, Engine
from harness.judge.calibration import CalibrationStore, agreement, finite, load_labels
from harness.judge.rubric import Rubric


def calibrate(metric: Any, loaded: Any, labels_path: Path, store: CalibrationStore, context: RunContext,
              resamples: int = 1000) -> dict[str, Any]:
    """:func:`calibrate_async` from synchronous code, with an engine on ``context.cache_path``."""

    async def go() -> dict[str, Any]:
        async with Engine.at(context.cache_path, progress=bool(context.progress)) as engine:
            return await calibrate_async(metric, loaded, labels_path, store, engine, context, resamples)

    return run_sync(go())


async def calibrate_async(metric: Any, loaded: Any, labels_path: Path, store: CalibrationStore, engine: Engine,
                          context: RunContext, resamples: int = 1000) -> dict[str, Any]:
    """Grade the labelled answers with ``metric`` (a judge_rubric metric) through ``engine``, compute
    agreement and store it. Returns the stored entry. A judge whose endpoint went down stores
    nothing (:class:`EndpointDown`, exit 3): its verdicts were never given."""
    rubric: Rubric = metric.rubric
    labels = load_labels(labels_path, rubric)
    examples = _examples(loaded)
    unknown = [Problem(str(labels_path), "example", f"no example {lab.example!r} in the suite's splits", line=lab.line)
               for lab in labels if lab.example not in examples]
    if unknown:
        raise InputProblems(unknown)
    items = []
    for lab in labels:
        ex = examples[lab.example]
        msgs = [{"role": r, "content": c} for r, c in render_messages(loaded.suite.prompt, ex)]
        items.append(Item(id=lab.id, output=lab.output, reference=ex.reference, input=ex.input, category=ex.category,
                          record=ex.record, messages=msgs))
    metric.bind(RunContext(cache_path=context.cache_path, reports_dir=context.reports_dir, progress=context.progress,
                           suite_path=loaded.path, engine=engine, generation=loaded.suite.generation,
                           trust=context.trust))
    per = await metric.ascore_batch(items)
    down = engine.down()
    if down:
        raise EndpointDown("; ".join(down) + "; nothing stored: rerun the calibration when the judge is back")
    scores = [row[metric.params.score] for row in per]
    result = agreement([lab.grade for lab in labels], scores, rubric, resamples)
    entry = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "suite": {"name": loaded.suite.name, "version": loaded.suite.version, "path": str(loaded.path)},
        "metric": metric.name, "score": metric.params.score,
        "rubric": {"name": rubric.name, "scale": rubric.scale}, "rubric_sha256": rubric.sha256(),
        "prompt_sha256": metric.prompt_sha256(),
        "judge": metric.judge.record(),
        "labels": {"path": str(labels_path), "sha256": hash_path(labels_path), "n": len(labels)},
        **result,
        "items": [{"id": lab.id, "label": lab.grade,
                   "judge": None if isinstance(s, Failure) else s,
                   "failure": s.reason if isinstance(s, Failure) else None} for lab, s in zip(labels, scores)],
    }
    entry = finite(entry)
    store.put(entry)
    return entry


def _examples(loaded: Any) -> dict[str, Example]:
    """Every example of every split by id (the first split that has an id wins)."""
    examples: dict[str, Example] = {}
    for split in loaded.suite.dataset.split_names():
        for ex in load_split(loaded.suite.dataset, loaded.dataset_dir(), split, loaded.suite.prompt).examples:
            examples.setdefault(ex.id, ex)
    return examples
