"""FID∞ (and FCD∞): the Fréchet distance extrapolated to infinitely many generated samples.

Chong & Forsyth 2020, "Effectively Unbiased FID and Inception Score and where to find them"
(CVPR 2020), §3: FID computed from N generated samples is biased, and to first order the bias
is linear in 1/N, E[FID_N] ≈ FID∞ + k/N. So FID is computed at several N (subsets of the
generated features, drawn without replacement), a line is fitted by least squares to the points
(1/N, FID_N), and its intercept at 1/N = 0 is FID∞. The paper draws 50 N evenly spaced
between 5,000 and 50,000; ganbench uses :data:`NUM_POINTS` (15) N evenly spaced between
``max(2, n/5)`` and n = the evaluation's ``num_samples`` (``eval.num_samples``), each subset
drawn with ``numpy.random.RandomState(ctx.seed)`` (the reference seed). Departures: fewer points
and a smaller range (the fit is on whatever n the suite evaluates; at n = 10k the range is
2k-10k), and the reference side is the fixed ``ctx.reference_size`` set, not extrapolated: its
own 1/n_ref bias stays in FID∞ (the paper's reference statistics are also fixed, at 50k). The
fit's coefficient of determination R² and slope k go to the protocol (``fit_r2``: near 1 when
the 1/N model holds; a low R² means the extrapolation should not be trusted), with every point.

Registered metrics (the algebra is the same, the features differ):

- ``fid_inf``: TF-Inception pool3 (2048-d) under ``eval.resize``; GPU/full profile (each point
  is one float64 eigendecomposition of a 2048×2048 matrix: milliseconds on a GPU, seconds on a
  CPU). Lower is better.
- ``fcd_inf``: ganbench's MNIST / Fashion-MNIST classifier features (128-d), cheap on a CPU.
  Lower is better.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ganbench.metrics.base import LOWER, EvalContext, Metric
from ganbench.metrics.features import extract_shared
from ganbench.metrics.frechet import frechet_distance_to_reference
from ganbench.metrics.reference import ReferenceStats, prepare_reference, reference_statistics
from ganbench.registry import METRICS

NUM_POINTS = 15


def sample_sizes(n: int, num_points: int = NUM_POINTS) -> list[int]:
    """``num_points`` distinct N evenly spaced from max(2, n/5) to n."""
    lo = max(2, n // 5)
    return sorted({int(round(v)) for v in np.linspace(lo, n, num_points)})


def linear_fit_in_inverse_n(ns, values) -> dict[str, float]:
    """Least-squares line FID_N = intercept + slope / N; intercept, slope and R²."""
    x = 1.0 / np.asarray(ns, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (intercept + slope * x)
    total = ((y - y.mean()) ** 2).sum()
    r2 = 1.0 - (residual ** 2).sum() / total if total > 0 else 1.0
    return {"intercept": float(intercept), "slope": float(slope), "r2": float(r2)}


def fid_inf_from_features(features, ref: ReferenceStats, seed: int = 0,
                          ns: list[int] | None = None) -> tuple[float, dict[str, Any]]:
    """FID∞ of generated features against cached reference statistics, and the fit's record."""
    f = torch.as_tensor(np.asarray(features) if not isinstance(features, torch.Tensor) else features)
    f = f.to(ref.mu.device)
    n = len(f)
    ns = ns or sample_sizes(n)
    rng = np.random.RandomState(seed)
    values = []
    for size in ns:
        idx = torch.from_numpy(rng.choice(n, size, replace=False)).to(f.device)
        values.append(frechet_distance_to_reference(f[idx], ref.mu, ref.sigma, ref.root))
    fit = linear_fit_in_inverse_n(ns, values)
    record = {"fit_r2": fit["r2"], "fit_slope": fit["slope"], "fit_points": len(ns),
              "fit_n": [int(s) for s in ns], "fit_values": [float(v) for v in values],
              "fit": "least squares FID_N = FID_inf + k/N (Chong & Forsyth 2020)", "subset_seed": seed}
    return fit["intercept"], record


class _FrechetInf(Metric):
    kinds = frozenset({"image"})
    value_key: str

    def extractor(self, ctx: EvalContext):
        raise NotImplementedError

    def prepare(self, ctx: EvalContext) -> None:
        prepare_reference(self.extractor(ctx), ctx)

    def compute(self, fake, ctx: EvalContext):
        extractor = self.extractor(ctx)
        ref = reference_statistics(extractor, ctx)
        feats = extract_shared(extractor, fake, ctx.device)["features"]
        if len(feats) < 10:
            raise ValueError(f"{self.name} needs at least 10 generated samples, got {len(feats)}")
        value, record = fid_inf_from_features(feats, ref, seed=ctx.seed)
        return {self.value_key: value}, {"n_gen": int(len(fake)), **ref.protocol, **record}


@METRICS.register("fid_inf")
class FIDInf(_FrechetInf):
    name = "fid_inf"
    value_key = "fid_inf"
    outputs = {"fid_inf": LOWER}
    display = {"fid_inf": "FID∞"}
    summary = ("FID extrapolated to n -> infinity (Chong & Forsyth 2020; 15 n, linear in 1/n, R² in the "
               "protocol); lower is better; GPU/full profile")

    def extractor(self, ctx: EvalContext):
        from ganbench.metrics.inception import InceptionExtractor

        return InceptionExtractor(resize=ctx.resize)

    def prepare(self, ctx: EvalContext) -> None:
        from ganbench.metrics.inception import note_cpu_cost

        note_cpu_cost("fid_inf", ctx)
        super().prepare(ctx)


@METRICS.register("fcd_inf")
class FCDInf(_FrechetInf):
    name = "fcd_inf"
    value_key = "fcd_inf"
    outputs = {"fcd_inf": LOWER}
    display = {"fcd_inf": "FCD∞"}
    datasets = frozenset({"mnist", "fashion_mnist"})
    summary = ("FCD (classifier features) extrapolated to n -> infinity like fid_inf; lower is better; "
               "CPU-friendly")

    def extractor(self, ctx: EvalContext):
        from ganbench.metrics.mnist_classifier import ClassifierExtractor

        return ClassifierExtractor(ctx.dataset.name)
