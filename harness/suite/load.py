"""Load a suite file: YAML -> include merge -> strict schema -> metric params -> cross-checks.

Every problem is gathered, located (file, YAML line, field path) and raised together.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from harness.core.errors import InputProblems, Problem, UnknownName
from harness.suite.schema import Suite


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
        return self.dataset_dir() / self.suite.dataset.splits[split]

    def score_specs(self) -> dict[str, Any]:
        return {s.name: s for m in self.metrics for s in m.scores()}


def format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _yaml_line(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest node reachable along ``loc``."""
    line = None
    for part in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        nxt = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for k, v in node.value:
                if k.value == part:
                    line, nxt = k.start_mark.line + 1, v
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            nxt = node.value[part]
        node = nxt
    if node is not None:
        line = node.start_mark.line + 1
    return line


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
        found = None
        for cand in (ann, *typing.get_args(ann), *[a for t in typing.get_args(ann) for a in typing.get_args(t)]):
            if isinstance(cand, type) and issubclass(cand, BaseModel):
                found = cand
                break
        cur = found
    if isinstance(cur, type) and issubclass(cur, BaseModel):
        return list(cur.model_fields)
    return None


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _read_yaml(path: Path, problems: list[Problem]) -> tuple[dict[str, Any] | None, yaml.Node | None]:
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(Problem(name, "", "no such suite file"))
        return None, None
    except UnicodeDecodeError as e:
        problems.append(Problem(name, "", f"not UTF-8 text ({e.reason} at byte {e.start})"))
        return None, None
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        msg = getattr(e, "problem", None) or str(e)
        problems.append(Problem(name, "YAML syntax", msg, line=mark.line + 1 if mark else None))
        return None, None
    if not isinstance(data, dict):
        problems.append(Problem(name, "", "expected a mapping of suite keys (name, version, dataset, prompt, metrics, ...)"))
        return None, None
    return data, node


def pydantic_problems(err: ValidationError, model: type[BaseModel], file: str, node: yaml.Node | None,
                      prefix: tuple[Any, ...] = ()) -> list[Problem]:
    out = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-after")))
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
        out.append(Problem(file, format_loc(full) or "suite", msg, line=_yaml_line(node, full)))
    return out


def _build_metrics(entries: list[tuple[int, str, dict[str, Any]]], file: str, node: yaml.Node | None,
                   problems: list[Problem]) -> list[Any]:
    """Build each (index, name, params) metric; an unknown name or bad parameter becomes a located problem."""
    from harness.metrics.base import METRICS, build_metric

    metrics = []
    for i, metric_name, params in entries:
        loc = ("metrics", i)
        try:
            cls = METRICS.get(metric_name)
        except UnknownName as e:
            problems.append(Problem(file, format_loc(loc + ("name",)), str(e), line=_yaml_line(node, loc + ("name",))))
            continue
        try:
            metrics.append(build_metric(metric_name, params))
        except ValidationError as e:
            problems.extend(pydantic_problems(e, cls.Params, file, node, prefix=loc))
    return metrics


def load_suite(path: str | Path) -> LoadedSuite:
    """Parse and validate a suite file, raising :class:`InputProblems` with every problem found."""
    path = Path(path)
    problems: list[Problem] = []
    data, node = _read_yaml(path, problems)
    if data is None:
        raise InputProblems(problems)
    name = str(path)
    if isinstance(data.get("include"), str):
        inc_path = path.parent / data["include"]
        inc, _ = _read_yaml(inc_path, problems)
        if inc is None:
            raise InputProblems(problems)
        inc.pop("include", None)
        data = _deep_merge(inc, data)
    try:
        suite = Suite.model_validate(data)
    except ValidationError as e:
        # The metrics are still checked, so one pass reports the schema's problems and theirs.
        problems = pydantic_problems(e, Suite, name, node)
        raw = data.get("metrics")
        entries = [(i, m["name"], {k: v for k, v in m.items() if k != "name"}) for i, m in enumerate(raw)
                   if isinstance(m, dict) and isinstance(m.get("name"), str)] if isinstance(raw, list) else []
        _build_metrics(entries, name, node, problems)
        raise InputProblems(sorted(problems, key=lambda p: (p.line or 0))) from None

    metrics = _build_metrics([(i, m.name, m.params()) for i, m in enumerate(suite.metrics)], name, node, problems)

    produced: dict[str, str] = {}
    for i, m in enumerate(metrics):
        for s in m.scores():
            if s.name in produced:
                problems.append(Problem(name, f"metrics[{i}]", f"score {s.name!r} is already produced by metric {produced[s.name]!r}",
                                        line=_yaml_line(node, ("metrics", i))))
            produced[s.name] = m.name
    if metrics and len(metrics) == len(suite.metrics):
        for i, g in enumerate(suite.gates):
            if g.metric not in produced:
                loc = ("gates", i, "metric")
                problems.append(Problem(name, format_loc(loc),
                                        f"no metric of this suite produces {g.metric!r}; its scores are: {', '.join(produced)}",
                                        line=_yaml_line(node, loc)))
            if g.category is not None and suite.dataset.fields.category is None:
                loc = ("gates", i, "category")
                problems.append(Problem(name, format_loc(loc), "a category rule needs dataset.fields.category to name a column",
                                        line=_yaml_line(node, loc)))
    if suite.default_split not in suite.dataset.splits:
        problems.append(Problem(name, "default_split", f"{suite.default_split!r} is not one of dataset.splits: {', '.join(suite.dataset.splits)}",
                                line=_yaml_line(node, ("default_split",))))
    if suite.prompt.from_dataset and suite.dataset.format != "chat":
        problems.append(Problem(name, "prompt.from_dataset", "needs dataset.format: chat (a dataset of messages)",
                                line=_yaml_line(node, ("prompt", "from_dataset"))))
    base = (path.parent / suite.dataset.path).resolve()
    for split, file in suite.dataset.splits.items():
        if not (base / file).is_file():
            loc = ("dataset", "splits", split)
            problems.append(Problem(name, format_loc(loc), f"no such file: {base / file}", line=_yaml_line(node, loc)))
    if problems:
        raise InputProblems(problems)
    digest = hashlib.sha256(suite.model_dump_json().encode()).hexdigest()
    return LoadedSuite(suite=suite, path=path, sha256=digest, metrics=metrics)
