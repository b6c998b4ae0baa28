"""Judges a suite names that cannot run here: an OpenAI judge without a key (and no base_url).

An imported OpenAI eval's graders default to ``openai:<the grader's model>``, and its first run
would stop at the first judge request; `harness import` and `harness validate` say so instead, with
the flags that pick another judge.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any


def needs_missing_key(spec: str, env: Mapping[str, str]) -> bool:
    """An ``openai:`` spec that talks to api.openai.com (no base_url) while OPENAI_API_KEY is unset."""
    head, _, query = spec.partition("?")
    return head.startswith("openai:") and "base_url=" not in query and not env.get("OPENAI_API_KEY")


def judge_warnings(metrics: Iterable[Mapping[str, Any]], where: str, env: Mapping[str, str] | None = None) -> list[str]:
    """One warning line per metric whose judge needs a key that is not set (``metrics``: the suite's entries)."""
    env = os.environ if env is None else env
    out = []
    for i, m in enumerate(metrics):
        judge = m.get("judge")
        if isinstance(judge, str) and needs_missing_key(judge, env):
            out.append(f"warning: {where}: metrics[{i}] ({m.get('name')}) is judged by {judge}, which needs "
                       "OPENAI_API_KEY (not set): set it, or pick another judge at run time with --judge local, "
                       "or --judge 'openai:MODEL?base_url=http://HOST/v1' for an OpenAI-compatible server")
    return out
