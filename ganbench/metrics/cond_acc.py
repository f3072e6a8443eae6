"""Conditional accuracy: does the generator draw the class it was asked for?

For class-conditional samples x_i = G(z_i, y_i), the share that the dataset's own classifier
(:mod:`ganbench.metrics.mnist_classifier`, the network behind ``fcd``, ``cis`` and ``classes``)
reads as the asked class:

    cond_acc = (1/n) Σ_i [argmax_k ℓ_k(x_i) = y_i]            (higher is better)

the "classification accuracy of generated samples" measure used for conditional GANs (e.g.
Odena et al. 2017, §4.1, with an Inception network; Shmelkov et al. 2018, "How good is my GAN?",
GAN-test). Reading: the classifier's own test accuracy (recorded as
``classifier_test_accuracy``) is what real images with their true labels score, so a value near
it means the labels are obeyed as well as the classifier can tell; 1/K (0.1) is chance: G ignores
y. The labels are ``ctx.labels``, which :func:`~ganbench.metrics.evaluate.evaluate` draws
balanced for a conditional method (sample i of class i % K); samples of an unconditional method
have none and the metric then stops with one line. The classifier's logits are shared with the
other classifier metrics of the same evaluation (one forward pass).
"""

from __future__ import annotations

import numpy as np

from ganbench.errors import GanbenchError
from ganbench.metrics.base import HIGHER, EvalContext, Metric
from ganbench.metrics.features import extract_shared
from ganbench.metrics.mnist_classifier import ClassifierExtractor, load_classifier
from ganbench.registry import METRICS


def require_labels(name: str, fake, ctx: EvalContext) -> np.ndarray:
    """``ctx.labels`` as an int64 array of len(fake), or one line saying why it cannot be used."""
    if ctx.labels is None:
        raise GanbenchError(f"eval.metrics: {name!r} needs class-conditional samples (a conditional method "
                            f"such as cgan, acgan or projection); these samples carry no labels")
    labels = ctx.labels.detach().cpu().numpy().astype(np.int64)
    if len(labels) != len(fake):
        raise GanbenchError(f"eval.metrics: {name!r}: {len(labels)} labels for {len(fake)} samples")
    return labels


@METRICS.register("cond_acc")
class ConditionalAccuracy(Metric):
    name = "cond_acc"
    outputs = {"cond_acc": HIGHER}
    kinds = frozenset({"image"})
    datasets = frozenset({"mnist", "fashion_mnist"})
    summary = ("share of class-conditional samples that the dataset's classifier reads as the asked class "
               "(conditional methods; chance 1/K, real images ≈ the classifier's test accuracy); higher is better")
    display = {"cond_acc": "Cond. acc."}
    needs_labels = True

    def prepare(self, ctx: EvalContext) -> None:
        load_classifier(ctx.dataset.name)

    def compute(self, fake, ctx: EvalContext):
        labels = require_labels(self.name, fake, ctx)
        extractor = ClassifierExtractor(ctx.dataset.name)
        predicted = extract_shared(extractor, fake, ctx.device)["logits"].argmax(axis=1)
        correct = predicted == labels
        counts = np.bincount(labels, minlength=ctx.dataset.num_classes)
        protocol = {
            **extractor.protocol(),
            "n_gen": int(len(fake)),
            "num_classes": int(ctx.dataset.num_classes),
            "n_gen_per_class_min": int(counts.min()),
            "chance": 1.0 / ctx.dataset.num_classes,
            "rule": "argmax of the classifier's logits == the asked label",
        }
        return {"cond_acc": float(correct.mean())}, protocol
