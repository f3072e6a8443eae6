"""Precision/recall (Kynkäänniemi et al. 2019) and density/coverage (Naeem et al. 2020).

All four are k-nearest-neighbour estimates of the two supports, computed on one feature space
(real features R, n_ref of them; generated features F, n_gen of them). The radius of a point is
the distance to its k-th nearest neighbour within its own set, the point itself excluded (the
(k+1)-th smallest distance, the point's own 0 included, as in both papers' code).

- ``precision`` (Kynkäänniemi et al. 2019, eq. 1–2, k = 3): the fraction of generated points that
  lie in at least one real ball, ``d(F_j, R_i) <= r_3(R_i)`` (membership with ``<=``).
- ``recall`` (same, k = 3): the fraction of real points that lie in at least one generated ball,
  ``d(R_i, F_j) <= r_3(F_j)``.
- ``density`` (Naeem et al. 2020, eq. 3, k = 5): ``1/(k·n_gen) Σ_j Σ_i 1[d(F_j, R_i) < r_5(R_i)]``
  (strict ``<``, as in the authors' ``prdc`` code); about 1 when the two sets are alike, above 1
  when generated points crowd the dense parts of the real data.
- ``coverage`` (same, eq. 4, k = 5): the fraction of real points whose ball holds at least one
  generated point, ``min_j d(R_i, F_j) < r_5(R_i)``.

Precision alone does not see mode collapse: a generator that returns one realistic image
1000 times has every sample inside a real ball, so ``precision_mnist`` reads 1.00 while recall
and coverage fall to about 0 (measured on MNIST with 1000 copies of one held-out test image
against the 1000-image test reference: precision 1.00, recall 0.00, coverage 0.005–0.007).
Read precision beside recall and coverage, which is why ``prdc_mnist`` reports all four and the
default metric set of ``ganbench eval`` on MNIST / Fashion-MNIST includes it.

All are higher-better; identical sets (with no duplicated points) give precision = recall =
coverage = 1 and density = 1 (up to a few ties: the copy of a point's k-th neighbour lies exactly
on its sphere, and float64 round-off in the dot products decides those few, e.g. 1.00006 at 10k).

Computation: squared Euclidean distances ``|a|² + |b|² − 2a·b`` in float64 on the evaluation
device, ``CHUNK`` rows at a time (a CHUNK × n block, 80 MB at n = 10k), so no n×n matrix is
ever held: the radii come from ``topk`` per row block, and one pass over blocks of generated
rows against all real rows yields the four counts. Radii and memberships compare squared
distances (the square root is monotone). ``tests/test_metrics_prdc.py`` checks precision/recall
against torch-fidelity's ``calculate_precision_recall_full`` on the same arrays.

Registered metrics (the features differ, the algebra is the same):

- ``prdc``: TF-Inception 2015-12-05 pool3 (2048-d) under ``eval.resize`` (clean-fid's "clean"
  resize by default, or "legacy_tensorflow"; recorded in the protocol), the features of the D/C
  paper (Naeem et al. 2020 report Inception features; the P/R paper of Kynkäänniemi et al. 2019
  used VGG-16 fc2, and so does torch-fidelity's precision/recall, whose default extractor is
  ``vgg16-fc2``: see ``prdc_vgg16`` for that variant). GPU/full profile.
- ``prdc_mnist``: the 128-d penultimate features of ganbench's MNIST classifier; the cheap CPU
  variant for MNIST (values compare only within that classifier, whose SHA1 the protocol holds).
  Its value keys carry a suffix, ``precision_mnist``, ``recall_mnist``, ``density_mnist``,
  ``coverage_mnist``, so that both variants fit in one suite and one table.

The values depend on n (radii shrink as n grows), so compare at equal n_gen and n_ref; the
papers use 10k/50k. The reference is ``ctx.reference_size`` real images of the reference split.
"""

from __future__ import annotations

import abc

from typing import Any

import numpy as np
import torch

from ganbench.errors import GanbenchError
from ganbench.metrics.base import HIGHER, EvalContext, Metric
from ganbench.metrics.inception import InceptionExtractor
from ganbench.metrics.mnist_classifier import ClassifierExtractor
from ganbench.metrics.reference import paired_outputs, prepare_reference
from ganbench.registry import METRICS

K_PR = 3
K_DC = 5
CHUNK = 1000


def _sq_norms(x: torch.Tensor) -> torch.Tensor:
    return (x * x).sum(dim=1)


