"""`harness import openai-evals-registry`: an eval of the open-source openai/evals registry -> a suite.

A registry YAML names an eval (``my-eval: {id: my-eval.dev.v0}``) and its version's class and
args (``my-eval.dev.v0: {class: evals.elsuite.basic.match:Match, args: {samples_jsonl: ...}}``).
Samples are JSONL with ``input`` (chat messages, or a string) and ``ideal`` (a string or a list).

    Match              -> string_check starts_with against any ideal (as evals' record_and_check_match)
    Includes           -> string_check like (ilike with ignore_case) against any ideal
    FuzzyMatch         -> string_check fuzzy (normalised containment either way) + token_f1
    ModelBasedClassify -> judge_label with the modelgraded spec's prompt, choice_strings as labels,
                          the highest-scoring choices as passing labels
    anything else      -> a located note
"""

from __future__ import annotations

import json
import math
import string
from pathlib import Path
from typing import Any

from harness.core.errors import InputProblems, Problem
from harness.importers.common import Imported, load_yaml, read_text, suite_name
from harness.suite.confine import inside
from harness.suite.schema import TEMPLATE_ANY

CLASSES = {"Match": "evals.elsuite.basic.match:Match", "Includes": "evals.elsuite.basic.includes:Includes",
           "FuzzyMatch": "evals.elsuite.basic.fuzzy_match:FuzzyMatch",
           "ModelBasedClassify": "evals.elsuite.modelgraded.classify:ModelBasedClassify"}


def _load_yaml(path: Path) -> dict[str, Any]:
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise InputProblems([Problem(str(path), "", "expected a mapping of eval names to specs")])
    return data


def _pick(spec: dict[str, Any], file: str, name: str | None) -> tuple[str, dict[str, Any], str]:
    """(eval name, its version's spec, the version key)."""
    evals = {k: v for k, v in spec.items() if isinstance(v, dict) and "id" in v}
    for k, v in evals.items():
        if not isinstance(k, str):
            raise InputProblems([Problem(file, str(k), f"eval name: got {type(k).__name__} {k!r}; expected a string "
                                         "(quote it)")])
        if not isinstance(v["id"], str):
            raise InputProblems([Problem(file, f"{k}.id", f"got {type(v['id']).__name__} {v['id']!r}; expected a string "
                                         "(the key of the eval's version)")])
    if name is None:
        if len(evals) != 1:
            raise InputProblems([Problem(file, "", f"{len(evals)} evals in this file ({', '.join(evals) or 'none with an id'}); "
                                         "choose one with --eval")])
        name = next(iter(evals))
    if name not in evals:
        raise InputProblems([Problem(file, name, f"no such eval; the file has: {', '.join(evals)}")])
    version = evals[name]["id"]
    body = spec.get(version)
    if not isinstance(body, dict) or "class" not in body:
        raise InputProblems([Problem(file, f"{version}", f"eval {name!r} points at {version!r}, which has no `class`")])
    return name, body, version


def _args(body: dict[str, Any], file: str, version: str) -> dict[str, Any]:
    """The version's args, each of the type the importer reads."""
    args = body.get("args") or {}
    if not isinstance(args, dict):
        raise InputProblems([Problem(file, f"{version}.args", f"got {type(args).__name__}; expected a mapping of arguments")])
    want = {"samples_jsonl": (str, "a path (relative to the registry's data/)"),
            "modelgraded_spec": (str, "the name of a modelgraded spec"), "eval_type": (str, "a string"),
            "ignore_case": (bool, "true or false")}
    problems = [Problem(file, f"{version}.args.{k}", f"got {type(args[k]).__name__} {args[k]!r}; expected {what}")
                for k, (typ, what) in want.items() if args.get(k) is not None and not isinstance(args[k], typ)]
    mt = args.get("max_tokens")
    if mt is not None and (isinstance(mt, bool) or not isinstance(mt, int) or not 1 <= mt <= 1_000_000):
        problems.append(Problem(file, f"{version}.args.max_tokens", f"got {mt!r}; expected an integer from 1 to 1000000"))
    if problems:
        raise InputProblems(problems)
    return args


