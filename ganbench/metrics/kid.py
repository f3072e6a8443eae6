"""Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs", eq. 3 / App. A).

KID is the unbiased estimate of MMD² between two feature sets under the cubic polynomial
kernel k(x, y) = (xᵀy/d + 1)³ (methods_spec.md §5.4). For each of ``num_subsets`` subsets of
size m = min(n₁, n₂, ``max_subset_size``) drawn without replacement from each set:

    MMD²ᵤ = [Σ_{i≠j} k(x_i, x_j) + Σ_{i≠j} k(y_i, y_j)] / (m(m−1)) − 2 Σ_{i,j} k(x_i, y_j) / m²

and KID is the mean over subsets (100 subsets of ≤ 1000, as in StyleGAN, clean-fid and
torch-fidelity). The subsets are drawn with ``numpy.random.RandomState(seed)``, first from
``feats1`` then from ``feats2`` for each subset, which is torch-fidelity's order; clean-fid's
``kernel_distance(a, b)`` draws from ``b`` first with the global NumPy state, so it equals
``kid_from_features(b, a, seed=s)`` after ``np.random.seed(s)`` (see the parity tests).
Kernel sums are taken in float64: KID is a small difference of large sums.

The registered metric ``kid`` applies this to TF-Inception pool3 features (``eval.resize`` mode,
clean by default; see :mod:`ganbench.metrics.inception`) of the generated samples and of
``ctx.reference_size`` reference images, with the subsets seeded by
``ctx.seed``; the std over subsets goes to the protocol. Unbiased, so usable at small n.
"""

from __future__ import annotations

import numpy as np

from ganbench.metrics.base import LOWER, EvalContext, Metric
from ganbench.metrics.inception import InceptionExtractor, note_cpu_cost
from ganbench.metrics.reference import paired_outputs, prepare_reference
from ganbench.registry import METRICS

NUM_SUBSETS = 100
MAX_SUBSET_SIZE = 1000


def _poly_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² between two equally sized samples under the cubic polynomial kernel."""
    m = x.shape[0]
    if y.shape[0] != m or m < 2:
        raise ValueError(f"need two samples of equal size >= 2, got {x.shape[0]} and {y.shape[0]}")
    kxx, kyy, kxy = _poly_kernel(x, x), _poly_kernel(y, y), _poly_kernel(x, y)
    within = (kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))
    return float(within / (m * (m - 1)) - 2.0 * kxy.sum() / (m * m))


def kid_from_features(feats1, feats2, num_subsets: int = NUM_SUBSETS,
                      max_subset_size: int = MAX_SUBSET_SIZE, seed: int = 0) -> tuple[float, float]:
    """KID between two N×d feature arrays: ``(mean, std)`` of MMD²ᵤ over the subsets."""
    f1 = np.asarray(feats1, dtype=np.float64)
    f2 = np.asarray(feats2, dtype=np.float64)
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1]:
        raise ValueError(f"need two N×d feature arrays, got {f1.shape} and {f2.shape}")
    m = min(f1.shape[0], f2.shape[0], max_subset_size)
    rng = np.random.RandomState(seed)
    values = np.empty(num_subsets)
    for i in range(num_subsets):
        x = f1[rng.choice(f1.shape[0], m, replace=False)]
        y = f2[rng.choice(f2.shape[0], m, replace=False)]
        values[i] = mmd2_unbiased(x, y)
    return float(values.mean()), float(values.std())


@METRICS.register("kid")
class KID(Metric):
    """KID on TF-Inception pool3 features; unbiased, so usable at small n (GPU/full profile)."""

    name = "kid"
    outputs = {"kid": LOWER}
    kinds = frozenset({"image"})
    summary = "kernel Inception distance (100 subsets of <= 1000, cubic kernel); GPU/full profile"

    def prepare(self, ctx: EvalContext) -> None:
        note_cpu_cost("kid", ctx)
        prepare_reference(InceptionExtractor(resize=ctx.resize), ctx)

    def compute(self, fake, ctx: EvalContext):
        fake_out, ref_out, protocol = paired_outputs(InceptionExtractor(resize=ctx.resize), fake, ctx)
        mean, std = kid_from_features(fake_out["features"], ref_out["features"], seed=ctx.seed)
        m = min(len(fake_out["features"]), len(ref_out["features"]), MAX_SUBSET_SIZE)
        return {"kid": mean}, {**protocol, "kid_std_over_subsets": std, "kid_subsets": NUM_SUBSETS,
                               "kid_subset_size": m, "kid_subset_seed": ctx.seed}
