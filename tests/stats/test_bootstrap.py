"""The one vectorised bootstrap (harness/stats/bootstrap.py) against the two procedures it replaces
(tests/stats/reference_bootstrap.py), on seeded cases."""

from __future__ import annotations

import random

import numpy as np
import pytest

from harness.core.types import Item
from harness.metrics.base import build_metric
from harness.stats import bootstrap as bs
from tests.stats import reference_bootstrap as old

LABELS = ["billing", "cancel_order", "order_status", "refund_request", "shipping"]


def predictions(n: int, accuracy: float, seed: int) -> tuple[list[str], list[str | None]]:
    """References and outputs: right with probability ``accuracy``, else another label, nonsense or no output."""
    rng = random.Random(seed)
    refs, outs = [], []
    for _ in range(n):
        ref = rng.choice(LABELS)
        u = rng.random()
        out = ref if u < accuracy else None if u > 0.99 else "no idea" if u > 0.97 else rng.choice(LABELS)
        refs.append(ref)
        outs.append(out)
    return refs, outs


def items_of(refs: list[str], outs: list[str | None]) -> list[Item]:
    return [Item(id=f"e{i}", output=o, reference=r, error=None if o is not None else "timeout")
            for i, (r, o) in enumerate(zip(refs, outs, strict=True))]


def old_stat(refs: list[str], outs: list[str | None]) -> old.Statistic:
    m = build_metric("classification", {"labels": LABELS})
    return old.macro_f1_statistic([(r, m.predict(o)) if o is not None else None for r, o in zip(refs, outs, strict=True)])


def test_run_ci_of_macro_f1_equals_the_old_pure_python_bootstrap_within_monte_carlo_error() -> None:
    """runner.aggregate's CI of a corpus score: was 1,000 pure-Python resamples, now 2,000 vectorised."""
    refs, outs = predictions(600, 0.7, seed=1)
    m = build_metric("classification", {"labels": LABELS})
    items = items_of(refs, outs)
    stat = m.corpus_statistic(items, m.score_batch(items), "macro_f1")
    assert isinstance(stat, bs.Summed)
    assert stat.value() == pytest.approx(m.corpus(items, [])["macro_f1"], abs=1e-12)
    new_lo, new_hi = bs.bootstrap_ci(len(items), stat)
    old_lo, old_hi = old.bootstrap_ci(len(items), old_stat(refs, outs))
    width = old_hi - old_lo
    assert 0.05 < width < 0.09  # 0.065 here: macro-F1 0.789 on 600 examples
    # Monte-Carlo error: seeds 0-9 of the old procedure put its bounds within 0.007 of each other
    # (about a tenth of the width); the new bounds are within 0.0015 of the old seed-0 ones.
    assert new_lo == pytest.approx(old_lo, abs=0.1 * width)
    assert new_hi == pytest.approx(old_hi, abs=0.1 * width)


@pytest.fixture
def index_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resample example indices even where the rows take few kinds (not counts per kind)."""
    monkeypatch.setattr(bs, "MAX_KINDS", 0)


def test_paired_macro_f1_difference_equals_the_old_per_resample_recomputation(index_draws: None) -> None:
    """compare's corpus-score CI: the same resampled indices as before, so equal to rounding."""
    from harness.compare.paired import paired_statistic_diff

    refs, base_outs = predictions(800, 0.75, seed=2)
    _, cand_outs = predictions(800, 0.80, seed=3)
    cand_outs = [r if random.Random(i).random() < 0.8 else o for i, (r, o) in enumerate(zip(refs, cand_outs, strict=True))]
    m = build_metric("classification", {"labels": LABELS})
    a, b = items_of(refs, base_outs), items_of(refs, cand_outs)
    new = paired_statistic_diff(800, m.corpus_statistic(a, [], "macro_f1"), m.corpus_statistic(b, [], "macro_f1"))
    want = old.paired_statistic_diff(800, old_stat(refs, base_outs), old_stat(refs, cand_outs), resamples=2000)
    assert (new.delta, new.ci_low, new.ci_high) == pytest.approx(want, abs=1e-12)
    assert new.ci_low < new.delta < new.ci_high and new.method == "paired-bootstrap-2000-recomputed"


