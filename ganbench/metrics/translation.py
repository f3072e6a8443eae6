"""Metrics of unpaired translation on a pair dataset: ``class_kept``, ``target_fcd``, ``cycle_l1``.

They judge a translation method (``EvalContext.method``, its ``translate(x, direction)``), not
a tensor of samples: each translates a fixed set itself, in both directions, so the evaluator's
generic samples (``G_ab`` on drawn test images) are not used. Apply only to pair datasets
(``kind == "pair"``, :mod:`ganbench.data.pairs`).

Protocol, shared by the three: the source images of direction A→B are the first n A images of
the pair's ``eval.reference`` split (``test`` by default: the even indices of domain A's test
split), those of B→A the first n B images (odd indices of B's); n = ``eval.num_samples``
capped at the split's size (5,000 rows for the MNIST pairs' test split). Translations are in
the pair's common format and are brought back to the target domain's own shape
(:func:`ganbench.data.pairs.from_common`: centre crop, channel mean for a grey domain) before a
classifier sees them. The target domain's classifier is
:func:`ganbench.metrics.mnist_classifier.load_classifier` of the target's dataset name (one per
domain, trained once and cached, or shipped); its SHA1 is recorded.

- ``class_kept`` (↑): accuracy of the target domain's classifier on the translated images
  against the SOURCE image's label (was the digit kept while the look changed?);
  ``class_kept`` is A→B, ``class_kept_ba`` B→A.
- ``target_fcd`` (↓): Fréchet distance (Heusel et al. 2017, eq. 6,
  :mod:`ganbench.metrics.frechet`) between the target classifier's 128-d features of the n
  translations and of n real target-domain images of the same split (the first n B images for
  A→B: the pair's other half, so no reference image shares its source digit with a
  translated one); ``target_fcd`` is A→B, ``target_fcd_ba`` B→A.
- ``cycle_l1`` (↓): mean |x − G_ba(G_ab(x))| over the n source A images and all pixels, on the
  [−1, 1] scale (``cycle_l1``), and mean |y − G_ab(G_ba(y))| over the B images (``cycle_l1_ba``).

The identity as a "translation" keeps every digit (``class_kept`` near the target classifier's
accuracy on source-domain images) while its output stays in the source domain (``target_fcd``
far above a trained translator's); ``tests/test_translation.py`` checks both.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from ganbench.data.base import DatasetInfo, load_dataset
from ganbench.data.pairs import PAIR, from_common, split_domains
from ganbench.errors import GanbenchError
from ganbench.metrics.base import HIGHER, LOWER, EvalContext, Metric
from ganbench.metrics.frechet import feature_stats, frechet_distance
from ganbench.registry import METRICS

DIRECTIONS = ("ab", "ba")
_SUFFIX = {"ab": "", "ba": "_ba"}

#: translations of the current evaluation, shared by the three metrics:
#: (method id, iteration, pair, split, n) -> {direction: translated tensor}
_last: dict[tuple, dict[str, torch.Tensor]] = {}


def domains(info: DatasetInfo, direction: str) -> tuple[str, tuple[int, ...]]:
    """(target dataset name, target shape) of a direction."""
    ex = info.extras
    return (ex["domain_b"], tuple(ex["shape_b"])) if direction == "ab" else (ex["domain_a"], tuple(ex["shape_a"]))


def sources(info: DatasetInfo, split: str, direction: str, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(source images, their labels, real target images), the first n of each half of the split."""
    x, y = load_dataset(info.name, split, "cpu")
    xa, xb = split_domains(x, info)
    n = min(n, len(x))
    if direction == "ab":
        return xa[:n], y[:n, 0], xb[:n]
    return xb[:n], y[:n, 1], xa[:n]


def eval_size(ctx: EvalContext) -> int:
    x, _ = load_dataset(ctx.dataset.name, ctx.reference, "cpu")
    return min(ctx.num_samples, len(x))


def translator_of(ctx: EvalContext, metric: str):
    method = ctx.method
    if method is None or not callable(getattr(method, "translate", None)):
        raise GanbenchError(f"metric {metric!r} judges a translation method (its translate()); "
                            f"{'no method' if method is None else repr(getattr(method, 'name', method))} "
                            "was given: evaluate a trained cyclegan, dualgan or discogan")
    return method


def translated(ctx: EvalContext, metric: str, direction: str) -> torch.Tensor:
    """The method's translations of the n source images of ``direction`` (cached per evaluation)."""
    method = translator_of(ctx, metric)
    n = eval_size(ctx)
    key = (id(method), getattr(method, "iteration", None), ctx.dataset.name, ctx.reference, n)
    if key not in _last:
        _last.clear()
        _last[key] = {}
    cache = _last[key]
    if direction not in cache:
        src, _, _ = sources(ctx.dataset, ctx.reference, direction, n)
        cache[direction] = method.translate(src.to(ctx.device), direction).detach().float().cpu()
    return cache[direction]


def classifier(domain: str):
    from ganbench.metrics.mnist_classifier import load_classifier

    return load_classifier(domain)


def _base_protocol(ctx: EvalContext) -> dict[str, Any]:
    return {"dataset": ctx.dataset.name, "split": ctx.reference, "n": eval_size(ctx),
            "directions": "ab (A->B), ba (B->A)", "domain_a": ctx.dataset.extras["domain_a"],
            "domain_b": ctx.dataset.extras["domain_b"],
            "sources": "first n A images (ab) / first n B images (ba) of the pair's split"}


