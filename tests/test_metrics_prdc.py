"""Precision/recall (k=3, <=) and density/coverage (k=5, <): known answers, chunking, parity
with torch-fidelity's precision/recall on the same arrays, and the registered metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganbench.data.base import get_dataset, load_dataset
from ganbench.metrics import reference
from ganbench.metrics.evaluate import compute_metrics, value_directions
from ganbench.metrics.prdc import knn_sq_radii, prdc_from_features
from ganbench.registry import METRICS


def _gauss(seed: int, n: int, d: int, shift: float = 0.0, scale: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)) * scale + shift


def test_identical_sets_give_one_everywhere():
    x = _gauss(0, 300, 16)
    v = prdc_from_features(x, x.copy())
    assert v["precision"] == 1.0 and v["recall"] == 1.0 and v["coverage"] == 1.0
    # each real ball (strict <, radius = 5th neighbour) holds the point itself and its 4 nearer
    # neighbours: k per ball, density 1. The copy of the 5th neighbour sits *on* the sphere, so
    # float64 round-off in the dot products may tip a few of those ties either way
    assert v["density"] == pytest.approx(1.0, abs=0.01)


def _line(n: int) -> np.ndarray:
    return np.stack([np.arange(n, dtype=np.float64), np.zeros(n)], axis=1)


def test_hand_made_points_on_a_line():
    """Reals at x = 0..9 on a line. Their 5-NN radii are 5,4,3,3,3,3,3,3,4,5 and 3-NN radii
    3,2,2,2,2,2,2,2,2,3. Fakes: (0,3), (20,0), (9,0); all distances below are exact in float64.

    density: (0,3) is strictly inside the balls of reals 0 (3 < 5) and 1 (√10 < 4), not 2 (√13 ≥ 3);
    (20,0) in none; (9,0) inside reals 9 (0), 8 (1 < 4), 7 (2 < 3) but *not* 6 (3 = 3, strict <).
    So density = (2 + 0 + 3) / (5·3) = 1/3. coverage: reals 0, 1, 7, 8, 9 -> 5/10.
    precision (<=, 3-NN radii): (0,3) is at distance 3 = r₃(real 0), counted; (9,0) counted;
    (20,0) not: 2/3."""
    reals = _line(10)
    fakes = np.array([[0.0, 3.0], [20.0, 0.0], [9.0, 0.0]])
    r = knn_sq_radii(torch.from_numpy(reals), (3, 5))
    assert torch.sqrt(r[5]).tolist() == [5, 4, 3, 3, 3, 3, 3, 3, 4, 5]
    assert torch.sqrt(r[3]).tolist() == [3, 2, 2, 2, 2, 2, 2, 2, 2, 3]
    # recall needs 3-NN radii among the fakes, so k_pr must stay below their count: use k_pr = 2
    v = prdc_from_features(reals, fakes, k_pr=2, k_dc=5)
    assert v["density"] == pytest.approx(1 / 3, abs=1e-12)
    assert v["coverage"] == pytest.approx(0.5, abs=1e-12)
    v3 = prdc_from_features(reals, np.concatenate([fakes, [[30.0, 0.0]]]), k_pr=3, k_dc=5)
    assert v3["precision"] == pytest.approx(2 / 4)  # (0,3) on the boundary counts (<=)
    # strictness of coverage: a single fake exactly on real 6's 5-NN sphere does not cover it
    v_edge = prdc_from_features(reals, np.array([[9.0, 0.0], [40.0, 0.0], [50.0, 0.0], [60.0, 0.0]]),
                                k_pr=3, k_dc=5)
    assert v_edge["coverage"] == pytest.approx(0.3)  # reals 7, 8, 9; real 6 is at 3 = r₅, not < r₅
    assert v_edge["density"] == pytest.approx(3 / (5 * 4))


def test_recall_counts_reals_inside_fake_balls():
    """Fakes at 0..4 (3-NN radii 3,2,2,2,3); reals at 0..9: reals 0..4 are fakes, 5 is at
    distance 1 from fake 4 (<= 3), 6 at distance 2 (<= 3), 7 at 3 (= 3, counted), 8 not."""
    v = prdc_from_features(_line(10), _line(5), k_pr=3, k_dc=5)
    assert v["recall"] == pytest.approx(8 / 10)
    assert v["precision"] == 1.0


def test_chunking_does_not_change_the_values():
    a, b = _gauss(1, 257, 8), _gauss(2, 199, 8, 0.3, 1.2)
    whole = prdc_from_features(a, b, chunk=10_000)
    pieces = prdc_from_features(a, b, chunk=17)
    assert whole == pieces


@pytest.mark.parametrize("n_real,n_fake,d,shift,scale", [(600, 500, 32, 0.2, 1.1), (400, 700, 16, 0.2, 0.9)])
def test_precision_recall_match_torch_fidelity(n_real, n_fake, d, shift, scale):
    from torch_fidelity.metric_prc import calculate_precision_recall_full, calculate_precision_recall_part

    real, fake = _gauss(3, n_real, d), _gauss(4, n_fake, d, shift, scale)
    ours = prdc_from_features(real, fake)
    # torch-fidelity's convention: features_1 generated, features_2 real; neighbourhood 3
    p_full, r_full = calculate_precision_recall_full(torch.from_numpy(fake), torch.from_numpy(real), 3, 10000)
    p_part, r_part = calculate_precision_recall_part(torch.from_numpy(fake), torch.from_numpy(real), 3, 100)
    assert 0.05 < ours["precision"] < 0.95 and 0.05 < ours["recall"] < 0.95
    assert ours["precision"] == pytest.approx(p_full, abs=1e-3) and ours["recall"] == pytest.approx(r_full, abs=1e-3)
    assert p_part == pytest.approx(p_full) and r_part == pytest.approx(r_full)


def test_too_few_points_is_an_error():
    with pytest.raises(ValueError, match="more than k"):
        prdc_from_features(_gauss(0, 10, 2), _gauss(1, 3, 2))


def test_registered_metrics_and_protocol(tmp_path, monkeypatch):
    monkeypatch.setattr(reference, "cache_dir", lambda: tmp_path)
    reference.clear_memory_cache()
    assert "prdc" in METRICS and "prdc_mnist" in METRICS
    dirs = value_directions()
    for key in ("precision", "recall", "density", "coverage"):
        assert dirs[key] == "max" and dirs[f"{key}_mnist"] == "max"
    x, _ = load_dataset("mnist", "train")
    try:
        values, protocols = compute_metrics(x[:400], "mnist", ["prdc_mnist"], reference="test")
    finally:
        reference.clear_memory_cache()
    assert set(values) == {"precision_mnist", "recall_mnist", "density_mnist", "coverage_mnist"}
    assert values["precision_mnist"] > 0.6 and values["recall_mnist"] > 0.6 and values["coverage_mnist"] > 0.6
    assert 0.5 < values["density_mnist"] < 1.5 and all(math.isfinite(v) for v in values.values())
    p = protocols["prdc_mnist"]
    assert p["n_gen"] == 400 and p["n_ref"] == 400 and p["split"] == "test"
    assert p["extractor"].startswith("mnist-classifier28") and len(p["weights_sha1"]) == 40
    assert p["resize"].startswith("none") and p["k_precision_recall"] == 3 and p["k_density_coverage"] == 5
    stacked, mnist = get_dataset("stacked_mnist").info, get_dataset("mnist").info
    assert METRICS.get("prdc").applies_to(stacked) and METRICS.get("prdc").applies_to(mnist)
    assert METRICS.get("prdc_mnist").applies_to(mnist) and not METRICS.get("prdc_mnist").applies_to(stacked)
