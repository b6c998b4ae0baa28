"""Rubrics: the criteria a judge grades by, on a pass/fail or 1..N scale.

A suite names a built-in rubric (``rubric: support_reply``) or writes its own (``criteria:`` with
optional ``levels:``). Every rubric has a sha256 over exactly what the judge is told, so a run,
and a calibration, name the rubric they used.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

from harness.core.hashing import canonical_json

Scale = Literal["pass_fail"] | int


@dataclass(frozen=True)
class Rubric:
    name: str
    criteria: str
    scale: Scale  # "pass_fail", or N for grades 1..N
    levels: dict[int, str] = field(default_factory=dict)  # grade -> what it means (scales only)

    @property
    def grades(self) -> list[int]:
        """Allowed grades: 0/1 for pass/fail (fail, pass), else 1..N."""
        return [0, 1] if self.scale == "pass_fail" else list(range(1, int(self.scale) + 1))

    @property
    def top(self) -> int:
        return self.grades[-1]

    def sha256(self) -> str:
        payload = {"criteria": self.criteria.strip(), "scale": self.scale,
                   "levels": {str(k): v.strip() for k, v in sorted(self.levels.items())}}
        return hashlib.sha256(canonical_json(payload).encode()).hexdigest()

    def describe(self) -> str:
        """The rubric as the judge reads it."""
        lines = [self.criteria.strip()]
        if self.scale == "pass_fail":
            lines.append("\nVerdict: pass if the answer meets every criterion above, fail otherwise.")
        else:
            lines.append(f"\nGrade on a scale of 1 (worst) to {self.scale} (best).")
            for g in self.grades:
                if g in self.levels:
                    lines.append(f"{g}: {self.levels[g].strip()}")
        return "\n".join(lines)


BUILTIN: dict[str, Rubric] = {
    "support_reply": Rubric(
        "support_reply",
        """\
Judge a customer-support reply from Northwind Outfitters, an online outdoor-gear shop, to the
customer's last message. A good reply:
- addresses what the customer actually asked for;
- follows the shop's policies: 30-day returns; refunds to the original payment method within 5-7
  business days; orders can be cancelled, and addresses changed, until the order ships; damaged
  items are replaced free once the customer sends a photo; passwords are reset with "Forgot
  password" on the sign-in page; payment methods are changed under Account > Payment;
- gives the customer a concrete next step (what to send or do);
- is friendly, concise (two or three sentences) and invents no facts, promises or policies.""",
        5,
        {1: "Wrong or harmful: ignores the request, contradicts policy, is rude, or is not a reply at all.",
         2: "Poor: touches the topic but misleads, invents policy, or gives no usable next step.",
         3: "Acceptable: on topic and not wrong, but vague, incomplete, too long or missing the next step.",
         4: "Good: correct and helpful with a clear next step; small flaws in tone or length.",
         5: "Excellent: correct, follows policy, clear next step, warm and concise."},
    ),
    "coherence": Rubric(
        "coherence",
        """\
Judge only the coherence of the answer, not whether it is correct: is it clear, well organised
and readable? Look for sentences that follow from one another, no contradictions, no repeated or
looping text, no text cut off mid-sentence, grammatical language, and staying on one topic.""",
        5,
        {1: "Incoherent: garbled, looping, or unrelated fragments.",
         2: "Hard to follow: frequent contradictions, repetition or broken sentences.",
         3: "Understandable but uneven: some repetition, abrupt jumps or a cut-off ending.",
         4: "Clear and well organised, with minor awkwardness.",
         5: "Fluent, well organised and easy to follow throughout."},
    ),
    "brand_tone": Rubric(
        "brand_tone",
        """\
Judge a rewrite of a source text into a brand's voice. The request names the brand, describes its
voice and gives a word limit. A good rewrite:
- sounds like the described voice (word choice, formality, energy);
- keeps every fact of the source (names, numbers, dates, prices, conditions) and adds none;
- respects the word limit;
- reads as finished copy, not as commentary about the task.""",
        5,
        {1: "Not a rewrite: off task, or facts lost or invented throughout.",
         2: "Wrong voice or several facts lost, changed or invented.",
         3: "Partly in voice; a fact missing or changed, or clearly over the limit.",
         4: "In voice and faithful, with a small slip in tone, length or wording.",
         5: "Unmistakably in the brand's voice, every fact kept, within the limit."},
    ),
    "grounded_answer": Rubric(
        "grounded_answer",
        """\
Judge an answer to a question about a reference passage given in the request. The answer passes
only if it answers the question, every statement in it is supported by the passage, and it does
not omit a fact from the passage that the question needs.""",
        "pass_fail",
    ),
}