def _samples(path: Path) -> list[dict[str, Any]]:
    rows, problems = [], []
    for n, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(Problem(str(path), "", f"invalid JSON: {e.msg}", line=n))
            continue
        msgs = obj.get("input") if isinstance(obj, dict) else None
        if isinstance(msgs, str):
            msgs = [{"role": "user", "content": msgs}]
        if not isinstance(msgs, list) or not all(isinstance(m, dict) and isinstance(m.get("content"), str)
                                                 and isinstance(m.get("role", "user"), str) for m in msgs):
            problems.append(Problem(str(path), "input", "expected a list of {role, content} messages or a string", line=n))
            continue
        ideal = obj.get("ideal")
        first = ideal[0] if isinstance(ideal, list) and ideal else ideal
        users = [m["content"] for m in msgs if m.get("role") == "user"]
        rows.append({"id": f"sample-{n:05d}",
                     "messages": [{"role": m.get("role", "user"), "content": m["content"]} for m in msgs]
                     + [{"role": "assistant", "content": "" if first is None else str(first)}],
                     "ideal": ideal if isinstance(ideal, list) else ("" if ideal is None else str(ideal)),
                     "input_text": users[-1] if users else msgs[-1]["content"]})
    if problems:
        raise InputProblems(problems)
    return rows


def _confined(path: Path, registry: Path, file: str, field: str) -> Path:
    """``path`` when it resolves (symlinks followed) inside the registry folder; else a located
    error. An eval file from elsewhere must not copy files from outside into datasets/ or a judge prompt."""
    root = registry.resolve()
    if not inside(path, root):
        raise InputProblems([Problem(file, field, f"{path.resolve()} is outside the registry folder {root}; an imported "
                                     "eval may read only files inside it (give --registry DIR)")])
    return path


def _number(v: Any) -> float | None:
    """A choice score as a finite float (YAML may give it as a number or a numeric string), else None."""
    if isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _prompt(text: str, io: dict[str, str], file: str, field: str) -> str:
    """A modelgraded prompt (filled by evals with ``str.format``: ``{input}`` a variable, ``{{`` a
    literal brace) as a harness template. Literal text the harness would read as template syntax
    (``{{ x }}``, ``{% %}``) is refused: it has no escape, so it would be substituted or sent wrongly."""
    names = {"ideal": "{{ ideal }}"}
    for key, out in io.items():
        names[str(key)] = "{{ input_text }}"
        names[str(out)] = "{{ output }}"
    parts: list[str] = []
    try:
        pieces = list(string.Formatter().parse(text))
    except ValueError as e:  # a lone { or }
        raise InputProblems([Problem(file, field, f"not a str.format template: {e}")]) from None
    run = ""  # literal text between two variables (parse splits it at each escaped brace)
    for literal, name, spec, conv in [*pieces, ("", None, None, None)]:
        run += literal
        parts.append(literal)
        if name is None and literal:
            continue
        bad = TEMPLATE_ANY.search(run)
        if bad:
            raise InputProblems([Problem(file, field, f"cannot convert the template: its literal text {bad.group(0)!r} "
                                         "would be read as harness template syntax ({{ column }}); reword it")])
        run = ""
        if name is None:
            continue
        if name in names and not spec and not conv:
            parts.append(names[name])
        else:  # evals leaves a variable it has no value for as written
            parts.append("{" + name + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "") + "}")
    return "".join(parts)


