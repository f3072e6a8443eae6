"""P-precision and P-recall: precision/recall with a probabilistic support (robust to outliers).

Park & Kim 2023, "Probabilistic Precision and Recall Towards Reliable Evaluation of Generative
Models" (ICCV; arXiv 2309.01590), the PSR / P-precision / P-recall definitions (equation
numbers not checked here); constants and the k-NN convention from the authors' code
(kdst-team/Probablistic_precision_recall, ``metric/pp_pr.py``): a = 1.2, k = 4 (the 4th nearest
OTHER point).

Real features X (n of them), generated Y (m of them), Euclidean distances d:

- The support of X is a union of balls of ONE common radius R_X = a · mean_i NND_k(x_i), the
  mean over real points of the distance to the k-th nearest other real point (eq. 7); R_Y is
  the same on Y. One radius for all points is what keeps a single outlier from opening a large
  ball (the failure of Kynkäänniemi et al.'s per-point k-NN radii).
- A point y lies in the ball of x with probability f(y | x) = max(0, 1 − d(x, y) / R_X)
  (1 at the centre, 0 at the sphere, linear in between).
- P(y ∈ supp X) = 1 − Π_i (1 − f(y | x_i)) (the balls as independent events).
- ``p_precision`` = mean_j P(y_j ∈ supp X); ``p_recall`` = mean_i P(x_i ∈ supp Y) with R_Y. Both in [0, 1], higher is better.

Why P-precision/P-recall and not TopP&R (Kim et al. 2023, "TopP&R: Robust Support Estimation
Approach for Evaluating Fidelity and Diversity in Generative Models", NeurIPS): both answer the
same failure (outliers inflating k-NN supports), but TopP&R estimates each support as a
super-level set of a kernel density estimate whose bandwidth and confidence band are chosen by
bootstrap resampling (random, dozens of KDE refits: tens of times the cost of one k-NN pass, and
the value moves with the resampling seed), while P-precision/P-recall are closed-form and
deterministic, cost one pass over the n×m distances like ``prdc`` and reuse its blockwise
k-NN code. That fits per-evaluation use during training.

Computation: float64, ``CHUNK`` rows of distances at a time (no n×m matrix is held); the products
of (1 − f) may underflow to 0, which is the correct limit (probability 1).

Registered: ``pr_prob`` on ganbench's classifier features (MNIST, Fashion-MNIST; CPU) and
``pr_prob_inception`` on TF-Inception pool3. Like every k-NN estimate it depends on n: compare
at equal n_gen and n_ref (``eval.num_reference``).
"""

from __future__ import annotations

import abc

import numpy as np
import torch

from ganbench.errors import GanbenchError
from ganbench.metrics.base import HIGHER, EvalContext, Metric
from ganbench.metrics.inception import InceptionExtractor, note_cpu_cost
from ganbench.metrics.mnist_classifier import ClassifierExtractor
from ganbench.metrics.prdc import _sq_dists, _sq_norms, knn_sq_radii
from ganbench.metrics.reference import paired_outputs, prepare_reference
from ganbench.registry import METRICS

A = 1.2
K = 4
CHUNK = 1000


def _f64(x) -> torch.Tensor:
    t = x if torch.is_tensor(x) else torch.as_tensor(np.asarray(x))
    return t.to("cpu", torch.float64)


def common_radius(x: torch.Tensor, k: int = K, a: float = A) -> float:
    """R = a · mean over rows of the distance to the k-th nearest other row (eq. 7)."""
    return float(a * knn_sq_radii(x, (k,))[k].sqrt().mean().item())


@torch.no_grad()
def pr_prob_from_features(real, fake, k: int = K, a: float = A, chunk: int = CHUNK) -> dict[str, float]:
    """P-precision and P-recall of ``fake`` against ``real`` (N×d arrays or tensors)."""
    x, y = _f64(real), _f64(fake)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"need two N×d feature arrays, got {tuple(x.shape)} and {tuple(y.shape)}")
    r_x, r_y = common_radius(x, k, a), common_radius(y, k, a)
    x_sq, y_sq = _sq_norms(x), _sq_norms(y)
    in_x = []  # P(y_j in supp X), per generated point
    outside_y = torch.ones(len(x), dtype=torch.float64)  # Π_j (1 - f(x_i | y_j)), per real point
    for lo in range(0, len(y), chunk):
        d = _sq_dists(y[lo : lo + chunk], y_sq[lo : lo + chunk], x, x_sq).sqrt()  # fakes × reals
        # 1 − f = 1 − max(0, 1 − d/R) = min(1, d/R)
        in_x.append(1.0 - (d / r_x).clamp_max(1.0).prod(dim=1))
        outside_y *= (d / r_y).clamp_max(1.0).prod(dim=0)
    return {"p_precision": float(torch.cat(in_x).mean().item()),
            "p_recall": float((1.0 - outside_y).mean().item()),
            "radius_real": r_x, "radius_fake": r_y}


class _PRProbBase(Metric):
    outputs = {"p_precision": HIGHER, "p_recall": HIGHER}
    kinds = frozenset({"image"})
    suffix = ""

    @abc.abstractmethod
    def extractor(self, ctx: EvalContext):
        """The feature extractor the supports are estimated on."""

    def prepare(self, ctx: EvalContext) -> None:
        prepare_reference(self.extractor(ctx), ctx)

    def compute(self, fake, ctx: EvalContext):
        fake_out, ref_out, protocol = paired_outputs(self.extractor(ctx), fake, ctx)
        if min(len(fake_out["features"]), len(ref_out["features"])) <= K:
            raise GanbenchError(f"{self.name} needs more than {K} generated and {K} reference samples, "
                                f"got {len(fake_out['features'])} and {len(ref_out['features'])}")
        out = pr_prob_from_features(ref_out["features"], fake_out["features"])
        protocol = {**protocol, "k": K, "a": A, "radius": "a * mean k-NN distance (one per set)",
                    "membership": "max(0, 1 - d/R), union of independent balls",
                    "distance": "euclidean, float64", "radius_real": out["radius_real"],
                    "radius_fake": out["radius_fake"]}
        return {f"p_precision{self.suffix}": out["p_precision"],
                f"p_recall{self.suffix}": out["p_recall"]}, protocol


@METRICS.register("pr_prob")
class PRProb(_PRProbBase):
    """P-precision/P-recall on ganbench's classifier features (CPU-friendly)."""

    name = "pr_prob"
    datasets = frozenset({"mnist", "fashion_mnist"})
    summary = ("P-precision (fidelity) / P-recall (diversity) of Park & Kim 2023, outlier-robust "
               "k-NN supports (a=1.2, k=4) on the classifier features; higher better; CPU-friendly")

    def extractor(self, ctx: EvalContext):
        return ClassifierExtractor(ctx.dataset.name)

    def compute(self, fake, ctx: EvalContext):
        values, protocol = super().compute(fake, ctx)
        return values, {**protocol, "resize": "none (28x28 native)"}


@METRICS.register("pr_prob_inception")
class PRProbInception(_PRProbBase):
    """P-precision/P-recall on TF-Inception pool3 features."""

    name = "pr_prob_inception"
    suffix = "_inception"
    outputs = {"p_precision_inception": HIGHER, "p_recall_inception": HIGHER}
    summary = "P-precision / P-recall (Park & Kim 2023) on TF-Inception pool3; higher better; GPU profile"

    def extractor(self, ctx: EvalContext):
        return InceptionExtractor(resize=ctx.resize)

    def prepare(self, ctx: EvalContext) -> None:
        note_cpu_cost(self.name, ctx)
        super().prepare(ctx)
