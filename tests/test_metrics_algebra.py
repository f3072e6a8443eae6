"""ganbench's FD / KID / IS algebra against clean-fid and torch-fidelity on the same features."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
import scipy.linalg
import torch

from ganbench.metrics.cis import inception_score
from ganbench.metrics.frechet import feature_stats, frechet_distance, frechet_distance_from_features
from ganbench.metrics.kid import kid_from_features, mmd2_unbiased


def _features(seed: int, n: int, d: int, shift: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """n samples of one correlated Gaussian per (d, shift, scale); ``seed`` draws the sample."""
    mix = np.random.default_rng(12345).standard_normal((d, d)) / np.sqrt(d)
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, d)) @ mix) * scale + shift


def _cleanfid_frechet(monkeypatch, *stats) -> float:
    """clean-fid's own frechet_distance; if SciPy dropped sqrtm's ``disp``, shim it back."""
    from cleanfid import fid as cfid

    if "disp" not in inspect.signature(scipy.linalg.sqrtm).parameters:  # SciPy >= 1.18
        original = scipy.linalg.sqrtm

        def sqrtm_compat(a, disp=True, **kw):
            root = original(a, **kw)
            return (root, 0.0) if not disp else root

        monkeypatch.setattr(cfid.linalg, "sqrtm", sqrtm_compat)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(cfid.frechet_distance(*stats))


@pytest.mark.parametrize("n,d,shift,scale", [(400, 32, 0.3, 1.5), (300, 64, 0.0, 0.8), (40, 64, 0.1, 1.0)])
def test_frechet_matches_cleanfid(monkeypatch, n, d, shift, scale):
    a, b = _features(1, n, d), _features(2, n, d, shift, scale)
    mu1, s1 = feature_stats(a)
    mu2, s2 = feature_stats(b)
    ours = frechet_distance(mu1, s1, mu2, s2)
    theirs = _cleanfid_frechet(monkeypatch, mu1, s1, mu2, s2)
    assert ours > 0.1
    assert ours == pytest.approx(theirs, rel=1e-6)


def test_frechet_matches_torch_fidelity():
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    a, b = _features(3, 500, 32), _features(4, 500, 32, 0.2, 1.3)
    ours = frechet_distance_from_features(a, b)
    theirs = fid_statistics_to_metric(fid_features_to_statistics(torch.from_numpy(a)),
                                      fid_features_to_statistics(torch.from_numpy(b)), verbose=False)
    assert ours == pytest.approx(theirs["frechet_inception_distance"], rel=1e-6)


def test_frechet_of_a_set_with_itself_is_zero_and_grows_with_a_shift():
    a = _features(5, 300, 48)
    mu, sigma = feature_stats(a)
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-6 * np.trace(sigma)
    # a pure mean shift of every feature by 0.5 adds exactly d * 0.25
    assert frechet_distance_from_features(a, a + 0.5) == pytest.approx(48 * 0.25, rel=1e-6)


def test_feature_stats_are_unbiased_mean_and_covariance():
    a = _features(6, 50, 4)
    mu, sigma = feature_stats(a)
    assert np.allclose(mu, a.mean(0))
    centred = a - a.mean(0)
    assert np.allclose(sigma, centred.T @ centred / 49)
    with pytest.raises(ValueError):
        feature_stats(a[:1])


@pytest.mark.parametrize("n1,n2,cap,seed", [(120, 150, 1000, 0), (300, 250, 100, 7)])
def test_kid_matches_cleanfid(n1, n2, cap, seed):
    from cleanfid.fid import kernel_distance

    a, b = _features(10, n1, 16), _features(11, n2, 16, 0.2)
    ours, _ = kid_from_features(b, a, num_subsets=20, max_subset_size=cap, seed=seed)
    state = np.random.get_state()
    try:
        np.random.seed(seed)  # clean-fid draws from the global state, b's subset first
        theirs = kernel_distance(a, b, num_subsets=20, max_subset_size=cap)
    finally:
        np.random.set_state(state)
    assert ours > 0
    assert ours == pytest.approx(theirs, rel=1e-6)


def test_kid_matches_torch_fidelity():
    from torch_fidelity.metric_kid import kid_features_to_metric

    a, b = _features(12, 90, 24), _features(13, 80, 24, 0.15)
    ours_mean, ours_std = kid_from_features(a, b, num_subsets=30, seed=2020)
    theirs = kid_features_to_metric(torch.from_numpy(a), torch.from_numpy(b), kid_subsets=30,
                                    kid_subset_size=80, rng_seed=2020, verbose=False)
    assert ours_mean == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-6)
    assert ours_std == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-6)


def test_mmd2_is_unbiased_near_zero_for_one_distribution():
    values = [mmd2_unbiased(_features(20 + i, 60, 8), _features(40 + i, 60, 8)) for i in range(30)]
    shifted = mmd2_unbiased(_features(1, 60, 8), _features(2, 60, 8, 1.0))
    assert abs(np.mean(values)) < 3 * np.std(values) / np.sqrt(len(values)) + 1e-9
    assert min(values) < 0 < max(values)  # an unbiased estimator is negative sometimes
    assert shifted > 10 * np.std(values)


def test_kid_is_seeded():
    a, b = _features(30, 200, 8), _features(31, 200, 8, 0.1)
    assert kid_from_features(a, b, 10, 50, seed=3) == kid_from_features(a, b, 10, 50, seed=3)
    assert kid_from_features(a, b, 10, 50, seed=3) != kid_from_features(a, b, 10, 50, seed=4)


def test_inception_score_matches_torch_fidelity_and_bounds():
    from torch_fidelity.metric_isc import isc_features_to_metric

    logits = torch.from_numpy(_features(50, 1000, 10, scale=4.0))
    ours = inception_score(logits.numpy(), splits=10)
    theirs = isc_features_to_metric(logits, splits=10, shuffle=False)
    assert ours[0] == pytest.approx(theirs["inception_score_mean"], rel=1e-9)
    assert ours[1] == pytest.approx(theirs["inception_score_std"], rel=1e-6)
    # one confident class per sample, balanced -> K; all samples the same -> 1
    confident = torch.full((1000, 10), -30.0)
    confident[torch.arange(1000), torch.arange(1000) % 10] = 30.0
    assert inception_score(confident)[0] == pytest.approx(10.0, rel=1e-6)
    assert inception_score(confident[:1].repeat(1000, 1))[0] == pytest.approx(1.0, abs=1e-9)
