"""Preference pairs for the loop's ``dpo`` method: from one iteration's validation run, every example
the candidate got wrong or that regressed against the best so far becomes a pair

    input = the prompt the suite sent, preferred = the reference answer, non-preferred = the candidate's

and the next iteration trains with DPO on top of that candidate (its adapter merged into the base
for the local trainer, the fine-tuned model itself for openai). These pairs come from the
validation split, so validation scores of the iterations after them are optimistic; the final
gate runs on the held-out test split, which never feeds training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.loop.data import BuiltData, write_training_file
from harness.loop.feedback import Validated, regressions
from harness.train.base import Log, TrainResult


def preference_rows(validated: Validated) -> list[dict[str, Any]]:
    """One preference line per wrong or regressed example with a text reference and a different output."""
    regressed = {i for ids in regressions(validated).values() for i in ids}
    out = []
    for r in validated.rows:
        value = validated.value(r)
        wrong = value is not None and validated.failure(float(value)) > 0
        ref, got, prompt = r.get("reference"), r.get("output"), r.get("prompt") or []
        if not (wrong or r["id"] in regressed) or not isinstance(ref, str) or not ref.strip():
            continue
        if not isinstance(got, str) or not got.strip() or got.strip() == ref.strip():
            continue
        if not prompt or prompt[-1].get("role") != "user":
            continue
        out.append({"id": r["id"], "category": r.get("category"), "input": {"messages": prompt},
                    "preferred_output": [{"role": "assistant", "content": ref}],
                    "non_preferred_output": [{"role": "assistant", "content": got}],
                    "why": "regressed" if r["id"] in regressed else "wrong"})
    return out


def dpo_base(result: TrainResult, it_dir: Path, log: Log) -> str:
    """The model the next DPO iteration starts from: this iteration's candidate."""
    if result.adapter is None:
        return result.candidate  # openai: a fine-tuned model can be fine-tuned again
    from harness.train.export import export_merged

    merged = it_dir / "start-merged"
    if not (merged / "harness-export.json").is_file():
        log(f"dpo: merging {result.adapter} into its base ({merged}) to train the preference adapter on top")
        export_merged(result.adapter, merged, overwrite=True)
    return f"local:{merged}"


def write_pairs(validated: Validated, path: Path, seed: int, from_iteration: int) -> BuiltData | None:
    """The next DPO iteration's preference file (None: no wrong or regressed answer to build a pair from)."""
    pairs = preference_rows(validated)
    if not pairs:
        return None
    regressed = sum(p.pop("why") == "regressed" for p in pairs)
    reason = (f"dpo: {len(pairs)} preference pairs from iteration {from_iteration}'s validation run "
              f"({regressed} regressions, {len(pairs) - regressed} other failures): reference preferred, "
              "the candidate's answer not; validation scores from here on are optimistic")
    return write_training_file(pairs, path, seed, {"from_iteration": from_iteration, "method": "dpo",
                                                   "pairs": len(pairs), "reasons": [reason]})
