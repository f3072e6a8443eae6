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
held-out real data; positive = underfitting. Its direction is ``ZERO`` (closest to 0 is best):
tables bold the mean of smallest magnitude and show it with →0; a tuning objective cannot be
C_T (the suite check says so in one line): neither minimising nor maximising it is right.

Departures, all deliberate:

- Number of cells: the paper's MNIST experiments use k = 50 cells for m = n = 10 000 (about
  200 generated samples per cell). ganbench keeps that mean occupancy at smaller m:
  k = clamp(m // 200, 1, 50), so the quick profile's m = 1000 gives 5 cells (k recorded).
- The Z-score uses the paper's mean m n / 2; the authors' code subtracts a 0.5 "continuity
  correction" from the mean, which moves each cell's Z by +0.5/σ (σ ≈ 37 for 20×20 samples,
  ≈ 290 for 200×200): agreement with their code is to that shift (``tests/test_metrics_memorization.py``).
- k-means: scikit-learn ``KMeans`` (k-means++, one initialisation, ``random_state=0``) so the
  partition is the same in every evaluation; the authors used the scikit-learn default of the
  time (ten initialisations, unseeded). It is fitted once per process and feature set, in the
  features' own dtype (float32 for extractor outputs; on the MNIST train features the labels
  are those of a float64 fit).
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
needs held-out data), Q_m = the m generated samples. Distances are Euclidean. Nearest neighbours
are searched blockwise (at most ``BLOCK_ENTRIES`` float32 entries at a time, no m × |T| matrix):
candidates by float32 matrix products (‖b‖² − 2aᵀb), every candidate within a proven float32
round-off bound of the row's minimum kept, and their distances recomputed exactly in float64
(sqrt Σ (a_i − b_i)², 0 for a verbatim copy). The nearest sample found is the exact nearest;
compared with a float64 scan of every pair in the expanded form, only near-ties (distances equal
to ~1e-15 relative) can change, and distances differ by float64 round-off (~1e-14 relative).
One generated-vs-train pass gives both the within-cell distance L(g) and the nearest training
sample t* of authenticity. Memoised per process (``MEMO_SIZE`` feature sets): the k-means
partition, the cell-sorted training features, each training sample's radius d(t*, NN_T(t*))
once it is needed, and the test samples' cells and L(t) for a given test subset; what depends
on the generated samples is recomputed at every evaluation.
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import math
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
import torch

from ganbench.errors import GanbenchError
from ganbench.metrics.base import HIGHER, ZERO, EvalContext, Metric
from ganbench.metrics.inception import InceptionExtractor, note_cpu_cost
from ganbench.metrics.mnist_classifier import ClassifierExtractor
from ganbench.metrics.reference import paired_outputs, prepare_reference, reference_outputs
from ganbench.registry import METRICS

#: the paper's MNIST number of cells (at m = 10 000) and generated samples per cell on average
MAX_CELLS = 50
SAMPLES_PER_CELL = 200
#: a cell enters C_T when it holds MORE than this many generated samples (τ = 20/m)
MIN_GENERATED_PER_CELL = 20
KMEANS_SEED = 0
#: the most query rows of one distance block, and the most float32 entries a block holds (32 MB)
CHUNK = 1000
BLOCK_ENTRIES = 1 << 23
#: how many training-feature indexes (and test-distance sets) one process keeps
MEMO_SIZE = 4

_index_memo: "OrderedDict[tuple, _TrainIndex]" = OrderedDict()
_test_memo: "OrderedDict[tuple, tuple[torch.Tensor, torch.Tensor]]" = OrderedDict()
_memo_lock = threading.Lock()


