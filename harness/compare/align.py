"""Align runs example by example: same suite, same dataset, same split, matched by example id."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError
from harness.run_record import load_run


@dataclass
class Run:
    """One run directory read back, with the label reports show for it."""

    directory: Path
    summary: dict[str, Any]
    rows: list[dict[str, Any]]
    label: str

    @property
    def model(self) -> str:
        return self.summary.get("model", {}).get("display", "?")


@dataclass
class Aligned:
    """Runs matched by example id, in the baseline's order. ``rows[r][i]`` is run r's row for ``ids[i]``."""

    runs: list[Run]
    ids: list[str]
    categories: list[str | None]
    rows: list[list[dict[str, Any]]]
    category_field: str | None
    unmatched: dict[str, int] = field(default_factory=dict)  # run label -> examples not in every run


def load_runs(directories: list[Path], labels: list[str] | None = None) -> list[Run]:
    runs = []
    for i, d in enumerate(directories):
        summary, rows = load_run(d)
        runs.append(Run(Path(d), summary, rows, labels[i] if labels else summary.get("model", {}).get("display", f"run{i + 1}")))
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
        for what, get in (("suite", lambda s: s["suite"]["sha256"]), ("split", lambda s: s["dataset"]["split"]),
                          ("dataset", lambda s: s["dataset"]["sha256"])):
            a, b = get(base.summary), get(r.summary)
            if a != b:
                shown = (a, b) if what == "split" else (str(a)[:12], str(b)[:12])
                raise HarnessError(f"cannot compare {base.directory} and {r.directory}: different {what} "
                                   f"({shown[0]} vs {shown[1]}); compare runs of the same suite, dataset and split")


def _records_by_id(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The dataset's records, for a category field the run rows do not carry."""
    from harness.data.examples import load_split
    from harness.suite.schema import Suite

    suite = Suite.model_validate(summary["suite"]["spec"])
    split = summary["dataset"]["split"]
    path = Path(summary["dataset"]["path"])
    rel = Path(suite.dataset.splits[split])
    base = path
    for _ in rel.parts:
        base = base.parent
    if not path.is_file():
        raise HarnessError(f"--category-field needs the dataset file the run read: {path} is missing")
    return {ex.id: ex.record for ex in load_split(suite.dataset, base, split, suite.prompt).examples}


def align(runs: list[Run], category_field: str | None = None) -> Aligned:
    check_comparable(runs)
    by_id = [{row["id"]: row for row in r.rows} for r in runs]
    ids = [row["id"] for row in runs[0].rows if all(row["id"] in m for m in by_id[1:])]
    unmatched = {r.label: len(r.rows) - len(ids) for r in runs if len(r.rows) != len(ids)}
    if not ids:
        raise HarnessError("the runs have no example id in common (different --limit or data?)")
    suite_field = runs[0].summary["dataset"].get("category_field")
    if category_field is None or category_field == suite_field:
        cats = [by_id[0][i].get("category") for i in ids]
        field_name = suite_field
    else:
        records = _records_by_id(runs[0].summary)
        missing = [i for i in ids if category_field not in records.get(i, {})]
        if len(missing) == len(ids):
            raise HarnessError(f"no example has a field {category_field!r}; its fields are: {', '.join(next(iter(records.values()), {}))}")
        cats = [None if records.get(i, {}).get(category_field) is None else str(records[i][category_field]) for i in ids]
        field_name = category_field
    return Aligned(runs, ids, cats, [[m[i] for i in ids] for m in by_id], field_name, unmatched)
