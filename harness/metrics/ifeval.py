"""Instruction following with verifiable instructions (IFEval), checked by lm-evaluation-harness's own
checker (``lm_eval.tasks.ifeval.utils.process_results``, lm-eval 0.4.13: the ``[retention]`` extra), not a
copy of it.

Per example: ``prompt_level_strict_acc`` (1 when the response follows every instruction) and
``prompt_level_loose_acc`` (the same after lm-eval's loosening: asterisks dropped, the first and/or last
line removed). Over the corpus: ``inst_level_strict_acc`` and ``inst_level_loose_acc``, the share of all
instructions followed (lm-eval's ``agg_inst_level_acc``: pooled over instructions, not a mean of
per-example shares), bootstrapped from each example's (followed, instructions) counts.

The example's record must hold IFEval's fields: ``key``, ``prompt``, ``instruction_id_list`` and
``kwargs``. The checker tokenises sentences with nltk's ``punkt_tab``, which ``nltk.download`` cannot
fetch offline: scripts/setup.sh installs the copy llama-index-core's wheel ships (byte-identical to
nltk_data's), and this module puts it on nltk's path before the checker is imported, so nothing is
downloaded.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from harness.core.errors import HarnessError
from harness.core.types import Failure, Item, ScoreValue
from harness.metrics.base import Metric, ScoreSpec, metric

FIELDS = ("key", "prompt", "instruction_id_list", "kwargs")


def _punkt_dirs() -> list[str]:
    """nltk data folders that hold punkt_tab: $NLTK_DATA's, else llama-index-core's bundled cache."""
    spec = importlib.util.find_spec("llama_index.core")
    dirs = []
    if spec and spec.submodule_search_locations:
        bundled = Path(list(spec.submodule_search_locations)[0]) / "_static" / "nltk_cache"
        if (bundled / "tokenizers" / "punkt_tab").is_dir():
            dirs.append(str(bundled))
    return dirs


def use_bundled_punkt() -> None:
    """Put the bundled punkt_tab first on nltk's path (a no-op without nltk). Called when this module is
    imported, so that it precedes any import of lm-eval's ifeval module (which otherwise calls nltk.download)."""
    try:
        import nltk
    except ImportError:
        return
    for d in _punkt_dirs():
        if d not in nltk.data.path:
            nltk.data.path.insert(0, d)


def checker() -> Any:
    """lm-eval's process_results, with punkt_tab on nltk's path (never a download). The path is checked on
    every call: another import may have replaced ``nltk.data.path`` since."""
    try:
        import nltk
    except ImportError as e:
        raise HarnessError(f"metric ifeval needs nltk, langdetect, immutabledict and lm-eval ({e}); "
                           "pip install 'finetune-harness[retention]'") from None
    use_bundled_punkt()
    return _process_results()


@cache
def _process_results() -> Any:
    import nltk

    try:
        nltk.data.find("tokenizers/punkt_tab")
    except LookupError:
        raise HarnessError("metric ifeval: nltk's punkt_tab tokenizer data is not installed and cannot be downloaded "
                           "offline; pip install --no-deps llama-index-core==0.14.25 (it ships it), or set NLTK_DATA "
                           "to a folder holding tokenizers/punkt_tab") from None
    try:
        import langdetect
        from lm_eval.tasks.ifeval.utils import process_results
    except ImportError as e:
        raise HarnessError(f"metric ifeval checks with lm-evaluation-harness's IFEval checker ({e}); "
                           "pip install 'finetune-harness[retention]' (lm-eval==0.4.13 langdetect immutabledict)") from None
    # the language checks (english_lowercase, english_capital, response_language) call langdetect, which
    # draws a fresh random seed per call unless its factory has one: a short text was read as Afrikaans 3%
    # of the time, so a model scored twice got two scores. A fixed seed makes the score a function of the text.
    if langdetect.DetectorFactory.seed is None:
        langdetect.DetectorFactory.seed = 0
    return process_results


use_bundled_punkt()


class IFEvalParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@metric("ifeval")
class IFEval(Metric):
    """IFEval's verifiable instructions, checked by lm-eval's checker: prompt- and instruction-level, strict and loose."""

    Params = IFEvalParams
    score_cache = False

    def scores(self) -> list[ScoreSpec]:
        return [ScoreSpec("prompt_level_strict_acc", binary=True, description="every instruction followed (strict)"),
                ScoreSpec("prompt_level_loose_acc", binary=True, description="every instruction followed (loose)"),
                ScoreSpec("inst_level_strict_acc", level="corpus", description="share of all instructions followed (strict)"),
                ScoreSpec("inst_level_loose_acc", level="corpus", description="share of all instructions followed (loose)")]

    def _check(self, item: Item) -> dict[str, Any]:
        """lm-eval's result for the item (kept: the corpus scores read the per-instruction lists again)."""
        memo: dict[tuple[str, str], dict[str, Any]] = self.__dict__.setdefault("_memo", {})
        key = (item.id, item.output or "")
        if key not in memo:
            memo[key] = checker()({f: item.record[f] for f in FIELDS}, [item.output])
        return memo[key]

    def _usable(self, item: Item) -> bool:
        return item.output is not None and all(f in item.record for f in FIELDS)

    def score(self, item: Item) -> dict[str, ScoreValue]:
        names = ("prompt_level_strict_acc", "prompt_level_loose_acc")
        if item.output is None:
            return dict.fromkeys(names, Failure(f"no output: {item.error}"))
        lacking = [f for f in FIELDS if f not in item.record]
        if lacking:
            return dict.fromkeys(names, Failure(f"the example lacks IFEval's field(s) {', '.join(lacking)}"))
        res = self._check(item)
        return {n: float(res[n]) for n in names}

    def corpus_stats(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]], name: str) -> Any:
        import numpy as np

        from harness.stats.bootstrap import Summed, ratio_of_sums

        field = {"inst_level_strict_acc": "inst_level_strict_acc", "inst_level_loose_acc": "inst_level_loose_acc"}.get(name)
        if field is None:
            return None
        rows = np.zeros((len(items), 2))
        for j, item in enumerate(items):
            if self._usable(item):
                followed = self._check(item)[field]
                rows[j] = (sum(followed), len(followed))
        return Summed(rows, ratio_of_sums)

    def corpus(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]]) -> dict[str, float]:
        return {n: self.corpus_stats(items, per_example, n).value() for n in ("inst_level_strict_acc", "inst_level_loose_acc")}
