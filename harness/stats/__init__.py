"""Statistics of scores.

- :mod:`harness.stats.means`      mean with a 95% CI (Wilson for pass/fail, Student-t otherwise); pure Python
- :mod:`harness.stats.agreement`  the one Cohen's kappa (unweighted, linear, quadratic; pure Python)
- :mod:`harness.stats.bootstrap`  the one percentile bootstrap (numpy, vectorised): a run's corpus-score CI
  and every paired difference in a comparison

The bootstrap is imported from its module, not re-exported here, so that reporting a mean does not
pay numpy's start-up.
"""

from harness.stats.means import Z975, Estimate, mean_ci, t_quantile_975, wilson

__all__ = ["Z975", "Estimate", "mean_ci", "t_quantile_975", "wilson"]
