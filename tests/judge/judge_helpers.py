"""Scripted judges for the judge tests: rule-based graders that read the fenced answer."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from harness.core.types import Item, Request, Response, RunContext
from harness.metrics.base import build_metric
from harness.providers.base import ModelSpec, Provider
from harness.providers.scripted import ScriptedProvider

ANSWER = re.compile(r"<answer>\n(.*?)\n</answer>", re.S)
PAIR = re.compile(r"<answer_a>\n(.*?)\n</answer_a>.*?<answer_b>\n(.*?)\n</answer_b>", re.S)
KEYWORDS = ("sorry", "photo", "order number", "replacement")


def fenced_answer(request: Request) -> str:
    """The judged answer as the judge reads it: between the first <answer> and the first </answer>."""
    m = ANSWER.search(request.messages[-1][1])
    assert m is not None, "the prompt fences the answer"
    return m.group(1)


def rule_grade(answer: str) -> int:
    """A capable judge for a damaged-item reply: 1 + one point per policy element the reply really has."""
    text = answer.lower()
    return 1 + sum(k in text for k in KEYWORDS)


def rule_judge(request: Request) -> str:
    g = rule_grade(fenced_answer(request))
    return json.dumps({"reason": f"{g - 1} of {len(KEYWORDS)} policy elements", "score": g})


def scripted(fn: Callable[[Request], str]) -> ScriptedProvider:
    return ScriptedProvider(ModelSpec(provider="scripted", name="rule-judge"), script=fn)


class LogprobJudge(Provider):
    """Replies with a fixed text and token log-probabilities (as the local or OpenAI provider would)."""

    def __init__(self, text: str, logprobs: list[dict[str, Any]]):
        super().__init__(ModelSpec(provider="scripted", name="logprob-judge"))
        self.text, self.logprobs = text, logprobs

    def fingerprint(self) -> dict[str, Any]:
        return {"provider": "test-logprobs", "instance": id(self)}

    async def complete(self, request: Request) -> Response:
        return Response(self.text, finish_reason="stop", logprobs=self.logprobs)


def lp(p: float) -> float:
    return math.log(p)


def judge_metric(params: dict[str, Any], provider: Provider, name: str = "judge_rubric"):
    m = build_metric(name, {"judge": "scripted", **params})
    m.judge.provider = provider  # the judge's provider is built lazily; tests hand it one
    m.bind(RunContext())
    return m


def item(output: str | None, id: str = "x", **kw) -> Item:
    kw.setdefault("messages", [{"role": "user", "content": "My thermos arrived smashed."}])
    return Item(id=id, output=output, reference=kw.pop("reference", None), **kw)
