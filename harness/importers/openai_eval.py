"""`harness import openai-eval`: an eval object of OpenAI's Evals API -> a suite and its dataset.

The reference for every field is the installed openai SDK's typed models (``openai.types``): each
testing criterion is validated with its grader's model before it is converted.

    string_check      -> metric string_check (eq, ne, like, ilike)
    text_similarity   -> metric text_similarity (+ a gate `min: pass_threshold` on its mean)
    score_model       -> metric judge_rubric with the grader's messages as criteria, its range as
                         the scale (+ a gate on the pass_threshold, mapped onto that scale)
    label_model       -> metric judge_label (a classification judge; pass = a passing label)
    python, multi     -> a located note each: the harness does not run OpenAI's sandboxed code or formulas

OpenAI applies a pass_threshold to each item; a harness gate applies to the suite's mean. The
imported gate therefore asks the *mean* score to reach the threshold; text_similarity also scores
``<name>_pass``, OpenAI's per-item pass, whose mean is the pass rate OpenAI reported.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from harness.core.errors import InputProblems, Problem
from harness.importers.common import (
    Imported,
    Unconvertible,
    convert_template,
    non_finite,
    read_text,
    score_name,
    suite_name,
)
from harness.metrics.graders import VAR

MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")  # gpt-4o-mini, ft:gpt-4o-mini:org::id
INPUT_NAMES = ("input", "question", "prompt", "query", "text", "message", "request")


def _criterion_models() -> dict[str, type[BaseModel]]:
    from openai.types.eval_retrieve_response import (
        TestingCriterionEvalGraderPython,
        TestingCriterionEvalGraderScoreModel,
        TestingCriterionEvalGraderTextSimilarity,
    )
    from openai.types.graders.label_model_grader import LabelModelGrader
    from openai.types.graders.multi_grader import MultiGrader
    from openai.types.graders.string_check_grader import StringCheckGrader

    return {"string_check": StringCheckGrader, "text_similarity": TestingCriterionEvalGraderTextSimilarity,
            "score_model": TestingCriterionEvalGraderScoreModel, "label_model": LabelModelGrader,
            "python": TestingCriterionEvalGraderPython, "multi": MultiGrader}


def _validation_lines(err: ValidationError, file: str, prefix: str) -> list[Problem]:
    out = []
    for e in err.errors():
        loc = prefix + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"])
        out.append(Problem(file, loc, f"{e['msg']} (openai SDK: {e.get('type')})"))
    return out


class Converter:
    def __init__(self, file: str, judge: str | None):
        self.file = file
        self.judge = judge
        self.notes: list[str] = []
        self.metrics: list[dict[str, Any]] = []
        self.gates: list[dict[str, Any]] = []
        self.taken: set[str] = set()
        self.reference_column: str | None = None
        self.input_column: str | None = None

    def note(self, loc: str, why: str) -> None:
        self.notes.append(f"{self.file}: {loc}: cannot convert: {why}")

    def judge_for(self, model: str) -> str:
        return self.judge or f"openai:{model}"

    # ------------------------------------------------------------ graders

    def string_check(self, g: Any, loc: str) -> None:
        inp, _ = convert_template(g.input, where="input")
        ref, cols = convert_template(g.reference, where="reference")
        if self.reference_column is None and len(cols) == 1 and ref.strip() == "{{ " + next(iter(cols)) + " }}":
            self.reference_column = next(iter(cols))
        self.metrics.append({"name": "string_check", "score": score_name(g.name, self.taken), "operation": g.operation,
                             "input": inp, "reference": ref})

    def text_similarity(self, g: Any, loc: str) -> None:
        if g.evaluation_metric == "meteor":
            from harness.metrics.graders import meteor_available

            why = meteor_available()
            if why:
                raise Unconvertible(why)
        inp, _ = convert_template(g.input, where="input")
        ref, cols = convert_template(g.reference, where="reference")
        if self.reference_column is None and len(cols) == 1:
            self.reference_column = next(iter(cols))
        name = score_name(g.name, self.taken)
        self.taken.add(f"{name}_pass")
        self.metrics.append({"name": "text_similarity", "score": name, "evaluation_metric": g.evaluation_metric,
                             "input": inp, "reference": ref, "pass_threshold": g.pass_threshold})
        self.gates.append({"metric": name, "min": g.pass_threshold,
                           "name": f"{g.name}: mean {g.evaluation_metric} at least OpenAI's pass_threshold {g.pass_threshold}"})

    def _messages(self, messages: list[Any], loc: str, answer: str) -> list[dict[str, str]]:
        out = []
        for i, m in enumerate(messages):
            content = m.content
            if isinstance(content, list):
                if len(content) != 1:
                    raise Unconvertible(f"input[{i}].content: a list of {len(content)} content parts; the harness sends text messages")
                content = content[0]
            if not isinstance(content, str):
                if getattr(content, "type", None) not in ("input_text", "output_text"):
                    raise Unconvertible(f"input[{i}].content: {getattr(content, 'type', type(content).__name__)} content "
                                        "(images, audio) has no harness equivalent")
                content = content.text
            text, _ = convert_template(content, output=answer, where=f"input[{i}].content")
            out.append({"role": "system" if m.role == "developer" else m.role, "content": text})
        return out

    def score_model(self, g: Any, loc: str) -> None:
        lo, hi = (g.range or [0.0, 1.0])[:2]
        threshold = g.pass_threshold
        msgs = self._messages(g.input, loc, answer="the answer (shown between <answer> tags)")
        criteria = "\n\n".join(m["content"] for m in msgs)
        # A rubric is the same text for every example: item values become what the judge is shown.
        for col in sorted(set(VAR.findall(criteria))):
            if col == self.input_column:
                what = f"the request (its {col}, shown between <conversation> tags)"
            elif col == self.reference_column:
                what = f"the reference answer (its {col}, shown between <reference> tags)"
            else:
                what = f"the example's {col}"
                self.notes.append(f"{self.file}: {loc}: partly converted: the harness rubric judge sees the request, "
                                  f"the reference and the answer, not item column {col!r}; the criteria only name it")
            criteria = re.sub(r"\{\{ " + re.escape(col) + r" \}\}", what, criteria)
        params: dict[str, Any] = {"name": "judge_rubric", "judge": self.judge_for(g.model),
                                  "score": score_name(g.name, self.taken)}
        if (lo, hi) == (0, 1):
            params["scale"] = "pass_fail"
            criteria += ("\n\n(Imported from an OpenAI score_model grader scoring 0 to 1: pass means a score of 1, "
                         "fail a score of 0.)")
        elif float(lo).is_integer() and float(hi).is_integer() and 2 <= hi - lo + 1 <= 10:
            params["scale"] = int(hi - lo + 1)
            params["levels"] = grade_levels(criteria, int(lo), int(hi))
            if threshold is not None:
                threshold = threshold - lo + 1
        else:
            raise Unconvertible(f"range {[lo, hi]}: the harness judge grades pass/fail or integers 1..N (N 2-10); "
                                "use range [0, 1] or integer bounds at most 10 apart")
        params["criteria"] = criteria
        sp = g.sampling_params
        if sp is not None:
            if sp.temperature is not None:
                params["temperature"] = sp.temperature
            if sp.max_completions_tokens is not None:
                params["max_tokens"] = max(8, min(4096, sp.max_completions_tokens))
            if sp.seed is not None:
                params["seed"] = sp.seed
        params["include_reference"] = self.reference_column is not None
        self.metrics.append(params)
        if threshold is not None:
            self.gates.append({"metric": params["score"], "min": threshold,
                               "name": f"{g.name}: mean judge score at least OpenAI's pass_threshold {g.pass_threshold}"})

    def label_model(self, g: Any, loc: str) -> None:
        msgs = self._messages(g.input, loc, answer="{{ output }}")
        self.metrics.append({"name": "judge_label", "judge": self.judge_for(g.model), "score": score_name(g.name, self.taken),
                             "messages": msgs, "labels": list(g.labels), "passing_labels": list(g.passing_labels)})

    def python(self, g: Any, loc: str) -> None:
        raise Unconvertible("a python grader runs its source in OpenAI's sandbox; write it as a harness metric "
                            "(harness/metrics/, @metric) and add it to the suite's metrics")

    def multi(self, g: Any, loc: str) -> None:
        raise Unconvertible(f"a multi grader combines {g.graders.type} grader {g.graders.name!r} by the formula {g.calculate_output!r}; "
                            "the harness has no formula metric: import its graders as criteria of their own and gate each")

    def check(self, kind: str, g: Any, loc: str) -> list[Problem]:
        """What the SDK's models accept but no conversion can: a range that is not [low, high], and a
        grader model that is a model spec (``gpt-4o?base_url=...``) choosing where the judge's requests
        and key go, which an eval file must not (the judge comes from --judge or the grader's plain name)."""
        out = []
        rng = getattr(g, "range", None)
        if kind == "score_model" and rng is not None and not (len(rng) == 2 and rng[0] < rng[1]):
            out.append(Problem(self.file, f"{loc}.range", f"got {rng}; expected [low, high] with low < high"))
        model = getattr(g, "model", None)
        if kind in ("score_model", "label_model") and self.judge is None and not (
                isinstance(model, str) and MODEL_NAME.fullmatch(model) and not model.endswith((".yaml", ".yml"))):
            out.append(Problem(self.file, f"{loc}.model", f"got {model!r}; expected a plain OpenAI model name (letters, "
                               "digits, . _ - :); an eval file may not choose the judge's endpoint or settings: give --judge MODEL"))
        return out

    def criterion(self, raw: Any, loc: str, models: dict[str, type[BaseModel]], problems: list[Problem]) -> None:
        kind = raw.get("type") if isinstance(raw, dict) else None
        if kind not in models:
            problems.append(Problem(self.file, f"{loc}.type", f"got {kind!r}; expected one of {', '.join(models)}"))
            return
        try:
            g = models[kind].model_validate(raw)
        except ValidationError as e:
            problems.extend(_validation_lines(e, self.file, loc))
            return
        found = self.check(kind, g, loc)
        if found:
            problems.extend(found)
            return
        try:
            getattr(self, kind)(g, loc)
        except Unconvertible as e:
            self.note(f"{loc} ({kind} {raw.get('name')!r})", str(e))


def _item_schema(dsc: Any, file: str, problems: list[Problem], notes: list[str]) -> dict[str, Any]:
    if not isinstance(dsc, dict):
        problems.append(Problem(file, "data_source_config", "expected an object with type and item_schema (or schema)"))
        return {}
    if "item_schema" in dsc:  # the form given to evals.create
        schema = dsc["item_schema"]
    else:  # the form an eval object returns: {"type": "custom", "schema": {properties: {item, sample}}}
        from openai.types.eval_custom_data_source_config import (
            EvalCustomDataSourceConfig,
        )
        from openai.types.eval_retrieve_response import DataSourceConfigLogs
        from openai.types.eval_stored_completions_data_source_config import (
            EvalStoredCompletionsDataSourceConfig,
        )

        model = {"custom": EvalCustomDataSourceConfig, "logs": DataSourceConfigLogs,
                 "stored_completions": EvalStoredCompletionsDataSourceConfig}.get(dsc.get("type"))
        if model is None:
            problems.append(Problem(file, "data_source_config.type", f"got {dsc.get('type')!r}; expected custom, logs or stored_completions"))
            return {}
        try:
            cfg = model.model_validate(dsc)
        except ValidationError as e:
            problems.extend(_validation_lines(e, file, "data_source_config"))
            return {}
        if dsc["type"] != "custom":
            notes.append(f"{file}: data_source_config: cannot convert: type {dsc['type']!r} reads completions stored on "
                         "OpenAI's platform; export them as JSONL items and pass --data")
        schema = (cfg.schema_.get("properties") or {}).get("item") or {}
    where = "data_source_config.item_schema"
    if not isinstance(schema, dict):
        problems.append(Problem(file, where, "expected a JSON Schema object"))
        return {}
    props, required = schema.get("properties"), schema.get("required")
    if props is not None and not (isinstance(props, dict) and all(isinstance(v, dict) for v in props.values())):
        problems.append(Problem(file, f"{where}.properties", f"got {type(props).__name__}; expected an object of column "
                                "name -> JSON Schema object"))
    if required is not None and not (isinstance(required, list) and all(isinstance(c, str) for c in required)):
        problems.append(Problem(file, f"{where}.required", f"got {type(required).__name__} {required!r}; expected a list "
                                "of column names"))
    return schema


def read_items(path: Path, schema: dict[str, Any]) -> list[dict[str, Any]]:
    """JSONL items, each ``{"item": {...}}`` (OpenAI's file format) or the item itself, checked
    against the schema's required columns; every bad line is reported."""
    problems: list[Problem] = []
    rows: list[dict[str, Any]] = []
    required = [c for c in schema.get("required") or [] if isinstance(c, str)]
    for n, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(Problem(str(path), "", f"invalid JSON: {e.msg}", line=n))
            continue
        item = obj.get("item", obj) if isinstance(obj, dict) else obj
        if not isinstance(item, dict):
            problems.append(Problem(str(path), "", "expected an object (or {\"item\": {...}})", line=n))
            continue
        missing = [c for c in required if c not in item]
        if missing:
            problems.append(Problem(str(path), "", f"missing {', '.join(missing)} (required by item_schema)", line=n))
            continue
        rows.append(item)
    if problems:
        raise InputProblems(problems)
    return rows


LEVEL_LINE = re.compile(r"^\s*(?:[-*]\s*)?(?:score\s*(?:of\s*)?)?(\d+)\s*(?:[:=)\].]|-|\u2013|\u2014)\s*(\S.*)$",
                        re.IGNORECASE | re.MULTILINE)


def grade_levels(criteria: str, lo: int, hi: int) -> dict[int, str]:
    """The harness levels 1..N of an integer range lo..hi: each in the eval's own words where its
    grader text describes the score (a line "3: mostly correct", "- 3 - mostly correct", "Score 3: ..."),
    else what the score was on the original scale."""
    said: dict[int, str] = {}
    for m in LEVEL_LINE.finditer(criteria):
        score = int(m.group(1))
        if lo <= score <= hi and score not in said:
            said[score] = m.group(2).strip()
    return {k: (f"{said[score]} (a score of {score} on the original {lo}..{hi} scale)" if score in said else
                f"a score of {score} on the original {lo}..{hi} scale")
            for k, score in ((k, lo + k - 1) for k in range(1, hi - lo + 2))}


def import_openai_eval(path: Path, data: Path | None = None, judge: str | None = None) -> Imported:
    file = str(path)
    try:
        obj = json.loads(read_text(path))
    except json.JSONDecodeError as e:
        raise InputProblems([Problem(file, "", f"invalid JSON: {e.msg}", line=e.lineno)]) from None
    bad = non_finite(obj)
    if bad:
        raise InputProblems([Problem(file, bad, "got NaN or infinity; expected a finite number (a gate on it could never "
                                     "pass, or always would)")])
    if not isinstance(obj, dict) or not isinstance(obj.get("testing_criteria"), list):
        raise InputProblems([Problem(file, "testing_criteria", "expected an eval object with a list of testing_criteria "
                                     "(as GET /v1/evals/{id} returns it)")])
    if obj.get("name") is not None and not isinstance(obj["name"], str):
        raise InputProblems([Problem(file, "name", f"got {type(obj['name']).__name__} {obj['name']!r}; expected a string")])
    problems: list[Problem] = []
    conv = Converter(file, judge)
    schema = _item_schema(obj.get("data_source_config"), file, problems, conv.notes)
    if problems:
        raise InputProblems(problems)
    props = schema.get("properties") or {}
    rows = read_items(data, schema) if data else None
    columns = list(props) or (list(rows[0]) if rows else [])
    field = next((c for c in INPUT_NAMES if c in columns), next((c for c in columns if (props.get(c) or {}).get("type") == "string"), None))
    if field is None:
        raise InputProblems([Problem(file, "data_source_config.item_schema", "no item column to send to the model; "
                                     "give item_schema properties (or --data) with an input column")])
    conv.input_column = field
    models = _criterion_models()
    # Reference columns are learnt from the string checks first, so a judge knows whether it has one.
    order = sorted(enumerate(obj["testing_criteria"]),
                   key=lambda p: (isinstance(p[1], dict) and p[1].get("type")) not in ("string_check", "text_similarity"))
    for i, raw in order:
        conv.criterion(raw, f"testing_criteria[{i}]", models, problems)
    if problems:
        raise InputProblems(problems)
    if not conv.metrics:
        raise InputProblems([Problem(file, "testing_criteria", "no criterion could be converted:\n  " + "\n  ".join(conv.notes))])
    conv.notes.append(f"{file}: prompt: an eval object has no generation prompt (it is in each run's data source); the suite "
                      f"sends item column {field!r} as the user message: edit prompt.messages to match your runs")
    if rows is not None and "id" not in columns:
        rows = [{"id": f"item-{n:05d}", **r} for n, r in enumerate(rows, 1)]
    fields: dict[str, str] = {"id": "id", "input": field}
    if conv.reference_column:
        fields["reference"] = conv.reference_column
    name = suite_name(obj.get("name") or path.stem)
    suite = {"name": name, "version": 1,
             "description": f"Imported from OpenAI eval {obj.get('id', path.name)} ({obj.get('name', '')}).",
             "dataset": {"format": "jsonl", "splits": {"test": "test.jsonl"}, "fields": fields},
             "prompt": {"messages": [{"role": "user", "content": "{{ " + field + " }}"}]},
             "generation": {"max_tokens": 256, "temperature": 0},
             "metrics": conv.metrics, "gates": conv.gates}
    return Imported(name=name, suite=suite, rows=rows, notes=conv.notes)