def test_paired_mean_difference_equals_the_old_numpy_bootstrap(index_draws: None) -> None:
    from harness.compare.paired import paired_mean_diff

    rng = random.Random(5)
    a = [float(rng.random() < 0.6) for _ in range(3000)]
    b = [float(rng.random() < 0.65) for _ in range(3000)]
    new = paired_mean_diff(a, b)  # every example scored in both: the same resamples as before, equal to rounding
    assert (new.delta, new.ci_low, new.ci_high) == pytest.approx(old.paired_mean_diff(a, b), abs=1e-12)
    # 2% unscored in each run: the old procedure resampled only the 2,880-odd pairs, the new one resamples all
    # 3,000 positions (shared by every score of a comparison) and averages the pairs drawn: Monte-Carlo equal
    a = [x if rng.random() > 0.02 else None for x in a]
    b = [x if rng.random() > 0.02 else None for x in b]
    new, (delta, lo, hi) = paired_mean_diff(a, b), old.paired_mean_diff(a, b)
    assert new.delta == pytest.approx(delta, abs=1e-12) and new.n == sum(x is not None and y is not None for x, y in zip(a, b))
    assert new.ci_low == pytest.approx(lo, abs=0.1 * (hi - lo)) and new.ci_high == pytest.approx(hi, abs=0.1 * (hi - lo))


def test_vectorised_paths_equal_recomputing_the_corpus_score_on_each_resample() -> None:
    """For every metric with sufficient statistics: the summed path gives corpus() of each resample."""
    refs, outs = predictions(120, 0.6, seed=4)
    rng = random.Random(9)
    words = ["the", "order", "was", "refunded", "to", "your", "card", "today", "please", "wait"]
    cases = [
        (build_metric("classification", {"labels": LABELS}), items_of(refs, outs), "macro_f1"),
        (build_metric("bleu", {}), [Item(id=str(i), output=" ".join(rng.choice(words) for _ in range(rng.randint(0, 9))),
                                         reference=" ".join(rng.choice(words) for _ in range(6))) for i in range(120)],
         "corpus_bleu"),
    ]
    for m, items, name in cases:
        fast = m.corpus_statistic(items, [], name)
        assert isinstance(fast, bs.Summed)
        slow = lambda idx, m=m, items=items, name=name: m.corpus([items[i] for i in idx], []).get(name)
        reps = bs.replicates(len(items), [fast, slow], resamples=60, seed=11)
        assert np.allclose(reps[0], reps[1], atol=1e-12, equal_nan=True), name


def test_resamples_do_not_depend_on_the_block_size(monkeypatch: pytest.MonkeyPatch, index_draws: None) -> None:
    values = [float(i % 7) for i in range(500)]
    stats = [bs.mean_of(values), bs.mean_of(values[::-1])]  # 4 columns: the count-matrix path
    whole = bs.replicates(500, stats, resamples=300, seed=2)
    gathered = bs.replicates(500, stats[:1], resamples=300, seed=2)  # 2 columns: the gather path
    monkeypatch.setattr(bs, "BLOCK_CELLS", 500 * 7)  # 7 resamples a block
    blocks = bs.replicates(500, stats, resamples=300, seed=2)
    assert np.allclose(whole, blocks, atol=1e-12) and np.allclose(whole[0], gathered[0], atol=1e-12)
    idx = np.random.default_rng(2).integers(0, 500, size=(300, 500))
    assert np.allclose(whole[0], np.array(values)[idx].mean(axis=1), atol=1e-12)


