"""Align runs example by example: same suite, same dataset, same split, matched by example id."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.core.errors import HarnessError
from harness.records.columns import SCORE_PREFIX, frame_rows
from harness.records.run import RunRecord, RunSummary, read_run


@dataclass(eq=False)  # a run is itself: comparing DataFrames field by field has no single truth value
class Run:
    """A run read back (harness.records.run.RunRecord) with the label reports show for it: a thin
    view, not another copy of the run. ``frame``: its examples as columns (harness.records.columns)."""

    record: RunRecord = field(repr=False)
    label: str

    @property
    def directory(self) -> Path:
        return self.record.directory

    @property
    def summary(self) -> RunSummary:
        return self.record.summary

    @property
    def frame(self) -> pd.DataFrame:
        return self.record.frame

    @property
    def model(self) -> str:
        return self.record.model

    @property
    def name(self) -> str:
        """The model's short name (its label, else its display shortened), whatever ``label`` the comparison gave it."""
        return self.record.label

    @property
    def rows(self) -> list[dict[str, Any]]:
        return self.record.rows()


@dataclass(eq=False)
class Aligned:
    """Runs matched by example id, in the baseline's order. ``frames[r]`` holds run r's examples in
    the order of ``ids`` (one row each); ``rows[r][i]`` is the same as a dict, built on first use."""

    runs: list[Run]
    ids: list[str]
    categories: list[str | None]
    frames: list[pd.DataFrame]
    category_field: str | None
    unmatched: dict[str, int] = field(default_factory=dict)  # run label -> examples not in every run
    _rows: list[list[dict[str, Any]]] | None = field(default=None, repr=False)

    @property
    def rows(self) -> list[list[dict[str, Any]]]:
        if self._rows is None:
            self._rows = [frame_rows(f) for f in self.frames]
        return self._rows

    @property
    def sizes(self) -> list[int]:
        """Each run's number of examples (the aligned ones and any others)."""
        return [len(r.frame) for r in self.runs]

    def partial(self, run: int) -> bool:
        """Whether run ``run`` has examples outside the aligned ids (then its summary's figures are not
        over the aligned examples, and every figure of the comparison is recomputed on them)."""
        return self.runs[run].label in self.unmatched

    def coverage(self) -> str | None:
        """"20 of 120 examples aligned (baseline 120, candidate 20)" when the runs do not cover the same
        ids (every figure is then over the aligned ones); None when they do."""
        if not self.unmatched:
            return None
        sizes = ", ".join(f"{r.label} {n}" for r, n in zip(self.runs, self.sizes, strict=True))
        return (f"{len(self.ids)} of {max(self.sizes)} examples aligned ({sizes}): every figure is over the "
                f"{len(self.ids)} examples all runs share")

    def score_column(self, run: int, score: str) -> np.ndarray:
        """Run ``run``'s per-example values of ``score`` in ``ids`` order; NaN where not scored."""
        col = SCORE_PREFIX + score
        f = self.frames[run]
        return f[col].to_numpy(dtype=np.float64) if col in f.columns else np.full(len(f), np.nan)


def load_runs(directories: list[Path], labels: list[str] | None = None) -> list[Run]:
    runs = []
    for i, d in enumerate(directories):
        record = read_run(d)
        runs.append(Run(record, labels[i] if labels else record.label or f"run{i + 1}"))
    seen: dict[str, int] = {}
    for r in runs:  # two runs of the same model (a gate against itself) still need distinct columns
        n = seen.get(r.label, 0) + 1
        seen[r.label] = n
        if n > 1:
            r.label = f"{r.label} ({n})"
    return runs


def check_comparable(runs: list[Run]) -> None:
    """Refuse runs that did not evaluate the same thing; the message names what differs."""
    base = runs[0]
    for r in runs[1:]:
        # The split before the dataset: another split is another file, and "different split" says why.
        for what, get in (("suite", lambda s: s.suite.sha256), ("split", lambda s: s.dataset.split),
                          ("dataset", lambda s: s.dataset.sha256)):
            a, b = get(base.summary), get(r.summary)
            if a != b:
                shown = (a, b) if what == "split" else (str(a)[:12], str(b)[:12])
                raise HarnessError(f"cannot compare {base.directory} and {r.directory}: different {what} "
                                   f"({shown[0]} vs {shown[1]}); compare runs of the same suite, dataset and split")


def _records_by_id(summary: RunSummary) -> dict[str, dict[str, Any]]:
    """The dataset's records, for a category field the run rows do not carry."""
    from harness.data.examples import load_split
    from harness.suite.schema import Suite

    suite = Suite.model_validate(summary.suite.spec)
    split = summary.dataset.split
    if suite.dataset.examples is not None:  # written in the suite: its spec holds them
        return {ex.id: ex.record for ex in load_split(suite.dataset, Path("."), split, suite.prompt).examples}
    path = Path(summary.dataset.path)
    rel = Path(suite.dataset.splits[split])
    base = path
    for _ in rel.parts:
        base = base.parent
    if not path.is_file():
        raise HarnessError(f"--category-field needs the dataset file the run read: {path} is missing")
    return {ex.id: ex.record for ex in load_split(suite.dataset, base, split, suite.prompt).examples}


def align(runs: list[Run], category_field: str | None = None) -> Aligned:
    """Match by id with index joins (vectorised; no per-example Python loop), in the baseline's order."""
    check_comparable(runs)
    common = pd.Index(runs[0].frame["id"])
    for r in runs[1:]:
        common = common[common.isin(r.frame["id"])]
    ids = common.tolist()
    unmatched = {r.label: len(r.frame) - len(ids) for r in runs if len(r.frame) != len(ids)}
    if not ids:
        raise HarnessError("the runs have no example id in common (different --limit or data?)")
    frames = [r.frame.set_index("id", drop=False).loc[common].reset_index(drop=True) for r in runs]
    suite_field = runs[0].summary.dataset.category_field
    if category_field is None or category_field == suite_field:
        cats = frames[0]["category"].tolist()
        field_name = suite_field
    else:
        records = _records_by_id(runs[0].summary)
        missing = [i for i in ids if category_field not in records.get(i, {})]
        if len(missing) == len(ids):
            raise HarnessError(f"no example has a field {category_field!r}; its fields are: {', '.join(next(iter(records.values()), {}))}")
        cats = [None if records.get(i, {}).get(category_field) is None else str(records[i][category_field]) for i in ids]
        field_name = category_field
    return Aligned(runs, ids, cats, frames, field_name, unmatched)
