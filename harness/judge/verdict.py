"""Judge verdicts: strictly parsed typed JSON, and grades read from token probabilities.

A verdict is one JSON object and nothing else (one Markdown code fence around it is allowed):
``{"reason": str, "score": int}`` on a 1..N scale, ``{"reason": str, "pass": bool}`` for pass/fail,
``{"reason": str, "winner": "A" | "B" | "tie"}`` for pairwise. Anything else (prose, a missing or
extra key, a wrong type, a grade out of range, a repeated key) is unparseable: the caller records
``Failure("unparseable verdict: ...")``, never a 0 or a pass.

When the provider returns token log-probabilities, the grade is the probability-weighted mean over
the allowed grades at the position where the verdict's grade token was generated (the distribution
renormalised over the allowed grades in the top alternatives). The verdict must still parse: the
probabilities refine a valid verdict, they never rescue an invalid one.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

from harness.core.text import strip_fences
from harness.judge.rubric import Rubric

Kind = Literal["scale", "pass_fail", "pairwise"]
KEYS: dict[str, str] = {"scale": "score", "pass_fail": "pass", "pairwise": "winner"}
WINNERS = ("A", "B", "tie")


class Unparseable(ValueError):
    """The judge's reply is not a valid verdict; the message says why."""


@dataclass(frozen=True)
class Verdict:
    label: str  # the verdict as emitted: "4", "true", "A", ...
    reason: str
    probs: dict[str, float]  # label -> probability (one-hot when parsed without log-probabilities)
    method: Literal["logprobs", "parsed"]
    mass: float | None = None  # probability the judge put on allowed labels at the grade position

    def expected(self, values: dict[str, float]) -> float:
        return math.fsum(values[k] * p for k, p in self.probs.items())


def kind_of(rubric: Rubric) -> Kind:
    return "pass_fail" if rubric.scale == "pass_fail" else "scale"


def labels_for(kind: Kind, rubric: Rubric | None = None) -> list[str]:
    if kind == "pass_fail":
        return ["true", "false"]
    if kind == "pairwise":
        return list(WINNERS)
    assert rubric is not None
    return [str(g) for g in rubric.grades]


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise Unparseable(f"repeated key {dup[0]!r}")
    return dict(pairs)


def _snippet(text: str, n: int = 80) -> str:
    t = " ".join(text.split())
    return repr(t if len(t) <= n else t[:n] + "...")