def _classify(args: dict[str, Any], registry: Path, file: str, version: str, judge: str | None,
              notes: list[str]) -> dict[str, Any] | None:
    loc = f"{file}: {version}"
    spec_name = args.get("modelgraded_spec")
    path = registry / "modelgraded" / f"{spec_name}.yaml"
    if spec_name:
        _confined(path, registry, file, f"{version}.args.modelgraded_spec")
    if not spec_name or not path.is_file():
        notes.append(f"{loc}.args.modelgraded_spec: cannot convert: spec {spec_name!r} not found at {path} (give --registry)")
        return None
    mg = _load_yaml(path).get(spec_name)
    at = str(path)
    if not isinstance(mg, dict) or "prompt" not in mg:
        notes.append(f"{path}: {spec_name}: cannot convert: expected a spec with a `prompt`")
        return None
    if not isinstance(mg["prompt"], str):
        raise InputProblems([Problem(at, f"{spec_name}.prompt", f"got {type(mg['prompt']).__name__}; expected a string")])
    strings = mg.get("choice_strings")
    if strings is not None and not (isinstance(strings, str) or isinstance(strings, list) and all(isinstance(c, str) for c in strings)):
        raise InputProblems([Problem(at, f"{spec_name}.choice_strings", f"got {strings!r}; expected a string of letters or "
                                     "a list of strings")])
    labels = list(strings) if strings is not None else []
    scores = mg.get("choice_scores")
    if scores == "from_strings":
        scores = {c: _number(c) for c in labels}
    if isinstance(scores, dict) and not all(_number(v) is not None for v in scores.values()):
        raise InputProblems([Problem(at, f"{spec_name}.choice_scores", f"got {scores!r}; expected a finite number for each "
                                     "choice (or from_strings with numeric choice_strings)")])
    if len(labels) < 2 or not isinstance(scores, dict):
        notes.append(f"{path}: {spec_name}: cannot convert: needs choice_strings and choice_scores to tell passing choices")
        return None
    top = max(float(v) for v in scores.values())
    io = mg.get("input_outputs")
    if io is not None and not (isinstance(io, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in io.items())):
        raise InputProblems([Problem(at, f"{spec_name}.input_outputs", f"got {io!r}; expected a mapping of input name -> "
                                     "output name (input: completion)")])
    prompt = _prompt(mg["prompt"], io or {"input": "completion"}, str(path), f"{spec_name}.prompt")
    if args.get("eval_type", "cot_classify") != "classify":
        notes.append(f"{loc}.args.eval_type: partly converted: {args.get('eval_type', 'cot_classify')!r} asks the judge to reason "
                     "first; the harness judge is asked for the label only")
    return {"name": "judge_label", "judge": judge or "openai:gpt-4o-mini", "score": "model_graded",
            "messages": [{"role": "user", "content": prompt}], "labels": [str(c) for c in labels],
            "passing_labels": [str(c) for c, v in scores.items() if float(v) == top]}


def import_registry_eval(path: Path, name: str | None, registry: Path | None, judge: str | None) -> Imported:
    file = str(path)
    spec = _load_yaml(path)
    eval_name, body, version = _pick(spec, file, name)
    registry = registry or path.parent.parent
    loc = f"{file}: {version}"
    cls = str(body["class"]).rsplit(":", 1)[-1]
    args = _args(body, file, version)
    if cls not in CLASSES:
        raise InputProblems([Problem(file, f"{version}.class", f"cannot convert {body['class']!r}: the importer knows "
                                     f"{', '.join(CLASSES.values())}; write the eval's check as a harness metric")])
    samples = registry / "data" / str(args.get("samples_jsonl", ""))
    if args.get("samples_jsonl"):
        _confined(samples, registry, file, f"{version}.args.samples_jsonl")
    if not args.get("samples_jsonl") or not samples.is_file():
        raise InputProblems([Problem(file, f"{version}.args.samples_jsonl", f"no such file: {samples} (give --registry DIR "
                                     "holding data/)")])
    rows = _samples(samples)
    notes: list[str] = []
    ref = "{{ ideal }}"
    metrics: list[dict[str, Any]]
    if cls == "Match":
        metrics = [{"name": "string_check", "score": "match", "operation": "starts_with", "reference": ref}]
    elif cls == "Includes":
        metrics = [{"name": "string_check", "score": "includes", "operation": "ilike" if args.get("ignore_case") else "like",
                    "reference": ref}]
    elif cls == "FuzzyMatch":
        metrics = [{"name": "string_check", "score": "fuzzy_match", "operation": "fuzzy", "reference": ref}, {"name": "token_f1"}]
    else:
        classify = _classify(args, registry, file, version, judge, notes)
        if classify is None:
            raise InputProblems([Problem(file, f"{version}.args", "\n  ".join(notes))])
        metrics = [classify]
    gen = {"max_tokens": args.get("max_tokens") or 256, "temperature": 0}
    suite = {"name": suite_name(eval_name), "version": 1,
             "description": f"Imported from openai/evals registry eval {version} ({body['class']}). {body.get('description', '')}".strip(),
             "dataset": {"format": "chat", "splits": {"test": "test.jsonl"}, "fields": {"id": "id", "reference": "ideal"}},
             "prompt": {"from_dataset": True}, "generation": gen, "metrics": metrics, "gates": []}
    return Imported(name=suite["name"], suite=suite, rows=rows, notes=notes)
