"""Intra-class FCD: the Fréchet distance in the classifier's features, class by class, averaged.

The intra-class FID of Miyato & Koyama 2018 ("cGANs with Projection Discriminator", §5.1:
"intra FID … the FID computed for each class separately", then averaged over the classes) on
ganbench's MNIST/Fashion-MNIST classifier features instead of Inception pool3 (the reason FCD
exists, :mod:`ganbench.metrics.fcd`):

    intra_fcd = (1/K) Σ_k  d²_F( N(μ_k^gen, Σ_k^gen), N(μ_k^ref, Σ_k^ref) )        (lower is better)

where the generated set of class k is the samples drawn for label k (``ctx.labels``; balanced,
so n/K each) and the reference set of class k is **every** image of class k in the reference
split (``eval.reference``; for MNIST's test split about 1,000 per class; ``eval.num_reference``
does not apply). d²_F is the one Fréchet distance of :mod:`ganbench.metrics.frechet` (the same
algebra as ``fid`` and ``fcd``); features are the classifier's 128-d penultimate layer, shared
with the other classifier metrics of the evaluation. Unlike ``fcd``, a generator that draws
good digits of the wrong class scores badly here: each class is compared with its own images.

Small n: with fewer generated samples per class than feature dimensions (128) the class
covariance is singular and the distance is biased upwards (as FID is at small n); the protocol
says so (``small_n_note``). Compare values only at the same ``eval.num_samples``. Samples without
labels (an unconditional method) stop the metric with one line.
"""

from __future__ import annotations

import numpy as np

from ganbench.data.base import load_dataset
from ganbench.errors import GanbenchError
from ganbench.metrics.base import LOWER, EvalContext, Metric
from ganbench.metrics.cond_acc import require_labels
from ganbench.metrics.features import extract_shared
from ganbench.metrics.frechet import frechet_distance_from_features
from ganbench.metrics.mnist_classifier import FEATURE_DIM, ClassifierExtractor
from ganbench.metrics.reference import prepare_reference, reference_outputs
from ganbench.registry import METRICS


def per_class_frechet(fake_features: np.ndarray, fake_labels: np.ndarray, ref_features: np.ndarray,
                      ref_labels: np.ndarray, num_classes: int) -> list[float]:
    """d²_F between the generated and the reference features of each class 0..K−1."""
    out = []
    for k in range(num_classes):
        f, r = fake_features[fake_labels == k], ref_features[ref_labels == k]
        if len(f) < 2 or len(r) < 2:
            raise GanbenchError(f"intra_fcd: class {k} has {len(f)} generated and {len(r)} reference samples "
                                "(need >= 2 each: raise eval.num_samples)")
        out.append(frechet_distance_from_features(f, r))
    return out


@METRICS.register("intra_fcd")
class IntraFCD(Metric):
    name = "intra_fcd"
    outputs = {"intra_fcd": LOWER}
    kinds = frozenset({"image"})
    datasets = frozenset({"mnist", "fashion_mnist"})
    summary = ("Fréchet distance in the classifier's features per class (samples drawn for class k vs the "
               "split's images of class k), averaged over classes (conditional methods); lower is better")
    display = {"intra_fcd": "Intra-FCD"}
    needs_labels = True

    @staticmethod
    def _split_size(ctx: EvalContext) -> int:
        return len(load_dataset(ctx.dataset.name, ctx.reference, "cpu")[1])

    def _context_whole_split(self, ctx: EvalContext) -> EvalContext:
        import dataclasses

        return dataclasses.replace(ctx, num_reference=self._split_size(ctx))

    def prepare(self, ctx: EvalContext) -> None:
        prepare_reference(ClassifierExtractor(ctx.dataset.name), self._context_whole_split(ctx))

    def compute(self, fake, ctx: EvalContext):
        labels = require_labels(self.name, fake, ctx)
        extractor = ClassifierExtractor(ctx.dataset.name)
        _, ref_labels = load_dataset(ctx.dataset.name, ctx.reference, "cpu")
        ref_labels = ref_labels.numpy().astype(np.int64)
        fake_out = extract_shared(extractor, fake, ctx.device)
        ref_out, ref_protocol = reference_outputs(extractor, ctx.dataset.name, ctx.reference, len(ref_labels),
                                                  ctx.seed, ctx.device)
        k = ctx.dataset.num_classes
        values = per_class_frechet(fake_out["features"], labels, ref_out["features"], ref_labels, k)
        n_gen = np.bincount(labels, minlength=k)[:k]
        n_ref = np.bincount(ref_labels, minlength=k)[:k]
        protocol = {
            **ref_protocol,
            "n_gen": int(len(fake)),
            "num_classes": int(k),
            "n_gen_per_class_min": int(n_gen.min()),
            "n_gen_per_class_max": int(n_gen.max()),
            "n_ref_per_class_min": int(n_ref.min()),
            "n_ref_per_class_max": int(n_ref.max()),
            "reference_per_class": f"every image of the class in the {ctx.reference} split",
            "average": "unweighted mean over classes",
        }
        if n_gen.min() <= FEATURE_DIM:
            protocol["small_n_note"] = (f"{int(n_gen.min())} generated samples per class <= {FEATURE_DIM} "
                                        "feature dimensions: singular class covariances, biased upwards")
        return {"intra_fcd": float(np.mean(values))}, protocol
