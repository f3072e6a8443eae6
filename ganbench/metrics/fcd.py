"""FCD: Fréchet distance on the features of ganbench's own MNIST classifier.

The Fréchet distance of Heusel et al. 2017 (eq. 6, :mod:`ganbench.metrics.frechet`) computed
on the 128-d penultimate layer of :class:`~ganbench.metrics.mnist_classifier.Classifier28`
instead of Inception pool3. A domain classifier's Fréchet distance is preferable to
ImageNet-Inception FID on MNIST, as the maintainers of TTUR and of tsc2017's FID code advise
(GitHub issues bioinf-jku/TTUR#24 and tsc2017/Frechet-Inception-Distance#2); values compare
only within one classifier, whose weights' SHA1 the protocol records. Cheap enough for CPU profiles.
"""

from __future__ import annotations

from ganbench.metrics.base import LOWER, EvalContext, Metric
from ganbench.metrics.frechet import feature_stats, frechet_distance
from ganbench.metrics.mnist_classifier import ClassifierExtractor
from ganbench.metrics.reference import paired_outputs, prepare_reference
from ganbench.registry import METRICS


@METRICS.register("fcd")
class FCD(Metric):
    name = "fcd"
    outputs = {"fcd": LOWER}
    kinds = frozenset({"image"})
    datasets = frozenset({"mnist", "fashion_mnist"})
    summary = "Fréchet distance on ganbench's MNIST-classifier features (128-d); CPU-friendly"

    def prepare(self, ctx: EvalContext) -> None:
        prepare_reference(ClassifierExtractor(ctx.dataset.name), ctx)

    def compute(self, fake, ctx: EvalContext):
        fake_out, ref_out, protocol = paired_outputs(ClassifierExtractor(ctx.dataset.name), fake, ctx)
        value = frechet_distance(*feature_stats(fake_out["features"]), *feature_stats(ref_out["features"]))
        return {"fcd": value}, protocol
