"""Memorisation: the data-copying test C_T and the authenticity percentage.

Both compare generated samples with the TRAINING split in a feature space: a generator that
returns its training images (or tiny variations of them) scores a perfect FID, and these two
numbers are there to catch it.

**C_T** (Meehan, Chaudhuri & Dasgupta 2020, "A Non-Parametric Test to Detect Data-Copying in
Generative Models", AISTATS, arXiv 2004.05675; the authors' code ``casey-meehan/data-copying``,
``data_copying_tests.py`` and ``MNIST_vae_test.py``, read for the protocol's constants):

1. Partition the feature space into k cells Π by k-means fitted on the training features T.
2. In each cell π, L(x) is the distance of x to its nearest training sample of that cell
   (the authors' code restricts the search to the cell's training samples; so does ganbench).
3. Mann–Whitney U of generated vs held-out test distances, U(π) = Σ_{g∈Q_m(π)} Σ_{t∈P_n(π)}
   [1(L(g) > L(t)) + ½·1(L(g) = L(t))], Z-scored under H0 (same distribution):
   Z_U(π) = (U − m_π n_π / 2) / sqrt(m_π n_π (m_π + n_π + 1) / 12).
   Generated samples closer to the training data than fresh real samples give U small and
   Z_U ≪ 0: *copying*; Z_U ≫ 0: generated samples farther than real ones (*underfitting*).
4. C_T = Σ_{π∈Π_τ} P_n(π) Z_U(π) / Σ_{π∈Π_τ} P_n(π): the average over the cells that hold more
   than τ·m generated samples (Π_τ), weighted by the share P_n(π) of TEST samples in the cell
   (the paper's eq. and the authors' ``C_T``; not by training mass). τ = 20/m as in every one
   of the authors' experiments, i.e. a cell counts when it holds more than 20 generated samples.

Negative = copying; about 0 for a generator whose samples are as far from the training data as
held-out real data; positive = underfitting. The table treats higher as better (less copying),
so a large positive value is not "better" in any useful sense: read it beside FCD/precision.

Departures, all deliberate:

- Number of cells: the paper's MNIST experiments use k = 50 cells for m = n = 10 000 (about
  200 generated samples per cell). ganbench keeps that mean occupancy at smaller m:
  k = clamp(m // 200, 1, 50), so the quick profile's m = 1000 gives 5 cells (k recorded).
- The Z-score uses the paper's mean m n / 2; the authors' code subtracts a 0.5 "continuity
  correction" from the mean, which moves each cell's Z by +0.5/σ (σ ≈ 37 for 20×20 samples,
  ≈ 290 for 200×200): agreement with their code is to that shift (``tests/test_metrics_memorization.py``).
- k-means: scikit-learn ``KMeans`` (k-means++, one initialisation, ``random_state=0``) so the
  partition is the same in every evaluation; the authors used the scikit-learn default of the
  time (ten initialisations, unseeded). It is fitted once per process and feature set.
- A cell without test samples has weight P_n(π) = 0 and is skipped (the authors' code raises).
- The paper embeds MNIST with a 64-d autoencoder; ganbench uses its own classifier's 128-d
  features (``memorization``) or TF-Inception pool3 (``memorization_inception``), without PCA.

**Authenticity** (Alaa, van Breugel, Saveliev & van der Schaar 2022, "How Faithful is your
Synthetic Data? Sample-level Metrics for Evaluating and Auditing Generative Models", ICML):
a generated sample g is *unauthentic* when it is closer to its nearest training sample t* than
t* is to its own nearest other training sample, d(g, t*) < d(t*, NN_T(t*)) (the paper's
authenticity test with its nearest-neighbour estimate). ``authenticity`` = the fraction of
generated samples that are authentic, over the whole training set T. Copies of training samples
score 0. A perfect generator does not score 1: a fresh real sample is unauthentic exactly when
it and its nearest training sample are mutual nearest neighbours, which is common; held-out
MNIST test images score about 0.5–0.6 on the classifier features (measured in the test). The
authors' released ``compute_alpha_precision`` instead loops over *real* points and indexes the
real-to-real radii with generated indices; ganbench follows the paper's per-generated-sample
definition.

Data: T = the whole train split (``train_size``; None = all of it, as in both papers), P_n =
``ctx.reference_size`` images of the TEST split (whatever ``eval.reference`` says: the test
needs held-out data), Q_m = the m generated samples. Distances are Euclidean, in float64,
computed in blocks (no m × |T| matrix is held).
"""

