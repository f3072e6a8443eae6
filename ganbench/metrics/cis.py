"""Classifier Inception Score: the IS formula (Salimans et al. 2016) on ganbench's MNIST classifier.

Salimans et al. 2016: IS = exp(E_x KL(p(y|x) ‖ p(y))), with p(y|x) the softmax of the
classifier's logits and p(y) the marginal within each split. As in OpenAI's code and
torch-fidelity, the N samples are cut into ``splits`` = 10 consecutive chunks (fewer when
N < 10), the score is computed per chunk, and the mean over chunks is reported as ``cis``
(higher is better, at most the number of classes); the std over chunks goes to the protocol.

Before splitting, the samples are put in an order that does not depend on the order they came
in (:func:`order_free`): rows sorted by their logits, then shuffled with torch-fidelity's fixed
permutation (``numpy.random.RandomState(2020)``). Consecutive chunks of images sorted by class
(a folder of PNGs named by label) would otherwise each hold about one class, every chunk's
marginal would be close to its samples' predictions, and the score would fall towards 1 (the
first 1000 test digits: 1.64 sorted by class, 9.28 in test-set order; 9.32 for both now). The MNIST test set scores about 9.8–9.9 with a good classifier
(the MNIST Inception Score of ChunyuanLI/MNIST_Inception_Score, README: 9.8793 ± 0.0614 on
the test set with its own classifier).
"""

from __future__ import annotations

import numpy as np
import torch

from ganbench.metrics.base import HIGHER, EvalContext, Metric
from ganbench.metrics.features import extract_shared
from ganbench.metrics.mnist_classifier import ClassifierExtractor
from ganbench.registry import METRICS

SPLITS = 10
#: torch-fidelity's ``rng_seed`` of its IS shuffle
SHUFFLE_SEED = 2020
SHUFFLE_NOTE = ("order-free: rows sorted by their logits, then numpy RandomState(2020) permutation "
                "(torch-fidelity's), then consecutive splits")


def canonical_order(logits) -> np.ndarray:
    """The rows of ``logits`` sorted lexicographically (column 0 first): the same array whatever
    order the samples came in."""
    z = np.asarray(logits)
    if len(z) < 2:
        return z
    return z[np.lexsort(z.T[::-1])]


def order_free(logits, seed: int = SHUFFLE_SEED) -> np.ndarray:
    """:func:`canonical_order`, then the fixed permutation torch-fidelity shuffles IS with."""
    z = canonical_order(logits)
    return z[np.random.RandomState(seed).permutation(len(z))]


def inception_score(logits, splits: int = SPLITS) -> tuple[float, float]:
    """``(mean, std)`` over splits of exp(E KL(p(y|x) ‖ p(y))) for N×K logits."""
    z = torch.as_tensor(np.asarray(logits), dtype=torch.float64)
    n = z.shape[0]
    splits = max(1, min(splits, n))
    p, log_p = z.softmax(dim=1), z.log_softmax(dim=1)
    scores = []
    for i in range(splits):
        lo, hi = i * n // splits, (i + 1) * n // splits
        marginal = p[lo:hi].mean(dim=0, keepdim=True)
        kl = (p[lo:hi] * (log_p[lo:hi] - marginal.log())).sum(dim=1).mean()
        scores.append(kl.exp().item())
    return float(np.mean(scores)), float(np.std(scores))


@METRICS.register("cis")
class ClassifierIS(Metric):
    name = "cis"
    outputs = {"cis": HIGHER}
    kinds = frozenset({"image"})
    datasets = frozenset({"mnist", "fashion_mnist"})
    summary = "Inception Score with ganbench's MNIST classifier (10 splits, max 10); CPU-friendly"

    def prepare(self, ctx: EvalContext) -> None:
        ClassifierExtractor(ctx.dataset.name).classifier  # trains and caches it on first use

    def compute(self, fake, ctx: EvalContext):
        extractor = ClassifierExtractor(ctx.dataset.name)
        mean, std = inception_score(order_free(extract_shared(extractor, fake, ctx.device)["logits"]))
        return {"cis": mean}, {"n_gen": int(len(fake)), "splits": max(1, min(SPLITS, len(fake))),
                               "cis_std_over_splits": std, "shuffle": SHUFFLE_NOTE, **extractor.protocol()}
