"""judge_rubric: an LLM judge grades each answer against a rubric (pass/fail or 1..N).

The judge is any model the harness can run, named in the suite (``judge: local``). Its requests
go through the run's response cache. The grade is read from token probabilities where the judge's
provider returns them, else from a strictly parsed verdict; an unparseable verdict is a failure
(``unparseable verdict: ...``), never a 0 or a pass. With ``samples: n`` each answer is judged n
times and the agreement across repeats is a score of its own.

Trust: gates on the score only advise until the rubric and judge have a calibration against human
labels (``harness judge calibrate``) with agreement of at least ``min_kappa``. The artifacts
show the judge (spec, fingerprint), the prompt and rubric sha256 and the calibration.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cached_property
from typing import Any

from pydantic import Field

from harness.core.aio import run_sync
from harness.core.types import Failure, Item, Request, ScoreValue
from harness.judge import calibration as cal
from harness.judge.model import JudgeModel
from harness.judge.params import JudgeParams
from harness.judge.prompt import (
    PREFILL,
    prompt_record,
    prompt_sha256,
    render_conversation,
    rubric_messages,
)
from harness.judge.repeats import repeat_agreement
from harness.judge.rubric import Rubric
from harness.judge.verdict import (
    Unparseable,
    Verdict,
    kind_of,
    read_prefilled,
    read_verdict,
)
from harness.metrics.base import Metric, ScoreSpec, metric
from harness.metrics.text import references


class JudgeRubricParams(JudgeParams):
    score: str = Field("judge", description="Name of the score (the agreement score is <score>_agreement).")


@metric("judge_rubric")
class JudgeRubric(Metric):
    """An LLM judge's rubric grade (1..N, or pass rate), with calibration against human labels."""

    Params = JudgeRubricParams

    def __init__(self, params: Any = None):
        super().__init__(params)
        self.rubric: Rubric = self.params.build_rubric()
        self._run: dict[str, Any] = {}

    @cached_property
    def judge(self) -> JudgeModel:
        return JudgeModel(self.params.judge, self.context.trust)

    @property
    def agreement_name(self) -> str:
        return f"{self.params.score}_agreement"

    @property
    def prefill(self) -> str | None:
        """The start of the judge's reply, when the grade is read from one prefilled token."""
        return PREFILL[kind_of(self.rubric)] if self.params.use_prefill(self.judge.spec.provider) else None

    def prompt_sha256(self) -> str:
        return prompt_sha256("rubric", self.prefill)

    def scores(self) -> list[ScoreSpec]:
        p, r = self.params, self.rubric
        if r.scale == "pass_fail":
            main = ScoreSpec(p.score, binary=not p.use_logprobs,
                             description=f"judge's pass rate on rubric {r.name}" + (" (P(pass) from token probabilities)" if p.use_logprobs else ""))
        else:
            main = ScoreSpec(p.score, range=(1.0, float(r.scale)), description=f"judge's grade 1..{r.scale} on rubric {r.name}")
        out = [main]
        if p.samples > 1:
            out.append(ScoreSpec(self.agreement_name, description=f"share of pairs of the {p.samples} repeated verdicts that agree"))
        return out

    # ------------------------------------------------------------ grading

    def requests(self, item: Item) -> list[Request]:
        p = self.params
        conversation = render_conversation(item.messages, item.input) if p.include_request else None
        refs = references(item.reference) if p.include_reference else []
        msgs = tuple(rubric_messages(self.rubric, item.output or "", conversation, refs[0] if refs else None))
        return p.requests(msgs, f"{item.id}#judge", self.prefill)

    def read(self, text: str | None, logprobs: Any) -> Verdict:
        if self.prefill is not None:
            return read_prefilled(text, logprobs, kind_of(self.rubric), self.rubric, self.prefill)
        return read_verdict(text, logprobs, kind_of(self.rubric), self.rubric, self.params.use_logprobs)

    def value(self, v: Verdict) -> float:
        if self.rubric.scale == "pass_fail":
            return v.probs.get("true", 0.0)
        return v.expected({str(g): float(g) for g in self.rubric.grades})

    def score_batch(self, items: Sequence[Item]) -> list[dict[str, ScoreValue]]:
        """For a caller outside an event loop; the runner awaits :meth:`ascore_batch`."""
        return run_sync(self.ascore_batch(items))

    async def ascore_batch(self, items: Sequence[Item]) -> list[dict[str, ScoreValue]]:
        p = self.params
        out: list[dict[str, ScoreValue]] = [{} for _ in items]
        todo = [i for i, it in enumerate(items) if it.output is not None]
        for i, it in enumerate(items):
            if it.output is None:
                f = Failure(f"no output: {it.error}")
                out[i] = {p.score: f, **({self.agreement_name: f} if p.samples > 1 else {})}
        reqs = [r for i in todo for r in self.requests(items[i])]
        responses = await self.judge.generate(reqs, self.context, desc=f"judge {self.rubric.name} | {self.judge.spec.display()}")
        stats = {"grade_method": {"logprobs": 0, "parsed": 0}, "unparseable": 0, "judge_errors": 0, "mass": [], "verdicts": {}}
        for k, i in enumerate(todo):
            verdicts, failures = [], []
            for resp in responses[k * p.samples : (k + 1) * p.samples]:
                if resp.error:
                    stats["judge_errors"] += 1
                    failures.append(f"judge call failed: {resp.error}")
                    continue
                try:
                    v = self.read(resp.text, resp.logprobs)
                except Unparseable as e:
                    stats["unparseable"] += 1
                    failures.append(f"unparseable verdict: {e}")
                    continue
                verdicts.append(v)
                stats["grade_method"][v.method] += 1
                if v.mass is not None:
                    stats["mass"].append(v.mass)
            row: dict[str, ScoreValue] = {}
            row[p.score] = math.fsum(self.value(v) for v in verdicts) / len(verdicts) if verdicts else Failure(failures[0])
            if p.samples > 1:
                row[self.agreement_name] = repeat_agreement([v.label for v in verdicts])
            out[i] = row
            if len(stats["verdicts"]) < 100:
                stats["verdicts"][items[i].id] = ([{"label": v.label, "reason": v.reason[:200], "method": v.method} for v in verdicts]
                                                  + [{"failure": f[:200]} for f in failures])
        self._run = stats
        return out

    # ------------------------------------------------------------ trust

    def calibration(self) -> dict[str, Any] | None:
        return cal.CalibrationStore(cal.store_path(self.context.reports_dir)).get(self.rubric.sha256(), self.judge.fingerprint_sha256())

    def distrust(self) -> str | None:
        """Why this judge's scores may only advise, or None when its calibration is good enough."""
        entry = self.calibration()
        if entry is None:
            return (f"judge {self.judge.spec.display()} has no calibration for rubric {self.rubric.name} "
                    f"(sha256 {self.rubric.sha256()[:12]}); run `harness judge calibrate SUITE --labels FILE`")
        if entry.get("prompt_sha256") != self.prompt_sha256():
            return "judge was calibrated with a different prompt template; calibrate again"
        value = entry.get("agreement")
        if not entry.get("n"):
            return (f"judge {self.judge.spec.display()} gave no parseable verdict on the {entry.get('n_unparseable')} "
                    f"human-labelled answers of its calibration; its agreement is unknown")
        if value is None or value < self.params.min_kappa:
            return f"judge agreement with human labels is under min_kappa {self.params.min_kappa}: {cal.summary(entry)}"
        return None

    def advisory(self) -> dict[str, str]:
        why = self.distrust()
        return {} if why is None else {s.name: why for s in self.scores()}

    def rubric_record(self) -> dict[str, Any]:
        r = self.rubric
        return {"name": r.name, "scale": r.scale, "sha256": r.sha256(), "text": r.describe()}

    def entry_fields(self) -> dict[str, dict[str, Any]]:
        """The judge, prompt and rubric (with their sha256) and the calibration, beside the score."""
        entry = self.calibration()
        calib = None
        if entry is not None:
            stat = entry.get(entry["statistic"]) or {}
            calib = {"statistic": entry["statistic"],
                     "statistic_short": {"quadratic_weighted_kappa": "qw-kappa"}.get(entry["statistic"], "kappa"),
                     "kappa": stat.get("value"), "ci_low": stat.get("ci_low"), "ci_high": stat.get("ci_high"),
                     "n": entry.get("n"), "n_unparseable": entry.get("n_unparseable"),
                     "labels_sha256": (entry.get("labels") or {}).get("sha256"), "created": entry.get("created")}
        fields = {"judge": self.judge.record(), "rubric": self.rubric_record(), "prompt": prompt_record("rubric", self.prefill),
                  "calibration": calib, "min_kappa": self.params.min_kappa,
                  "grade_method": dict(self._run.get("grade_method", {}))}
        return {s.name: fields for s in self.scores()[:1]}

    def artifacts(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]]) -> dict[str, Any]:
        entry = self.calibration()
        stats = dict(self._run)
        mass = stats.pop("mass", [])
        return {
            "judge": self.judge.record(),
            "rubric": {"name": self.rubric.name, "scale": self.rubric.scale, "sha256": self.rubric.sha256(),
                       "text": self.rubric.describe()},
            "prompt_sha256": self.prompt_sha256(),
            "calibration": {"summary": cal.summary(entry), "trusted": self.distrust() is None,
                            "advisory_reason": self.distrust(), "min_kappa": self.params.min_kappa,
                            **({k: entry[k] for k in ("statistic", "agreement", entry["statistic"], "n", "n_unparseable",
                                                       "labels", "created")} if entry else {})},
            **stats,
            "mean_grade_mass": math.fsum(mass) / len(mass) if mass else None,
        }