from __future__ import annotations

import abc
import dataclasses
import math
from typing import Any

import numpy as np
import torch

from ganbench.errors import GanbenchError
from ganbench.metrics.base import HIGHER, EvalContext, Metric
from ganbench.metrics.inception import InceptionExtractor, note_cpu_cost
from ganbench.metrics.mnist_classifier import ClassifierExtractor
from ganbench.metrics.prdc import _sq_dists, _sq_norms
from ganbench.metrics.reference import paired_outputs, prepare_reference, reference_outputs
from ganbench.registry import METRICS

#: the paper's MNIST number of cells (at m = 10 000) and generated samples per cell on average
MAX_CELLS = 50
SAMPLES_PER_CELL = 200
#: a cell enters C_T when it holds MORE than this many generated samples (τ = 20/m)
MIN_GENERATED_PER_CELL = 20
KMEANS_SEED = 0
CHUNK = 1000

_kmeans_memo: dict[tuple, Any] = {}


def num_cells_for(m: int) -> int:
    """k = clamp(m // 200, 1, 50): the paper's 50 cells at m = 10k, ~200 generated per cell."""
    return int(min(MAX_CELLS, max(1, m // SAMPLES_PER_CELL)))


def _as_f64(x) -> torch.Tensor:
    t = x if torch.is_tensor(x) else torch.as_tensor(np.asarray(x))
    return t.to("cpu", torch.float64)


@torch.no_grad()
def nearest(queries: torch.Tensor, ref: torch.Tensor, chunk: int = CHUNK) -> tuple[torch.Tensor, torch.Tensor]:
    """Euclidean distance of every query row to its nearest ``ref`` row, and that row's index."""
    ref_sq = _sq_norms(ref)
    dists, idx = [], []
    for lo in range(0, len(queries), chunk):
        q = queries[lo : lo + chunk]
        d, i = _sq_dists(q, _sq_norms(q), ref, ref_sq).min(dim=1)
        dists.append(d.sqrt())
        idx.append(i)
    if not dists:
        return torch.empty(0, dtype=torch.float64), torch.empty(0, dtype=torch.long)
    return torch.cat(dists), torch.cat(idx)


def mann_whitney_u(x, y) -> float:
    """U = #{(i, j): x_i > y_j} + ½ #{(i, j): x_i = y_j} (scipy's statistic for ``x``)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    ys = np.sort(np.asarray(y, dtype=np.float64).ravel())
    below = np.searchsorted(ys, x, side="left")
    not_above = np.searchsorted(ys, x, side="right")
    return float(np.sum(below + not_above) / 2.0)


def z_u(u: float, m: int, n: int) -> float:
    """Z-scored U under H0 (the paper's Z_U): (U − mn/2) / sqrt(mn(m+n+1)/12)."""
    return (u - m * n / 2.0) / math.sqrt(m * n * (m + n + 1) / 12.0)


def fit_cells(train: torch.Tensor, k: int, memo_key: tuple | None = None):
    """k-means (k-means++, one init, seeded) on the training features; memoised per process."""
    from sklearn.cluster import KMeans

    key = None if memo_key is None else (*memo_key, k)
    if key is not None and key in _kmeans_memo:
        return _kmeans_memo[key]
    km = KMeans(n_clusters=k, n_init=1, random_state=KMEANS_SEED).fit(train.numpy())
    if key is not None:
        _kmeans_memo[key] = km
    return km


@torch.no_grad()
def ct_from_features(train, test, gen, num_cells: int | None = None,
                     min_generated: int = MIN_GENERATED_PER_CELL, cells=None,
                     memo_key: tuple | None = None) -> tuple[float, dict[str, Any]]:
    """C_T of Meehan et al. 2020 on feature arrays; returns (C_T, details).

    ``cells``: optional precomputed ``(train_labels, test_labels, gen_labels, k)``; otherwise
    k-means with ``num_cells`` (default :func:`num_cells_for` m) cells on ``train``.
    """
    t, p, q = _as_f64(train), _as_f64(test), _as_f64(gen)
    m, n = len(q), len(p)
    if cells is None:
        k = num_cells if num_cells is not None else num_cells_for(m)
        if len(t) < k:
            raise GanbenchError(f"C_T needs at least {k} training samples for {k} cells, got {len(t)}")
        km = fit_cells(t, k, memo_key)
        t_lab = torch.as_tensor(km.labels_).long()
        p_lab = torch.as_tensor(km.predict(p.numpy())).long()
        q_lab = torch.as_tensor(km.predict(q.numpy())).long()
    else:
        *labels, k = cells
        t_lab, p_lab, q_lab = (torch.as_tensor(np.asarray(lab)).long() for lab in labels)
    z_cells: dict[int, float] = {}
    weights: dict[int, float] = {}
    for c in range(k):
        q_c, p_c, t_c = q[q_lab == c], p[p_lab == c], t[t_lab == c]
        if len(q_c) <= min_generated or len(p_c) == 0 or len(t_c) == 0:
            continue
        lq, _ = nearest(q_c, t_c)
        lp, _ = nearest(p_c, t_c)
        z_cells[c] = z_u(mann_whitney_u(lq.numpy(), lp.numpy()), len(q_c), len(p_c))
        weights[c] = len(p_c) / n
    total = sum(weights.values())
    if not z_cells or total <= 0:
        raise GanbenchError(
            f"C_T: no cell of the {k} holds more than {min_generated} of the {m} generated samples "
            "and some test samples; raise eval.num_samples")
    ct = sum(weights[c] * z_cells[c] for c in z_cells) / total
    details = {"num_cells": int(k), "cells_used": len(z_cells),
               "test_mass_in_used_cells": float(total),
               "generated_mass_in_used_cells": float(sum(int((q_lab == c).sum()) for c in z_cells) / m),
               "z_u_per_cell": {int(c): float(z) for c, z in z_cells.items()}}
    return float(ct), details


@torch.no_grad()
def authenticity_from_features(train, gen, chunk: int = CHUNK) -> float:
    """Fraction of generated samples g with d(g, t*) >= d(t*, NN_T(t*)) (Alaa et al. 2022)."""
    t, q = _as_f64(train), _as_f64(gen)
    if len(t) < 2:
        raise GanbenchError(f"authenticity needs at least 2 training samples, got {len(t)}")
    d_gen, nearest_train = nearest(q, t, chunk)
    used = torch.unique(nearest_train)
    t_sq = _sq_norms(t)
    radius = torch.empty(len(used), dtype=torch.float64)
    for lo in range(0, len(used), chunk):
        rows = used[lo : lo + chunk]
        d = _sq_dists(t[rows], t_sq[rows], t, t_sq)
        d[torch.arange(len(rows)), rows] = float("inf")  # the training sample itself
        radius[lo : lo + chunk] = d.min(dim=1).values.sqrt()
    r_of = torch.empty(len(t), dtype=torch.float64)
    r_of[used] = radius
    unauthentic = d_gen < r_of[nearest_train]
    return float(1.0 - unauthentic.double().mean().item())


class _MemorizationBase(Metric):
    outputs = {"ct": HIGHER, "authenticity": HIGHER}
    kinds = frozenset({"image"})
    suffix = ""
    #: training samples T (None: the whole train split, as in both papers)
    train_size: int | None = None

    @classmethod
    def applies_to(cls, info) -> bool:
        return super().applies_to(info) and {"train", "test"} <= set(info.splits)

    @abc.abstractmethod
    def extractor(self, ctx: EvalContext):
        """The feature extractor C_T and authenticity are computed on."""

    def _train_ctx(self, ctx: EvalContext) -> EvalContext:
        from ganbench.data.base import load_dataset

        size = len(load_dataset(ctx.dataset.name, "train", "cpu")[0])
        n = size if self.train_size is None else min(int(self.train_size), size)
        return dataclasses.replace(ctx, reference="train", num_reference=n)

    def prepare(self, ctx: EvalContext) -> None:
        prepare_reference(self.extractor(ctx), dataclasses.replace(ctx, reference="test"))
        prepare_reference(self.extractor(ctx), self._train_ctx(ctx))

    def compute(self, fake, ctx: EvalContext):
        ext = self.extractor(ctx)
        fake_out, test_out, protocol = paired_outputs(ext, fake, dataclasses.replace(ctx, reference="test"))
        tctx = self._train_ctx(ctx)
        train_out, train_protocol = reference_outputs(ext, ctx.dataset.name, "train", tctx.reference_size,
                                                      ctx.seed, ctx.device)
        memo_key = (ext.key, ctx.dataset.name, int(train_protocol["n_ref"]), train_protocol["ref_subset"])
        ct, details = ct_from_features(train_out["features"], test_out["features"], fake_out["features"],
                                       memo_key=memo_key)
        auth = authenticity_from_features(train_out["features"], fake_out["features"])
        details.pop("z_u_per_cell")
        n_test, test_subset = protocol.pop("n_ref"), protocol.pop("ref_subset")
        protocol = {**protocol, "n_test": n_test, "test_subset": test_subset,
                    "split": "test (P_n) and train (T)", "n_train": int(train_protocol["n_ref"]),
                    "train_subset": train_protocol["ref_subset"], **details,
                    "cells": f"k-means on the train features (k = clamp(m // {SAMPLES_PER_CELL}, 1, "
                             f"{MAX_CELLS}), k-means++, n_init 1, seed {KMEANS_SEED})",
                    "min_generated_per_cell": f"> {MIN_GENERATED_PER_CELL} (tau = 20/m)",
                    "cell_weight": "share of test samples P_n(pi)",
                    "distance": "euclidean, float64; C_T: nearest training sample within the cell",
                    "authenticity_rule": "unauthentic iff d(g, t*) < d(t*, nearest other training sample)"}
        return {f"ct{self.suffix}": ct, f"authenticity{self.suffix}": auth}, protocol


@METRICS.register("memorization")
class Memorization(_MemorizationBase):
    """C_T and authenticity on ganbench's classifier features (CPU-friendly)."""

    name = "memorization"
    datasets = frozenset({"mnist", "fashion_mnist"})
    summary = ("data-copying test C_T (Meehan 2020; <0 copies training data, ~0 like held-out data, "
               "higher better) and authenticity (Alaa 2022; share not copied, higher better) on the "
               "classifier features; CPU-friendly")

    def extractor(self, ctx: EvalContext):
        return ClassifierExtractor(ctx.dataset.name)

    def compute(self, fake, ctx: EvalContext):
        values, protocol = super().compute(fake, ctx)
        return values, {**protocol, "resize": "none (28x28 native)"}


@METRICS.register("memorization_inception")
class MemorizationInception(_MemorizationBase):
    """The same two values on TF-Inception pool3 features (any image dataset with both splits)."""

    name = "memorization_inception"
    suffix = "_inception"
    outputs = {f"{k}_inception": d for k, d in _MemorizationBase.outputs.items()}
    summary = ("C_T (<0 copies training data, higher better) and authenticity (higher better) on "
               "TF-Inception pool3; the whole train split goes through Inception once: GPU profile")

    def extractor(self, ctx: EvalContext):
        return InceptionExtractor(resize=ctx.resize)

    def prepare(self, ctx: EvalContext) -> None:
        note_cpu_cost(self.name, ctx)
        super().prepare(ctx)
