"""judge_pairwise: an LLM judge compares each answer with a baseline's, in both orders.

The baseline is the example's reference answer (default), the outputs of an earlier run
(``baseline_run``), or a model (``baseline_model``) whose answers are generated with the suite's own
prompt and settings (given by the runner in the RunContext) through the run's engine and its
response cache (after a run of that model, they are cache hits).

Each pair is judged twice, candidate first and baseline first. ``pairwise_win`` is the candidate's
expected score over both orders (win 1, tie 0.5, loss 0; probability-weighted where the judge's
provider returns token probabilities), so a judge that always prefers the first answer scores 0.5.
``pairwise_consistency`` is 1 when both orders name the same winner; the artifacts give the rate
at which the judge picked the first position.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from harness.core.aio import run_sync
from harness.core.jsonl import read_jsonl
from harness.core.types import Failure, Item, Request, ScoreValue
from harness.judge.model import JudgeModel
from harness.judge.params import JudgeParams, ModelRef, model_text, suite_model_spec
from harness.judge.prompt import (
    PREFILL,
    pairwise_messages,
    prompt_record,
    prompt_sha256,
    render_conversation,
)
from harness.judge.repeats import repeat_agreement
from harness.judge.rubric import Rubric
from harness.judge.verdict import Unparseable, Verdict, read_prefilled, read_verdict
from harness.metrics.base import Metric, ScoreSpec, metric
from harness.metrics.text import references

FLIP = {"A": "B", "B": "A", "tie": "tie"}


class JudgePairwiseParams(JudgeParams):
    baseline_model: ModelRef | None = Field(None, description="Compare against this model's answers (generated with the "
                                                              "suite's prompt): a model string or mapping, as for judge.")
    baseline_run: str | None = Field(None, description="Or: against the outputs in this run directory (results.jsonl), by example id.")

    @field_validator("baseline_model")
    @classmethod
    def _baseline_parses(cls, v: ModelRef | None, info: ValidationInfo) -> ModelRef | None:
        if v is not None:
            suite_model_spec(v, trusted=bool(info.context and info.context.get("command_line")))
        return v

    @model_validator(mode="after")
    def _one_baseline(self) -> JudgePairwiseParams:
        if self.baseline_model is not None and self.baseline_run is not None:
            raise ValueError("give at most one of `baseline_model` and `baseline_run` (neither: the reference answer)")
        return self


@metric("judge_pairwise")
class JudgePairwise(Metric):
    """An LLM judge's preference for the output over a baseline, judged in both orders."""

    Params = JudgePairwiseParams

    def __init__(self, params: Any = None):
        super().__init__(params)
        self.rubric: Rubric = self.params.build_rubric()
        self._run: dict[str, Any] = {}

    @cached_property
    def judge(self) -> JudgeModel:
        return JudgeModel(self.params.judge, self.context.trust)

    @property
    def prefill(self) -> str | None:
        """The start of the judge's reply (``{"winner": "``) when the winner is read from one token."""
        return PREFILL["pairwise"] if self.params.use_prefill(self.judge.spec.provider) else None

    def scores(self) -> list[ScoreSpec]:
        out = [ScoreSpec("pairwise_win", description="candidate's expected score against the baseline (win 1, tie 0.5), both orders"),
               ScoreSpec("pairwise_consistency", binary=True, description="the judge names the same winner in both orders")]
        if self.params.samples > 1:
            out.append(ScoreSpec("pairwise_agreement", description="share of pairs of repeated verdicts (same order) that agree"))
        return out

    # ------------------------------------------------------------ baseline answers

    async def baselines(self, items: Sequence[Item]) -> list[str | Failure]:
        p = self.params
        if p.baseline_run is not None:
            path = Path(p.baseline_run) / "results.jsonl"
            if not path.is_file():
                return [Failure(f"baseline run {p.baseline_run}: no results.jsonl")] * len(items)
            rows = {r["id"]: r for _, r in read_jsonl(path, objects=True) if "id" in r}
            return [rows[it.id]["output"] if it.id in rows and rows[it.id].get("output") is not None
                    else Failure(f"baseline run has no output for example {it.id!r}") for it in items]
        if p.baseline_model is not None:
            return await self._generate_baseline(items)
        out: list[str | Failure] = []
        for it in items:
            refs = references(it.reference)
            out.append(refs[0] if refs else Failure("example has no reference to compare with"))
        return out

    async def _generate_baseline(self, items: Sequence[Item]) -> list[str | Failure]:
        settings = self.context.generation  # the suite's, given by the runner
        if settings is None:
            return [Failure("baseline_model needs the suite's generation settings; run through `harness run`")] * len(items)
        base = JudgeModel(self.params.baseline_model, self.context.trust)  # type: ignore[arg-type]
        reqs = [Request(tuple((m["role"], m["content"]) for m in it.messages), settings, it.id) for it in items]
        resps = await base.generate(reqs, self.context, desc=f"baseline {base.spec.display()}")
        return [r.text if r.text is not None else Failure(f"baseline generation failed: {r.error}") for r in resps]

    # ------------------------------------------------------------ judging

    def _requests(self, item: Item, first: str, second: str, order: int) -> list[Request]:
        p = self.params
        conversation = render_conversation(item.messages, item.input) if p.include_request else None
        # The reference is shown as such only when it is not itself the baseline answer.
        against_reference = p.baseline_model is None and p.baseline_run is None
        refs = references(item.reference) if p.include_reference and not against_reference else []
        msgs = tuple(pairwise_messages(self.rubric, first, second, conversation, refs[0] if refs else None))
        return p.requests(msgs, f"{item.id}#pair{order}.", self.prefill)

    def read(self, text: str | None, logprobs: Any) -> Verdict:
        if self.prefill is not None:
            return read_prefilled(text, logprobs, "pairwise", None, self.prefill)
        return read_verdict(text, logprobs, "pairwise", None, self.params.use_logprobs)

    def score_batch(self, items: Sequence[Item]) -> list[dict[str, ScoreValue]]:
        """For a caller outside an event loop; the runner awaits :meth:`ascore_batch`."""
        return run_sync(self.ascore_batch(items))

    async def ascore_batch(self, items: Sequence[Item]) -> list[dict[str, ScoreValue]]:
        p = self.params
        names = [s.name for s in self.scores()]
        out: list[dict[str, ScoreValue]] = [{} for _ in items]
        base = await self.baselines(items)
        todo = []
        for i, (it, b) in enumerate(zip(items, base)):
            why = Failure(f"no output: {it.error}") if it.output is None else (b if isinstance(b, Failure) else None)
            if why is not None:
                out[i] = {n: why for n in names}
            else:
                todo.append(i)
        reqs: list[Request] = []
        for i in todo:
            cand, b = items[i].output or "", base[i]
            reqs += self._requests(items[i], cand, b, 0) + self._requests(items[i], b, cand, 1)  # type: ignore[arg-type]
        resps = await self.judge.generate(reqs, self.context, desc=f"judge pairwise | {self.judge.spec.display()}")
        stats = {"first_position_picks": 0, "verdicts": 0, "unparseable": 0, "judge_errors": 0,
                 "grade_method": {"logprobs": 0, "parsed": 0}}
        per = 2 * p.samples
        for k, i in enumerate(todo):
            chunk = resps[k * per : (k + 1) * per]
            orders: list[list[Verdict]] = [[], []]
            failure = None
            for j, r in enumerate(chunk):
                if r.error:
                    stats["judge_errors"] += 1
                    failure = failure or f"judge call failed: {r.error}"
                    continue
                try:
                    v = self.read(r.text, r.logprobs)
                except Unparseable as e:
                    stats["unparseable"] += 1
                    failure = failure or f"unparseable verdict: {e}"
                    continue
                orders[j // p.samples].append(v)
                stats["verdicts"] += 1
                stats["first_position_picks"] += v.label == "A"
                stats["grade_method"][v.method] += 1
            if not orders[0] or not orders[1]:
                out[i] = {n: Failure(failure or "no verdict") for n in names}
                continue
            out[i] = self._row(orders)
        stats["first_position_rate"] = stats["first_position_picks"] / stats["verdicts"] if stats["verdicts"] else None
        self._run = stats
        return out

    def _row(self, orders: list[list[Verdict]]) -> dict[str, ScoreValue]:
        # Candidate's expected score: order 0 has the candidate as A, order 1 as B.
        values = [{"A": 1.0, "B": 0.0, "tie": 0.5}, {"A": 0.0, "B": 1.0, "tie": 0.5}]
        per_order = [math.fsum(v.expected(values[o]) for v in vs) / len(vs) for o, vs in enumerate(orders)]
        winners = [_majority([v.label if o == 0 else FLIP[v.label] for v in vs]) for o, vs in enumerate(orders)]
        row: dict[str, ScoreValue] = {"pairwise_win": sum(per_order) / 2, "pairwise_consistency": float(winners[0] == winners[1])}
        if self.params.samples > 1:
            agree = [repeat_agreement([v.label for v in vs]) for vs in orders]
            ok = [a for a in agree if not isinstance(a, Failure)]
            row["pairwise_agreement"] = math.fsum(ok) / len(ok) if ok else agree[0]
        return row

    def advisory(self) -> dict[str, str]:
        why = ("pairwise judge verdicts have no calibration against human preferences; "
               f"judge {self.judge.spec.display()}, position consistency is reported beside them")
        return {"pairwise_win": why}

    def entry_fields(self) -> dict[str, dict[str, Any]]:
        """The judge, prompt and criteria (with their sha256) beside the win rate, and the judge's
        position bias: how often it picked whichever answer was shown first."""
        p = self.params
        fields = {"judge": self.judge.record(),
                  "rubric": {"name": self.rubric.name, "sha256": self.rubric.sha256(), "text": self.rubric.criteria.strip()},
                  "prompt": prompt_record("pairwise", self.prefill), "calibration": None,
                  "baseline": p.baseline_run or p.baseline_model or "reference",
                  "first_position_rate": self._run.get("first_position_rate")}
        return {"pairwise_win": fields}

    def artifacts(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]]) -> dict[str, Any]:
        p = self.params
        baseline = ("model " + model_text(p.baseline_model)) if p.baseline_model else ("run " + p.baseline_run) if p.baseline_run else "reference"
        return {"judge": self.judge.record(), "baseline": baseline,
                "rubric": {"name": self.rubric.name, "sha256": self.rubric.sha256()},
                "prompt_sha256": prompt_sha256("pairwise", self.prefill), **self._run}


def _majority(labels: list[str]) -> str:
    counts = {lab: labels.count(lab) for lab in labels}
    top = max(counts.values())
    best = [lab for lab, c in counts.items() if c == top]
    return best[0] if len(best) == 1 else "tie"
