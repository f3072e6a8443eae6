"""Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs", eq. 3 / App. A).

KID is the unbiased estimate of MMD² between two feature sets under the cubic polynomial
kernel k(x, y) = (xᵀy/d + 1)³, d the feature dimension (the paper's kernel; torch-fidelity's
``kid_kernel_degree=3``, ``kid_kernel_gamma`` = 1/d, ``kid_kernel_coef0=1``). For each of ``num_subsets`` subsets of
size m = min(n₁, n₂, ``max_subset_size``) drawn without replacement from each set:

    MMD²ᵤ = [Σ_{i≠j} k(x_i, x_j) + Σ_{i≠j} k(y_i, y_j)] / (m(m−1)) − 2 Σ_{i,j} k(x_i, y_j) / m²

and KID is the mean over subsets (100 subsets of ≤ 1000, as in StyleGAN, clean-fid and
torch-fidelity). The subsets are drawn with ``numpy.random.RandomState(seed)``, first from
``feats1`` then from ``feats2`` for each subset, which is torch-fidelity's order; clean-fid's
``kernel_distance(a, b)`` draws from ``b`` first with the global NumPy state, so it equals
``kid_from_features(b, a, seed=s)`` after ``np.random.seed(s)`` (see the parity tests).
Kernel sums are taken in float64 (KID is a small difference of large sums), in torch on the
evaluation device (a GPU when there is one: the 100 subsets of 1000×2048 are a few milliseconds
there, against ~39 s of NumPy on a CPU core); the subset indices still come from NumPy's
``RandomState`` (so the parity with clean-fid and torch-fidelity is unchanged) and the 100
values reach the host once. :func:`mmd2_unbiased` is the same formula in NumPy, the reference.

The registered metric ``kid`` applies this to TF-Inception pool3 features (``eval.resize`` mode,
clean by default; see :mod:`ganbench.metrics.inception`) of the generated samples and of
``ctx.reference_size`` reference images (kept on the device once per protocol,
:func:`~ganbench.metrics.reference.reference_statistics`), with the subsets seeded by
``ctx.seed``; the std over subsets goes to the protocol. Unbiased, so usable at small n, but its
spread over subsets grows as the subset size shrinks (the protocol records it: compare values
only at equal subset size).
"""

from __future__ import annotations

import numpy as np
import torch

from ganbench.metrics.base import LOWER, EvalContext, Metric
from ganbench.metrics.features import extract_shared
from ganbench.metrics.inception import InceptionExtractor, note_cpu_cost
from ganbench.metrics.reference import prepare_reference, reference_statistics
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


def _mmd2_torch(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """:func:`mmd2_unbiased` on float64 tensors (stays on their device)."""
    m, d = x.shape
    kxx = (x @ x.T / d + 1.0) ** 3
    kyy = (y @ y.T / d + 1.0) ** 3
    kxy = (x @ y.T / d + 1.0) ** 3
    within = (kxx.sum() - kxx.diagonal().sum()) + (kyy.sum() - kyy.diagonal().sum())
    return within / (m * (m - 1)) - 2.0 * kxy.sum() / (m * m)


def kid_from_features(feats1, feats2, num_subsets: int = NUM_SUBSETS,
                      max_subset_size: int = MAX_SUBSET_SIZE, seed: int = 0,
                      device: torch.device | str | None = None) -> tuple[float, float]:
    """KID between two N×d feature sets (arrays or tensors): ``(mean, std)`` of MMD²ᵤ over the
    subsets, on ``device`` (default: the first set's device if a tensor, else the CPU)."""
    if device is None:
        device = feats1.device if isinstance(feats1, torch.Tensor) else "cpu"
    f1 = torch.as_tensor(feats1 if isinstance(feats1, torch.Tensor) else np.asarray(feats1)).to(device, torch.float64)
    f2 = torch.as_tensor(feats2 if isinstance(feats2, torch.Tensor) else np.asarray(feats2)).to(device, torch.float64)
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1]:
        raise ValueError(f"need two N×d feature arrays, got {tuple(f1.shape)} and {tuple(f2.shape)}")
    m = min(f1.shape[0], f2.shape[0], max_subset_size)
    if m < 2:
        raise ValueError(f"need two samples of equal size >= 2, got {f1.shape[0]} and {f2.shape[0]}")
    if m == f1.shape[0] == f2.shape[0]:
        # every subset (drawn without replacement) is all of both sets: MMD² does not depend on
        # the order, so each of the num_subsets values is this one (to summation order; std 0)
        return float(_mmd2_torch(f1, f2)), 0.0
    rng = np.random.RandomState(seed)
    values = torch.empty(num_subsets, dtype=torch.float64, device=f1.device)
    for i in range(num_subsets):
        ix = torch.from_numpy(rng.choice(f1.shape[0], m, replace=False)).to(f1.device)
        iy = torch.from_numpy(rng.choice(f2.shape[0], m, replace=False)).to(f1.device)
        values[i] = _mmd2_torch(f1[ix], f2[iy])
    values = values.cpu().numpy()
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
        extractor = InceptionExtractor(resize=ctx.resize)
        ref = reference_statistics(extractor, ctx)
        feats = extract_shared(extractor, fake, ctx.device)["features"]
        mean, std = kid_from_features(feats, ref.features, seed=ctx.seed, device=ref.features.device)
        m = min(len(feats), ref.n, MAX_SUBSET_SIZE)
        return {"kid": mean}, {"n_gen": int(len(fake)), **ref.protocol, "kid_std_over_subsets": std,
                               "kid_subsets": NUM_SUBSETS, "kid_subset_size": m, "kid_subset_seed": ctx.seed}