def _sq_dists(a: torch.Tensor, a_sq: torch.Tensor, b: torch.Tensor, b_sq: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances between the rows of ``a`` and ``b`` (len(a) × len(b))."""
    # (|a|² + |b|²) − 2a·b: the sum commutes exactly, so d(x, y) and d(y, x) agree bit for bit
    # (as far as the dot product does) and ties between copies of a point stay ties
    d = torch.addmm(a_sq[:, None] + b_sq[None, :], a, b.T, alpha=-2.0)
    return d.clamp_min_(0.0)


def knn_sq_radii(x: torch.Tensor, ks: tuple[int, ...], chunk: int = CHUNK) -> dict[int, torch.Tensor]:
    """Squared distance of every row of ``x`` to its k-th nearest other row, for each k in ks."""
    n = x.shape[0]
    kmax = max(ks)
    if n <= kmax:
        raise ValueError(f"need more than k = {kmax} points for k-NN radii, got {n}")
    x_sq = _sq_norms(x)
    out = {k: torch.empty(n, dtype=x.dtype, device=x.device) for k in ks}
    for lo in range(0, n, chunk):
        d = _sq_dists(x[lo : lo + chunk], x_sq[lo : lo + chunk], x, x_sq)
        # the k+1 smallest include the row itself (distance 0 up to round-off)
        smallest = d.topk(kmax + 1, dim=1, largest=False).values
        for k in ks:
            out[k][lo : lo + chunk] = smallest[:, k]
    return out


@torch.no_grad()
def prdc_from_features(real, fake, k_pr: int = K_PR, k_dc: int = K_DC,
                       device: torch.device | str = "cpu", chunk: int = CHUNK) -> dict[str, float]:
    """Precision, recall (k = ``k_pr``, ``<=``), density and coverage (k = ``k_dc``, ``<``).

    ``real`` and ``fake`` are N×d arrays or tensors (any float dtype; computed in float64).
    """
    r = torch.as_tensor(np.asarray(real) if not torch.is_tensor(real) else real).to(device, torch.float64)
    f = torch.as_tensor(np.asarray(fake) if not torch.is_tensor(fake) else fake).to(device, torch.float64)
    if r.ndim != 2 or f.ndim != 2 or r.shape[1] != f.shape[1]:
        raise ValueError(f"need two N×d feature arrays, got {tuple(r.shape)} and {tuple(f.shape)}")
    ks = tuple(sorted({k_pr, k_dc}))
    r_rad = knn_sq_radii(r, ks, chunk)
    f_rad = knn_sq_radii(f, (k_pr,), chunk)[k_pr]
    r_sq, f_sq = _sq_norms(r), _sq_norms(f)
    r_pr, r_dc = r_rad[k_pr], r_rad[k_dc]

    precise = 0
    recalled = torch.zeros(r.shape[0], dtype=torch.bool, device=r.device)
    density_count = 0
    nearest_fake = torch.full((r.shape[0],), float("inf"), dtype=torch.float64, device=r.device)
    for lo in range(0, f.shape[0], chunk):
        d = _sq_dists(f[lo : lo + chunk], f_sq[lo : lo + chunk], r, r_sq)  # fakes × reals
        precise += int((d <= r_pr[None, :]).any(dim=1).sum().item())
        recalled |= (d <= f_rad[lo : lo + chunk, None]).any(dim=0)
        density_count += int((d < r_dc[None, :]).sum().item())
        nearest_fake = torch.minimum(nearest_fake, d.min(dim=0).values)
    n_gen = f.shape[0]
    return {
        "precision": precise / n_gen,
        "recall": float(recalled.double().mean().item()),
        "density": density_count / (k_dc * n_gen),
        "coverage": float((nearest_fake < r_dc).double().mean().item()),
    }


def _definition() -> dict[str, Any]:
    return {"k_precision_recall": K_PR, "k_density_coverage": K_DC,
            "membership": "precision/recall <=, density/coverage <",
            "distance": "euclidean, float64, chunked k-NN"}


class _PRDCBase(Metric):
    outputs = {"precision": HIGHER, "recall": HIGHER, "density": HIGHER, "coverage": HIGHER}
    kinds = frozenset({"image"})
    #: appended to the value keys (so both variants can sit in one suite and one table)
    suffix = ""

    @abc.abstractmethod
    def extractor(self, ctx: EvalContext):
        """The feature extractor whose outputs P/R/D/C are computed on."""

    def prepare(self, ctx: EvalContext) -> None:
        prepare_reference(self.extractor(ctx), ctx)

    def compute(self, fake, ctx: EvalContext):
        fake_out, ref_out, protocol = paired_outputs(self.extractor(ctx), fake, ctx)
        need = max(K_PR, K_DC) + 1
        if min(len(fake_out["features"]), len(ref_out["features"])) < need:
            raise GanbenchError(f"{self.name} needs at least {need} generated and {need} reference samples, "
                                f"got {len(fake_out['features'])} and {len(ref_out['features'])}")
        values = prdc_from_features(ref_out["features"], fake_out["features"], device=ctx.device)
        return {f"{k}{self.suffix}": v for k, v in values.items()}, {**protocol, **_definition()}


@METRICS.register("prdc")
class PRDC(_PRDCBase):
    """Precision/recall (k=3) and density/coverage (k=5) on TF-Inception pool3 features."""

    name = "prdc"
    summary = ("precision/recall (k=3) and density/coverage (k=5) on TF-Inception pool3 "
               "(clean resize); GPU/full profile")

    def extractor(self, ctx: EvalContext):
        return InceptionExtractor(resize=ctx.resize)


@METRICS.register("prdc_mnist")
class PRDCMnist(_PRDCBase):
    """The same four values on ganbench's MNIST-classifier features (CPU-friendly)."""

    name = "prdc_mnist"
    suffix = "_mnist"
    outputs = {f"{k}_mnist": d for k, d in _PRDCBase.outputs.items()}
    datasets = frozenset({"mnist", "fashion_mnist"})
    summary = ("precision/recall/density/coverage on the MNIST-classifier features (128-d); precision "
               "alone reads 1.00 for a fully collapsed generator: read it beside recall and coverage; "
               "CPU-friendly")

    def extractor(self, ctx: EvalContext):
        return ClassifierExtractor(ctx.dataset.name)

    def compute(self, fake, ctx: EvalContext):
        values, protocol = super().compute(fake, ctx)
        return values, {**protocol, "resize": "none (28x28 native)"}
