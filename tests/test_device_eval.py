"""Issue 16 item 3 / issue 14 item 6: evaluation on the device.

- the matrix-product resizes equal clean-fid's PIL resizer (clean) and TF1's bilinear formula
  (legacy_tensorflow) on MNIST 28→299 and 32×32 RGB images, to 1e-4 on [0, 255] pixels;
- grey→RGB is a broadcast view;
- the eigendecomposition Fréchet distance equals SciPy's ``sqrtm`` route to 1e-6 relative on
  well-conditioned inputs and stays finite and right where ``sqrtm`` returns complex garbage;
- reference statistics are built once per protocol and reused across evaluations (counted);
- KID's torch kernel sums equal the NumPy formula; FID warns in its protocol when n < d.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from ganbench.data.base import load_dataset
from ganbench.metrics import reference
from ganbench.metrics.frechet import (feature_stats, frechet_distance, frechet_distance_sqrtm,
                                      psd_sqrt, small_n_warning)
from ganbench.metrics.inception import InceptionExtractor, clean_resize, device_pixels, to_pixels
from ganbench.metrics.kid import kid_from_features, mmd2_unbiased
from ganbench.metrics.resize import pil_bicubic_matrix, resize, tf1_bilinear_matrix
from tests.test_resize_modes import tf1_bilinear_numpy


@pytest.fixture(scope="module")
def mnist_pixels():
    x, _ = load_dataset("mnist", "test")
    return x[:4]


def test_clean_matrix_resize_equals_cleanfid_on_mnist(mnist_pixels, one_thread):
    grey = device_pixels(mnist_pixels, "cpu")  # N×1×28×28, integer-valued
    ours = resize(grey, "clean")
    theirs = clean_resize(to_pixels(mnist_pixels))  # clean-fid's build_resizer("clean"), per channel
    assert ours.shape == theirs.shape == (4, 3, 299, 299)
    assert (ours - theirs).abs().max() < 1e-4
    assert theirs.std() > 50  # real images, not blanks
    # grey -> RGB is a broadcast: the three channels are one stored image
    assert ours.stride(1) == 0 and torch.equal(ours[:, 0], ours[:, 2])


def test_clean_matrix_resize_equals_cleanfid_on_rgb_32(one_thread):
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(4, 3, 32, 32, generator=gen) * 2 - 1
    pixels = device_pixels(images, "cpu")
    ours, theirs = resize(pixels, "clean"), clean_resize(pixels)
    assert (ours - theirs).abs().max() < 1e-4
    # a shrink (antialiased filter, support scaled by in/out) and an odd size
    big = torch.randint(0, 256, (1, 3, 333, 310), generator=gen).float()
    assert (resize(big, "clean") - clean_resize(big)).abs().max() < 1e-4


def test_matrices_by_hand():
    # PIL bicubic, upscale 2 -> 4: scale 0.5, centres 0.25, 0.75, 1.25, 1.75; tap x weighs
    # k(x - c + 0.5) with Keys' a = -0.5: k(0.25) = 1.5·0.25³ - 2.5·0.25² + 1 = 0.8671875,
    # k(0.75) = 1.5·0.75³ - 2.5·0.75² + 1 = 0.2265625, k(1.25) = -0.5·(1.25³ - 5·1.25² + 8·1.25 - 4)
    # = -0.0703125; row 0 (c = 0.25): taps 0 (x - c + .5 = 0.25) and 1 (1.25), normalised.
    row0 = np.array([0.8671875, -0.0703125]) / (0.8671875 - 0.0703125)
    np.testing.assert_allclose(pil_bicubic_matrix(2, 4)[0], row0, rtol=1e-12)
    # row 1 (c = 0.75): taps 0 (x - c + .5 = -0.25) and 1 (0.75), sum 1.09375
    np.testing.assert_allclose(pil_bicubic_matrix(2, 4)[1], np.array([0.8671875, 0.2265625]) / 1.09375, rtol=1e-12)
    assert np.allclose(pil_bicubic_matrix(28, 299).sum(1), 1.0)
    # TF1 bilinear 3 -> 4: source positions 0, 0.75, 1.5, 2.25 (the last clamps to row 2)
    np.testing.assert_allclose(tf1_bilinear_matrix(3, 4), [[1, 0, 0], [0.25, 0.75, 0], [0, 0.5, 0.5], [0, 0, 1]])


def test_legacy_matrix_resize_equals_tf1_formula(mnist_pixels):
    gen = torch.Generator().manual_seed(1)
    rgb = torch.randint(0, 256, (2, 3, 32, 32), generator=gen).float()
    grey = device_pixels(mnist_pixels[:2], "cpu")
    for pixels in (rgb, grey):
        ours = resize(pixels, "legacy_tensorflow")
        by_hand = np.stack([np.stack([tf1_bilinear_numpy(ch, 299, 299) for ch in im])
                            for im in pixels.double().numpy()])
        np.testing.assert_allclose(ours[:, :pixels.shape[1]].numpy(), by_hand, atol=1e-4)


def _features(seed: int, n: int, d: int, shift: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """A correlated Gaussian with a well-conditioned covariance (axis scales 0.5..2, rotated)."""
    fixed = np.random.default_rng(12345)
    q = np.linalg.qr(fixed.standard_normal((d, d)))[0]
    mix = np.diag(fixed.uniform(0.5, 2.0, d)) @ q
    return (np.random.default_rng(seed).standard_normal((n, d)) @ mix) * scale + shift


@pytest.mark.parametrize("n,d", [(500, 64), (400, 96)])
def test_eigen_frechet_equals_sqrtm_when_well_conditioned(n, d):
    a, b = _features(1, n, d), _features(2, n, d, 0.2, 1.3)
    stats = (*feature_stats(a), *feature_stats(b))
    assert np.linalg.cond(stats[1]) < 1e3 and np.linalg.cond(stats[3]) < 1e3
    ours, scipy_route = frechet_distance(*stats), frechet_distance_sqrtm(*stats)
    assert ours > 1.0 and ours == pytest.approx(scipy_route, rel=1e-6)
    # tensors in, same number out; Σ^{1/2} squared is Σ
    t = [torch.from_numpy(s) for s in stats]
    assert frechet_distance(*t) == pytest.approx(ours, rel=1e-12)
    root = psd_sqrt(t[3])
    assert torch.allclose(root @ root, t[3], atol=1e-10)


@pytest.mark.parametrize("n", [30, 200])
def test_reference_route_equals_the_full_eigen_route(n):
    """frechet_distance_to_reference: an N×N eigenproblem when N < d, the d×d one otherwise."""
    from ganbench.metrics.frechet import frechet_distance_to_reference, torch_feature_stats

    a, b = _features(5, n, 64, 0.1, 1.2), _features(6, 300, 64)
    mu2, s2 = torch_feature_stats(b)
    expected = frechet_distance(*feature_stats(a), *feature_stats(b))
    # at N < d the d×d route takes √ of d − N + 1 round-off eigenvalues (~1e-15 each, √ ~3e-8):
    # the two agree to ~1e-8 relative, the N×N route being the more accurate
    assert frechet_distance_to_reference(a, mu2, s2, psd_sqrt(s2)) == pytest.approx(expected, rel=1e-7)


def _singular_pair():
    """Two rank-2 covariances in 3-d whose ranges share one direction (numpy seed 42 of a
    search over such pairs): ``sqrtm`` of their product has an imaginary part of ~0.016."""
    rng = np.random.default_rng(42)
    d = int(rng.integers(3, 12))
    r1 = int(rng.integers(1, d))
    r2 = int(rng.integers(1, d))
    shared = int(rng.integers(0, min(r1, r2) + 1))
    basis = np.linalg.qr(rng.standard_normal((d, d)))[0]
    u1 = basis[:, :r1]
    u2 = np.concatenate([basis[:, :shared], basis[:, d - (r2 - shared):]], 1)
    u2 = u2 + 1e-3 * rng.standard_normal(u2.shape) * rng.integers(0, 2)
    s1 = u1 @ np.diag(rng.gamma(1, 1, u1.shape[1]) * 10.0 ** rng.uniform(-3, 3)) @ u1.T
    s2 = u2 @ np.diag(rng.gamma(1, 1, u2.shape[1])) @ u2.T
    return (d, r1, r2, shared), s1, s2


def test_eigen_frechet_finite_where_sqrtm_is_complex_garbage():
    import scipy.linalg

    shape, s1, s2 = _singular_pair()
    assert shape == (3, 2, 2, 1)
    mu = np.zeros(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root = scipy.linalg.sqrtm(s1 @ s2)
    assert np.iscomplexobj(root) and np.abs(root.imag).max() > 1e-3
    with pytest.raises(ValueError, match="imaginary"):
        frechet_distance_sqrtm(mu, s1, mu, s2)
    ours = frechet_distance(mu, s1, mu, s2)
    assert np.isfinite(ours) and ours >= 0
    # the right value: the limit of the well-conditioned (δI-regularised) distances, where the
    # SciPy route is fine; tr sqrt moves by O(√δ)
    limits = [frechet_distance_sqrtm(mu, s1 + dl * np.eye(3), mu, s2 + dl * np.eye(3)) for dl in (1e-6, 1e-8)]
    assert abs(limits[1] - ours) < abs(limits[0] - ours) and limits[1] == pytest.approx(ours, rel=1e-3)
    assert small_n_warning(100, 5000, 2048).startswith("n=100 < d=2048")
    assert small_n_warning(2048, 5000, 2048) is None


def test_kid_torch_sums_equal_the_numpy_formula():
    a, b = _features(3, 60, 16), _features(4, 70, 16, 0.3)
    mean, std = kid_from_features(a, b, num_subsets=5, max_subset_size=40, seed=9)
    rng = np.random.RandomState(9)
    by_numpy = []
    for _ in range(5):
        x = a[rng.choice(60, 40, replace=False)]
        y = b[rng.choice(70, 40, replace=False)]
        by_numpy.append(mmd2_unbiased(x, y))
    assert mean == pytest.approx(np.mean(by_numpy), rel=1e-10)
    assert std == pytest.approx(np.std(by_numpy), rel=1e-8)
    t_mean, _ = kid_from_features(torch.from_numpy(a).float(), torch.from_numpy(b).float(), 5, 40, seed=9)
    assert t_mean == pytest.approx(mean, rel=1e-5)


def test_kid_with_subsets_as_large_as_both_sets_computes_one_mmd(monkeypatch):
    """n <= 1000 on both sides (every CPU profile): each subset is a permutation of all of both
    sets, so the 100 subset values are one value; computed once, equal to the subset loop."""
    import ganbench.metrics.kid as kid_module

    a, b = _features(5, 50, 16), _features(6, 50, 16, 0.3)
    rng = np.random.RandomState(0)
    by_numpy = [mmd2_unbiased(a[rng.choice(50, 50, replace=False)], b[rng.choice(50, 50, replace=False)])
                for _ in range(7)]
    calls = []
    original = kid_module._mmd2_torch
    monkeypatch.setattr(kid_module, "_mmd2_torch", lambda x, y: calls.append(1) or original(x, y))
    mean, std = kid_from_features(a, b, num_subsets=7, seed=0)
    assert len(calls) == 1 and std == 0.0
    assert mean == pytest.approx(np.mean(by_numpy), rel=1e-10) and np.std(by_numpy) < 1e-12 * abs(mean)
    kid_from_features(a, b[:49], num_subsets=7, seed=0)  # unequal sizes: the subset loop
    assert len(calls) == 1 + 7


def test_reference_statistics_built_once_and_fid_kid_use_them(tmp_path, monkeypatch):
    """Two evaluations of fid + kid: the reference's statistics are built once; FID equals the
    SciPy route on the same features, and n < d puts the one-line warning in the protocol."""
    from ganbench.metrics.evaluate import compute_metrics

    def cheap_extract(self, images, device):  # a stand-in network: 24 pixel features
        flat = images.reshape(len(images), -1)[:, 300:324].double()
        return {"features": (flat + 0.01 * torch.arange(24)).float().numpy()}

    monkeypatch.setattr(reference, "cache_dir", lambda: tmp_path)
    monkeypatch.setattr(InceptionExtractor, "extract", cheap_extract)
    reference.clear_memory_cache()
    try:
        train = load_dataset("mnist", "train")[0]
        before = reference.STATS_BUILT["count"]
        values = []
        for start in (0, 60):
            fake = train[start:start + 60]
            vals, protocols = compute_metrics(fake, "mnist", ["fid", "kid"], reference="test", num_reference=80)
            values.append(vals)
        assert reference.STATS_BUILT["count"] == before + 1  # one build for both metrics, both evaluations
        assert len(reference._stats) == 1
        ref_feats = cheap_extract(None, reference_images(80), "cpu")["features"]
        fake_feats = cheap_extract(None, train[60:120], "cpu")["features"]
        expected = frechet_distance_sqrtm(*feature_stats(fake_feats), *feature_stats(ref_feats))
        assert values[1]["fid"] == pytest.approx(expected, rel=1e-6)
        assert values[1]["kid"] == pytest.approx(kid_from_features(fake_feats, ref_feats, seed=0)[0], rel=1e-9)
        assert values[0]["fid"] != values[1]["fid"]
        assert protocols["fid"]["warning"].startswith("n=60 < d=2048")
        assert protocols["kid"]["kid_subset_size"] == 60 and protocols["fid"]["n_ref"] == 80
    finally:
        reference.clear_memory_cache()


def reference_images(n: int) -> torch.Tensor:
    test = load_dataset("mnist", "test")[0]
    return test[reference.reference_indices(len(test), n, 0)]