def num_cells_for(m: int) -> int:
    """k = clamp(m // 200, 1, 50): the paper's 50 cells at m = 10k, ~200 generated per cell."""
    return int(min(MAX_CELLS, max(1, m // SAMPLES_PER_CELL)))


def _as_tensor(x) -> torch.Tensor:
    """A CPU tensor in the array's own floating dtype (float32 extractor outputs stay float32)."""
    t = x if torch.is_tensor(x) else torch.as_tensor(np.asarray(x))
    t = t.to("cpu")
    return t if t.dtype in (torch.float32, torch.float64) else t.double()


def _remember(memo: OrderedDict, key, value):
    with _memo_lock:
        memo[key] = value
        memo.move_to_end(key)
        while len(memo) > MEMO_SIZE:
            memo.popitem(last=False)
    return value


def clear_memo() -> None:
    """Forget the per-process k-means partitions, training radii and test distances."""
    with _memo_lock:
        _index_memo.clear()
        _test_memo.clear()


class _TrainIndex:
    """The training features T sorted by cell, with what the nearest-neighbour searches reuse.

    Searches find candidates with float32 matrix products, d² − ‖a‖² ≈ ‖b‖² − 2aᵀb, keep every
    training sample whose float32 value is within a rigorous round-off bound of the row's float32
    minimum (:meth:`_margin`), and recompute those candidates' distances exactly in float64 as
    sqrt(Σ (a_i − b_i)²). The nearest sample of the float64 recomputation is therefore the exact
    nearest one; only distances that tie to ~1e-15 relative can pick another sample than a float64
    scan of every pair would. Each cell's rows are padded to a multiple of ``BLOCK`` (zero rows
    whose ‖b‖² is +inf, never nearest) so that block minima narrow the candidates cheaply.
    """

    BLOCK = 64

    def __init__(self, train: torch.Tensor, labels: torch.Tensor, k: int, kmeans=None):
        if len(train) != len(labels):
            raise GanbenchError(f"C_T: {len(train)} training features but {len(labels)} cell labels")
        self.k, self.kmeans = int(k), kmeans
        self.memo_key: tuple | None = None
        self.source = None
        self.n_real = len(train)
        order = torch.argsort(labels, stable=True)
        counts = torch.bincount(labels, minlength=self.k).tolist()
        padded = [-(-c // self.BLOCK) * self.BLOCK for c in counts]
        self.bounds: list[tuple[int, int]] = []  # per cell: (first row, end of its padded rows)
        #: sorted (padded) position -> index in ``train``; -1 for padding
        self.perm = torch.full((sum(padded),), -1, dtype=torch.long)
        at = seen = 0
        for c, pad in zip(counts, padded):
            self.perm[at : at + c] = order[seen : seen + c]
            self.bounds.append((at, at + pad))
            at, seen = at + pad, seen + c
        real = self.perm >= 0
        self.exact = torch.zeros((len(self.perm), train.shape[1]), dtype=train.dtype)
        self.exact[real] = train[self.perm[real]]  # the features as given (float32 or float64)
        self.t32 = self.exact if self.exact.dtype == torch.float32 else self.exact.float()
        self.sq32 = (self.t32 * self.t32).sum(dim=1)
        self.max_sq = float(self.sq32.max()) if len(self.sq32) else 0.0
        self.sq32[~real] = float("inf")
        # a sum of d + 2 rounded float32 terms; float64 features rounded to float32 move d² by up
        # to ~2·2⁻²⁴(‖a‖ + ‖b‖)², covered by the extra 4u
        d = train.shape[1] + 4
        u = 2.0 ** -24
        self.gamma = d * u / (1.0 - d * u) + (4 * u if self.exact.dtype == torch.float64 else 0.0)
        #: distance of each (sorted) training sample to its nearest other one; NaN = not yet needed
        self.radius = torch.full((len(self.perm),), float("nan"), dtype=torch.float64)

    @property
    def n(self) -> int:
        return len(self.perm)

    def cell_range(self, c: int) -> tuple[int, int]:
        return self.bounds[c]

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        arr = x.numpy().astype(self.kmeans.cluster_centers_.dtype, copy=False)
        return torch.as_tensor(self.kmeans.predict(arr)).long()

    def _margin(self, q_sq: torch.Tensor) -> torch.Tensor:
        """How far above a row's float32 minimum the exact nearest sample's float32 value can lie.

        Each float32 value ‖b‖² − 2aᵀb is a sum of d + 1 rounded terms, off by at most
        γ(‖b‖² + 2‖a‖‖b‖) ≤ 2γ(‖a‖² + ‖b‖²) (γ = (d+4)u/(1 − (d+4)u), u = 2⁻²⁴, the norm's own
        error included with slack), so two samples' errors together stay under
        4γ(‖a‖² + max‖b‖²); 8γ(...) is used.
        """
        return (8.0 * self.gamma) * (q_sq + self.max_sq)

    def _exact_min(self, d32: torch.Tensor, q: torch.Tensor, margin: torch.Tensor,
                   offset: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact float64 nearest distance and sorted index per row of a block-aligned slice."""
        r = len(d32)
        blocks = d32.unflatten(1, (-1, self.BLOCK))  # rows × blocks × BLOCK (a view)
        block_min = blocks.amin(dim=2)
        threshold = block_min.amin(dim=1) + margin
        rb, bb = (block_min <= threshold[:, None]).nonzero(as_tuple=True)
        kk, jj = (blocks[rb, bb] <= threshold[rb, None]).nonzero(as_tuple=True)
        rows, cols = rb[kk], bb[kk] * self.BLOCK + jj + offset
        exact = (q[rows].double() - self.exact[cols].double()).square_().sum(dim=1)
        best = torch.full((r,), float("inf"), dtype=torch.float64)
        best.scatter_reduce_(0, rows, exact, "amin")
        hit = exact == best[rows]
        idx = torch.full((r,), self.n, dtype=torch.long)
        idx.scatter_reduce_(0, rows[hit], cols[hit], "amin")
        return best.sqrt_(), idx

    @torch.no_grad()
    def query(self, q: torch.Tensor, cells: torch.Tensor | None = None, nearest_overall: bool = True,
              exclude: torch.Tensor | None = None, chunk: int = CHUNK):
        """For each row of ``q``: the distance to its nearest training sample of its cell
        (``cells``; NaN where the cell has no training sample or ``cells`` is None) and, if
        ``nearest_overall``, the distance to and sorted index of its nearest training sample.
        ``exclude``: one sorted training index per row that does not count (the row itself)."""
        n = len(q)
        q32 = q if q.dtype == torch.float32 else q.float()
        q_sq = (q32 * q32).sum(dim=1)
        in_cell = torch.full((n,), float("nan"), dtype=torch.float64)
        overall = torch.full((n,), float("nan"), dtype=torch.float64)
        overall_idx = torch.full((n,), -1, dtype=torch.long)
        if cells is None:
            groups = [(torch.arange(n), None)]
        else:
            groups = [((cells == c).nonzero(as_tuple=True)[0], int(c)) for c in torch.unique(cells).tolist()]
        with _float32_matmul_highest():
            for rows_all, c in groups:
                c_lo, c_hi = (0, 0) if c is None else self.cell_range(c)
                lo, hi = (0, self.n) if nearest_overall else (c_lo, c_hi)
                if hi <= lo:
                    continue
                step = max(1, min(chunk, BLOCK_ENTRIES // (hi - lo)))
                for s in range(0, len(rows_all), step):
                    rows = rows_all[s : s + step]
                    d32 = torch.addmm(self.sq32[None, lo:hi].expand(len(rows), -1), q32[rows],
                                      self.t32[lo:hi].T, alpha=-2.0)
                    if exclude is not None:
                        inside = (exclude[rows] >= lo) & (exclude[rows] < hi)
                        d32[inside.nonzero(as_tuple=True)[0], exclude[rows][inside] - lo] = float("inf")
                    margin = self._margin(q_sq[rows])
                    if nearest_overall:
                        overall[rows], overall_idx[rows] = self._exact_min(d32, q[rows], margin, lo)
                    if c is not None and c_hi > c_lo:
                        in_cell[rows] = self._exact_min(d32[:, c_lo - lo : c_hi - lo], q[rows], margin, c_lo)[0]
        return in_cell, overall, overall_idx

    def radii(self, idx: torch.Tensor) -> torch.Tensor:
        """Distance of the sorted training samples ``idx`` to their nearest other training sample
        (computed once per sample and process)."""
        missing = torch.unique(idx[torch.isnan(self.radius[idx])])
        if len(missing):
            _, r, _ = self.query(self.exact[missing], exclude=missing)
            self.radius[missing] = r
        return self.radius[idx]


class _float32_matmul_highest:
    """float32 products in full float32 (the round-off bound assumes it), whatever was set."""

    def __enter__(self):
        self.before = torch.get_float32_matmul_precision()
        if self.before != "highest":
            torch.set_float32_matmul_precision("highest")

    def __exit__(self, *exc):
        if self.before != "highest":
            torch.set_float32_matmul_precision(self.before)


def _train_index(train: torch.Tensor, k: int, cells=None, memo_key: tuple | None = None,
                 source=None) -> _TrainIndex:
    """The cell-sorted training index: k-means (k-means++, one init, seeded) fitted on ``train``
    in its own dtype, or the given training ``cells`` labels; memoised per process by memo_key."""
    # the caller's name for the features plus the array's identity (the index holds the array,
    # so its id cannot be reused while the entry lives)
    key = None if memo_key is None else (*memo_key, int(k), tuple(train.shape), str(train.dtype), id(source))
    if key is not None and key in _index_memo:
        return _index_memo[key]
    if cells is not None:
        index = _TrainIndex(train, torch.as_tensor(np.asarray(cells)).long(), k)
    else:
        from sklearn.cluster import KMeans

        km = KMeans(n_clusters=k, n_init=1, random_state=KMEANS_SEED).fit(train.numpy())
        index = _TrainIndex(train, torch.as_tensor(km.labels_).long(), k, km)
    index.memo_key, index.source = key, source
    return index if key is None else _remember(_index_memo, key, index)


def _check_finite(gen: torch.Tensor) -> None:
    bad = int((~torch.isfinite(gen).all(dim=1)).sum()) if gen.ndim == 2 else 0
    if bad:
        raise GanbenchError(f"memorization: {bad} of the {len(gen)} generated samples have non-finite "
                            "features (NaN or inf in the generated images?)")


def _fingerprint(x: torch.Tensor) -> str:
    return hashlib.blake2b(x.contiguous().numpy().tobytes(), digest_size=16).hexdigest() + str(tuple(x.shape))


@torch.no_grad()
def nearest(queries, ref, chunk: int = CHUNK) -> tuple[torch.Tensor, torch.Tensor]:
    """Euclidean distance of every query row to its nearest ``ref`` row, and that row's index."""
    r = _as_tensor(ref)
    index = _TrainIndex(r, torch.zeros(len(r), dtype=torch.long), 1)
    _, d, i = index.query(_as_tensor(queries), chunk=chunk)
    return d, index.perm[i]


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


@torch.no_grad()
def memorization_from_features(train, test, gen, num_cells: int | None = None,
                               min_generated: int = MIN_GENERATED_PER_CELL, cells=None,
                               memo_key: tuple | None = None) -> tuple[float, float, dict[str, Any]]:
    """C_T (Meehan et al. 2020) and authenticity (Alaa et al. 2022) in one pass over the training
    features; returns (C_T, authenticity, details).

    ``cells``: optional precomputed ``(train_labels, test_labels, gen_labels, k)``; otherwise
    k-means with ``num_cells`` (default :func:`num_cells_for` m) cells on ``train``.
    ``memo_key``: names ``train`` (extractor, dataset, n, subset); with it the partition, the
    training samples' radii and the test samples' cell distances are kept for the next call.
    """
    t, p, q = _as_tensor(train), _as_tensor(test), _as_tensor(gen)
    m, n = len(q), len(p)
    if len(t) < 2:
        raise GanbenchError(f"authenticity needs at least 2 training samples, got {len(t)}")
    _check_finite(q)
    if cells is None:
        k = num_cells if num_cells is not None else num_cells_for(m)
        if len(t) < k:
            raise GanbenchError(f"C_T needs at least {k} training samples for {k} cells, got {len(t)}")
        index = _train_index(t, k, memo_key=memo_key, source=train)
        p_lab_fn, q_lab = index.predict, index.predict(q)
    else:
        t_lab, p_lab_given, q_lab, k = cells
        index = _train_index(t, k, cells=t_lab, memo_key=None)
        q_lab = torch.as_tensor(np.asarray(q_lab)).long()
        p_lab_fn = lambda _p: torch.as_tensor(np.asarray(p_lab_given)).long()  # noqa: E731
    test_key = None if index.memo_key is None else (index.memo_key, _fingerprint(p))
    hit = _test_memo.get(test_key) if test_key is not None else None
    if hit is None:
        p_lab = p_lab_fn(p)
        lp_all = index.query(p, p_lab, nearest_overall=False)[0]
        if test_key is not None:
            _remember(_test_memo, test_key, (p_lab, lp_all))
    else:
        p_lab, lp_all = hit
    lq_all, d_gen, nearest_train = index.query(q, q_lab)

    z_cells: dict[int, float] = {}
    weights: dict[int, float] = {}
    for c in range(k):
        in_q, in_p = q_lab == c, p_lab == c
        m_c, n_c = int(in_q.sum()), int(in_p.sum())
        lo, hi = index.cell_range(c)
        if m_c <= min_generated or n_c == 0 or hi == lo:
            continue
        z_cells[c] = z_u(mann_whitney_u(lq_all[in_q].numpy(), lp_all[in_p].numpy()), m_c, n_c)
        weights[c] = n_c / n
    total = sum(weights.values())
    if not z_cells or total <= 0:
        raise GanbenchError(
            f"C_T: no cell of the {k} holds more than {min_generated} of the {m} generated samples "
            "and some test samples; raise eval.num_samples")
    ct = sum(weights[c] * z_cells[c] for c in z_cells) / total
    unauthentic = d_gen < index.radii(nearest_train)
    auth = float(1.0 - unauthentic.double().mean().item())
    details = {"num_cells": int(k), "cells_used": len(z_cells),
               "test_mass_in_used_cells": float(total),
               "generated_mass_in_used_cells": float(sum(int((q_lab == c).sum()) for c in z_cells) / m),
               "z_u_per_cell": {int(c): float(z) for c, z in z_cells.items()}}
    return float(ct), auth, details


def ct_from_features(train, test, gen, num_cells: int | None = None,
                     min_generated: int = MIN_GENERATED_PER_CELL, cells=None,
                     memo_key: tuple | None = None) -> tuple[float, dict[str, Any]]:
    """C_T of Meehan et al. 2020 on feature arrays; returns (C_T, details)."""
    ct, _, details = memorization_from_features(train, test, gen, num_cells, min_generated, cells, memo_key)
    return ct, details


@torch.no_grad()
def authenticity_from_features(train, gen, chunk: int = CHUNK, memo_key: tuple | None = None) -> float:
    """Fraction of generated samples g with d(g, t*) >= d(t*, NN_T(t*)) (Alaa et al. 2022)."""
    t, q = _as_tensor(train), _as_tensor(gen)
    if len(t) < 2:
        raise GanbenchError(f"authenticity needs at least 2 training samples, got {len(t)}")
    _check_finite(q)
    index = _train_index(t, 1, cells=torch.zeros(len(t), dtype=torch.long),
                         memo_key=None if memo_key is None else (*memo_key, "whole"), source=train)
    _, d_gen, nearest_train = index.query(q, chunk=chunk)
    unauthentic = d_gen < index.radii(nearest_train)
    return float(1.0 - unauthentic.double().mean().item())


class _MemorizationBase(Metric):
    outputs = {"ct": ZERO, "authenticity": HIGHER}
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
        ct, auth, details = memorization_from_features(train_out["features"], test_out["features"],
                                                       fake_out["features"], memo_key=memo_key)
        details.pop("z_u_per_cell")
        n_test, test_subset = protocol.pop("n_ref"), protocol.pop("ref_subset")
        protocol = {**protocol, "n_test": n_test, "test_subset": test_subset,
                    "split": "test (P_n) and train (T)", "n_train": int(train_protocol["n_ref"]),
                    "train_subset": train_protocol["ref_subset"], **details,
                    "cells": f"k-means on the train features (k = clamp(m // {SAMPLES_PER_CELL}, 1, "
                             f"{MAX_CELLS}), k-means++, n_init 1, seed {KMEANS_SEED})",
                    "min_generated_per_cell": f"> {MIN_GENERATED_PER_CELL} (tau = 20/m)",
                    "cell_weight": "share of test samples P_n(pi)",
                    "distance": "euclidean; float32 candidates, exact float64 distances; C_T: nearest training sample within the cell",
                    "authenticity_rule": "unauthentic iff d(g, t*) < d(t*, nearest other training sample)"}
        return {f"ct{self.suffix}": ct, f"authenticity{self.suffix}": auth}, protocol


@METRICS.register("memorization")
class Memorization(_MemorizationBase):
    """C_T and authenticity on ganbench's classifier features (CPU-friendly)."""

    name = "memorization"
    datasets = frozenset({"mnist", "fashion_mnist"})
    summary = ("data-copying test C_T (Meehan 2020; <0 copies training data, >0 underfits, closest to 0 "
               "best) and authenticity (Alaa 2022; share not copied, higher better) on the "
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
    summary = ("C_T (<0 copies training data, >0 underfits, closest to 0 best) and authenticity (higher better) on "
               "TF-Inception pool3; the whole train split goes through Inception once: GPU profile")

    def extractor(self, ctx: EvalContext):
        return InceptionExtractor(resize=ctx.resize)

    def prepare(self, ctx: EvalContext) -> None:
        note_cpu_cost(self.name, ctx)
        super().prepare(ctx)
