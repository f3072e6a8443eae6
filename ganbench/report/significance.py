"""Which methods of a table column are distinguishable from the best one.

For one dataset x value key, the *best* method is the one with the best mean over seeds (the
key's direction decides: the lowest, the highest, or for a signed statistic such as C_T the
mean closest to zero). Every other method is compared with it by Welch's two-sided t-test
(``scipy.stats.ttest_ind(equal_var=False)``: unequal variances, the usual case for GANs whose
seeds scatter differently), when both have at least :data:`MIN_SEEDS` values. A method whose
p-value is at least :data:`ALPHA` is *not distinguishable* from the best; the table marks it.

Why no test below 3 seeds: with 2 seeds per method each variance has one degree of freedom,
the Welch test's degrees of freedom fall towards 1, and it has almost no power (a "no
difference" verdict then says nothing); a bootstrap over 2 values has only 3 distinct
resamples. So with fewer seeds the table makes no marks at all and its caption says so.

Two degenerate cases scipy leaves undefined (NaN) are decided here: both samples constant
and equal (indistinguishable) or constant and different (distinguishable).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ganbench.metrics.base import DIRECTIONS, best_of

ALPHA = 0.05
MIN_SEEDS = 3
TEST_NAME = "Welch's two-sided t-test"


@dataclass(frozen=True)
class Comparison:
    """The verdicts of one column."""

    best: str | None
    #: method -> p-value against the best (only methods that were tested)
    p_values: dict[str, float] = field(default_factory=dict)
    #: methods tested and not distinguishable from the best at :data:`ALPHA`
    tied: frozenset[str] = frozenset()
    #: methods with a value that were not tested (fewer than MIN_SEEDS values, or the best has)
    untested: frozenset[str] = frozenset()


def welch_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of Welch's t-test between two samples (see the module docstring)."""
    from scipy import stats

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return 1.0 if a[0] == b[0] else 0.0
    with warnings.catch_warnings():  # one constant sample: scipy warns of its (exact) zero variance
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def compare_to_best(values: Mapping[str, Sequence[float]], direction: str | None,
                    alpha: float = ALPHA, min_seeds: int = MIN_SEEDS) -> Comparison:
    """Compare every method of ``values`` (method -> its finite values over seeds) with the best.

    ``direction`` is ``"min"``, ``"max"`` or ``"zero"`` (closest to zero is best; the test
    then compares the two samples as they are, whichever side of zero each lies); without one
    there is no best and no test.
    """
    samples = {m: [float(v) for v in vs if math.isfinite(float(v))] for m, vs in values.items()}
    samples = {m: vs for m, vs in samples.items() if vs}
    if direction not in DIRECTIONS or len(samples) < 2:
        return Comparison(None, untested=frozenset(samples))
    means = {m: float(np.mean(vs)) for m, vs in samples.items()}
    best = best_of(means, direction)
    if len(samples[best]) < min_seeds:
        return Comparison(best, untested=frozenset(m for m in samples if m != best))
    p_values, untested = {}, set()
    for method, vs in samples.items():
        if method == best:
            continue
        if len(vs) < min_seeds:
            untested.add(method)
            continue
        p_values[method] = welch_p(samples[best], vs)
    tied = frozenset(m for m, p in p_values.items() if p >= alpha)
    return Comparison(best, p_values, tied, frozenset(untested))
