"""The Vendi score: the effective number of distinct samples (higher = more diverse).

Friedman & Dieng 2023, "The Vendi Score: A Diversity Evaluation Metric for Machine Learning"
(TMLR; arXiv 2210.02410), the score's definition: for n samples and a positive semi-definite similarity K with K_ii = 1,

    VS = exp(− Σ_i λ_i log λ_i),   λ_i the eigenvalues of K / n,   0 log 0 = 0,

the exponential of the Shannon entropy of the eigenvalues (the effective rank of K). n identical
samples give 1, n mutually orthogonal ones give n; it needs no reference data.

Kernel: the cosine similarity of the features (rows L2-normalised, K = X Xᵀ), the kernel the
authors use for embeddings (their ``score_dual``). K/n and Xᵀ X / n share their non-zero
eigenvalues, so the d×d matrix is decomposed when d < n (and the n×n one otherwise), in float64
with ``torch.linalg.eigvalsh``; round-off negatives are set to 0.

Departure: a feature vector of all zeros (a blank image can switch off every ReLU of the
classifier's feature layer) has no direction. Such samples are treated as copies of one another
and orthogonal to every other sample (an extra coordinate that only they carry), so a batch of
blank images counts as one element rather than failing or counting as many; their number is in
the protocol (``zero_features``).

Checked against the authors' worked examples (README of vertaix/Vendi-Score: the kernel
[[1, .9, 0], [.9, 1, 0], [0, 0, 1]] gives 2.1573; samples 0, 0, 10, 10, 20, 20 with
k(a, b) = exp(−|a − b|) give 2.9999) by factoring K = X Xᵀ in the test.

Registered: ``vendi`` (ganbench's classifier features, 128-d; MNIST and Fashion-MNIST; CPU) and
``vendi_inception`` (TF-Inception pool3 features, 2048-d, any image dataset). The value depends
on n (it cannot exceed n nor the feature dimension): compare at equal n.
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np
import torch

from ganbench.errors import GanbenchError
from ganbench.metrics.base import HIGHER, EvalContext, Metric
from ganbench.metrics.features import extract_shared
from ganbench.metrics.inception import InceptionExtractor, note_cpu_cost
from ganbench.metrics.mnist_classifier import ClassifierExtractor
from ganbench.registry import METRICS


def vendi_eigenvalues(features) -> tuple[torch.Tensor, int]:
    """Eigenvalues of K/n for the cosine kernel on ``features`` (N×d), and the zero-row count."""
    x = features if torch.is_tensor(features) else torch.as_tensor(np.asarray(features))
    x = x.to("cpu", torch.float64)
    if x.ndim != 2 or len(x) == 0:
        raise GanbenchError(f"vendi needs an N×d feature array with N >= 1, got shape {tuple(x.shape)}")
    norms = x.norm(dim=1, keepdim=True)
    zero = norms.squeeze(1) == 0
    x = torch.where(zero[:, None], torch.zeros_like(x), x / norms.clamp_min(1e-300))
    if bool(zero.any()):
        x = torch.cat([x, zero[:, None].double()], dim=1)
    n, d = x.shape
    gram = (x.T @ x) if d < n else (x @ x.T)
    lam = torch.linalg.eigvalsh(gram / n).clamp_min(0.0)
    return lam, int(zero.sum())


def entropy_exp(lam: torch.Tensor) -> float:
    """exp(− Σ λ log λ) with 0 log 0 = 0."""
    lam = lam[lam > 0]
    return float(torch.exp(-(lam * lam.log()).sum()).item())


def vendi_score(features) -> float:
    """exp of the Shannon entropy of the eigenvalues of K/n (cosine kernel)."""
    return entropy_exp(vendi_eigenvalues(features)[0])


class _VendiBase(Metric):
    outputs = {"vendi": HIGHER}
    kinds = frozenset({"image"})
    suffix = ""

    @abc.abstractmethod
    def extractor(self, ctx: EvalContext):
        """The feature extractor whose outputs the cosine kernel is computed on."""

    def compute(self, fake, ctx: EvalContext):
        ext = self.extractor(ctx)
        feats = extract_shared(ext, fake, ctx.device)["features"]
        lam, zero = vendi_eigenvalues(feats)
        value = entropy_exp(lam)
        protocol: dict[str, Any] = {"n_gen": int(len(fake)), **ext.protocol(),
                                    "kernel": "cosine (features L2-normalised)", "order_q": 1,
                                    "reference": "none (generated samples only)",
                                    "feature_dim": int(np.asarray(feats).shape[1]), "zero_features": zero}
        return {f"vendi{self.suffix}": value}, protocol


@METRICS.register("vendi")
class Vendi(_VendiBase):
    """Vendi score on ganbench's classifier features (CPU-friendly)."""

    name = "vendi"
    datasets = frozenset({"mnist", "fashion_mnist"})
    summary = ("Vendi score (Friedman & Dieng 2023): effective number of distinct generated samples, "
               "cosine kernel on the classifier features; higher = more diverse; CPU-friendly")

    def extractor(self, ctx: EvalContext):
        return ClassifierExtractor(ctx.dataset.name)

    def compute(self, fake, ctx: EvalContext):
        values, protocol = super().compute(fake, ctx)
        return values, {**protocol, "resize": "none (28x28 native)"}


@METRICS.register("vendi_inception")
class VendiInception(_VendiBase):
    """Vendi score on TF-Inception pool3 features."""

    name = "vendi_inception"
    suffix = "_inception"
    outputs = {"vendi_inception": HIGHER}
    summary = ("Vendi score, cosine kernel on TF-Inception pool3 (2048-d); higher = more diverse; "
               "GPU profile")

    def extractor(self, ctx: EvalContext):
        return InceptionExtractor(resize=ctx.resize)

    def prepare(self, ctx: EvalContext) -> None:
        note_cpu_cost(self.name, ctx)
