"""Stacked-MNIST mode count and KL (Metz et al. 2017, unrolled GAN; Srivastava et al. 2017, VEEGAN;
Lin et al. 2018, PacGAN, §5.2, Table 2, code fjxmlzn/PacGAN ``stacked_MNIST_experiments/
VEEGAN_experiment/model.py``).

Each generated 3×28×28 image is split into its three channels; ganbench's MNIST classifier
(:func:`~ganbench.metrics.mnist_classifier.load_classifier`, ≥ 99 % test accuracy) labels each
channel with its argmax digit, and the image's mode is ``100·c0 + 10·c1 + c2`` (one of 1000).

- ``stacked_modes_covered`` (higher is better, out of 1000): modes that receive at least one
  sample, the count of the unrolled-GAN/VEEGAN/PacGAN tables.
- ``stacked_kl`` (lower is better): KL(mode histogram ‖ uniform over 1000) = Σ_m p_m log(1000 p_m)
  with 0·log 0 = 0 (no smoothing); 0 for a uniform histogram, log 1000 ≈ 6.91 for one mode.

PacGAN's VEEGAN-setting code evaluates 26,000 samples (``num_test_sample`` in its
``config.py``); with n samples from a perfect generator the
expected count is 1000·(1 − (1 − 1/1000)ⁿ) (≈ 1000 at n = 25 600, ≈ 632 at n = 1000) and the
expected KL is biased up at small n, so compare only at equal n, and use n ≥ 25 600 for numbers
comparable to the literature (not enforced). No reference split is involved (the target is the
uniform histogram), so the protocol's n_ref is 0 and its split is "none".
"""

from __future__ import annotations

import numpy as np
import torch

from ganbench.metrics.base import HIGHER, LOWER, EvalContext, Metric
from ganbench.metrics.classes import kl_to_uniform
from ganbench.metrics.mnist_classifier import ClassifierExtractor
from ganbench.registry import METRICS

NUM_MODES = 1000
RECOMMENDED_N = 25600


def stacked_labels(images: torch.Tensor, device: torch.device | str = "cpu",
                   extractor: ClassifierExtractor | None = None) -> np.ndarray:
    """Mode labels (0..999) of N×3×28×28 images in [-1, 1], read channel by channel."""
    if images.ndim != 4 or tuple(images.shape[1:]) != (3, 28, 28):
        raise ValueError(f"stacked MNIST needs N×3×28×28 images, got {tuple(images.shape)}")
    extractor = extractor or ClassifierExtractor("mnist")
    n = images.shape[0]
    channels = images.reshape(n * 3, 1, 28, 28)  # rows: image 0 ch 0, 1, 2, image 1 ch 0, ...
    digits = extractor.extract(channels, device)["logits"].argmax(axis=1).reshape(n, 3)
    return (100 * digits[:, 0] + 10 * digits[:, 1] + digits[:, 2]).astype(np.int64)


def mode_scores(labels, num_modes: int = NUM_MODES) -> tuple[int, float, np.ndarray]:
    """``(covered, kl_to_uniform, counts)`` for integer mode labels."""
    labels = np.asarray(labels, dtype=np.int64)
    counts = np.bincount(labels, minlength=num_modes)[:num_modes]
    covered = int((counts > 0).sum())
    total = counts.sum()
    if total == 0:
        return 0, float(np.log(num_modes)), counts
    return covered, kl_to_uniform(counts), counts


@METRICS.register("stacked_modes")
class StackedModes(Metric):
    name = "stacked_modes"
    outputs = {"stacked_modes_covered": HIGHER, "stacked_kl": LOWER}
    kinds = frozenset({"image"})
    datasets = frozenset({"stacked_mnist"})
    summary = ("Stacked MNIST: modes covered (of 1000) and KL(mode histogram || uniform), MNIST "
               f"classifier per channel; use n >= {RECOMMENDED_N}")

    def prepare(self, ctx: EvalContext) -> None:
        ClassifierExtractor("mnist").classifier  # trains and caches it on first use

    def compute(self, fake, ctx: EvalContext):
        extractor = ClassifierExtractor("mnist")
        covered, kl, counts = mode_scores(stacked_labels(fake, ctx.device, extractor))
        top = np.argsort(-counts, kind="stable")[:10]
        return ({"stacked_modes_covered": float(covered), "stacked_kl": kl},
                {"n_gen": int(len(fake)), "n_ref": 0, "split": "none", "target": "uniform over 1000 modes",
                 "recommended_n_gen": RECOMMENDED_N, "mode_rule": ">= 1 sample",
                 "resize": "none (28x28 native, one channel at a time)",
                 "top_modes": [[int(m), int(counts[m])] for m in top if counts[m] > 0],
                 **extractor.protocol()})