class _TranslationMetric(Metric):
    """A metric judged per direction: ``value(ctx, direction)`` gives one direction's value and
    the target domain's classifier it used (None: none); :meth:`compute` runs A→B (key ``name``)
    and B→A (``name_ba``) and records each direction's classifier."""

    kinds = frozenset({PAIR})
    #: protocol entries of the metric besides the shared ones and the classifiers
    protocol_notes: ClassVar[dict[str, str]] = {}

    def prepare(self, ctx: EvalContext) -> None:
        """Train (or load) each domain's classifier once, in the driver."""
        for direction in DIRECTIONS:
            classifier(domains(ctx.dataset, direction)[0])

    def value(self, ctx: EvalContext, direction: str) -> tuple[float, Any]:
        """(the metric's value for ``direction``, the target classifier it used or None)."""
        raise NotImplementedError

    def classifier_protocol(self, direction: str, clf) -> dict[str, Any]:
        """What the protocol records of a direction's classifier."""
        return {f"classifier_sha1_{direction}": clf.sha1}

    def compute(self, fake, ctx: EvalContext):
        del fake
        values, protocol = {}, _base_protocol(ctx)
        for direction in DIRECTIONS:
            values[f"{self.name}{_SUFFIX[direction]}"], clf = self.value(ctx, direction)
            if clf is not None:
                protocol[f"classifier_{direction}"] = domains(ctx.dataset, direction)[0]
                protocol.update(self.classifier_protocol(direction, clf))
        return values, {**protocol, **self.protocol_notes}


@METRICS.register("class_kept")
class ClassKept(_TranslationMetric):
    name = "class_kept"
    outputs = {"class_kept": HIGHER, "class_kept_ba": HIGHER}
    display = {"class_kept": "Class kept A→B", "class_kept_ba": "Class kept B→A"}
    summary = ("translation: accuracy of the target domain's classifier on translated test images "
               "against the source label (A→B, B→A)")

    def value(self, ctx: EvalContext, direction: str) -> tuple[float, Any]:
        return class_kept(ctx, direction)

    def classifier_protocol(self, direction: str, clf) -> dict[str, Any]:
        return {**super().classifier_protocol(direction, clf),
                f"classifier_test_accuracy_{direction}": clf.record.get("test_accuracy")}


def class_kept(ctx: EvalContext, direction: str) -> tuple[float, Any]:
    """(accuracy of the target classifier on the translations against the source labels, classifier)."""
    target, shape = domains(ctx.dataset, direction)
    _, labels, _ = sources(ctx.dataset, ctx.reference, direction, eval_size(ctx))
    if bool((labels < 0).any()):
        raise GanbenchError(f"metric 'class_kept': dataset {ctx.dataset.name!r}'s source domain of "
                            f"direction {direction} has no labels")
    clf = classifier(target)
    _, logits = clf(from_common(translated(ctx, "class_kept", direction), shape))
    return float((logits.argmax(1) == labels).float().mean()), clf


_reference_features: dict[tuple, np.ndarray] = {}


def target_features(ctx: EvalContext, direction: str) -> tuple[np.ndarray, Any]:
    """The target classifier's features of the n real target images of ``direction`` (cached)."""
    target, shape = domains(ctx.dataset, direction)
    clf = classifier(target)
    n = eval_size(ctx)
    key = (ctx.dataset.name, ctx.reference, direction, n, clf.sha1)
    if key not in _reference_features:
        _, _, real = sources(ctx.dataset, ctx.reference, direction, n)
        _reference_features[key] = clf(from_common(real, shape))[0].numpy()
    return _reference_features[key], clf


def target_fcd(ctx: EvalContext, direction: str) -> tuple[float, Any]:
    """(FCD of the translations against the real target images in the target classifier's features, classifier)."""
    shape = domains(ctx.dataset, direction)[1]
    ref, clf = target_features(ctx, direction)
    feats = clf(from_common(translated(ctx, "target_fcd", direction), shape))[0].numpy()
    return frechet_distance(*feature_stats(feats), *feature_stats(ref)), clf


@METRICS.register("target_fcd")
class TargetFCD(_TranslationMetric):
    name = "target_fcd"
    outputs = {"target_fcd": LOWER, "target_fcd_ba": LOWER}
    display = {"target_fcd": "Target FCD A→B", "target_fcd_ba": "Target FCD B→A"}
    summary = ("translation: Fréchet distance of translated test images to the target domain's test "
               "images in the target classifier's features (A→B, B→A)")
    protocol_notes = {"reference": "first n B images (ab) / first n A images (ba) of the pair's split",
                      "features": "target classifier fc1 ReLU (128-d)"}

    def value(self, ctx: EvalContext, direction: str) -> tuple[float, Any]:
        return target_fcd(ctx, direction)


@METRICS.register("cycle_l1")
class CycleL1(_TranslationMetric):
    name = "cycle_l1"
    outputs = {"cycle_l1": LOWER, "cycle_l1_ba": LOWER}
    display = {"cycle_l1": "Cycle L1 A→B→A", "cycle_l1_ba": "Cycle L1 B→A→B"}
    summary = "translation: mean |x − F(G(x))| over test images, [−1, 1] scale (A→B→A, B→A→B)"
    protocol_notes = {"scale": "[-1, 1] pixels, mean over images, channels, pixels"}

    def prepare(self, ctx: EvalContext) -> None:
        del ctx  # no classifier

    def value(self, ctx: EvalContext, direction: str) -> tuple[float, None]:
        method = translator_of(ctx, self.name)
        src, _, _ = sources(ctx.dataset, ctx.reference, direction, eval_size(ctx))
        back = "ba" if direction == "ab" else "ab"
        cycled = method.translate(translated(ctx, self.name, direction).to(ctx.device), back).float().cpu()
        return float((cycled - src).abs().mean()), None
