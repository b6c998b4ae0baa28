"""What a log-likelihood (or plain-text) suite asks of each example, lm-evaluation-harness's way.

For ``scoring: {type: multiple_choice}``: the context (the ``context`` template, after any few-shot
block), the choices (a column holding a list of strings, or one template per choice) and the index
of the right one (``target``: a column holding its index or its text). For
``loglikelihood_rolling``: the text. For generation with ``prompt.text``: the prompt, after the
few-shot block.

The few-shot block is lm-eval's ``ContextSampler.get_context``: each shot is its context, the
target delimiter and its answer, followed by the few-shot delimiter (so the block ends with one);
the example itself is never its own shot (when the shots come from the evaluated split, one more
is drawn and the example dropped). ``random`` draws with one ``random.Random(seed)`` consumed in
example order, as lm-eval's task-level sampler is; ``first_n`` takes the split's first ones.
A missing or malformed field is a located problem naming the file, line and field.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.core.errors import InputProblems, Problem
from harness.core.types import Example
from harness.suite.schema import TEMPLATE_VAR, FewshotSpec, ScoringSpec, Suite


@dataclass(frozen=True)
class Scored:
    """One example's log-likelihood query, before it becomes a request."""

    context: str = ""
    choices: tuple[str, ...] = ()
    target: int | None = None  # multiple_choice: the right choice's index
    text: str = ""  # loglikelihood_rolling: the text; generate: the plain-text prompt


class _Bad(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


def _text(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def render(template: str, rec: dict[str, Any], field: str) -> str:
    """``{{ column }}`` replaced by the record's value (the suite loader refused any other syntax)."""

    def sub(m: Any) -> str:
        col = m.group(1)
        if col not in rec:
            raise _Bad(field, f"template names column {col!r}, which this record lacks (it has: {', '.join(rec) or 'no fields'})")
        return _text(rec[col])

    return TEMPLATE_VAR.sub(sub, template)


def choices_of(sc: ScoringSpec, rec: dict[str, Any]) -> list[str]:
    if isinstance(sc.choices, list):
        return [render(t, rec, f"scoring.choices[{i}]") for i, t in enumerate(sc.choices)]
    col = sc.choices or ""
    if col not in rec:
        raise _Bad("scoring.choices", f"no column {col!r} in this record (it has: {', '.join(rec)}); name the column "
                                      "holding the list of choices, or give one template per choice")
    v = rec[col]
    if not isinstance(v, list) or len(v) < 2 or not all(isinstance(c, str) for c in v):
        raise _Bad("scoring.choices", f"column {col!r} must hold a list of at least two strings, got {_text(v)[:80]}")
    return list(v)


def target_of(sc: ScoringSpec, rec: dict[str, Any], choices: Sequence[str]) -> int:
    col = sc.target or ""
    if col not in rec:
        raise _Bad("scoring.target", f"no column {col!r} in this record (it has: {', '.join(rec)})")
    v = rec[col]
    if isinstance(v, bool):
        raise _Bad("scoring.target", f"column {col!r} holds {v!r}; expected a choice's index (0-based) or its text")
    if isinstance(v, int) or (isinstance(v, str) and v.strip().isdigit() and v not in choices):
        i = int(v)
        if not 0 <= i < len(choices):
            raise _Bad("scoring.target", f"index {i} out of range: this record has {len(choices)} choices (0-based)")
        return i
    if isinstance(v, str) and v in choices:
        return choices.index(v)
    raise _Bad("scoring.target", f"column {col!r} holds {_text(v)[:80]}, neither an index nor one of the choices "
                                 f"({', '.join(map(repr, choices))})")


def _shot(suite: Suite, rec: dict[str, Any]) -> tuple[str, str]:
    """A shot's (context, answer)."""
    sc = suite.scoring or ScoringSpec()
    if sc.type == "multiple_choice":
        choices = choices_of(sc, rec)
        return render(sc.context or "", rec, "scoring.context"), choices[target_of(sc, rec, choices)]
    col = sc.target or suite.dataset.fields.reference
    if col is None:
        raise _Bad("scoring.target", "fewshot with generation needs the shots' answers: set dataset.fields.reference "
                                     "or scoring.target to the answer column")
    if col not in rec:
        raise _Bad("scoring.target", f"no column {col!r} in this shot's record (it has: {', '.join(rec)})")
    return render(suite.prompt.text or "", rec, "prompt.text"), _text(rec[col])


def fewshot_block(shots: Sequence[tuple[str, str]], target_delimiter: str, delimiter: str) -> str:
    """lm-eval's labeled examples: context + delimiter + answer + fewshot delimiter, per shot."""
    out = ""
    for context, answer in shots:
        out += context
        if answer != "":
            # lm-eval: a whitespace delimiter before an answer that starts with whitespace loses its last character
            out += target_delimiter[:-1] if target_delimiter.isspace() and answer[0].isspace() else target_delimiter
            out += answer + delimiter
    return out


class ShotSampler:
    """Draws each example's shots from the fewshot split, lm-eval's way."""

    def __init__(self, spec: FewshotSpec, pool: Sequence[Example], same_split: bool):
        self.spec, self.pool, self.same_split = spec, list(pool), same_split
        self.rnd = random.Random(spec.seed)

    def shots(self, ex: Example) -> list[Example]:
        n = self.spec.n + 1 if self.same_split else self.spec.n
        if self.spec.sampler == "first_n":
            drawn = self.pool[:n]
        else:
            drawn = self.rnd.sample(self.pool, min(n, len(self.pool)))
        return [s for s in drawn if s.record != ex.record][: self.spec.n]


def build_scored(suite: Suite, examples: Sequence[Example], path: str, pool: Sequence[Example] | None = None,
                 same_split: bool = False) -> list[Scored]:
    """Each example's query (in order); every bad record is a located problem, all raised together.
    ``pool``: the fewshot split's examples (``suite.fewshot``)."""
    sc = suite.scoring or ScoringSpec()
    sampler = ShotSampler(suite.fewshot, pool or [], same_split) if suite.fewshot is not None else None
    out: list[Scored] = []
    problems: list[Problem] = []
    for ex in examples:
        try:
            prefix = ""
            if sampler is not None:
                shots = [_shot(suite, s.record) for s in sampler.shots(ex)]
                prefix = fewshot_block(shots, sc.target_delimiter, suite.fewshot.delimiter)  # type: ignore[union-attr]
            rec = ex.record
            if sc.type == "multiple_choice":
                choices = choices_of(sc, rec)
                target = target_of(sc, rec, choices)
                context = prefix + render(sc.context or "", rec, "scoring.context")
                out.append(Scored(context=context, choices=tuple(sc.target_delimiter + c for c in choices), target=target))
            elif sc.type == "loglikelihood_rolling":
                out.append(Scored(text=render(sc.text or "", rec, "scoring.text")))
            else:
                out.append(Scored(text=prefix + render(suite.prompt.text or "", rec, "prompt.text")))
        except _Bad as e:
            problems.append(Problem(path, e.field, e.message, line=ex.line))
    if problems:
        raise InputProblems(problems)
    return out
