"""FID∞ / FCD∞ (Chong & Forsyth 2020): the 1/N fit by hand, and two halves of the MNIST test set.

With a fixed reference of n_ref images, extrapolating the generated side to 1/N → 0 removes
that side's bias only; the reference side's stays. For two halves of one split the true
distance is 0, so FD∞ must be positive (the reference's bias) and well below the real-vs-real
floor at N = n_ref (both sides biased), and the 1/N line must fit (R² > 0.8).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganbench.metrics.fid_inf import fid_inf_from_features, linear_fit_in_inverse_n, sample_sizes
from ganbench.metrics.frechet import frechet_distance_from_features, psd_sqrt, torch_feature_stats
from ganbench.metrics.reference import ReferenceStats


def test_fit_by_hand():
    ns = [100, 200, 400, 800]
    values = [2.0 + 300.0 / n for n in ns]  # 5.0, 3.5, 2.75, 2.375: exactly on the line
    fit = linear_fit_in_inverse_n(ns, values)
    assert fit["intercept"] == pytest.approx(2.0, abs=1e-9) and fit["slope"] == pytest.approx(300.0, rel=1e-9)
    assert fit["r2"] == pytest.approx(1.0, abs=1e-12)
    noisy = linear_fit_in_inverse_n(ns, [5.0, 3.0, 3.25, 2.375])
    assert noisy["r2"] < 0.95
    assert sample_sizes(10000) == sorted(set(int(round(v)) for v in np.linspace(2000, 10000, 15)))
    assert sample_sizes(10)[0] == 2 and sample_sizes(10)[-1] == 10


def test_two_halves_of_the_test_set_extrapolate_near_the_floor(one_thread):
    from ganbench.data.base import load_dataset
    from ganbench.metrics.mnist_classifier import ClassifierExtractor

    x, _ = load_dataset("mnist", "test")
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    n = 1500
    extractor = ClassifierExtractor("mnist")
    fa = extractor.extract(x[perm[:n]], "cpu")["features"]
    fb = extractor.extract(x[perm[n:2 * n]], "cpu")["features"]
    mu, sigma = torch_feature_stats(fb)
    ref = ReferenceStats(torch.from_numpy(fb), mu, sigma, psd_sqrt(sigma), {})
    value, record = fid_inf_from_features(fa, ref, seed=0)
    floor = frechet_distance_from_features(fa, fb)  # the real-vs-real floor at N = n_ref = n
    assert record["fit_r2"] > 0.8 and record["fit_slope"] > 0
    assert record["fit_values"][-1] == pytest.approx(floor, rel=1e-6)  # the last point is all of fa (reordered)
    assert 0 < value < 0.75 * floor
