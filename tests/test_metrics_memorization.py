"""memorization (C_T, authenticity), vendi and pr_prob: hand-worked algebra, then MNIST end to end.

The literals below are worked out by hand from the closed forms in the modules' docstrings;
the agreement with the authors' reference code (casey-meehan/data-copying, vertaix/Vendi-Score,
kdst-team/Probablistic_precision_recall) was checked once outside the suite and is recorded in
the modules' docstrings.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganbench.metrics.memorization import (Memorization, authenticity_from_features, ct_from_features,
                                           mann_whitney_u, num_cells_for, z_u)
from ganbench.metrics.pr_prob import pr_prob_from_features
from ganbench.metrics.vendi import vendi_score


def col(*values):
    return np.array(values, dtype=np.float64)[:, None]


# ------------------------------------------------------------------ C_T and authenticity


def test_mann_whitney_u_and_z_by_hand():
    # generated distances 0.1, 0.5; test 0.2, 0.3, 0.5: 0.5 beats 0.2 and 0.3 and ties 0.5
    u = mann_whitney_u([0.1, 0.5], [0.2, 0.3, 0.5])
    assert u == 2.5
    # mean m n / 2 = 3, sigma = sqrt(2·3·6/12) = sqrt(3)
    assert z_u(u, 2, 3) == pytest.approx(-0.5 / math.sqrt(3.0), rel=1e-12)
    from scipy.stats import mannwhitneyu  # scipy's U for the first sample is the same count
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 4, 30).astype(float), rng.integers(0, 4, 25).astype(float)
    assert mann_whitney_u(x, y) == mannwhitneyu(x, y).statistic


def test_ct_by_hand_two_cells_weighting_and_tau():
    # cell 0: training 0; test 1, 2 (L = 1, 2); generated 0.5 (L = 0.5): U = 0, m=1, n=2
    #   Z = (0 - 1) / sqrt(1·2·4/12) = -sqrt(3/2)
    # cell 1: training 10; test 11 (L = 1); generated 13, 14 (L = 3, 4): U = 2, m=2, n=1
    #   Z = (2 - 1) / sqrt(2·1·4/12) = +sqrt(3/2)
    train, test, gen = col(0.0, 10.0), col(1.0, 2.0, 11.0), col(0.5, 13.0, 14.0)
    cells = ([0, 1], [0, 0, 1], [0, 1, 1], 2)
    z = math.sqrt(1.5)
    ct, details = ct_from_features(train, test, gen, cells=cells, min_generated=0)
    # weights: the test shares 2/3 and 1/3
    assert ct == pytest.approx(2 / 3 * -z + 1 / 3 * z, rel=1e-12)
    assert details["z_u_per_cell"] == {0: pytest.approx(-z), 1: pytest.approx(z)}
    # a cell needs MORE than min_generated generated samples: cell 0 (one sample) drops out
    ct, details = ct_from_features(train, test, gen, cells=cells, min_generated=1)
    assert ct == pytest.approx(z, rel=1e-12) and details["cells_used"] == 1
    with pytest.raises(Exception, match="no cell"):
        ct_from_features(train, test, gen, cells=cells, min_generated=2)
    assert (num_cells_for(10_000), num_cells_for(1000), num_cells_for(50)) == (50, 5, 1)


def test_authenticity_by_hand():
    # training 0, 1, 5: nearest-other distances 1, 1, 4
    # 0.4 -> t*=0, 0.4 < 1 unauthentic; 3.5 -> t*=5, 1.5 < 4 unauthentic;
    # 9.5 -> t*=5, 4.5 >= 4 authentic; -2 -> t*=0, 2 >= 1 authentic
    assert authenticity_from_features(col(0.0, 1.0, 5.0), col(0.4, 3.5, 9.5, -2.0)) == 0.5


def test_ct_agrees_with_the_authors_procedure_up_to_their_continuity_correction():
    """The procedure of casey-meehan/data-copying (``data_copying_tests.py``: ``Zu``, ``Zu_cells``,
    ``C_T``), re-done here with the tools it uses: sklearn's 1-NN within each cell, scipy's
    Mann-Whitney U of the generated distances, Z = (U - (mn/2 - 0.5)) / sqrt(mn(m+n+1)/12), and
    the test-share weighted mean over the cells holding more than tau*m = 20 generated samples.
    ganbench's Z omits the 0.5, so each cell's Z is lower by 0.5/sigma."""
    from scipy.stats import mannwhitneyu
    from sklearn.cluster import KMeans
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(11)
    train, test = rng.normal(size=(1500, 6)), rng.normal(size=(500, 6))
    gen = np.concatenate([train[:250] + rng.normal(size=(250, 6)) * 0.05,  # near-copies
                          rng.normal(size=(350, 6)) * 1.1])
    k, m, n = 4, len(gen), len(test)
    km = KMeans(n_clusters=k, n_init=1, random_state=0).fit(train)
    t_lab, p_lab, q_lab = km.labels_, km.predict(test), km.predict(gen)
    authors, ours_shift, total = 0.0, 0.0, 0.0
    for c in range(k):
        q_c, p_c, t_c = gen[q_lab == c], test[p_lab == c], train[t_lab == c]
        if len(q_c) / m <= 20 / m:
            continue
        nn = NearestNeighbors(n_neighbors=1).fit(t_c)
        u = mannwhitneyu(nn.kneighbors(q_c)[0], nn.kneighbors(p_c)[0], alternative="less").statistic
        mc, nc = len(q_c), len(p_c)
        sigma = math.sqrt(mc * nc * (mc + nc + 1) / 12)
        weight = nc / n
        authors += weight * (float(np.squeeze(u)) - (mc * nc / 2 - 0.5)) / sigma
        ours_shift += weight * 0.5 / sigma
        total += weight
    authors /= total
    expected = authors - ours_shift / total
    ct, details = ct_from_features(train, test, gen, cells=(t_lab, p_lab, q_lab, k))
    assert details["cells_used"] >= 3 and ct < -3.0  # the near-copies are caught
    assert ct == pytest.approx(expected, rel=1e-9)
    # the k-means route (fitted inside, memoised) gives the same partition and value
    ct_memo, _ = ct_from_features(train, test, gen, num_cells=k, memo_key=("authors-check",))
    assert ct_memo == pytest.approx(expected, rel=1e-9)
    from ganbench.metrics.memorization import clear_memo
    clear_memo()


def _brute_nearest(q, t, skip_self=False):
    """Every pair in float64 from differences: the exact nearest row and its distance."""
    d = ((q[:, None, :] - t[None, :, :]) ** 2).sum(axis=2)
    if skip_self:
        np.fill_diagonal(d, np.inf)
    return np.sqrt(d.min(axis=1)), d.argmin(axis=1)


def test_float32_candidates_give_the_exact_float64_nearest_neighbour():
    from ganbench.metrics.memorization import _TrainIndex, nearest

    rng = np.random.default_rng(3)
    # far from the origin (|x|² ~ 1e6) with spacings ~1e-2: float32's ‖a‖² + ‖b‖² − 2aᵀb alone
    # is off by ~0.1 here and would pick wrong neighbours; candidates + float64 must not
    centre = rng.normal(size=(1, 16)) * 250.0
    t = centre + rng.normal(size=(300, 16)) * 0.01
    q = centre + rng.normal(size=(70, 16)) * 0.01
    q[:5] = t[[3, 3, 17, 299, 0]]  # verbatim copies: distance exactly 0
    want_d, want_i = _brute_nearest(q, t)
    d, i = nearest(q, t, chunk=7)
    assert np.array_equal(i.numpy(), want_i)
    assert np.allclose(d.numpy(), want_d, rtol=1e-12, atol=0) and (d[:5] == 0).all()
    # in cells (uneven, one empty), overall, and radii of training samples excluding themselves
    labels = torch.as_tensor(rng.integers(0, 4, 300) * (rng.integers(0, 4, 300) > 0))
    labels[labels == 2] = 3  # cell 2 is empty
    index = _TrainIndex(torch.as_tensor(t), labels, 4)
    q_cells = torch.as_tensor(rng.integers(0, 4, 70))
    in_cell, overall, idx = index.query(torch.as_tensor(q), q_cells, chunk=5)
    for c in range(4):
        rows, members = (q_cells == c).numpy(), (labels == c).numpy()
        if not members.any():
            assert torch.isnan(in_cell[rows]).all()
            continue
        assert np.allclose(in_cell[rows].numpy(), _brute_nearest(q[rows], t[members])[0], rtol=1e-12, atol=0)
    assert np.array_equal(index.perm[idx].numpy(), want_i)
    radius_want, _ = _brute_nearest(t, t, skip_self=True)
    sorted_pos = torch.argsort(index.perm)[-300:]  # padding (-1) sorts first
    assert np.allclose(index.radii(sorted_pos).numpy(), radius_want, rtol=1e-12, atol=0)


def test_memoised_train_index_and_test_distances_are_reused_not_stale():
    from ganbench.metrics import memorization as mem

    rng = np.random.default_rng(5)
    train = rng.normal(size=(400, 8)).astype(np.float32)
    test_a, test_b = (rng.normal(size=(120, 8)).astype(np.float32) for _ in range(2))
    gen = rng.normal(size=(150, 8)).astype(np.float32) * 0.9
    plain = mem.memorization_from_features(train, test_a, gen, num_cells=2)
    mem.clear_memo()
    first = mem.memorization_from_features(train, test_a, gen, num_cells=2, memo_key=("t",))
    (index,) = mem._index_memo.values()
    assert len(mem._test_memo) == 1 and int((~torch.isnan(index.radius)).sum()) > 0
    again = mem.memorization_from_features(train, test_a, gen, num_cells=2, memo_key=("t",))
    other_test = mem.memorization_from_features(train, test_b, gen, num_cells=2, memo_key=("t",))
    assert plain == first == again
    assert len(mem._index_memo) == 1 and len(mem._test_memo) == 2
    assert other_test == mem.memorization_from_features(train, test_b, gen, num_cells=2)
    assert other_test[0] != first[0]  # another test set: another C_T, not the remembered one
    # authenticity alone agrees with the brute-force rule on the same arrays
    d, i = _brute_nearest(gen.astype(np.float64), train.astype(np.float64))
    r, _ = _brute_nearest(train.astype(np.float64), train.astype(np.float64), skip_self=True)
    assert first[1] == pytest.approx(float(np.mean(d >= r[i])), abs=1e-12)
    assert mem.authenticity_from_features(train, gen) == pytest.approx(first[1], abs=1e-12)
    mem.clear_memo()
    gen[3, 1] = np.nan  # a diverged generator: one line, not an index error deep in the search
    with pytest.raises(Exception, match="1 of the 150 generated samples have non-finite features"):
        mem.memorization_from_features(train, test_a, gen, num_cells=2)


# ------------------------------------------------------------------ Vendi


def _factor(k: np.ndarray) -> np.ndarray:
    """Rows X with X Xᵀ = K (K PSD with unit diagonal), so the cosine kernel of X is K."""
    lam, v = np.linalg.eigh(k)
    return v * np.sqrt(np.clip(lam, 0.0, None))


def test_vendi_by_hand_and_authors_examples():
    rng = np.random.default_rng(0)
    assert vendi_score(np.tile(rng.normal(size=(1, 7)), (20, 1))) == pytest.approx(1.0, abs=1e-9)
    assert vendi_score(3.0 * np.eye(6)) == pytest.approx(6.0, rel=1e-9)
    # the README's kernel: eigenvalues of K/3 are 1.9/3, 0.1/3, 1/3
    lam = np.array([1.9, 0.1, 1.0]) / 3
    by_hand = math.exp(-float(np.sum(lam * np.log(lam))))
    assert by_hand == pytest.approx(2.1573, abs=5e-5)  # the value the authors' README prints
    k = np.array([[1.0, 0.9, 0.0], [0.9, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert vendi_score(_factor(k)) == pytest.approx(by_hand, rel=1e-9)
    # README: samples 0, 0, 10, 10, 20, 20 with k(a, b) = exp(-|a - b|) -> 2.9999
    s = np.array([0, 0, 10, 10, 20, 20], dtype=float)
    assert vendi_score(_factor(np.exp(-np.abs(s[:, None] - s[None, :])))) == pytest.approx(2.9999, abs=1e-4)
    # scale does not matter (cosine); all-zero rows count as one element: [e1, 0, 0] -> 1/3, 2/3
    assert vendi_score(np.array([[5.0, 0.0], [0.0, 0.0], [0.0, 0.0]])) == pytest.approx(
        math.exp(-(1 / 3 * math.log(1 / 3) + 2 / 3 * math.log(2 / 3))), rel=1e-9)


# ------------------------------------------------------------------ P-precision / P-recall


def test_pr_prob_by_hand():
    # k = 1, a = 1.2. Real 0, 1, 3: nearest-other distances 1, 1, 2 -> R_X = 1.2·4/3 = 1.6
    # fake 0.5: 1 - f = 0.5/1.6 for reals 0 and 1, 1 for real 3 -> P = 1 - (0.3125)^2; fake 10: P = 0
    # fakes 0.5, 10: nearest-other 9.5 each -> R_Y = 1.2·9.5 = 11.4
    out = pr_prob_from_features(col(0.0, 1.0, 3.0), col(0.5, 10.0), k=1, a=1.2)
    assert out["radius_real"] == pytest.approx(1.6) and out["radius_fake"] == pytest.approx(11.4)
    assert out["p_precision"] == pytest.approx((1 - 0.3125 ** 2 + 0.0) / 2, rel=1e-12)
    r = 11.4
    recall = ((1 - 0.5 / r * 10 / r) + (1 - 0.5 / r * 9 / r) + (1 - 2.5 / r * 7 / r)) / 3
    assert out["p_recall"] == pytest.approx(recall, rel=1e-12)
    # chunking does not change the result
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(70, 5)), rng.normal(size=(50, 5))
    a, b = pr_prob_from_features(x, y), pr_prob_from_features(x, y, chunk=7)
    assert a == pytest.approx(b, rel=1e-12)


# ------------------------------------------------------------------ MNIST end to end


@pytest.fixture(scope="module")
def mnist_runs():
    """Three "generators" through compute_metrics with the MNIST classifier (n = 1000)."""
    from ganbench.data.base import load_dataset
    from ganbench.metrics.evaluate import compute_metrics
    from ganbench.metrics.reference import reference_indices

    torch.set_num_threads(1)
    x_train, _ = load_dataset("mnist", "train")
    x_test, y_test = load_dataset("mnist", "test")
    n, n_train = 1000, 10_000
    # T: the cached 10k training subset (seed 0); P_n: the first 1000 of the test randperm (seed 0)
    train_idx = reference_indices(len(x_train), n_train, 0)
    rest = torch.randperm(len(x_test), generator=torch.Generator().manual_seed(0))[n:]
    fakes = {
        "copies": x_train[train_idx[:n]],  # training images verbatim
        "held_out": x_test[rest[:n]],  # test images outside the reference subset
        "half_classes": x_test[rest[y_test[rest] < 5][:n]],  # classes 0-4 only
    }
    old = Memorization.train_size
    Memorization.train_size = n_train
    try:
        return {name: compute_metrics(fake, "mnist", ["memorization", "vendi", "pr_prob"], num_samples=n)
                for name, fake in fakes.items()}
    finally:
        Memorization.train_size = old


def test_memorization_copies_vs_held_out(mnist_runs):
    copies, _ = mnist_runs["copies"]
    held, protocols = mnist_runs["held_out"]
    assert copies["ct"] < -8.0  # measured -18.5
    assert copies["authenticity"] < 0.02  # measured 0.0
    assert abs(held["ct"]) < 2.0  # measured -0.38
    assert held["authenticity"] > 0.4  # measured 0.59
    p = protocols["memorization"]
    assert (p["n_gen"], p["n_test"], p["n_train"], p["num_cells"]) == (1000, 1000, 10_000, 5)
    assert p["extractor"] == "mnist-classifier28-v2" and p["weights_sha1"]


def test_dropping_half_the_classes_lowers_vendi_and_p_recall(mnist_runs):
    full, protocols = mnist_runs["held_out"]
    half, _ = mnist_runs["half_classes"]
    assert half["vendi"] < full["vendi"] - 2.0  # measured 10.1 vs 13.5
    assert half["p_recall"] < 0.7 * full["p_recall"]  # measured 0.32 vs 0.65
    assert abs(half["p_precision"] - full["p_precision"]) < 0.1  # the kept classes are real digits
    assert protocols["vendi"]["n_gen"] == 1000 and protocols["vendi"]["kernel"].startswith("cosine")
    assert (protocols["pr_prob"]["k"], protocols["pr_prob"]["a"]) == (4, 1.2)


def test_listed_with_directions_and_summaries(monkeypatch):
    from typer.testing import CliRunner

    from ganbench.cli import app

    monkeypatch.setenv("COLUMNS", "400")
    out = CliRunner().invoke(app, ["list", "metrics"]).output
    for name, values in [("memorization", "ct →0, authenticity ↑"), ("memorization_inception", "ct_inception →0"),
                         ("vendi", "vendi ↑"), ("vendi_inception", "vendi_inception ↑"),
                         ("pr_prob", "p_precision ↑, p_recall ↑"), ("pr_prob_inception", "p_recall_inception ↑")]:
        assert any(line.split("│")[1].strip() == name and values in line for line in out.splitlines()
                   if line.count("│") >= 4), name