def parse_verdict(text: str, kind: Kind, rubric: Rubric | None = None) -> tuple[str, str]:
    """(label, reason) of a strictly valid verdict; raises :class:`Unparseable`."""
    body = strip_fences(text).strip()
    if not body:
        raise Unparseable("empty reply")
    try:
        obj = json.loads(body, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as e:
        raise Unparseable(f"not a JSON object ({e.msg} at char {e.pos}): {_snippet(text)}") from None
    if not isinstance(obj, dict):
        raise Unparseable(f"expected a JSON object, got {type(obj).__name__}: {_snippet(text)}")
    key = KEYS[kind]
    if set(obj) != {"reason", key}:
        raise Unparseable(f"expected exactly the keys 'reason' and {key!r}, got {sorted(obj)}")
    reason, value = obj["reason"], obj[key]
    if not isinstance(reason, str):
        raise Unparseable(f"'reason' must be a string, got {type(reason).__name__}")
    if kind == "scale":
        assert rubric is not None
        if isinstance(value, bool) or not isinstance(value, int):
            raise Unparseable(f"'score' must be an integer, got {value!r}")
        if value not in rubric.grades:
            raise Unparseable(f"'score' {value} is outside 1..{rubric.scale}")
        return str(value), reason
    if kind == "pass_fail":
        if not isinstance(value, bool):
            raise Unparseable(f"'pass' must be true or false, got {value!r}")
        return ("true" if value else "false"), reason
    if value not in WINNERS:
        raise Unparseable(f"'winner' must be \"A\", \"B\" or \"tie\", got {value!r}")
    return value, reason


def _label_of(piece: str, labels: list[str]) -> str | None:
    """Which label a token's text starts (' 4' -> '4', 'true,' -> 'true', 't' -> 'tie' if unique)."""
    s = piece.strip()
    if not s:
        return None
    for lab in labels:
        if s.startswith(lab) and (len(s) == len(lab) or not s[len(lab)].isalnum()):
            return lab
    starts = [lab for lab in labels if lab.startswith(s)]
    return starts[0] if len(starts) == 1 else None


def grade_distribution(logprobs: list[dict[str, Any]], kind: Kind, labels: list[str]) -> tuple[dict[str, float], float, str] | None:
    """(label -> probability, allowed mass, chosen label) at the grade position, or None when the
    position cannot be found or the labels cannot be told apart by one token."""
    if any(a != b and b.startswith(a) for a in labels for b in labels):
        return None  # e.g. "1" and "10": the first token does not decide the grade
    tokens = [str(e.get("token", "")) for e in logprobs]
    joined = "".join(tokens)
    m = re.search(rf'(?<!\\)"{KEYS[kind]}"\s*:\s*"?', joined)
    if m is None:
        return None
    at, start = m.end(), 0
    for i, tok in enumerate(tokens):  # the token in which the grade's first character was generated
        if start <= at < start + len(tok):
            break
        start += len(tok)
    else:
        return None
    prefix, chosen_piece = tokens[i][: at - start], tokens[i][at - start :]
    chosen = _label_of(chosen_piece, labels)
    if chosen is None:
        return None
    entry = logprobs[i]
    # The local provider names the alternatives "top", OpenAI's API "top_logprobs".
    top = entry.get("top") or entry.get("top_logprobs") or []
    alts = {str(a.get("token", "")): float(a.get("logprob", -math.inf)) for a in top}
    alts.setdefault(tokens[i], float(entry.get("logprob", -math.inf)))
    probs = {lab: 0.0 for lab in labels}
    for tok, lp in alts.items():
        if tok.startswith(prefix):
            piece = tok[len(prefix) :]
        elif tok.strip().startswith(prefix.strip()):
            piece = tok.strip()[len(prefix.strip()) :]
        else:
            continue
        lab = _label_of(piece, labels)
        if lab is not None and lp > -math.inf:
            probs[lab] += math.exp(lp)
    mass = math.fsum(probs.values())
    if mass <= 0:
        return None
    return {k: v / mass for k, v in probs.items()}, mass, chosen


def read_verdict(text: str | None, logprobs: list[dict[str, Any]] | None, kind: Kind, rubric: Rubric | None,
                 use_logprobs: bool = True) -> Verdict:
    """The verdict in a judge reply; raises :class:`Unparseable`."""
    if text is None:
        raise Unparseable("no reply")
    label, reason = parse_verdict(text, kind, rubric)
    labels = labels_for(kind, rubric)
    if use_logprobs and logprobs:
        found = grade_distribution(logprobs, kind, labels)
        if found is not None and found[2] == label:
            probs, mass, _ = found
            return Verdict(label, reason, probs, "logprobs", mass)
    return Verdict(label, reason, {lab: float(lab == label) for lab in labels}, "parsed")


def read_prefilled(text: str | None, logprobs: list[dict[str, Any]] | None, kind: Kind, rubric: Rubric | None,
                   prefill: str) -> Verdict:
    """The verdict when the judge's reply was started for it with ``prefill`` (``{"score": ``).

    The judge writes only the grade: its first token must be an allowed label (else the verdict
    is unparseable), and with log-probabilities the grade is the probability-weighted mean over the
    allowed labels among that token's alternatives. There is no reason text.
    """
    if text is None:
        raise Unparseable("no reply")
    labels = labels_for(kind, rubric)
    chosen = _label_of(text, labels)
    if chosen is None:
        raise Unparseable(f"after {prefill!r} the judge wrote {_snippet(text)}, not one of {', '.join(labels)}")
    if not logprobs:
        return Verdict(chosen, "", {chosen: 1.0}, "parsed")
    entry = logprobs[0]
    top = entry.get("top") or entry.get("top_logprobs") or []
    alts = {str(a.get("token", "")): float(a.get("logprob", -math.inf)) for a in top}
    alts.setdefault(str(entry.get("token", "")), float(entry.get("logprob", -math.inf)))
    probs = {lab: 0.0 for lab in labels}
    for tok, lp in alts.items():
        lab = _label_of(tok, labels)
        if lab is not None and lp > -math.inf:
            probs[lab] += math.exp(lp)
    mass = math.fsum(probs.values())
    if mass <= 0:
        return Verdict(chosen, "", {chosen: 1.0}, "parsed")
    return Verdict(chosen, "", {k: v / mass for k, v in probs.items()}, "logprobs", mass)
