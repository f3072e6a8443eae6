"""Class coverage of generated digits, read by ganbench's MNIST classifier.

The single-digit analogue of the Stacked-MNIST mode count and KL (Metz et al. 2017 and
Srivastava et al. 2017 for Stacked MNIST; the code of tntrung/msgan ``modules/eval.py`` and
fjxmlzn/PacGAN): each sample is labelled with the classifier's argmax.

- ``classes_covered`` (higher is better): the number of classes that receive at least
  ``max(1, ceil(0.1 · n / K))`` samples, i.e. at least a tenth of their fair share n/K. The
  threshold keeps a collapsed generator from earning a class with a few stray samples; with
  n = 10k and K = 10 it is 100 samples.
- ``classes_kl`` (lower is better): KL(class histogram ‖ uniform) = Σ_k p_k log(K p_k), with
  0·log 0 = 0, so it needs no smoothing; 0 for a uniform histogram, log K ≈ 2.303 for a single
  class.
"""

from __future__ import annotations

import math

import numpy as np

from ganbench.metrics.base import HIGHER, LOWER, EvalContext, Metric
from ganbench.metrics.features import extract_shared
from ganbench.metrics.mnist_classifier import ClassifierExtractor
from ganbench.registry import METRICS

MIN_SHARE = 0.1


def min_count(n: int, num_classes: int) -> int:
    return max(1, math.ceil(MIN_SHARE * n / num_classes))


def class_histogram_scores(labels, num_classes: int) -> tuple[int, float, np.ndarray]:
    """``(covered, kl_to_uniform, counts)`` for integer class labels."""
    labels = np.asarray(labels, dtype=np.int64)
    counts = np.bincount(labels, minlength=num_classes)[:num_classes]
    covered = int((counts >= min_count(len(labels), num_classes)).sum())
    return covered, kl_to_uniform(counts), counts


def kl_to_uniform(counts: np.ndarray) -> float:
    """KL(histogram || uniform) over ``len(counts)`` bins; 0·log 0 = 0; an empty histogram gives 0."""
    p = counts / max(1, counts.sum())
    nz = p > 0
    return float(np.sum(p[nz] * np.log(p[nz] * len(counts))))


@METRICS.register("classes")
class Classes(Metric):
    name = "classes"
    outputs = {"classes_covered": HIGHER, "classes_kl": LOWER}
    kinds = frozenset({"image"})
    datasets = frozenset({"mnist", "fashion_mnist"})
    summary = "classes covered (>= 10% of fair share) and KL(class histogram || uniform), MNIST classifier"

    def prepare(self, ctx: EvalContext) -> None:
        ClassifierExtractor(ctx.dataset.name).classifier  # trains and caches it on first use

    def compute(self, fake, ctx: EvalContext):
        extractor = ClassifierExtractor(ctx.dataset.name)
        logits = extract_shared(extractor, fake, ctx.device)["logits"]
        k = ctx.dataset.num_classes or logits.shape[1]
        covered, kl, counts = class_histogram_scores(logits.argmax(axis=1), k)
        return ({"classes_covered": float(covered), "classes_kl": kl},
                {"n_gen": int(len(fake)), "min_count": min_count(len(fake), k),
                 "class_counts": counts.tolist(), **extractor.protocol()})
