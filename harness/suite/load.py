"""Load a suite file: YAML (+ its include chain) -> merge -> strict schema -> metric params ->
cross-checks -> paths confined to the project.

Every problem is gathered, located (file, YAML line, field path) and raised together.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from harness.core.errors import InputProblems, Problem, UnknownName
from harness.core.trust import TrustPolicy
from harness.suite.confine import inside, metric_paths, outside_message, project_root, recording_paths
from harness.suite.schema import INLINE_TAGS, Suite, template_problems
from harness.suite.sources import Sources, _yaml_line, format_loc, merged, read_chain  # noqa: F401 (re-exported)


@dataclass
class LoadedSuite:
    """A validated suite and everything resolved from it."""

    suite: Suite
    path: Path
    sha256: str  # of the merged, validated suite (include files count)
    metrics: list[Any] = field(default_factory=list)  # built Metric instances, in suite order

    @property
    def folder(self) -> Path:
        return self.path.parent

    def dataset_dir(self) -> Path:
        return (self.folder / self.suite.dataset.path).resolve()

    def split_path(self, split: str) -> Path:
        """The file of a split (training reads files); inline examples have none."""
        if self.suite.dataset.examples is not None:
            from harness.core.errors import HarnessError

            raise HarnessError(f"{self.path}: the {split!r} split is written inline (dataset.examples), and training "
                               "reads a file: put it in a JSONL file (dataset.splits) or pass --data FILE")
        return self.dataset_dir() / self.suite.dataset.splits[split]

    def score_specs(self) -> dict[str, Any]:
        return {s.name: s for m in self.metrics for s in m.scores()}


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """Field names of the model found by following ``loc`` (for 'unknown key' messages)."""
    import typing

    cur: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(cur, type) and issubclass(cur, BaseModel)) or part not in cur.model_fields:
            return None
        ann = cur.model_fields[part].annotation
        cur = _first_model(ann, typing)
    if isinstance(cur, type) and issubclass(cur, BaseModel):
        return list(cur.model_fields)
    return None


def _first_model(ann: Any, typing: Any, depth: int = 0) -> type[BaseModel] | None:
    """The first pydantic model inside an annotation (through unions, lists, dicts and Annotated)."""
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    if depth > 4:
        return None
    for arg in typing.get_args(ann):
        found = _first_model(arg, typing, depth + 1)
        if found is not None:
            return found
    return None


def pydantic_problems(err: ValidationError, model: type[BaseModel], sources: Sources,
                      prefix: tuple[Any, ...] = ()) -> list[Problem]:
    out = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and (p.startswith("function-after") or p in INLINE_TAGS)))
        full = prefix + loc
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1])
            msg = f"unknown key {loc[-1]!r}" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
        elif e["type"] == "missing":
            msg = "required key is missing"
        elif e["type"] == "literal_error":
            msg = f"got {e['input']!r}; " + msg.replace("Input should be", "expected")
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        out.append(sources.problem(full, msg))
    return out


def _build_metrics(entries: list[tuple[int, str, dict[str, Any]]], sources: Sources,
                   problems: list[Problem]) -> list[Any]:
    """Build each (index, name, params) metric; an unknown name or bad parameter becomes a located problem."""
    from harness.metrics.base import METRICS, build_metric

    metrics = []
    for i, metric_name, params in entries:
        loc = ("metrics", i)
        try:
            cls = METRICS.get(metric_name)
        except UnknownName as e:
            problems.append(sources.problem(loc + ("name",), str(e)))
            continue
        try:
            metrics.append(build_metric(metric_name, params))
        except ValidationError as e:
            problems.extend(pydantic_problems(e, cls.Params, sources, prefix=loc))
    return metrics


def load_suite(path: str | Path, data_root: str | Path | None = None, *, trust: TrustPolicy | None = None) -> LoadedSuite:
    """Parse and validate a suite file (and the files it includes), raising :class:`InputProblems`
    with every problem found. Paths it names must stay inside ``data_root``, else the ``trust``
    policy's data root (no policy: :meth:`TrustPolicy.from_env`), else the suite's project (see
    :func:`harness.suite.confine.project_root`)."""
    path = Path(path)
    problems: list[Problem] = []
    if data_root is None:
        data_root = (trust if trust is not None else TrustPolicy.from_env()).data_root
    root = project_root(path, data_root)
    sources = read_chain(path, problems, root)
    if sources is None:
        raise InputProblems(problems)
    data = merged(sources)
    try:
        suite = Suite.model_validate(data)
    except ValidationError as e:
        # The metrics are still checked, so one pass reports the schema's problems and theirs.
        problems = pydantic_problems(e, Suite, sources)
        raw = data.get("metrics")
        raw = [{"name": m} if isinstance(m, str) else m for m in raw] if isinstance(raw, list) else raw  # bare names
        entries = [(i, m["name"], {k: v for k, v in m.items() if k != "name"}) for i, m in enumerate(raw)
                   if isinstance(m, dict) and isinstance(m.get("name"), str)] if isinstance(raw, list) else []
        _build_metrics(entries, sources, problems)
        raise InputProblems(sorted(problems, key=lambda p: (p.file != str(path), p.file, p.line or 0))) from None

    metrics = _build_metrics([(i, m.name, m.params()) for i, m in enumerate(suite.metrics)], sources, problems)
    _cross_check(suite, metrics, sources, problems)
    _check_paths(suite, metrics, sources, path, root, problems)
    if problems:
        raise InputProblems(problems)
    digest = hashlib.sha256(suite.model_dump_json().encode()).hexdigest()
    return LoadedSuite(suite=suite, path=path, sha256=digest, metrics=metrics)


def _cross_check(suite: Suite, metrics: list[Any], sources: Sources, problems: list[Problem]) -> None:
    """What no single field can check: scores produced once, gates on produced scores, splits, templates."""
    produced: dict[str, str] = {}
    for i, m in enumerate(metrics):
        for s in m.scores():
            if s.name in produced:
                problems.append(sources.problem(("metrics", i), f"score {s.name!r} is already produced by metric {produced[s.name]!r}"))
            produced[s.name] = m.name
    if metrics and len(metrics) == len(suite.metrics):
        for i, g in enumerate(suite.gates):
            if g.metric not in produced:
                problems.append(sources.problem(("gates", i, "metric"),
                                                f"no metric of this suite produces {g.metric!r}; its scores are: {', '.join(produced)}"))
            if g.category is not None and suite.dataset.fields.category is None:
                problems.append(sources.problem(("gates", i, "category"), "a category rule needs dataset.fields.category to name a column"))
    names = suite.dataset.split_names()
    if suite.default_split not in names:
        where = "dataset.splits" if suite.dataset.examples is None else "the inline examples' splits"
        problems.append(sources.problem(("default_split",), f"{suite.default_split!r} is not one of {where}: {', '.join(names)}"))
    _check_inline(suite, sources, problems)
    if suite.prompt.from_dataset and suite.dataset.format != "chat":
        problems.append(sources.problem(("prompt", "from_dataset"), "needs dataset.format: chat (a dataset of messages)"))
    for i, msg in enumerate(suite.prompt.messages or []):
        for bad in template_problems(msg.content):
            problems.append(sources.problem(("prompt", "messages", i, "content"), bad))
    if suite.prompt.text is not None:
        for bad in template_problems(suite.prompt.text):
            problems.append(sources.problem(("prompt", "text"), bad))
    if suite.scoring is not None:
        for loc, text in suite.scoring.templates():
            for bad in template_problems(text):
                problems.append(sources.problem(("scoring", *loc), bad))
    _check_scoring_metrics(suite, metrics, sources, problems)


def _check_scoring_metrics(suite: Suite, metrics: list[Any], sources: Sources, problems: list[Problem]) -> None:
    """Each metric reads the kind of response the suite's scoring makes (Metric.scoring): a metric on
    the wrong kind would fail on every example, so the suite is refused with the fix instead."""
    kind = suite.scoring.type if suite.scoring else "generate"
    for i, m in enumerate(metrics):
        need = getattr(m, "scoring", "generate")
        if need != "generate" and need != kind:
            problems.append(sources.problem(("metrics", i, "name"), f"{m.name} needs scoring: {{type: {need}}} (this "
                                            f"suite's scoring is {kind}); add that scoring block or pick a metric that "
                                            "scores generated text"))
        elif need == "generate" and kind != "generate":
            problems.append(sources.problem(("metrics", i, "name"), f"{m.name} scores generated text, but scoring.type is "
                                            f"{kind} (nothing is generated); use "
                                            + ("acc, acc_norm" if kind == "multiple_choice" else
                                               "word_perplexity, byte_perplexity, bits_per_byte")))


def _check_inline(suite: Suite, sources: Sources, problems: list[Problem]) -> None:
    """Inline examples: ids given to all or none, unique per split, and every template column present."""
    variables = sorted(suite.prompt.variables())
    bare = isinstance(suite.dataset.examples, list)
    for split, rows in suite.dataset.inline_splits().items():
        at = ("dataset", "examples") if bare else ("dataset", "examples", split)
        with_id = [r.id is not None for r in rows]
        if any(with_id) and not all(with_id):
            i = with_id.index(False)
            problems.append(sources.problem(at + (i,), "this example has no id but others do: give every example an id, or none"))
        seen: dict[str, int] = {}
        for i, r in enumerate(rows):
            rec = r.record()
            key = rec.get("id") or hashlib.sha1(json.dumps(rec, sort_keys=True).encode()).hexdigest()[:12]
            if key in seen:
                what = f"duplicate id {key!r}" if "id" in rec else "duplicate example"
                problems.append(sources.problem(at + (i,), f"{what} (first at {format_loc(at + (seen[key],))})"))
            seen.setdefault(key, i)
            missing = [v for v in variables if v not in rec]
            if missing:
                problems.append(sources.problem(at + (i,), f"the prompt uses {', '.join('{{ ' + m + ' }}' for m in missing)} "
                                                           f"but this example has no such key; add it under `vars`"))


def _check_paths(suite: Suite, metrics: list[Any], sources: Sources, path: Path, root: Path,
                 problems: list[Problem]) -> None:
    """Split files exist, and every path the suite names stays inside the project root."""
    base = path.parent / suite.dataset.path
    hub = suite.dataset.format == "hf" and suite.dataset.path.startswith("hub:")  # a hub id, read from the cache
    if not hub and not inside(base, root):
        problems.append(sources.problem(("dataset", "path"), outside_message(base, root)))
        return
    for split, file in suite.dataset.splits.items() if not hub else ():
        loc = ("dataset", "splits", split)
        target = base / file
        if suite.dataset.format == "hf":  # a save_to_disk folder: each split a folder in it ('.': the folder itself)
            if not target.is_dir():
                problems.append(sources.problem(loc, f"no such folder: {target.resolve()} (format: hf names the split "
                                                     "folders of a datasets.save_to_disk folder)"))
            elif not inside(target, root):
                problems.append(sources.problem(loc, outside_message(target, root)))
        elif not target.is_file():
            problems.append(sources.problem(loc, f"no such file: {target.resolve()}"))
        elif not inside(target, root):
            problems.append(sources.problem(loc, outside_message(target, root)))
    for i, check in enumerate(suite.retention):
        target = path.parent / check.suite
        if not inside(target, root):
            problems.append(sources.problem(("retention", i, "suite"), outside_message(target, root)))
        elif not target.is_file():
            problems.append(sources.problem(("retention", i, "suite"), f"no such suite file: {target.resolve()}"))
    for i, key, p in metric_paths(metrics):
        if not inside(p, root):
            problems.append(sources.problem(("metrics", i, key), outside_message(p, root)))
    for loc, paths in recording_paths(suite, metrics, path):
        out = next((p for p in paths if not inside(p, root)), None)
        if out is not None:
            problems.append(sources.problem(loc, outside_message(out, root)))