def test_counts_per_kind_equal_index_draws_within_monte_carlo_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Few kinds of rows (pass/fail pairs, a classifier's label x prediction): a resample is drawn as
    Multinomial(n, shares) counts per kind. Same distribution as drawing indices, so the same CIs
    within Monte-Carlo error, and still paired: the difference of a run with itself is exactly 0."""
    from harness.compare.paired import Pair, paired_deltas, paired_mean_diff

    refs, base_outs = predictions(5000, 0.75, seed=2)
    _, cand_outs = predictions(5000, 0.80, seed=3)
    m = build_metric("classification", {"labels": LABELS})
    a, b = items_of(refs, base_outs), items_of(refs, cand_outs)
    sa, sb = m.corpus_statistic(a, [], "macro_f1"), m.corpus_statistic(b, [], "macro_f1")
    rng = random.Random(5)
    x = [float(rng.random() < 0.6) for _ in range(5000)]
    y = [v if rng.random() < 0.9 else 1.0 - v for v in x]  # correlated with x: pairing narrows the CI

    def figures() -> list[tuple[float, float]]:
        f1 = paired_deltas(5000, [Pair((sa, sb), 0.0, 5000, "")])[0]
        mean = paired_mean_diff(x, y)
        return [bs.bootstrap_ci(5000, sa), (f1.ci_low, f1.ci_high), (mean.ci_low, mean.ci_high)]

    assert bs._kinds(np.hstack([sa.rows, sb.rows])) is not None  # this case takes the counts path
    fast = figures()
    monkeypatch.setattr(bs, "MAX_KINDS", 0)
    slow = figures()
    for (lo, hi), (want_lo, want_hi) in zip(fast, slow, strict=True):
        width = want_hi - want_lo
        assert lo == pytest.approx(want_lo, abs=0.1 * width) and hi == pytest.approx(want_hi, abs=0.1 * width)
    monkeypatch.setattr(bs, "MAX_KINDS", 4096)
    same = paired_deltas(5000, [Pair((sa, sa), 0.0, 5000, "")])[0]
    assert (same.ci_low, same.ci_high) == (0.0, 0.0)
    unpaired = bs.bootstrap_ci(5000, bs.mean_of(y))  # y's own CI is wider than the paired difference's
    assert fast[2][1] - fast[2][0] < unpaired[1] - unpaired[0]


def test_fallback_statistic_and_edge_cases() -> None:
    assert bs.bootstrap_ci(0, bs.mean_of([])) != bs.bootstrap_ci(0, bs.mean_of([]))  # NaN, NaN
    assert bs.bootstrap_ci(3, bs.mean_of([None, None, None])) != (0.0, 0.0)  # nothing counted: NaN
    lo, hi = bs.bootstrap_ci(5, lambda idx: float(max(idx)), resamples=200)  # any function of the indices
    assert 0 <= lo <= hi <= 4
    with pytest.raises(ValueError, match="expected \\(4, k\\)"):
        bs.replicates(4, [bs.mean_of([1.0, 2.0])])


def test_counts_per_kind_do_not_depend_on_the_order_of_the_statistics() -> None:
    """A comparison may list its statistics in any order (a set of score names): the same draws."""
    rng = random.Random(3)
    x = [float(rng.random() < 0.6) for _ in range(2000)]
    y = [float(rng.random() < 0.7) for _ in range(2000)]
    a, b = bs.mean_of(x), bs.mean_of(y)
    one, two = bs.replicates(2000, [a, b], resamples=300), bs.replicates(2000, [b, a], resamples=300)
    assert np.array_equal(one, two[::-1])


def test_percentile_intervals_match_scipy_stats_bootstrap_within_monte_carlo_error() -> None:
    """The reference is scipy's own percentile bootstrap (``scipy.stats.bootstrap``), not our earlier
    code: a run's CI of a mean and a paired CI of a difference of means, on skewed and binary data."""
    from scipy import stats

    rng = np.random.default_rng(7)
    for values in (rng.exponential(1.0, 150), (rng.random(120) < 0.3).astype(float)):
        ours = bs.bootstrap_ci(len(values), bs.mean_of(list(values)), resamples=20_000, seed=3)
        ref = stats.bootstrap((values,), np.mean, n_resamples=20_000, method="percentile", confidence_level=0.95,
                              random_state=np.random.default_rng(11)).confidence_interval
        sd = values.std(ddof=1) / np.sqrt(len(values))
        assert ours[0] == pytest.approx(ref.low, abs=0.05 * sd * 4) and ours[1] == pytest.approx(ref.high, abs=0.05 * sd * 4)
    a = (rng.random(200) < 0.6).astype(float)
    b = np.where(rng.random(200) < 0.85, a, 1 - a)
    ours = bs.paired_ci(200, bs.mean_of(list(a)), bs.mean_of(list(b)), resamples=20_000, seed=5)
    ref = stats.bootstrap((a, b), lambda x, y: np.mean(y) - np.mean(x), paired=True, vectorized=False,
                          n_resamples=20_000, method="percentile", random_state=np.random.default_rng(13)).confidence_interval
    sd = (b - a).std(ddof=1) / np.sqrt(200)
    assert ours[0] == pytest.approx(ref.low, abs=0.2 * sd) and ours[1] == pytest.approx(ref.high, abs=0.2 * sd)
