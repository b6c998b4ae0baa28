"""LLM-as-judge: rubric and pairwise grading by any model the harness can run, made trustworthy.

- :mod:`rubric`      what is graded: built-in and inline rubrics, their scale and sha256
- :mod:`prompt`      the judge prompts; judged text fenced as data, delimiters escaped
- :mod:`verdict`     strict typed verdicts, and grades read from token probabilities
- :mod:`model`       the judge model: a ModelSpec run through the response cache
- :mod:`agreement`   Spearman, accuracy, bootstrap intervals (Cohen's kappa is harness.stats.agreement)
- :mod:`calibration` grading a human-labelled set and the calibration store

The metrics ``judge_rubric`` and ``judge_pairwise`` (harness/metrics/) put these together.
"""
